// The inner frame that carries BFD inside a VXLAN tunnel, as Open vSwitch builds and recognises it
// (Ethernet + IPv4 + UDP 3784 + BFD Control), so a Sluice tunnel and an Open vSwitch tunnel with
// `bfd:enable=true` see each other's packets. Build into a caller-owned buffer (no allocation);
// recognise with findBfdFrame, which never throws and returns -1 for anything that is not BFD.
//
// Open vSwitch 3.1 facts relied on (read in openvswitch/ovs v3.1.7: lib/bfd.c bfd_configure,
// bfd_put_packet, bfd_should_process_flow, bfd_process_packet; lib/packets.h eth_addr_bfd;
// vswitchd/vswitch.xml, i.e. ovs-vswitchd.conf.db(5), Interface table, "bfd" column):
// - sent: Ethernet dst 00:23:20:00:00:01 (key bfd_local_dst_mac), src = the interface's MAC
//   (bfd_local_src_mac); EtherType IPv4, IHL 5, TOS 0xc0 (IPTOS_PREC_INTERNETCONTROL), id 0, no DF
//   and no fragment bits (the header is zeroed before filling), TTL 255, IP checksum filled;
//   src 169.254.1.1 (bfd_src_ip), dst 169.254.1.0 (bfd_dst_ip); UDP src port 49152 + (a per-process
//   session counter mod 16384), fixed per session (RFC 5881 §4), dst 3784, UDP checksum 0; a
//   24-byte Control packet (Length 24, Required Min Echo RX 0, no auth). 66 bytes, no padding.
// - received: a frame is BFD when (if bfd_remote_dst_mac is set) its Ethernet dst equals it, it is
//   IPv4 (after any VLAN tags), protocol UDP, not a later fragment, UDP dst 3784, and, only when
//   bfd_src_ip is configured to something other than the default, the IP dst equals bfd_src_ip.
//   Such a frame is consumed by BFD even when the session then discards it: a TTL other than 255
//   is discarded (counted here by the session), as is a payload shorter than 24 bytes.
// - check_tnl_key=true additionally requires tunnel key (VNI) 0; that is the tunnel port's check.
import { rd16, rd32, rd48, wr16 } from './bytes.js';
import { BFD_CONTROL_LEN, BFD_CONTROL_PORT, BfdView, emitBfd, type BfdFields } from './bfd.js';
import { CsumResult, HDR, HDR_SLOTS, parseL3Headers } from './complete-checksum.js';
import { EtherType, ETH_HEADER_LEN, EthernetView } from './ethernet.js';
import { IpProto, IPV4_MIN_HEADER_LEN, Ipv4View } from './ipv4.js';
import { UDP_HEADER_LEN, UdpView } from './udp.js';

/** Open vSwitch's default inner destination MAC (eth_addr_bfd), 00:23:20:00:00:01. */
export const BFD_DEFAULT_DST_MAC = 0x0023_2000_0001;
/** Open vSwitch's default bfd_src_ip, 169.254.1.1. */
export const BFD_DEFAULT_SRC_IP = 0xa9fe_0101;
/** Open vSwitch's default bfd_dst_ip, 169.254.1.0. */
export const BFD_DEFAULT_DST_IP = 0xa9fe_0100;
/** IP TTL of every BFD packet sent; received ones with another TTL are discarded (RFC 5881 §5). */
export const BFD_TTL = 255;
/** IP TOS of BFD packets: precedence "internetwork control". */
export const BFD_IP_TOS = 0xc0;
/** UDP source ports of BFD sessions: 49152-65535 (RFC 5881 §4). */
export const BFD_UDP_SRC_PORT_MIN = 49152;
export const BFD_UDP_SRC_PORT_COUNT = 16384;
/** Offset of the BFD Control packet in a frame from buildBfdFrame (Ethernet 14 + IPv4 20 + UDP 8). */
export const BFD_FRAME_CONTROL_OFF = ETH_HEADER_LEN + IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN;
/** Bytes written by buildBfdFrame. */
export const BFD_FRAME_LEN = BFD_FRAME_CONTROL_OFF + BFD_CONTROL_LEN;

/** The source port of session number `n` (0, 1, 2, ...), spread over the range as Open vSwitch does. */
export function bfdUdpSrcPort(n: number): number {
  return BFD_UDP_SRC_PORT_MIN + (Math.abs(Math.trunc(n)) % BFD_UDP_SRC_PORT_COUNT);
}

/** Addresses of the frames one session sends. MACs are 48-bit numbers, IPv4 addresses u32 numbers. */
export interface BfdFrameAddrs { srcMac: number; dstMac: number; srcIp: number; dstIp: number; srcPort: number }

const eth = new EthernetView(), ip = new Ipv4View(), udp = new UdpView(), ctl = new BfdView();

/**
 * Write the Ethernet, IPv4 and UDP headers of a BFD frame at `buf[off .. off + BFD_FRAME_LEN)`,
 * sized for a 24-byte Control packet at `off + BFD_FRAME_CONTROL_OFF`, which is written from
 * `control` if given and otherwise left for the caller (a session's emit). The IP checksum covers
 * the header only and the UDP checksum is 0, so the Control packet may be written before or after.
 * Returns BFD_FRAME_LEN, or 0 (nothing written) if the frame does not fit in `buf` from `off`.
 */
