// VXLAN header view (RFC 7348 §5): flags byte with the I bit (VNI valid), 24-bit VNI, reserved
// bytes. The header follows a UDP header to port 4789 (Linux's historic default was 8472).
import { EMPTY } from './bytes.js';

export const VXLAN_HEADER_LEN = 8;
export const VXLAN_PORT = 4789;
export const VXLAN_PORT_LINUX_OLD = 8472;
/** Outer Ethernet + IPv4 + UDP + VXLAN bytes added by encapsulation. */
export const VXLAN_ENCAP_LEN_V4 = 14 + 20 + 8 + VXLAN_HEADER_LEN;
export const VXLAN_FLAG_I = 0x08;
export const VNI_MAX = 0xff_ffff;
const FLAGS = 0, VNI = 4, RESERVED2 = 7;

export class VxlanView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  checkLen(): boolean { return this.len >= VXLAN_HEADER_LEN; }
  get flags(): number { return this.buf[this.off + FLAGS]; }
  set flags(v: number) { this.buf[this.off + FLAGS] = v; }
  /** I flag: the VNI is valid (must be set, RFC 7348). */
  get vniValid(): boolean { return (this.buf[this.off + FLAGS] & VXLAN_FLAG_I) !== 0; }
  get vni(): number { const o = this.off + VNI; return (this.buf[o] << 16) | (this.buf[o + 1] << 8) | this.buf[o + 2]; }
  set vni(v: number) { const o = this.off + VNI; this.buf[o] = (v >>> 16) & 0xff; this.buf[o + 1] = (v >>> 8) & 0xff; this.buf[o + 2] = v & 0xff; }
  get payloadOff(): number { return this.off + VXLAN_HEADER_LEN; }
  /** Write a standard header: I flag, VNI, all reserved bits zero. */
  writeHeader(vni: number): void {
    const b = this.buf, o = this.off;
    b[o + FLAGS] = VXLAN_FLAG_I; b[o + 1] = 0; b[o + 2] = 0; b[o + 3] = 0;
    this.vni = vni; b[o + RESERVED2] = 0;
  }
}

export interface VxlanFields { flags: number; vni: number }
export function parseVxlan(v: VxlanView): VxlanFields { return { flags: v.flags, vni: v.vni }; }
export function emitVxlan(f: VxlanFields, v: VxlanView): void { v.writeHeader(f.vni); v.flags = f.flags; }
