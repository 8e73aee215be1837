// Software GSO: cuts a super-frame (a TSO/USO frame that arrived with a virtio-net header) into
// the frames a wire carries, for an egress that cannot take it whole, and says how many frames and
// bytes it will be on the wire without cutting it (channels and meters count those). The headers
// are parsed here (Ethernet, VLAN tags, IPv4/IPv6 with extension headers, TCP/UDP), never taken
// from the sender's hdr_len/csum_start hints: the frame may have been retagged since it arrived.
// Segments are what Linux's own TCP and UDP_L4 segmentation puts on a wire: IPv4 ids
// incremented from the super-frame's, total/payload length per segment, TCP seq advanced by the
// payload before it, FIN and PSH only on the last segment, CWR only on the first, checksums full.
import { rd16, rd32, wr16, wr32, internetChecksum } from './bytes.js';
import { writeL4Checksum, seedPartialChecksum, parseL3Headers, HDR, HDR_SLOTS } from './complete-checksum.js';
import { GSO, HEADROOM } from './packet.js';
import type { Packet } from './packet.js';

/** What parseGsoHeaders / GsoSegmenter.begin found: 0 = usable; anything else = why not. */
export const GsoResult = {
  Ok: 0,
  /** Not IPv4/IPv6 after the VLAN tags. */
  NotIp: 1,
  /** A header, or the IP length it announces, runs past the end of the frame. */
  Truncated: 2,
  /** Inconsistent IP header fields, or an L4 protocol that does not match the gso type. */
  BadHeader: 3,
  /** A gso type or layout this code does not cut: UFO (IP fragmentation), IP fragments, routing headers, jumbograms. */
  Unsupported: 4,
} as const;
export type GsoResultCode = (typeof GsoResult)[keyof typeof GsoResult];

const PROTO_TCP = 6, PROTO_UDP = 17;
const TCP_SEQ = 4, TCP_FLAGS = 13, TCP_FIN = 0x01, TCP_PSH = 0x08, TCP_CWR = 0x80;
const UDP_LEN = 4;
const GSO_ECN = 0x80;

/** Slots of the parse result (complete-checksum.ts HDR: offsets absolute in the buffer). */
export const H = HDR;
export const H_SLOTS = HDR_SLOTS;

/**
 * Parse the frame at buf[off .. off+len) down to the end of its TCP/UDP header. On Ok, `out` holds
 * (absolute offsets) the IP header, the L4 header, the first payload byte, the end of the IP
 * packet (Ethernet padding excluded), the L4 protocol and 1 for IPv6. Never throws. The walk to
 * L4 is complete-checksum.ts's parseL3Headers (its result codes are GsoResult's).
 */
export function parseGsoHeaders(buf: Uint8Array, off: number, len: number, out: Int32Array): GsoResultCode {
  const r = parseL3Headers(buf, off, len, out);
  if (r !== GsoResult.Ok) return r;
  const l4 = out[H.L4], l3End = out[H.L3_END], proto = out[H.PROTO];
  let payload: number;
  if (proto === PROTO_TCP) {
    if (l4 + 20 > l3End) return GsoResult.Truncated;
    const thl = (buf[l4 + 12] >>> 4) << 2;
    if (thl < 20) return GsoResult.BadHeader;
    payload = l4 + thl;
  } else if (proto === PROTO_UDP) {
    payload = l4 + 8;
  } else {
    return GsoResult.Unsupported;
  }
  if (payload > l3End) return GsoResult.Truncated;
  out[H.PAYLOAD] = payload;
  return GsoResult.Ok;
}

/** Whether gso type `t` fits the parsed frame (TcpV4: IPv4+TCP, TcpV6: IPv6+TCP, UdpL4: UDP). */
function typeMatches(t: number, h: Int32Array): boolean {
  if (t === GSO.TcpV4) return h[H.PROTO] === PROTO_TCP && h[H.V6] === 0;
  if (t === GSO.TcpV6) return h[H.PROTO] === PROTO_TCP && h[H.V6] === 1;
  if (t === GSO.UdpL4) return h[H.PROTO] === PROTO_UDP;
  return false;
}

const wireHdr = new Int32Array(H_SLOTS);
/**
 * Smallest gso_size (MSS) cut in software: Linux's TCP floor is 88 bytes (TCP_MIN_MSS) and a
 * 64 KiB super-frame at 64 is ~1,000 segments; below it the header is taken as bogus (gso-failed).
 */