export function buildBfdFrame(buf: Buffer, off: number, a: BfdFrameAddrs, control?: BfdFields): number {
  if (off < 0 || off + BFD_FRAME_LEN > buf.length) return 0;
  eth.reset(buf, off, ETH_HEADER_LEN);
  eth.dstMac = a.dstMac; eth.srcMac = a.srcMac; eth.etherType = EtherType.IPV4;
  const o = off + ETH_HEADER_LEN;
  ip.reset(buf, o, IPV4_MIN_HEADER_LEN);
  buf[o] = 0x45; ip.tos = BFD_IP_TOS; ip.totalLen = IPV4_MIN_HEADER_LEN + UDP_HEADER_LEN + BFD_CONTROL_LEN;
  ip.ident = 0; wr16(buf, o + 6, 0);                  // no DF, no MF, offset 0 (as Open vSwitch sends)
  ip.ttl = BFD_TTL; ip.protocol = IpProto.UDP; ip.src = a.srcIp; ip.dst = a.dstIp;
  ip.fillChecksum();
  udp.reset(buf, o + IPV4_MIN_HEADER_LEN, UDP_HEADER_LEN + BFD_CONTROL_LEN);
  udp.srcPort = a.srcPort; udp.dstPort = BFD_CONTROL_PORT; udp.length = UDP_HEADER_LEN + BFD_CONTROL_LEN; udp.checksum = 0;
  if (control !== undefined) emitBfd(control, ctl.reset(buf, off + BFD_FRAME_CONTROL_OFF, BFD_CONTROL_LEN));
  return BFD_FRAME_LEN;
}

/** Which received frames a session takes as its BFD (Open vSwitch bfd_should_process_flow). */
export interface BfdRxFilter {
  /** bfd_remote_dst_mac: the Ethernet dst must equal it; 0 = not checked (the default). */
  remoteDstMac: number;
  /** bfd_src_ip of this session: unless it is BFD_DEFAULT_SRC_IP, the IP dst must equal it. */
  localIp: number;
}
/** Open vSwitch's defaults: any Ethernet dst, any IP dst. */
export const BFD_RX_DEFAULT: Readonly<BfdRxFilter> = Object.freeze({ remoteDstMac: 0, localIp: BFD_DEFAULT_SRC_IP });

/** Where the Control packet of a recognised frame is, and the IP/UDP fields a session checks. Reuse one. */
export class BfdFrameInfo {
  /** Absolute offset of the Control packet in the buffer (-1: not BFD). */
  controlOff = -1;
  /** UDP payload bytes present (by the UDP length, cut to the IP packet): the view's len. May be < 24. */
  controlLen = 0;
  ttl = 0;
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
}

const hdr = new Int32Array(HDR_SLOTS);

/**
 * If the Ethernet frame at `buf[off .. off+len)` is a BFD Control frame for a session with
 * `filter`, fill `out` and return the offset of the Control packet; otherwise return -1 (`out`
 * gets controlOff -1). Walks up to 4 VLAN tags and IPv4 options; an IP packet longer than the
 * frame, a fragment, IPv6, or a UDP header cut short is not BFD. Never throws, allocates nothing.
 */
export function findBfdFrame(buf: Buffer, off: number, len: number, out: BfdFrameInfo, filter: Readonly<BfdRxFilter> = BFD_RX_DEFAULT): number {
  out.controlOff = -1; out.controlLen = 0;
  if (parseL3Headers(buf, off, len, hdr) !== CsumResult.Completed || hdr[HDR.V6] !== 0 || hdr[HDR.PROTO] !== IpProto.UDP) return -1;
  if (filter.remoteDstMac !== 0 && rd48(buf, off) !== filter.remoteDstMac) return -1;
  const l3 = hdr[HDR.L3], l4 = hdr[HDR.L4], l3End = hdr[HDR.L3_END];
  if (l4 + UDP_HEADER_LEN > l3End || rd16(buf, l4 + 2) !== BFD_CONTROL_PORT) return -1;
  const dstIp = rd32(buf, l3 + 16);
  if (filter.localIp !== BFD_DEFAULT_SRC_IP && dstIp !== filter.localIp) return -1;
  const udpLen = rd16(buf, l4 + 4);
  out.controlLen = Math.max(0, Math.min(udpLen, l3End - l4) - UDP_HEADER_LEN);
  out.controlOff = l4 + UDP_HEADER_LEN;
  out.ttl = buf[l3 + 8];
  out.srcIp = rd32(buf, l3 + 12);
  out.dstIp = dstIp;
  out.srcPort = rd16(buf, l4);
  return out.controlOff;
}

const scratchInfo = new BfdFrameInfo();
/** True if findBfdFrame would take the frame (with Open vSwitch's default filter unless given). */
export function isBfdFrame(buf: Buffer, off: number, len: number, filter: Readonly<BfdRxFilter> = BFD_RX_DEFAULT): boolean {
  return findBfdFrame(buf, off, len, scratchInfo, filter) >= 0;
}
