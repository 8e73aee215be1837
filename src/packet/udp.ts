// UDP header view (RFC 768) with checksum over the IPv4 or IPv6 pseudo-header.
import { EMPTY, finishChecksum, pseudoSumV4, pseudoSumV6, rd16, rd32, sumBytes, wr16 } from './bytes.js';
import { IpProto } from './ipv4.js';
import { IPV6_DST_OFF, IPV6_SRC_OFF } from './ipv6.js';

export const UDP_HEADER_LEN = 8;
const SRC_PORT = 0, DST_PORT = 2, LENGTH = 4, CHECKSUM = 6;

export class UdpView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  checkLen(): boolean { return this.len >= UDP_HEADER_LEN; }
  get srcPort(): number { return rd16(this.buf, this.off + SRC_PORT); }
  set srcPort(v: number) { wr16(this.buf, this.off + SRC_PORT, v); }
  get dstPort(): number { return rd16(this.buf, this.off + DST_PORT); }
  set dstPort(v: number) { wr16(this.buf, this.off + DST_PORT, v); }
  /** Header plus payload, in bytes, as stated in the header. */
  get length(): number { return rd16(this.buf, this.off + LENGTH); }
  set length(v: number) { wr16(this.buf, this.off + LENGTH, v); }
  get checksum(): number { return rd16(this.buf, this.off + CHECKSUM); }
  set checksum(v: number) { wr16(this.buf, this.off + CHECKSUM, v); }
  get payloadOff(): number { return this.off + UDP_HEADER_LEN; }

  /** Checksum over `length` bytes with the IPv4 pseudo-header at `ipOff`; 0 is sent as 0xffff. */
  fillChecksumV4(ipOff: number): void {
    this.checksum = 0;
    const l = this.length;
    const c = finishChecksum(sumBytes(this.buf, this.off, l, pseudoSumV4(rd32(this.buf, ipOff + 12), rd32(this.buf, ipOff + 16), IpProto.UDP, l)));
    this.checksum = c === 0 ? 0xffff : c;
  }
  /** True if the checksum is 0 (none, IPv4 only) or correct. */
  verifyChecksumV4(ipOff: number): boolean {
    if (this.checksum === 0) return true;
    const l = this.length;
    return finishChecksum(sumBytes(this.buf, this.off, l, pseudoSumV4(rd32(this.buf, ipOff + 12), rd32(this.buf, ipOff + 16), IpProto.UDP, l))) === 0;
  }
  fillChecksumV6(ipOff: number): void {
    this.checksum = 0;
    const l = this.length;
    const c = finishChecksum(sumBytes(this.buf, this.off, l, pseudoSumV6(this.buf, ipOff + IPV6_SRC_OFF, ipOff + IPV6_DST_OFF, IpProto.UDP, l)));
    this.checksum = c === 0 ? 0xffff : c;
  }
  verifyChecksumV6(ipOff: number): boolean {
    const l = this.length;
    return finishChecksum(sumBytes(this.buf, this.off, l, pseudoSumV6(this.buf, ipOff + IPV6_SRC_OFF, ipOff + IPV6_DST_OFF, IpProto.UDP, l))) === 0;
  }
}

export interface UdpFields { srcPort: number; dstPort: number; length: number; checksum: number }
export function parseUdp(v: UdpView): UdpFields { return { srcPort: v.srcPort, dstPort: v.dstPort, length: v.length, checksum: v.checksum }; }
export function emitUdp(f: UdpFields, v: UdpView): void { v.srcPort = f.srcPort; v.dstPort = f.dstPort; v.length = f.length; v.checksum = f.checksum; }
