// ARP view (RFC 826). Accessors for the hardware/protocol addresses assume the Ethernet/IPv4
// layout (hlen 6, plen 4): check isEthIpv4() first; other layouts only expose the fixed part.
import { EMPTY, rd16, rd32, rd48, wr16, wr32, wr48 } from './bytes.js';
import { formatIpv4, formatMac, parseIpv4, parseMac } from './flow-key.js';

/** Fixed part: htype, ptype, hlen, plen, op. */
export const ARP_FIXED_LEN = 8;
/** Whole packet for Ethernet/IPv4. */
export const ARP_ETH_IPV4_LEN = 28;
const HTYPE = 0, PTYPE = 2, HLEN = 4, PLEN = 5, OP = 6, SHA = 8, SPA = 14, THA = 18, TPA = 24;
export const ArpOp = { REQUEST: 1, REPLY: 2, RREQUEST: 3, RREPLY: 4 } as const;
export const ARP_HTYPE_ETHERNET = 1;

export class ArpView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  /** Fixed part present and the addresses (of whatever size hlen/plen say) fit. */
  checkLen(): boolean {
    if (this.len < ARP_FIXED_LEN) return false;
    return this.len >= ARP_FIXED_LEN + 2 * (this.hlen + this.plen);
  }
  /** Ethernet/IPv4 ARP: the address accessors below are meaningful. Requires checkLen(). */
  isEthIpv4(): boolean { return this.htype === ARP_HTYPE_ETHERNET && this.ptype === 0x0800 && this.hlen === 6 && this.plen === 4; }
  get htype(): number { return rd16(this.buf, this.off + HTYPE); }
  set htype(v: number) { wr16(this.buf, this.off + HTYPE, v); }
  get ptype(): number { return rd16(this.buf, this.off + PTYPE); }
  set ptype(v: number) { wr16(this.buf, this.off + PTYPE, v); }
  get hlen(): number { return this.buf[this.off + HLEN]; }
  set hlen(v: number) { this.buf[this.off + HLEN] = v; }
  get plen(): number { return this.buf[this.off + PLEN]; }
  set plen(v: number) { this.buf[this.off + PLEN] = v; }
  get op(): number { return rd16(this.buf, this.off + OP); }
  set op(v: number) { wr16(this.buf, this.off + OP, v); }
  get sha(): number { return rd48(this.buf, this.off + SHA); }
  set sha(v: number) { wr48(this.buf, this.off + SHA, v); }
  get spa(): number { return rd32(this.buf, this.off + SPA); }
  set spa(v: number) { wr32(this.buf, this.off + SPA, v); }
  get tha(): number { return rd48(this.buf, this.off + THA); }
  set tha(v: number) { wr48(this.buf, this.off + THA, v); }
  get tpa(): number { return rd32(this.buf, this.off + TPA); }
  set tpa(v: number) { wr32(this.buf, this.off + TPA, v); }
}

/** Cold-path value for Ethernet/IPv4 ARP. */
export interface ArpFields { op: number; sha: string; spa: string; tha: string; tpa: string }
export function parseArp(v: ArpView): ArpFields {
  return { op: v.op, sha: formatMac(v.sha), spa: formatIpv4(v.spa), tha: formatMac(v.tha), tpa: formatIpv4(v.tpa) };
}
/** Writes all 28 bytes (htype 1, ptype IPv4, hlen 6, plen 4). */
export function emitArp(f: ArpFields, v: ArpView): void {
  v.htype = ARP_HTYPE_ETHERNET; v.ptype = 0x0800; v.hlen = 6; v.plen = 4; v.op = f.op;
  v.sha = parseMac(f.sha); v.spa = parseIpv4(f.spa); v.tha = parseMac(f.tha); v.tpa = parseIpv4(f.tpa);
}
