// The one packet type of the datapath (Snabb's `packet`, Click's `Packet`): a private buffer with
// headroom in front so VLAN push and VXLAN encap grow the frame without copying the payload.
// Every field is assigned in the constructor, in this order, and nothing is ever added later.

/** Bytes kept free in front of the frame: enough for VXLAN encap (50) plus two VLAN tags. */
export const HEADROOM = 128;
/** Default buffer size: headroom + a 9216-byte jumbo frame + slack. */
export const DEFAULT_PACKET_SIZE = 10_240;

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

  constructor(size: number = DEFAULT_PACKET_SIZE) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Bytes that fit in the buffer from `off` onwards. */
  get room(): number { return this.buf.length - this.off; }

  /** Forget the frame: back to an empty packet with full headroom. */
  reset(): void {
    this.off = HEADROOM; this.len = 0; this.inPort = 0; this.tsMs = 0;
    this.tunnelId = 0; this.tunIpv4Src = 0; this.tunIpv4Dst = 0; this.queueId = 0; this.csumPartial = false;
  }

  /** Copy `len` bytes of `src` from `srcOff` in as the frame (checksums taken as complete); false (nothing copied) if it does not fit. */
  load(src: Uint8Array, srcOff: number, len: number): boolean {
    if (len > this.buf.length - HEADROOM) return false;
    this.off = HEADROOM; this.len = len; this.csumPartial = false;
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
    return true;
  }

  /** The frame as a fresh Buffer view (cold path only: tests, pcap writing, PACKET_IN). */
  frame(): Buffer { return this.buf.subarray(this.off, this.off + this.len); }
}
