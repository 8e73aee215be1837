// OXM (OpenFlow Extensible Match) codec: the ofp_match structure (type OFPMT_OXM, padded to 8)
// and single OXM TLVs as used by matches and set_field. Known fields decode to
// { field, value: bigint, mask? } with the datapath's field names; other classes stay raw bytes.
import { NXM_NX, OFPBMC, OFPET, OFPMT, OFPXMC, OFPXMT } from './constants.js';
import { OfpError } from './errors.js';
import { Reader, Writer, pad8 } from './wire.js';

interface FieldDef { readonly cls: number; readonly code: number; readonly len: number; readonly maskable: boolean }
const B = OFPXMC.OPENFLOW_BASIC;
const def = (code: number, len: number, maskable: boolean, cls: number = B): FieldDef => ({ cls, code, len, maskable });

/** Every named OXM field: class, field number, value length in bytes, whether hasmask is allowed. */
export const OXM_FIELDS = {
  in_port: def(OFPXMT.IN_PORT, 4, false),
  in_phy_port: def(OFPXMT.IN_PHY_PORT, 4, false),
  metadata: def(OFPXMT.METADATA, 8, true),
  eth_dst: def(OFPXMT.ETH_DST, 6, true),
  eth_src: def(OFPXMT.ETH_SRC, 6, true),
  eth_type: def(OFPXMT.ETH_TYPE, 2, false),
  vlan_vid: def(OFPXMT.VLAN_VID, 2, true),
  vlan_pcp: def(OFPXMT.VLAN_PCP, 1, false),
  ip_dscp: def(OFPXMT.IP_DSCP, 1, false),
  ip_ecn: def(OFPXMT.IP_ECN, 1, false),
  ip_proto: def(OFPXMT.IP_PROTO, 1, false),
  ipv4_src: def(OFPXMT.IPV4_SRC, 4, true),
  ipv4_dst: def(OFPXMT.IPV4_DST, 4, true),
  tcp_src: def(OFPXMT.TCP_SRC, 2, false),
  tcp_dst: def(OFPXMT.TCP_DST, 2, false),
  udp_src: def(OFPXMT.UDP_SRC, 2, false),
  udp_dst: def(OFPXMT.UDP_DST, 2, false),
  sctp_src: def(OFPXMT.SCTP_SRC, 2, false),
  sctp_dst: def(OFPXMT.SCTP_DST, 2, false),
  icmpv4_type: def(OFPXMT.ICMPV4_TYPE, 1, false),
  icmpv4_code: def(OFPXMT.ICMPV4_CODE, 1, false),
  arp_op: def(OFPXMT.ARP_OP, 2, false),
  arp_spa: def(OFPXMT.ARP_SPA, 4, true),
  arp_tpa: def(OFPXMT.ARP_TPA, 4, true),
  arp_sha: def(OFPXMT.ARP_SHA, 6, true),
  arp_tha: def(OFPXMT.ARP_THA, 6, true),
  ipv6_src: def(OFPXMT.IPV6_SRC, 16, true),
  ipv6_dst: def(OFPXMT.IPV6_DST, 16, true),
  ipv6_flabel: def(OFPXMT.IPV6_FLABEL, 4, true),
  icmpv6_type: def(OFPXMT.ICMPV6_TYPE, 1, false),
  icmpv6_code: def(OFPXMT.ICMPV6_CODE, 1, false),
  ipv6_nd_target: def(OFPXMT.IPV6_ND_TARGET, 16, false),
  ipv6_nd_sll: def(OFPXMT.IPV6_ND_SLL, 6, false),
  ipv6_nd_tll: def(OFPXMT.IPV6_ND_TLL, 6, false),
  mpls_label: def(OFPXMT.MPLS_LABEL, 4, false),
  mpls_tc: def(OFPXMT.MPLS_TC, 1, false),
  mpls_bos: def(OFPXMT.MPLS_BOS, 1, false),
  pbb_isid: def(OFPXMT.PBB_ISID, 3, true),
  tunnel_id: def(OFPXMT.TUNNEL_ID, 8, true),
  ipv6_exthdr: def(OFPXMT.IPV6_EXTHDR, 2, true),
  pbb_uca: def(OFPXMT.PBB_UCA, 1, false),
  tun_ipv4_src: def(NXM_NX.TUN_IPV4_SRC, 4, true, OFPXMC.NXM_1),
  tun_ipv4_dst: def(NXM_NX.TUN_IPV4_DST, 4, true, OFPXMC.NXM_1),
} as const satisfies Record<string, FieldDef>;
export type OxmFieldName = keyof typeof OXM_FIELDS;
/** Fields of class OPENFLOW_BASIC (those the prerequisite table speaks of). */
export type OxmBasicName = OxmFieldName;

