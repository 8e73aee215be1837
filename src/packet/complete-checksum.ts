// Completes a TCP/UDP checksum that the sender left to offload ("partial": Linux CHECKSUM_PARTIAL,
// AF_PACKET TP_STATUS_CSUMNOTREADY): walks Ethernet, VLAN tags and IPv4/IPv6 itself (the frame may
// have been retagged or rewritten since it was received), then writes the full checksum over the
// pseudo-header and the L4 segment. No allocation, never throws on content: a frame it cannot
// complete gets a CsumResult code saying why, and is left as it was.
import { finishChecksum, pseudoSumV4, rd16, rd32 } from './bytes.js';

/** What completeChecksum did: 0 = completed; anything else = left unchanged, and why. */
export const CsumResult = {
  Completed: 0,
  /** Not IPv4/IPv6 after the VLAN tags (or more than MAX_TAGS tags). */
  NotIp: 1,
  /** A header, or the IP payload its length field announces, runs past the end of the frame. */
  Truncated: 2,
  /** Inconsistent IP or UDP header fields (version, IHL, total length, UDP length). */
  BadHeader: 3,
  /**
   * No TCP/UDP checksum this function can complete: another protocol (e.g. SCTP's CRC32c), an IP
   * fragment, an IPv6 routing header with segments left (the pseudo-header would need the final
   * destination), a jumbogram, or more than MAX_EXT_HEADERS extension headers.
   */
  Unsupported: 4,
} as const;
export type CsumResultCode = (typeof CsumResult)[keyof typeof CsumResult];
export const CSUM_RESULT_NAMES: readonly string[] = ['completed', 'not-ip', 'truncated', 'bad-header', 'unsupported'];

/** VLAN tags walked (0x8100, 0x88a8, 0x9100) before giving up with NotIp. */
export const MAX_TAGS = 4;
/** IPv6 extension headers walked (hop-by-hop, routing, destination options). */
export const MAX_EXT_HEADERS = 8;

const ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, TPID_VLAN = 0x8100, TPID_QINQ = 0x88a8, TPID_QINQ_OLD = 0x9100;
const PROTO_TCP = 6, PROTO_UDP = 17, NH_HOPOPTS = 0, NH_ROUTING = 43, NH_FRAGMENT = 44, NH_DSTOPTS = 60;
const TCP_CSUM = 16, UDP_CSUM = 6, TCP_MIN_LEN = 20, UDP_LEN = 8;

// One DataView per buffer, made on its first completion and kept while the buffer lives (pool
// packets live for ever): afterwards a WeakMap lookup, ~20 ns, where reading `buf.buffer` alone
// costs ~60 ns on Node 20. Offsets into the view are the buffer's own.
const views = new WeakMap<Uint8Array, DataView>();
function viewOf(buf: Uint8Array): DataView {
  let dv = views.get(buf);
  if (dv === undefined) { dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength); views.set(buf, dv); }
  return dv;
}

/**
 * Ones'-complement running sum (not folded) of `len` bytes at offset `o` of `dv`, as big-endian
 * 16-bit words (a trailing odd byte padded with zero). Adds whole 32-bit big-endian words, eight per
 * step, at any alignment, into a double (exact to 2^53; hi * 2^16 + lo folds to hi + lo since
 * 2^16 = 1 mod 0xffff): ~190 ns for 1480 bytes against ~770 for the byte loop of bytes.ts/sumBytes
 * on Node 20 (bench/checksum.bench.ts).
 */
export function sumWords(dv: DataView, o: number, len: number): number {
  let s = 0, i = o;
  const end32 = o + (len & ~31), end = o + len;
  for (; i < end32; i += 32) {
    s += dv.getUint32(i) + dv.getUint32(i + 4) + dv.getUint32(i + 8) + dv.getUint32(i + 12) +
      dv.getUint32(i + 16) + dv.getUint32(i + 20) + dv.getUint32(i + 24) + dv.getUint32(i + 28);
  }
  for (; i + 4 <= end; i += 4) s += dv.getUint32(i);
  if (i + 2 <= end) { s += dv.getUint16(i); i += 2; }
  if (i < end) s += dv.getUint8(i) << 8;
  return s;
}

/**
 * Slots of a header walk's result (an Int32Array of HDR_SLOTS, offsets absolute in the buffer):
 * the IP header, the L4 header, the first payload byte (filled by callers that go past L4), the
 * end of the IP packet (Ethernet padding excluded), the L4 protocol, and 1 for IPv6.
 */
export const HDR = { L3: 0, L4: 1, PAYLOAD: 2, L3_END: 3, PROTO: 4, V6: 5 } as const;
export const HDR_SLOTS = 6;
const scratch = new Int32Array(HDR_SLOTS);

