// 802.1Q / 802.1ad tag view: the 4-byte tag (TPID + TCI) plus the EtherType that follows it,
// viewed where a tag starts (12 bytes into an Ethernet frame, or 16 for the inner tag of QinQ).
import { EMPTY, rd16, wr16 } from './bytes.js';
import { EtherType } from './ethernet.js';

/** Bytes a tag adds to a frame. */
export const VLAN_TAG_LEN = 4;
/** The view covers TPID, TCI and the following EtherType. */
export const VLAN_VIEW_LEN = 6;
const TPID = 0, TCI = 2, NEXT_TYPE = 4;
export const VID_MASK = 0x0fff;
export const VID_MAX = 4094;

/** TPIDs recognised as VLAN tags: 0x8100 (C-tag), 0x88a8 (S-tag), 0x9100 (pre-standard QinQ). */
export function isVlanTpid(t: number): boolean {
  return t === EtherType.VLAN || t === EtherType.QINQ || t === EtherType.QINQ_OLD;
}

export class VlanTagView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  checkLen(): boolean { return this.len >= VLAN_VIEW_LEN; }
  get tpid(): number { return rd16(this.buf, this.off + TPID); }
  set tpid(v: number) { wr16(this.buf, this.off + TPID, v); }
  get tci(): number { return rd16(this.buf, this.off + TCI); }
  set tci(v: number) { wr16(this.buf, this.off + TCI, v); }
  get pcp(): number { return this.buf[this.off + TCI] >>> 5; }
  set pcp(v: number) { const o = this.off + TCI; this.buf[o] = (this.buf[o] & 0x1f) | ((v & 7) << 5); }
  get dei(): number { return (this.buf[this.off + TCI] >>> 4) & 1; }
  set dei(v: number) { const o = this.off + TCI; this.buf[o] = (this.buf[o] & 0xef) | ((v & 1) << 4); }
  get vid(): number { return this.tci & VID_MASK; }
  set vid(v: number) { const o = this.off + TCI; this.buf[o] = (this.buf[o] & 0xf0) | ((v >>> 8) & 0x0f); this.buf[o + 1] = v & 0xff; }
  /** EtherType (or next TPID) after this tag. */
  get etherType(): number { return rd16(this.buf, this.off + NEXT_TYPE); }
  set etherType(v: number) { wr16(this.buf, this.off + NEXT_TYPE, v); }
}

export interface VlanTagFields { tpid: number; pcp: number; dei: number; vid: number; etherType: number }
export function parseVlanTag(v: VlanTagView): VlanTagFields {
  return { tpid: v.tpid, pcp: v.pcp, dei: v.dei, vid: v.vid, etherType: v.etherType };
}
export function emitVlanTag(f: VlanTagFields, v: VlanTagView): void {
  v.tpid = f.tpid; v.tci = ((f.pcp & 7) << 13) | ((f.dei & 1) << 12) | (f.vid & VID_MASK); v.etherType = f.etherType;
}
/** TCI from its parts. */
export function makeTci(vid: number, pcp = 0, dei = 0): number { return ((pcp & 7) << 13) | ((dei & 1) << 12) | (vid & VID_MASK); }
