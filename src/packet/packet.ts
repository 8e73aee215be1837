// The one packet type of the datapath (Snabb's `packet`, Click's `Packet`): a private buffer with
// headroom in front so VLAN push and VXLAN encap grow the frame without copying the payload.
// Every field is assigned in the constructor, in this order, and nothing is ever added later.

/** Bytes kept free in front of the frame: enough for VXLAN encap (50) plus two VLAN tags. */
export const HEADROOM = 128;
/** Default buffer size: headroom + a 9216-byte jumbo frame + slack. */
export const DEFAULT_PACKET_SIZE = 10_240;
/**
 * Buffer size of the pool's large tier (pool.ts): headroom + the largest GSO super-frame a
 * virtio-net header can describe (IPv4 total length / IPv6 payload length are 16-bit: 64 KiB of
 * IP, plus Ethernet and two tags) + slack. Only ports with vnet headers receive into these.
 */
export const LARGE_PACKET_SIZE = 65_536 + 512;

/**
 * Packet.gsoType values: the virtio-net header's gso_type (VIRTIO_NET_HDR_GSO_*, ECN bit 0x80
 * dropped): what a super-frame is to be cut into before it goes on a wire.
 */
export const GSO = {
  None: 0,
  /** TCP over IPv4 (TSO4): segments of gsoSize payload bytes, IPv4 ids incremented. */
  TcpV4: 1,
  /** UDP fragmentation offload (UFO): one datagram cut into IP fragments. Not produced by Sluice. */
  Udp: 3,
  /** TCP over IPv6 (TSO6). */
  TcpV6: 4,
  /** UDP segmentation (USO, UDP_L4): datagrams of gsoSize payload bytes, each with its UDP header. */
  UdpL4: 5,
} as const;

export class Packet {
  /** Private backing store (allocUnsafeSlow: byteOffset is 0, no shared pool). */
  readonly buf: Buffer;
  /** Offset of the first byte of the Ethernet frame (the destination MAC). */
  off = HEADROOM;
  /** Frame length in bytes, destination MAC to end of payload, no FCS. */
  len = 0;
  /** Bridge port number the frame arrived on (OpenFlow port number), 0 = none yet. */
  inPort = 0;
  /** Ingress timestamp in ms (wall clock when live, capture time in replay). */
  tsMs = 0;
  /** Tunnel metadata from a VXLAN decap: VNI (0 = none) and outer IPv4 source/destination. */
  tunnelId = 0;
  tunIpv4Src = 0;
  tunIpv4Dst = 0;
  /** OpenFlow set_queue value; 0 is the default queue. */
  queueId = 0;
  /**
   * True when the frame's TCP/UDP checksum was left to offload by its sender (the receiving port
   * said so: AF_PACKET TP_STATUS_CSUMNOTREADY): the field holds only the pseudo-header sum. The
   * bridge completes it (complete-checksum.ts) before the frame leaves on a port that cannot.
   */
  csumPartial = false;
  /**
   * Offload metadata of a super-frame, from the virtio-net header it arrived with (vnet ports) or
   * set by whoever built it; all 0 for an ordinary frame. gsoType: GSO.*; gsoSize: payload bytes
   * per segment (the MSS); hdrLen: the sender's header-length hint (Ethernet to end of L4
   * header, not trusted: gso.ts parses the headers itself); csumStart/csumOffset: where the
   * partial checksum's coverage starts (from the frame's first byte) and where its field sits
   * relative to that, as received (a VLAN edit moves them: transmit re-derives them).
   */
  gsoType = 0;
  gsoSize = 0;
  hdrLen = 0;
  csumStart = 0;
  csumOffset = 0;
  /** The sender (or the receiving kernel) vouched for the L4 checksum (VIRTIO_NET_HDR_F_DATA_VALID). */
  csumValid = false;

  constructor(size: number = DEFAULT_PACKET_SIZE) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Bytes that fit in the buffer from `off` onwards. */
  get room(): number { return this.buf.length - this.off; }

  /** Forget the frame: back to an empty packet with full headroom. */
  reset(): void {
    this.off = HEADROOM; this.len = 0; this.inPort = 0; this.tsMs = 0;
    this.tunnelId = 0; this.tunIpv4Src = 0; this.tunIpv4Dst = 0; this.queueId = 0; this.csumPartial = false;
    this.gsoType = 0; this.gsoSize = 0; this.hdrLen = 0; this.csumStart = 0; this.csumOffset = 0; this.csumValid = false;
  }

  /** Forget the offload metadata only (the frame is now an ordinary, complete frame). */
  clearOffload(): void {
    this.csumPartial = false;
    this.gsoType = 0; this.gsoSize = 0; this.hdrLen = 0; this.csumStart = 0; this.csumOffset = 0; this.csumValid = false;
  }

  /** Copy `len` bytes of `src` from `srcOff` in as the frame (checksums taken as complete); false (nothing copied) if it does not fit. */
  load(src: Uint8Array, srcOff: number, len: number): boolean {
    if (len > this.buf.length - HEADROOM) return false;
    this.off = HEADROOM; this.len = len;
    this.clearOffload();
    this.buf.set(src.subarray(srcOff, srcOff + len), HEADROOM);
    return true;
  }

  /** Copy this packet's frame and metadata into `dst` (for FLOOD/ALL/group fan-out). */
  copyTo(dst: Packet): boolean {
    if (this.len > dst.buf.length - HEADROOM) return false;
    dst.off = HEADROOM; dst.len = this.len;
    this.buf.copy(dst.buf, HEADROOM, this.off, this.off + this.len);
    dst.inPort = this.inPort; dst.tsMs = this.tsMs; dst.tunnelId = this.tunnelId;
    dst.tunIpv4Src = this.tunIpv4Src; dst.tunIpv4Dst = this.tunIpv4Dst; dst.queueId = this.queueId;
    dst.csumPartial = this.csumPartial;
    dst.gsoType = this.gsoType; dst.gsoSize = this.gsoSize; dst.hdrLen = this.hdrLen;
    dst.csumStart = this.csumStart; dst.csumOffset = this.csumOffset; dst.csumValid = this.csumValid;
    return true;
  }

  /** The frame as a fresh Buffer view (cold path only: tests, pcap writing, PACKET_IN). */
  frame(): Buffer { return this.buf.subarray(this.off, this.off + this.len); }
}