/**
 * Walk Ethernet, up to MAX_TAGS VLAN tags and IPv4 (options) or IPv6 (hop-by-hop, destination
 * options, routing with segments left 0; up to MAX_EXT_HEADERS) to the L4 header, filling
 * HDR.L3, L4, L3_END, PROTO and V6 of `out`. Returns CsumResult.Completed (0) when it got there,
 * else why not (the codes of CsumResult). Shared with software GSO (gso.ts). Never throws.
 */
export function parseL3Headers(buf: Uint8Array, off: number, len: number, out: Int32Array): CsumResultCode {
  const end = off + len;
  if (len < 14) return CsumResult.Truncated;
  let o = off + 12;
  let type = (buf[o] << 8) | buf[o + 1];
  o += 2;
  for (let tags = 0; type === TPID_VLAN || type === TPID_QINQ || type === TPID_QINQ_OLD; tags++) {
    if (tags === MAX_TAGS) return CsumResult.NotIp;
    if (o + 4 > end) return CsumResult.Truncated;
    type = (buf[o + 2] << 8) | buf[o + 3];
    o += 4;
  }
  let proto: number, l4: number, l3End: number;
  if (type === ETH_IPV4) {
    if (o + 20 > end) return CsumResult.Truncated;
    const ihl = (buf[o] & 0x0f) << 2, total = rd16(buf, o + 2);
    if (buf[o] >>> 4 !== 4 || ihl < 20 || total < ihl) return CsumResult.BadHeader;
    if (o + total > end) return CsumResult.Truncated;
    if ((rd16(buf, o + 6) & 0x3fff) !== 0) return CsumResult.Unsupported;   // MF or a fragment offset
    proto = buf[o + 9]; l4 = o + ihl; l3End = o + total;
    out[HDR.V6] = 0;
  } else if (type === ETH_IPV6) {
    if (o + 40 > end) return CsumResult.Truncated;
    if (buf[o] >>> 4 !== 6) return CsumResult.BadHeader;
    const payloadLen = rd16(buf, o + 4);
    if (payloadLen === 0) return CsumResult.Unsupported;                    // jumbogram (or empty)
    if (o + 40 + payloadLen > end) return CsumResult.Truncated;
    proto = buf[o + 6]; l4 = o + 40; l3End = l4 + payloadLen;
    for (let n = 0; proto === NH_HOPOPTS || proto === NH_DSTOPTS || proto === NH_ROUTING; n++) {
      if (n === MAX_EXT_HEADERS) return CsumResult.Unsupported;
      if (l4 + 8 > l3End) return CsumResult.Truncated;
      if (proto === NH_ROUTING && buf[l4 + 3] !== 0) return CsumResult.Unsupported;
      proto = buf[l4];
      l4 += (buf[l4 + 1] + 1) << 3;
    }
    if (proto === NH_FRAGMENT) return CsumResult.Unsupported;
    if (l4 > l3End) return CsumResult.Truncated;
    out[HDR.V6] = 1;
  } else {
    return CsumResult.NotIp;
  }
  out[HDR.L3] = o; out[HDR.L4] = l4; out[HDR.L3_END] = l3End; out[HDR.PROTO] = proto;
  return CsumResult.Completed;
}

/**
 * Complete the TCP or UDP checksum of the Ethernet frame at `buf[off .. off+len)`: the checksum
 * field is zeroed and replaced by the full checksum over the pseudo-header and the L4 segment
 * (whatever the field held before: the pseudo-header seed of a partial checksum, zero, or junk).
 * A UDP result of 0 is sent as 0xffff (RFC 768, RFC 8200 §8.1). IPv4 options, up to MAX_TAGS VLAN
 * tags and IPv6 hop-by-hop/destination-options/routing headers (segments left 0) are walked;
 * Ethernet padding past the IP length is ignored. Returns a CsumResult code; the frame is changed
 * only when it returns Completed.
 *
 * A partial checksum of an encapsulated frame (inner TCP of VXLAN/GRE sent with offload) sits in
 * the inner header, where only the sender's csum_start (a virtio-net header) could point: this
 * completes the outermost TCP/UDP header it finds.
 */