export const MIN_GSO_SIZE = 64;

/** Frames `pkt` will be on the wire: 1, or the segment count of a super-frame (computed, not cut). */
export function wireFrames(pkt: Packet): number {
  const mss = pkt.gsoSize;
  if (pkt.gsoType === GSO.None || mss === 0) return 1;
  const h = wireHdr;
  if (parseGsoHeaders(pkt.buf, pkt.off, pkt.len, h) !== GsoResult.Ok) return 1;
  const payload = h[H.L3_END] - h[H.PAYLOAD];
  return payload <= mss ? 1 : Math.ceil(payload / mss);
}

/**
 * Bytes `pkt` will be on the wire (destination MAC to end of payload, each frame, no FCS): its
 * length, or for a super-frame the segments' headers plus the payload. Meters and channels count
 * these so a limit holds whether or not frames arrive coalesced.
 */
export function wireBytes(pkt: Packet): number {
  const mss = pkt.gsoSize;
  if (pkt.gsoType === GSO.None || mss === 0) return pkt.len;
  const h = wireHdr;
  if (parseGsoHeaders(pkt.buf, pkt.off, pkt.len, h) !== GsoResult.Ok) return pkt.len;
  const payload = h[H.L3_END] - h[H.PAYLOAD];
  if (payload <= mss) return pkt.len;
  return Math.ceil(payload / mss) * (h[H.PAYLOAD] - pkt.off) + payload;
}

/** virtio-net header (struct virtio_net_hdr, 10 bytes, little-endian as on x86 and virtio 1.0). */
export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1, VNET_F_DATA_VALID = 2;

const txHdr = new Int32Array(H_SLOTS);

/**
 * Write the virtio-net header for `pkt` at buf[at .. at+10) (normally the headroom right before the
 * frame). A super-frame or a frame with a partial checksum gets NEEDS_CSUM with csum_start/offset
 * derived from its headers as they are now, and its checksum field reseeded with the pseudo-header
 * sum (a frame whose checksum was complete, e.g. after a set-field, is partial again); everything
 * else gets an all-zero header (DATA_VALID when the sender vouched for it). Returns false when the
 * frame is a super-frame or partial but its headers cannot be parsed (the caller drops it).
 */
export function writeVnetHeader(pkt: Packet, buf: Uint8Array, at: number): boolean {
  const partial = pkt.csumPartial, gso = pkt.gsoType !== GSO.None && pkt.gsoSize !== 0;
  buf.fill(0, at, at + VNET_HDR_LEN);
  if (!partial && !gso) {
    if (pkt.csumValid) buf[at] = VNET_F_DATA_VALID;
    return true;
  }
  const h = txHdr;
  if (parseGsoHeaders(pkt.buf, pkt.off, pkt.len, h) !== GsoResult.Ok) return false;
  if (gso && !typeMatches(pkt.gsoType, h)) return false;
  const l4 = h[H.L4], proto = h[H.PROTO], v6 = h[H.V6] === 1;
  seedPartialChecksum(pkt.buf, h[H.L3], l4, h[H.L3_END] - l4, proto, v6);
  const start = l4 - pkt.off, hdrLen = h[H.PAYLOAD] - pkt.off;
  buf[at] = VNET_F_NEEDS_CSUM;
  if (gso) {
    // VIRTIO_NET_HDR_GSO_ECN (0x80): a TCP super-frame with CWR set (only its first segment keeps it)
    buf[at + 1] = pkt.gsoType | (proto === PROTO_TCP && (pkt.buf[l4 + TCP_FLAGS] & TCP_CWR) !== 0 ? GSO_ECN : 0);
    buf[at + 2] = hdrLen & 0xff; buf[at + 3] = hdrLen >>> 8;
    buf[at + 4] = pkt.gsoSize & 0xff; buf[at + 5] = pkt.gsoSize >>> 8;
  }
  buf[at + 6] = start & 0xff; buf[at + 7] = start >>> 8;
  buf[at + 8] = proto === PROTO_TCP ? 16 : 6;
  return true;
}

/**
 * Cuts one super-frame into segments, one per next() call, each into a packet the caller takes
 * from the pool (no allocation here). Usage: `const n = seg.begin(pkt)`; n === 0: cannot be cut
 * (seg.result says why); else n times `seg.next(dst)`.
 */
