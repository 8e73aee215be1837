// Ethernet II header view (IEEE 802.3 clause 3 with an EtherType) and the EtherType registry
// values the switch cares about. Hot path: reuse one view per stage via reset().
import { EMPTY, rd16, rd48, wr16, wr48 } from './bytes.js';
import { formatMac, parseMac } from './flow-key.js';

export const ETH_HEADER_LEN = 14;
/** Smallest frame on the wire without FCS (64 - 4); shorter frames are padded by the sender. */
export const ETH_MIN_FRAME_LEN = 60;
const DST = 0, SRC = 6, ETHERTYPE = 12;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,     // 802.1Q C-tag
  RARP: 0x8035,
  IPV6: 0x86dd,
  QINQ: 0x88a8,     // 802.1ad S-tag
  LLDP: 0x88cc,
  QINQ_OLD: 0x9100, // pre-standard stacked tag
} as const;
/** EtherType values below this are 802.3 length fields. */
export const ETH_TYPE_MIN = 0x0600;
/** K.ETH_TYPE for an 802.3 frame without SNAP (OVS FLOW_DL_TYPE_NONE). */
export const ETH_TYPE_NONE = 0x05ff;
export const BROADCAST_MAC = 0xffff_ffff_ffff;

export class EthernetView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  /** If true, every accessor below stays in bounds. */
  checkLen(): boolean { return this.len >= ETH_HEADER_LEN; }
  /** 48-bit MACs as exact numbers (< 2^48). */
  get dstMac(): number { return rd48(this.buf, this.off + DST); }
  set dstMac(v: number) { wr48(this.buf, this.off + DST, v); }
  get srcMac(): number { return rd48(this.buf, this.off + SRC); }
  set srcMac(v: number) { wr48(this.buf, this.off + SRC, v); }
  get etherType(): number { return rd16(this.buf, this.off + ETHERTYPE); }
  set etherType(v: number) { wr16(this.buf, this.off + ETHERTYPE, v); }
  /** Offset (absolute, in buf) of the first byte after the header. */
  get payloadOff(): number { return this.off + ETH_HEADER_LEN; }
}

/** Cold-path value (tests, controller, CLI). */
export interface EthernetFields { dst: string; src: string; etherType: number }
export function parseEthernet(v: EthernetView): EthernetFields {
  return { dst: formatMac(v.dstMac), src: formatMac(v.srcMac), etherType: v.etherType };
}
export function emitEthernet(f: EthernetFields, v: EthernetView): void {
  v.dstMac = parseMac(f.dst); v.srcMac = parseMac(f.src); v.etherType = f.etherType;
}

/** True if the multicast (group) bit of a MAC number is set; broadcast included. */
export function isMulticastMac(mac: number): boolean { return Math.floor(mac / 0x100_0000_0000) % 2 === 1; }

/** Human name of an EtherType for summaries, or hex. */
export function etherTypeName(t: number): string {
  switch (t) {
    case EtherType.IPV4: return 'IPv4';
    case EtherType.ARP: return 'ARP';
    case EtherType.VLAN: return '802.1Q';
    case EtherType.RARP: return 'RARP';
    case EtherType.IPV6: return 'IPv6';
    case EtherType.QINQ: return '802.1ad';
    case EtherType.LLDP: return 'LLDP';
    case EtherType.QINQ_OLD: return 'QinQ 0x9100';
    default: return `0x${t.toString(16).padStart(4, '0')}`;
  }
}