export function completeChecksum(buf: Uint8Array, off: number, len: number): CsumResultCode {
  const h = scratch;
  const r = parseL3Headers(buf, off, len, h);
  if (r !== CsumResult.Completed) return r;
  const ip = h[HDR.L3], l4 = h[HDR.L4], proto = h[HDR.PROTO], v6 = h[HDR.V6] === 1;
  let l4Len = h[HDR.L3_END] - l4, field: number;
  if (proto === PROTO_TCP) {
    if (l4Len < TCP_MIN_LEN) return CsumResult.Truncated;
    field = l4 + TCP_CSUM;
  } else if (proto === PROTO_UDP) {
    if (l4Len < UDP_LEN) return CsumResult.Truncated;
    const udpLen = rd16(buf, l4 + 4);
    if (udpLen < UDP_LEN || udpLen > l4Len) return CsumResult.BadHeader;
    l4Len = udpLen;                                                         // the receiver sums UDP length bytes
    field = l4 + UDP_CSUM;
  } else {
    return CsumResult.Unsupported;
  }
  writeL4Checksum(buf, ip, l4, l4Len, proto, v6);
  return CsumResult.Completed;
}

/** Running sum (not folded) of the TCP/UDP pseudo-header: addresses of the IP header at `ip`, protocol, L4 length. */
export function pseudoSum(buf: Uint8Array, ip: number, l4Len: number, proto: number, v6: boolean): number {
  const sum = proto + (l4Len >>> 16) + (l4Len & 0xffff);
  if (v6) return sum + sumWords(viewOf(buf), ip + 8, 32);                 // source and destination
  return sum + pseudoSumV4(rd32(buf, ip + 12), rd32(buf, ip + 16), 0, 0);
}

/**
 * Write the full TCP (proto 6) or UDP (17) checksum of the `l4Len`-byte segment at `l4`, the IP
 * header at `ip` giving the pseudo-header. Offsets are trusted (the caller parsed the headers).
 */
export function writeL4Checksum(buf: Uint8Array, ip: number, l4: number, l4Len: number, proto: number, v6: boolean): void {
  const field = l4 + (proto === PROTO_TCP ? TCP_CSUM : UDP_CSUM);
  buf[field] = 0; buf[field + 1] = 0;
  let c = finishChecksum(sumWords(viewOf(buf), l4, l4Len) + pseudoSum(buf, ip, l4Len, proto, v6));
  if (c === 0 && proto === PROTO_UDP) c = 0xffff;
  buf[field] = c >>> 8; buf[field + 1] = c & 0xff;
}

/**
 * True when the frame's TCP/UDP checksum field holds exactly the seed of a partial checksum (the
 * pseudo-header sum, seedPartialChecksum): a frame whose sender left the checksum to offload and
 * that came through a path that lost that mark (a VXLAN datagram read from a UDP socket, whose
 * sender's inner checksum was left to the veth it went out of). A complete checksum equal to the
 * seed (about 1 in 65,536) is harmless: completing it writes the same value. ~40 ns, no allocation.
 */
export function looksPartial(buf: Uint8Array, off: number, len: number): boolean {
  const h = scratch;
  if (parseL3Headers(buf, off, len, h) !== CsumResult.Completed) return false;
  const ip = h[HDR.L3], l4 = h[HDR.L4], proto = h[HDR.PROTO], v6 = h[HDR.V6] === 1;
  let l4Len = h[HDR.L3_END] - l4, field: number;
  if (proto === PROTO_TCP) {
    if (l4Len < TCP_MIN_LEN) return false;
    field = l4 + TCP_CSUM;
  } else if (proto === PROTO_UDP) {
    if (l4Len < UDP_LEN) return false;
    const udpLen = rd16(buf, l4 + 4);
    if (udpLen < UDP_LEN || udpLen > l4Len) return false;
    if (rd16(buf, l4 + UDP_CSUM) === 0 && !v6) return false;              // no checksum (IPv4 UDP)
    l4Len = udpLen;
    field = l4 + UDP_CSUM;
  } else {
    return false;
  }
  const seed = ~finishChecksum(pseudoSum(buf, ip, l4Len, proto, v6)) & 0xffff;
  return rd16(buf, field) === seed;
}

/**
 * Seed the TCP/UDP checksum field with the pseudo-header sum, folded and not complemented (what a
 * sender leaving the checksum to offload puts there, Linux CHECKSUM_PARTIAL): the receiver of a
 * NEEDS_CSUM virtio-net header sums from the L4 header to the end and stores the complement.
 */
export function seedPartialChecksum(buf: Uint8Array, ip: number, l4: number, l4Len: number, proto: number, v6: boolean): void {
  const field = l4 + (proto === PROTO_TCP ? TCP_CSUM : UDP_CSUM);
  const c = ~finishChecksum(pseudoSum(buf, ip, l4Len, proto, v6)) & 0xffff;
  buf[field] = c >>> 8; buf[field + 1] = c & 0xff;
}
