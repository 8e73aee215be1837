// IPv4 header view (RFC 791) with header checksum compute/verify (RFC 1071), and the protocol
// numbers the switch matches on. Hot path: reuse one view; checkLen() gates every accessor.
import { EMPTY, internetChecksum, rd16, rd32, wr16, wr32 } from './bytes.js';
import { formatIpv4, parseIpv4 } from './flow-key.js';

export const IPV4_MIN_HEADER_LEN = 20;
const VER_IHL = 0, TOS = 1, TOTAL_LEN = 2, IDENT = 4, FLAGS_FRAG = 6, TTL = 8, PROTO = 9, CHECKSUM = 10, SRC = 12, DST = 16;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_MASK = 0x1fff;

/** IP protocol / IPv6 next-header numbers (IANA). */
export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

export class Ipv4View {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  /** Version 4, IHL >= 5 and the whole header (options included) is within len. */
  checkLen(): boolean {
    if (this.len < IPV4_MIN_HEADER_LEN) return false;
    const b = this.buf[this.off + VER_IHL];
    return (b >>> 4) === 4 && (b & 0x0f) >= 5 && this.len >= (b & 0x0f) * 4;
  }
  get version(): number { return this.buf[this.off + VER_IHL] >>> 4; }
  set version(v: number) { const o = this.off + VER_IHL; this.buf[o] = (this.buf[o] & 0x0f) | ((v & 0x0f) << 4); }
  /** Header length in bytes (IHL * 4). */
  get headerLen(): number { return (this.buf[this.off + VER_IHL] & 0x0f) * 4; }
  set headerLen(v: number) { const o = this.off + VER_IHL; this.buf[o] = (this.buf[o] & 0xf0) | ((v >>> 2) & 0x0f); }
  get tos(): number { return this.buf[this.off + TOS]; }
  set tos(v: number) { this.buf[this.off + TOS] = v; }
  get dscp(): number { return this.buf[this.off + TOS] >>> 2; }
  set dscp(v: number) { const o = this.off + TOS; this.buf[o] = (this.buf[o] & 3) | ((v & 0x3f) << 2); }
  get ecn(): number { return this.buf[this.off + TOS] & 3; }
  set ecn(v: number) { const o = this.off + TOS; this.buf[o] = (this.buf[o] & 0xfc) | (v & 3); }
  get totalLen(): number { return rd16(this.buf, this.off + TOTAL_LEN); }
  set totalLen(v: number) { wr16(this.buf, this.off + TOTAL_LEN, v); }
  get ident(): number { return rd16(this.buf, this.off + IDENT); }
  set ident(v: number) { wr16(this.buf, this.off + IDENT, v); }
  get dontFrag(): boolean { return (this.buf[this.off + FLAGS_FRAG] & 0x40) !== 0; }
  set dontFrag(v: boolean) { const o = this.off + FLAGS_FRAG; this.buf[o] = v ? this.buf[o] | 0x40 : this.buf[o] & ~0x40; }
  get moreFrags(): boolean { return (this.buf[this.off + FLAGS_FRAG] & 0x20) !== 0; }
  set moreFrags(v: boolean) { const o = this.off + FLAGS_FRAG; this.buf[o] = v ? this.buf[o] | 0x20 : this.buf[o] & ~0x20; }
  /** Fragment offset in 8-byte units. */
  get fragOffset(): number { return rd16(this.buf, this.off + FLAGS_FRAG) & IPV4_FRAG_MASK; }
  set fragOffset(v: number) { const o = this.off + FLAGS_FRAG; wr16(this.buf, o, (rd16(this.buf, o) & ~IPV4_FRAG_MASK) | (v & IPV4_FRAG_MASK)); }
  get ttl(): number { return this.buf[this.off + TTL]; }
  set ttl(v: number) { this.buf[this.off + TTL] = v; }
  get protocol(): number { return this.buf[this.off + PROTO]; }
  set protocol(v: number) { this.buf[this.off + PROTO] = v; }
  get checksum(): number { return rd16(this.buf, this.off + CHECKSUM); }
  set checksum(v: number) { wr16(this.buf, this.off + CHECKSUM, v); }
  /** Addresses as u32 numbers. */
  get src(): number { return rd32(this.buf, this.off + SRC); }
  set src(v: number) { wr32(this.buf, this.off + SRC, v); }
  get dst(): number { return rd32(this.buf, this.off + DST); }
  set dst(v: number) { wr32(this.buf, this.off + DST, v); }
  get payloadOff(): number { return this.off + this.headerLen; }

  /** Checksum the header would have with its checksum field zero (the field is left as is). */
  computeChecksum(): number {
    const saved = this.checksum;
    this.checksum = 0;
    const c = internetChecksum(this.buf, this.off, this.headerLen);
    this.checksum = saved;
    return c;
  }
  /** Store the correct header checksum. */
  fillChecksum(): void { this.checksum = 0; this.checksum = internetChecksum(this.buf, this.off, this.headerLen); }
  /** True when the stored checksum is correct (the header sums to 0xffff). */
  verifyChecksum(): boolean { return internetChecksum(this.buf, this.off, this.headerLen) === 0; }
}

/** Cold-path value (no options). */
export interface Ipv4Fields {
  src: string; dst: string; protocol: number; ttl: number; tos: number; ident: number;
  dontFrag: boolean; moreFrags: boolean; fragOffset: number; totalLen: number; headerLen: number;
}
export function parseIpv4Header(v: Ipv4View): Ipv4Fields {
  return {
    src: formatIpv4(v.src), dst: formatIpv4(v.dst), protocol: v.protocol, ttl: v.ttl, tos: v.tos, ident: v.ident,
    dontFrag: v.dontFrag, moreFrags: v.moreFrags, fragOffset: v.fragOffset, totalLen: v.totalLen, headerLen: v.headerLen,
  };
}
/** Writes a 20-byte header (headerLen in `f` is ignored) and fills the checksum. */
export function emitIpv4Header(f: Omit<Ipv4Fields, 'headerLen'>, v: Ipv4View): void {
  const b = v.buf, o = v.off;
  b[o] = 0x45; v.tos = f.tos; v.totalLen = f.totalLen; v.ident = f.ident;
  wr16(b, o + FLAGS_FRAG, (f.dontFrag ? IPV4_FLAG_DF : 0) | (f.moreFrags ? IPV4_FLAG_MF : 0) | (f.fragOffset & IPV4_FRAG_MASK));
  v.ttl = f.ttl; v.protocol = f.protocol; v.src = parseIpv4(f.src); v.dst = parseIpv4(f.dst);
  v.fillChecksum();
}