/** A known field. Values are as on the wire: MACs as 48-bit integers, vlan_vid with OFPVID_PRESENT. */
export interface OxmField { field: OxmFieldName; value: bigint; mask?: bigint }
/** Any other OXM (experimenter or unnamed class), kept byte-exact: the 32-bit header and its payload. */
export interface OxmRaw { field: 'raw'; header: number; body: Buffer }
export type OxmEntry = OxmField | OxmRaw;
export type Match = OxmEntry[];

const BY_HEADER = new Map<number, OxmFieldName>();
for (const [name, d] of Object.entries(OXM_FIELDS)) BY_HEADER.set(((d.cls << 16) | (d.code << 9)) >>> 0, name as OxmFieldName);

export const oxmClass = (header: number): number => header >>> 16;
export const oxmField = (header: number): number => (header >>> 9) & 0x7f;
export const oxmHasMask = (header: number): boolean => (header & 0x100) !== 0;
export const oxmLength = (header: number): number => header & 0xff;
export function oxmHeader(field: OxmFieldName, hasMask: boolean): number {
  const d = OXM_FIELDS[field];
  return ((d.cls << 16) | (d.code << 9) | (hasMask ? 0x100 : 0) | (hasMask ? d.len * 2 : d.len)) >>> 0;
}
/** Name of a header's field, or undefined for unknown/experimenter ones. */
export function oxmFieldName(header: number): OxmFieldName | undefined {
  return BY_HEADER.get((header & 0xfffffe00) >>> 0);
}

function readUint(buf: Buffer, off: number, n: number): bigint {
  // Up to 6 bytes fit a double exactly: one BigInt per value instead of three per byte.
  if (n <= 6) {
    let x = 0;
    for (let i = 0; i < n; i++) x = x * 256 + buf[off + i]!;
    return BigInt(x);
  }
  let v = 0n;
  for (let i = 0; i < n; i += 4) {
    const k = Math.min(4, n - i);
    let x = 0;
    for (let j = 0; j < k; j++) x = x * 256 + buf[off + i + j]!;
    v = (v << BigInt(8 * k)) | BigInt(x);
  }
  return v;
}
function writeUint(w: Writer, v: bigint, n: number, what: string): void {
  if (v < 0n || v >> BigInt(n * 8) !== 0n) throw new RangeError(`OXM ${what} value 0x${v.toString(16)} does not fit in ${n} bytes`);
  for (let i = n - 1; i >= 0; i--) w.u8(Number((v >> BigInt(i * 8)) & 0xffn));
}

const bad = (code: number, msg: string): OfpError => new OfpError(OFPET.BAD_MATCH, code, msg);