export class GsoSegmenter {
  /** Why the last begin() returned 0 (GsoResult). */
  result: GsoResultCode = GsoResult.Ok;
  private src: Packet | null = null;
  private readonly h = new Int32Array(H_SLOTS);
  private mss = 0;
  private count = 0;
  private index = 0;
  private ipId = 0;
  private seq = 0;

  /** Segments `pkt` will be cut into (>= 1), or 0 when it cannot be (see `result`). */
  begin(pkt: Packet): number {
    this.src = null;
    const h = this.h;
    this.result = parseGsoHeaders(pkt.buf, pkt.off, pkt.len, h);
    if (this.result !== GsoResult.Ok) return 0;
    // A gso_size far below any real MSS (a guest may send 1) would turn one 64 KiB super-frame
    // into tens of thousands of segments: refused as a bad header, like a zero.
    if (!typeMatches(pkt.gsoType, h) || pkt.gsoSize < MIN_GSO_SIZE) {
      this.result = pkt.gsoType === GSO.Udp ? GsoResult.Unsupported : GsoResult.BadHeader;
      return 0;
    }
    const payload = h[H.L3_END] - h[H.PAYLOAD];
    this.src = pkt;
    this.mss = pkt.gsoSize;
    this.count = payload <= this.mss ? 1 : Math.ceil(payload / this.mss);
    this.index = 0;
    const b = pkt.buf;
    this.ipId = h[H.V6] === 0 ? rd16(b, h[H.L3] + 4) : 0;
    this.seq = h[H.PROTO] === PROTO_TCP ? rd32(b, h[H.L4] + TCP_SEQ) : 0;
    return this.count;
  }

  /** Bytes the next segment needs after the headroom (to pick a pool tier). */
  nextLen(): number {
    const src = this.src;
    if (src === null) return 0;
    const h = this.h, start = h[H.PAYLOAD] + this.index * this.mss;
    const chunk = Math.min(this.mss, h[H.L3_END] - start);
    return h[H.PAYLOAD] - src.off + chunk;
  }

  /** Write the next segment into `dst` (a reset packet with room for nextLen()); false when done. */
  next(dst: Packet): boolean {
    const src = this.src;
    if (src === null || this.index >= this.count) return false;
    const h = this.h, i = this.index++, last = i === this.count - 1;
    const sb = src.buf, db = dst.buf;
    const hdrBytes = h[H.PAYLOAD] - src.off;
    const start = h[H.PAYLOAD] + i * this.mss;
    const chunk = Math.min(this.mss, h[H.L3_END] - start);
    if (HEADROOM + hdrBytes + chunk > db.length) return false;
    sb.copy(db, HEADROOM, src.off, h[H.PAYLOAD]);
    sb.copy(db, HEADROOM + hdrBytes, start, start + chunk);
    dst.off = HEADROOM; dst.len = hdrBytes + chunk;
    dst.inPort = src.inPort; dst.tsMs = src.tsMs; dst.tunnelId = src.tunnelId;
    dst.tunIpv4Src = src.tunIpv4Src; dst.tunIpv4Dst = src.tunIpv4Dst; dst.queueId = src.queueId;
    dst.clearOffload();
    const d3 = HEADROOM + (h[H.L3] - src.off), d4 = HEADROOM + (h[H.L4] - src.off);
    const l4Len = hdrBytes + chunk - (d4 - HEADROOM);
    const v6 = h[H.V6] === 1;
    if (v6) {
      wr16(db, d3 + 4, d4 - d3 - 40 + l4Len);
    } else {
      const ihl = (db[d3] & 0x0f) << 2;
      wr16(db, d3 + 2, d4 - d3 + l4Len);
      wr16(db, d3 + 4, (this.ipId + i) & 0xffff);
      db[d3 + 10] = 0; db[d3 + 11] = 0;
      wr16(db, d3 + 10, internetChecksum(db, d3, ihl));
    }
    if (h[H.PROTO] === PROTO_TCP) {
      wr32(db, d4 + TCP_SEQ, (this.seq + i * this.mss) >>> 0);
      let f = db[d4 + TCP_FLAGS];
      if (!last) f &= ~(TCP_FIN | TCP_PSH);
      if (i !== 0) f &= ~TCP_CWR;
      db[d4 + TCP_FLAGS] = f;
    } else {
      wr16(db, d4 + UDP_LEN, l4Len);
    }
    writeL4Checksum(db, d3, d4, l4Len, h[H.PROTO], v6);
    return true;
  }
}
