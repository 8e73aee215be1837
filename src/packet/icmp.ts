// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) views: both start with type, code, checksum; echo
// messages add identifier and sequence. ICMPv6's checksum covers an IPv6 pseudo-header.
import { EMPTY, finishChecksum, pseudoSumV6, rd16, sumBytes, wr16 } from './bytes.js';
import { IpProto } from './ipv4.js';
import { IPV6_DST_OFF, IPV6_SRC_OFF } from './ipv6.js';

/** type, code, checksum, and the 4-byte rest-of-header (echo id/seq). */
export const ICMP_HEADER_LEN = 8;
const TYPE = 0, CODE = 1, CHECKSUM = 2, IDENT = 4, SEQ = 6;

export const Icmpv4Type = { ECHO_REPLY: 0, DEST_UNREACH: 3, REDIRECT: 5, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
export const Icmpv6Type = {
  DEST_UNREACH: 1, PACKET_TOO_BIG: 2, TIME_EXCEEDED: 3, ECHO_REQUEST: 128, ECHO_REPLY: 129,
  ROUTER_SOLICIT: 133, ROUTER_ADVERT: 134, NEIGHBOR_SOLICIT: 135, NEIGHBOR_ADVERT: 136,
} as const;

export class IcmpView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  checkLen(): boolean { return this.len >= ICMP_HEADER_LEN; }
  get type(): number { return this.buf[this.off + TYPE]; }
  set type(v: number) { this.buf[this.off + TYPE] = v; }
  get code(): number { return this.buf[this.off + CODE]; }
  set code(v: number) { this.buf[this.off + CODE] = v; }
  get checksum(): number { return rd16(this.buf, this.off + CHECKSUM); }
  set checksum(v: number) { wr16(this.buf, this.off + CHECKSUM, v); }
  /** Echo identifier / sequence (meaningful for echo request/reply). */
  get ident(): number { return rd16(this.buf, this.off + IDENT); }
  set ident(v: number) { wr16(this.buf, this.off + IDENT, v); }
  get seq(): number { return rd16(this.buf, this.off + SEQ); }
  set seq(v: number) { wr16(this.buf, this.off + SEQ, v); }
  /** ICMPv4 checksum over the whole message (len bytes). */
  fillChecksum(): void { this.checksum = 0; this.checksum = finishChecksum(sumBytes(this.buf, this.off, this.len)); }
  verifyChecksum(): boolean { return finishChecksum(sumBytes(this.buf, this.off, this.len)) === 0; }
}

/** ICMPv6 view: same layout, checksum includes the IPv6 pseudo-header at `ipOff`. */
export class Icmpv6View extends IcmpView {
  fillChecksumV6(ipOff: number): void {
    this.checksum = 0;
    this.checksum = finishChecksum(sumBytes(this.buf, this.off, this.len, pseudoSumV6(this.buf, ipOff + IPV6_SRC_OFF, ipOff + IPV6_DST_OFF, IpProto.ICMPV6, this.len)));
  }
  verifyChecksumV6(ipOff: number): boolean {
    return finishChecksum(sumBytes(this.buf, this.off, this.len, pseudoSumV6(this.buf, ipOff + IPV6_SRC_OFF, ipOff + IPV6_DST_OFF, IpProto.ICMPV6, this.len))) === 0;
  }
}

export interface IcmpFields { type: number; code: number; ident: number; seq: number }
export function parseIcmp(v: IcmpView): IcmpFields { return { type: v.type, code: v.code, ident: v.ident, seq: v.seq }; }
/** Writes the 8-byte header; the checksum is left to fillChecksum once the payload is in place. */
export function emitIcmp(f: IcmpFields, v: IcmpView): void { v.type = f.type; v.code = f.code; v.checksum = 0; v.ident = f.ident; v.seq = f.seq; }