/** Decode one OXM TLV at r.pos (header + payload). Errors are OFPET_BAD_MATCH. */
export function decodeOxm(r: Reader): OxmEntry {
  if (r.left < 4) throw bad(OFPBMC.BAD_LEN, `Truncated OXM header: ${r.left} bytes left`);
  const header = r.u32();
  const len = oxmLength(header);
  if (len > r.left) throw bad(OFPBMC.BAD_LEN, `OXM length ${len} exceeds the ${r.left} bytes left in the match`);
  const cls = oxmClass(header);
  const name = oxmFieldName(header);
  if (name === undefined) {
    if (cls === OFPXMC.OPENFLOW_BASIC) throw bad(OFPBMC.BAD_FIELD, `Unknown OXM basic field ${oxmField(header)}`);
    if (cls === OFPXMC.EXPERIMENTER && len < 4) throw bad(OFPBMC.BAD_LEN, `Experimenter OXM too short (${len})`);
    return { field: 'raw', header, body: r.bytes(len) };
  }
  const d = OXM_FIELDS[name];
  const hasMask = oxmHasMask(header);
  if (hasMask && !d.maskable) throw bad(OFPBMC.BAD_MASK, `OXM field ${name} cannot be masked`);
  if (len !== (hasMask ? 2 * d.len : d.len)) throw bad(OFPBMC.BAD_LEN, `OXM field ${name} has length ${len}, expected ${hasMask ? 2 * d.len : d.len}`);
  const value = readUint(r.buf, r.pos, d.len);
  if (!hasMask) { r.pos += len; return { field: name, value }; }
  const mask = readUint(r.buf, r.pos + d.len, d.len);
  r.pos += len;
  return { field: name, value, mask };
}

export function oxmEncodingLength(e: OxmEntry): number {
  if (e.field === 'raw') return 4 + e.body.length;
  const d = OXM_FIELDS[e.field];
  return 4 + (e.mask === undefined ? d.len : 2 * d.len);
}

export function encodeOxm(e: OxmEntry, w: Writer): void {
  if (e.field === 'raw') {
    if (e.body.length > 0xff) throw new RangeError(`Raw OXM body of ${e.body.length} bytes exceeds 255`);
    w.u32(((e.header & 0xffffff00) | e.body.length) >>> 0);
    w.bytes(e.body);
    return;
  }
  const d = OXM_FIELDS[e.field];
  if (d === undefined) throw new RangeError(`Unknown OXM field "${String(e.field)}"`);
  w.u32(oxmHeader(e.field, e.mask !== undefined));
  writeUint(w, e.value, d.len, e.field);
  if (e.mask !== undefined) writeUint(w, e.mask, d.len, `${e.field} mask`);
}

/** Decode an ofp_match at r.pos, consuming its padding. */
export function decodeMatch(r: Reader): Match {
  if (r.left < 4) throw bad(OFPBMC.BAD_LEN, `Truncated ofp_match: ${r.left} bytes left`);
  const type = r.u16();
  const length = r.u16();
  if (type !== OFPMT.OXM) throw bad(OFPBMC.BAD_TYPE, `Unsupported match type ${type}`);
  if (length < 4 || pad8(length) - 4 > r.left) throw bad(OFPBMC.BAD_LEN, `Bad ofp_match length ${length} (${r.left + 4} bytes available)`);
  const fr = r.sub(length - 4, OFPET.BAD_MATCH, OFPBMC.BAD_LEN, 'ofp_match');
  const match: Match = [];
  while (fr.left > 0) match.push(decodeOxm(fr));
  r.skip(pad8(length) - length);
  return match;
}

/** Bytes of the match's OXM TLVs plus the 4-byte header (the ofp_match.length field). */
export function matchLength(match: Match): number {
  let n = 4;
  for (const e of match) n += oxmEncodingLength(e);
  return n;
}
/** ofp_match size on the wire, padding included. */
export function matchEncodingLength(match: Match): number { return pad8(matchLength(match)); }

export function encodeMatch(match: Match, w: Writer): void {
  const len = matchLength(match);
  if (len > 0xffff) throw new RangeError(`Match of ${len} bytes is too long`);
  w.u16(OFPMT.OXM);
  w.u16(len);
  for (const e of match) encodeOxm(e, w);
  w.zeros(pad8(len) - len);
}
