// TCP header view (RFC 9293): ports, sequence numbers, data offset, the 9 flag bits (with NS),
// window, checksum over the IPv4/IPv6 pseudo-header. Options are not parsed.
import { EMPTY, finishChecksum, pseudoSumV4, pseudoSumV6, rd16, rd32, sumBytes, wr16, wr32 } from './bytes.js';
import { IpProto } from './ipv4.js';
import { IPV6_DST_OFF, IPV6_SRC_OFF } from './ipv6.js';

export const TCP_MIN_HEADER_LEN = 20;
const SRC_PORT = 0, DST_PORT = 2, SEQ = 4, ACK = 8, OFF_FLAGS = 12, WINDOW = 14, CHECKSUM = 16, URGENT = 18;

export const TcpFlag = { FIN: 0x001, SYN: 0x002, RST: 0x004, PSH: 0x008, ACK: 0x010, URG: 0x020, ECE: 0x040, CWR: 0x080, NS: 0x100 } as const;
/** The 12 low bits of bytes 12-13 (OpenFlow tcp_flags / OVS TCP_FLAGS). */
export const TCP_FLAGS_MASK = 0x0fff;

export class TcpView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  /** Fixed header present and the data offset is sane and within len. */
  checkLen(): boolean {
    if (this.len < TCP_MIN_HEADER_LEN) return false;
    const hl = this.headerLen;
    return hl >= TCP_MIN_HEADER_LEN && this.len >= hl;
  }
  get srcPort(): number { return rd16(this.buf, this.off + SRC_PORT); }
  set srcPort(v: number) { wr16(this.buf, this.off + SRC_PORT, v); }
  get dstPort(): number { return rd16(this.buf, this.off + DST_PORT); }
  set dstPort(v: number) { wr16(this.buf, this.off + DST_PORT, v); }
  get seq(): number { return rd32(this.buf, this.off + SEQ); }
  set seq(v: number) { wr32(this.buf, this.off + SEQ, v); }
  get ack(): number { return rd32(this.buf, this.off + ACK); }
  set ack(v: number) { wr32(this.buf, this.off + ACK, v); }
  /** Data offset in bytes. */
  get headerLen(): number { return (this.buf[this.off + OFF_FLAGS] >>> 4) * 4; }
  set headerLen(v: number) { const o = this.off + OFF_FLAGS; this.buf[o] = (this.buf[o] & 0x0f) | (((v >>> 2) & 0x0f) << 4); }
  /** Flag bits (TcpFlag), 12 bits including the reserved ones. */
  get flags(): number { return rd16(this.buf, this.off + OFF_FLAGS) & TCP_FLAGS_MASK; }
  set flags(v: number) { const o = this.off + OFF_FLAGS; this.buf[o] = (this.buf[o] & 0xf0) | ((v >>> 8) & 0x0f); this.buf[o + 1] = v & 0xff; }
  get window(): number { return rd16(this.buf, this.off + WINDOW); }
  set window(v: number) { wr16(this.buf, this.off + WINDOW, v); }
  get checksum(): number { return rd16(this.buf, this.off + CHECKSUM); }
  set checksum(v: number) { wr16(this.buf, this.off + CHECKSUM, v); }
  get urgent(): number { return rd16(this.buf, this.off + URGENT); }
  set urgent(v: number) { wr16(this.buf, this.off + URGENT, v); }
  get payloadOff(): number { return this.off + this.headerLen; }

  /** Checksum over `len` bytes (segment) with the IPv4 pseudo-header at `ipOff`. */
  fillChecksumV4(ipOff: number): void {
    this.checksum = 0;
    this.checksum = finishChecksum(sumBytes(this.buf, this.off, this.len, pseudoSumV4(rd32(this.buf, ipOff + 12), rd32(this.buf, ipOff + 16), IpProto.TCP, this.len)));
  }
  verifyChecksumV4(ipOff: number): boolean {
    return finishChecksum(sumBytes(this.buf, this.off, this.len, pseudoSumV4(rd32(this.buf, ipOff + 12), rd32(this.buf, ipOff + 16), IpProto.TCP, this.len))) === 0;
  }
  fillChecksumV6(ipOff: number): void {
    this.checksum = 0;
    this.checksum = finishChecksum(sumBytes(this.buf, this.off, this.len, pseudoSumV6(this.buf, ipOff + IPV6_SRC_OFF, ipOff + IPV6_DST_OFF, IpProto.TCP, this.len)));
  }
  verifyChecksumV6(ipOff: number): boolean {
    return finishChecksum(sumBytes(this.buf, this.off, this.len, pseudoSumV6(this.buf, ipOff + IPV6_SRC_OFF, ipOff + IPV6_DST_OFF, IpProto.TCP, this.len))) === 0;
  }
}

/** tcpdump-style flag string: "S", "S.", "P.", "F.", "R", "." (ACK alone). */
export function formatTcpFlags(f: number): string {
  let s = '';
  if (f & TcpFlag.FIN) s += 'F';
  if (f & TcpFlag.SYN) s += 'S';
  if (f & TcpFlag.RST) s += 'R';
  if (f & TcpFlag.PSH) s += 'P';
  if (f & TcpFlag.URG) s += 'U';
  if (f & TcpFlag.ECE) s += 'E';
  if (f & TcpFlag.CWR) s += 'W';
  if (f & TcpFlag.ACK) s += '.';
  return s === '' ? 'none' : s;
}
