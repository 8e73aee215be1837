// IPv6 fixed header view (RFC 8200) and cold-path address text helpers (RFC 4291 parsing,
// RFC 5952 canonical formatting). Extension headers are not walked: nextHeader is the first one.
import { EMPTY, rd16, rd32, wr16, wr32 } from './bytes.js';

export const IPV6_HEADER_LEN = 40;
const VER_TC_FL = 0, PAYLOAD_LEN = 4, NEXT_HEADER = 6, HOP_LIMIT = 7, SRC = 8, DST = 24;
export const IPV6_SRC_OFF = SRC;
export const IPV6_DST_OFF = DST;

export class Ipv6View {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  /** 40 bytes present and version 6. */
  checkLen(): boolean { return this.len >= IPV6_HEADER_LEN && (this.buf[this.off] >>> 4) === 6; }
  get version(): number { return this.buf[this.off + VER_TC_FL] >>> 4; }
  set version(v: number) { const o = this.off; this.buf[o] = (this.buf[o] & 0x0f) | ((v & 0x0f) << 4); }
  get trafficClass(): number { const o = this.off; return ((this.buf[o] & 0x0f) << 4) | (this.buf[o + 1] >>> 4); }
  set trafficClass(v: number) {
    const o = this.off;
    this.buf[o] = (this.buf[o] & 0xf0) | ((v >>> 4) & 0x0f);
    this.buf[o + 1] = (this.buf[o + 1] & 0x0f) | ((v & 0x0f) << 4);
  }
  get dscp(): number { return this.trafficClass >>> 2; }
  get ecn(): number { return this.trafficClass & 3; }
  get flowLabel(): number { const o = this.off; return ((this.buf[o + 1] & 0x0f) << 16) | (this.buf[o + 2] << 8) | this.buf[o + 3]; }
  set flowLabel(v: number) {
    const o = this.off;
    this.buf[o + 1] = (this.buf[o + 1] & 0xf0) | ((v >>> 16) & 0x0f); this.buf[o + 2] = (v >>> 8) & 0xff; this.buf[o + 3] = v & 0xff;
  }
  get payloadLen(): number { return rd16(this.buf, this.off + PAYLOAD_LEN); }
  set payloadLen(v: number) { wr16(this.buf, this.off + PAYLOAD_LEN, v); }
  get nextHeader(): number { return this.buf[this.off + NEXT_HEADER]; }
  set nextHeader(v: number) { this.buf[this.off + NEXT_HEADER] = v; }
  get hopLimit(): number { return this.buf[this.off + HOP_LIMIT]; }
  set hopLimit(v: number) { this.buf[this.off + HOP_LIMIT] = v; }
  /** Address word i (0..3, most significant first) as u32. */
  srcWord(i: number): number { return rd32(this.buf, this.off + SRC + 4 * i); }
  dstWord(i: number): number { return rd32(this.buf, this.off + DST + 4 * i); }
  setSrcWord(i: number, v: number): void { wr32(this.buf, this.off + SRC + 4 * i, v); }
  setDstWord(i: number, v: number): void { wr32(this.buf, this.off + DST + 4 * i, v); }
  get payloadOff(): number { return this.off + IPV6_HEADER_LEN; }
}

/** Cold path: "fd00::1" -> 16 bytes. Throws TypeError on bad input (embedded IPv4 accepted). */
export function parseIpv6(s: string): Buffer {
  const text = s.trim();
  const bad = (): never => { throw new TypeError(`"${s}" is not an IPv6 address`); };
  const halves = text.split('::');
  if (halves.length > 2) bad();
  const parsePart = (p: string): number[] => {
    if (p === '') return [];
    const out: number[] = [];
    const groups = p.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes('.')) {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(g);
        if (!m || m.slice(1).some((x) => Number(x) > 255)) bad();
        const q = m!.slice(1).map(Number);
        out.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(g)) bad();
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parsePart(halves[0]);
  const tail = halves.length === 2 ? parsePart(halves[1]) : [];
  if (halves.length === 2 ? head.length + tail.length > 7 : head.length !== 8) bad();
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) wr16(out, 2 * i, words[i]);
  return out;
}

/** Cold path: 16 bytes at `off` -> RFC 5952 text (lowercase, longest zero run >= 2 as "::"). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(rd16(b, off + 2 * i));
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}
