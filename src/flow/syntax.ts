// ovs-ofctl flow syntax <-> the datapath's FlowSpec (cold path): add-flow text, del-flows /
// dump-flows filters, add-group text, and dump-flows style output. Users paste what they know from
// ovs-ofctl(8)/ovs-fields(7); Open vSwitch extensions (resubmit, learn, ct, load, move, NXM
// registers) are refused with a message naming them. Errors: one line naming the bad token.
import { FIELDS, OFPP, OFPG_ANY, OFPCML_NO_BUFFER, FlowFlags, GroupType } from './types.js';
import type { FieldName, FieldMatch, MatchSpec, Action, Instructions, FlowSpec, GroupSpec, Bucket } from './types.js';
import { parseMac, formatMac, parseIpv4, formatIpv4 } from '../packet/flow-key.js';
import { parseIpv6 as parseIpv6Bytes } from '../packet/ipv6.js';

export class FlowSyntaxError extends Error {
  readonly code = 'FLOW_SYNTAX';
  constructor(message: string) { super(message); this.name = 'FlowSyntaxError'; }
}

export interface FlowParseOptions {
  /** Port names usable in in_port= and output: (e.g. config port names -> ofport). */
  portNames?: Map<string, number> | Record<string, number>;
  /** Table when the text gives none (default 0). */
  defaultTable?: number;
}
/** A del-flows / dump-flows filter. Absent fields match anything. */
export interface FlowFilter {
  match: MatchSpec;
  tableId?: number;
  cookie?: bigint;
  cookieMask?: bigint;
  outPort?: number;
  outGroup?: number;
  /** For strict commands (del-flows --strict). */
  priority?: number;
}
export interface FlowStats { durationS: number; packets: number; bytes: number; idleAgeS?: number }

/** OpenFlow's default flow priority (OFP_DEFAULT_PRIORITY), as ovs-ofctl uses. */
export const DEFAULT_PRIORITY = 0x8000;
const FIELD_ORDER = Object.keys(FIELDS) as FieldName[];
const VID_PRESENT = 0x1000n;
const ETH_IP = 0x0800n, ETH_ARP = 0x0806n, ETH_IPV6 = 0x86ddn, ETH_RARP = 0x8035n;

// ---------------------------------------------------------------------------------------------
// Tokenising

/** Split at depth-0 separators (any char of `seps`), dropping empty pieces. */
function splitTop(s: string, seps: string, what: () => string): string[] {
  const out: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s[i] : seps[0];
    if (c === '(') depth++;
    else if (c === ')') { if (--depth < 0) throw new FlowSyntaxError(`${what()}: unbalanced ")"`); }
    else if (depth === 0 && seps.includes(c)) {
      const piece = s.slice(start, i).trim();
      if (piece) out.push(piece);
      start = i + 1;
    }
  }
  if (depth !== 0) throw new FlowSyntaxError(`${what()}: unbalanced "("`);
  return out;
}

function keyValue(tok: string): [string, string | undefined] {
  const eq = tok.indexOf('=');
  if (eq < 0) return [tok.trim().toLowerCase(), undefined];
  return [tok.slice(0, eq).trim().toLowerCase(), tok.slice(eq + 1).trim()];
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]; d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}
function didYouMean(word: string, options: readonly string[]): string {
  let best = '', bestD = Infinity;
  for (const o of options) {
    const d = o.startsWith(word) && word.length >= 3 ? 1 : editDistance(word, o);
    if (d < bestD) { best = o; bestD = d; }
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

// ---------------------------------------------------------------------------------------------
// Values

class Fail extends Error {}
function fail(msg: string): never { throw new Fail(msg); }

function parseUint(s: string | undefined, name: string, max: number): number {
  if (s === undefined || s === '') fail(`${name} needs a value`);
  const v = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(v)) fail(`${name}=${s}: not a number`);
  if (v > max) fail(`${name}=${s}: out of range 0-${max}`);
  return v;
}
function parseBig(s: string | undefined, name: string, bits: number): bigint {
  if (s === undefined || s === '') fail(`${name} needs a value`);
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(s)) fail(`${name}=${s}: not a number`);
  const v = BigInt(s);
  if (v >= 1n << BigInt(bits)) fail(`${name}=${s}: wider than ${bits} bits`);
  return v;
}
function allOnes(bits: number): bigint { return (1n << BigInt(bits)) - 1n; }
function prefixMask(len: number, bits: number): bigint {
  return len === 0 ? 0n : (allOnes(len) << BigInt(bits - len));
}
function maskPrefixLen(mask: bigint, bits: number): number {
  for (let len = 0; len <= bits; len++) if (prefixMask(len, bits) === mask) return len;
  return -1;
}

/** IPv6 text -> 128-bit value (RFC 4291 forms, incl. "::", a trailing dotted IPv4, and [brackets]). */
export function parseIpv6(s: string): bigint {
  let text = s.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  let bytes: Buffer;
  try { bytes = parseIpv6Bytes(text); } catch { throw new TypeError(`"${s}" is not an IPv6 address`); }
  return BigInt(`0x${bytes.toString('hex')}`);
}
/** 128-bit value -> RFC 5952 text (lowercase, longest zero run as "::"). */
export function formatIpv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

type Kind = 'int' | 'mac' | 'ipv4' | 'ipv6';
function kindOf(f: FieldName): Kind {
  if (f === 'eth_src' || f === 'eth_dst' || f === 'arp_sha' || f === 'arp_tha') return 'mac';
  if (f === 'ipv4_src' || f === 'ipv4_dst' || f === 'arp_spa' || f === 'arp_tpa' || f === 'tun_ipv4_src' || f === 'tun_ipv4_dst') return 'ipv4';
  if (f === 'ipv6_src' || f === 'ipv6_dst') return 'ipv6';
  return 'int';
}
function parseScalar(kind: Kind, s: string, name: string, bits: number): bigint {
  try {
    if (kind === 'mac') return BigInt(parseMac(s));
    if (kind === 'ipv4') return BigInt(parseIpv4(s));
    if (kind === 'ipv6') return parseIpv6(s);
  } catch (e) { fail(`${name}=${s}: ${(e as Error).message}`); }
  return parseBig(s, name, bits);
}
/** "V", "V/M" or (addresses) "A/prefix" -> value and mask (undefined = exact). */
function parseValueMask(field: FieldName, raw: string | undefined, name: string): { value: bigint; mask?: bigint } {
  if (raw === undefined || raw === '') fail(`${name} needs a value`);
  const def = FIELDS[field];
  const kind = kindOf(field);
  const slash = raw.indexOf('/');
  if (slash < 0) return { value: parseScalar(kind, raw, name, def.bits) };
  if (!def.maskable) fail(`${name}=${raw}: ${name} cannot be masked`);
  const v = parseScalar(kind, raw.slice(0, slash), name, def.bits);
  const m = raw.slice(slash + 1);
  let mask: bigint;
  if ((kind === 'ipv4' || kind === 'ipv6') && /^\d{1,3}$/.test(m)) {
    const len = Number(m);
    if (len > def.bits) fail(`${name}=${raw}: prefix length ${len} is over ${def.bits}`);
    mask = prefixMask(len, def.bits);
  } else mask = parseScalar(kind, m, name, def.bits);
  return { value: v, mask };
}

function formatValue(field: FieldName, v: bigint): string {
  const kind = kindOf(field);
  if (kind === 'mac') return formatMac(Number(v));
  if (kind === 'ipv4') return formatIpv4(Number(v));
  if (kind === 'ipv6') return formatIpv6(v);
  return v < 10n ? v.toString() : `0x${v.toString(16)}`;
}
function formatDec(field: FieldName, v: bigint): string {
  return kindOf(field) === 'int' ? v.toString() : formatValue(field, v);
}
function formatValueMask(field: FieldName, value: bigint, mask: bigint | undefined, dec: boolean): string {
  const fmt = dec ? formatDec : formatValue;
  if (mask === undefined) return fmt(field, value);
  const kind = kindOf(field);
  if (kind === 'ipv4' || kind === 'ipv6') {
    const len = maskPrefixLen(mask, FIELDS[field].bits);
    if (len >= 0) return `${fmt(field, value)}/${len}`;
  }
  return `${formatValue(field, value)}/${formatValue(field, mask)}`;
}

// ---------------------------------------------------------------------------------------------
// Match

const SHORTHANDS: Record<string, [bigint, bigint | undefined]> = {
  ip: [ETH_IP, undefined], ipv4: [ETH_IP, undefined], ipv6: [ETH_IPV6, undefined], arp: [ETH_ARP, undefined], rarp: [ETH_RARP, undefined],
  icmp: [ETH_IP, 1n], tcp: [ETH_IP, 6n], udp: [ETH_IP, 17n], sctp: [ETH_IP, 132n],
  icmp6: [ETH_IPV6, 58n], tcp6: [ETH_IPV6, 6n], udp6: [ETH_IPV6, 17n], sctp6: [ETH_IPV6, 132n],
};
/** ovs-ofctl / OXM names -> field. Names mapped to null are resolved once the protocol is known. */
const ALIASES: Record<string, FieldName | null> = {
  in_port: 'in_port', metadata: 'metadata',
  dl_src: 'eth_src', eth_src: 'eth_src', dl_dst: 'eth_dst', eth_dst: 'eth_dst', dl_type: 'eth_type', eth_type: 'eth_type',
  dl_vlan_pcp: 'vlan_pcp', vlan_pcp: 'vlan_pcp',
  ip_dscp: 'ip_dscp', ip_ecn: 'ip_ecn', nw_ecn: 'ip_ecn', ip_proto: null, nw_proto: null,
  ipv4_src: 'ipv4_src', ipv4_dst: 'ipv4_dst', nw_src: null, nw_dst: null, ip_src: null, ip_dst: null,
  tcp_src: 'tcp_src', tcp_dst: 'tcp_dst', udp_src: 'udp_src', udp_dst: 'udp_dst', sctp_src: 'sctp_src', sctp_dst: 'sctp_dst',
  tp_src: null, tp_dst: null,
  icmp_type: null, icmp_code: null, icmpv4_type: 'icmpv4_type', icmpv4_code: 'icmpv4_code', icmpv6_type: 'icmpv6_type', icmpv6_code: 'icmpv6_code',
  arp_op: 'arp_op', arp_spa: 'arp_spa', arp_tpa: 'arp_tpa', arp_sha: 'arp_sha', arp_tha: 'arp_tha',
  ipv6_src: 'ipv6_src', ipv6_dst: 'ipv6_dst', ipv6_label: 'ipv6_flabel', ipv6_flabel: 'ipv6_flabel',
  tun_id: 'tunnel_id', tunnel_id: 'tunnel_id', tun_src: 'tun_ipv4_src', tun_dst: 'tun_ipv4_dst', tun_ipv4_src: 'tun_ipv4_src', tun_ipv4_dst: 'tun_ipv4_dst',
};
const SPECIAL_MATCH = ['dl_vlan', 'vlan_vid', 'vlan_tci', 'nw_tos'];
const UNSUPPORTED_FIELDS = /^(nw_ttl|ip_ttl|tcp_flags|ct_\w+|reg\d+|xreg\d+|xxreg\d+|pkt_mark|skb_priority|mpls_\w+|ipv6_nd_\w+|nd_\w+|nw_frag|ip_frag|recirc_id|dp_hash|conj_id|actset_output|packet_type|tun_\w+|dl_vlan_cfi|vlan_tpid|dl_tpid)$/;

/** Builds a MatchSpec: one entry per field, conflicts refused, order canonical at the end. */
class MatchBuilder {
  readonly fields = new Map<FieldName, { value: bigint; mask?: bigint }>();
  readonly deferred: Array<[string, string | undefined]> = [];

  set(field: FieldName, value: bigint, mask: bigint | undefined, name: string): void {
    const bits = FIELDS[field].bits;
    if (mask !== undefined && mask === allOnes(bits)) mask = undefined;
    if (mask !== undefined) value &= mask;
    const old = this.fields.get(field);
    if (old) {
      if (old.value === value && old.mask === mask) return;
      fail(`${name} conflicts with an earlier ${field} (${formatValueMask(field, old.value, old.mask, false)})`);
    }
    if (mask === 0n) return;                          // fully wildcarded: no match at all
    this.fields.set(field, mask === undefined ? { value } : { value, mask });
  }
  eth(): bigint | undefined { const f = this.fields.get('eth_type'); return f?.value; }
  proto(): bigint | undefined { return this.fields.get('ip_proto')?.value; }

  add(name: string, raw: string | undefined, portNames: FlowParseOptions['portNames']): void {
    const sh = SHORTHANDS[name];
    if (sh && raw === undefined) {
      this.set('eth_type', sh[0], undefined, name);
      if (sh[1] !== undefined) this.set('ip_proto', sh[1], undefined, name);
      return;
    }
    if (name === 'in_port') { this.set('in_port', BigInt(parsePort(raw, 'in_port', portNames)), undefined, name); return; }
    if (name === 'dl_vlan') {
      const v = parseUint(raw, name, 0xffff);
      if (v === 0xffff) this.set('vlan_vid', 0n, undefined, name);
      else if (v > 4095) fail(`dl_vlan=${raw}: VLAN id must be 0-4095 (0xffff: no tag)`);
      else this.set('vlan_vid', VID_PRESENT | BigInt(v), undefined, name);
      return;
    }
    if (name === 'vlan_vid') {
      // OXM semantics (0x1000 = tag present); a plain unmasked VID gets the present bit added.
      const { value, mask } = parseValueMask('vlan_vid', raw, name);
      this.set('vlan_vid', mask === undefined && value !== 0n && value < VID_PRESENT ? value | VID_PRESENT : value, mask, name);
      return;
    }
    if (name === 'vlan_tci') {
      const [vs, ms] = (raw ?? '').split('/');
      const v = parseUint(vs, name, 0xffff), m = ms === undefined ? 0xffff : parseUint(ms, name, 0xffff);
      const pcpMask = m >>> 13;
      if (pcpMask !== 0 && pcpMask !== 7) fail(`vlan_tci=${raw}: a partial PCP mask is not supported`);
      this.set('vlan_vid', BigInt(v & 0x1fff), BigInt(m & 0x1fff), name);
      if (pcpMask === 7 && (v & 0x1000)) this.set('vlan_pcp', BigInt(v >>> 13), undefined, name);
      return;
    }
    if (name === 'nw_tos') {
      const v = parseUint(raw, name, 255);
      if (v & 3) fail(`nw_tos=${raw}: the low 2 bits (ECN) must be 0; use ip_ecn for those`);
      this.deferred.push(['ip_dscp', String(v >>> 2)]);
      return;
    }
    const f = ALIASES[name];
    if (f === undefined) {
      if (UNSUPPORTED_FIELDS.test(name)) fail(`field "${name}" is not supported by Sluice`);
      fail(`unknown field "${name}"${didYouMean(name, [...Object.keys(ALIASES), ...Object.keys(SHORTHANDS), ...SPECIAL_MATCH, ...FLOW_KEYS])}`);
    }
    if (raw === undefined) fail(`${name} needs a value`);
    if (f === null || f === 'ip_dscp' || f === 'ip_ecn' || f === 'vlan_pcp') { this.deferred.push([name, raw]); return; }
    const { value, mask } = parseValueMask(f, raw, name);
    this.set(f, value, mask, name);
  }

  /** Resolve protocol-dependent names and check prerequisites (OXM rules). */
  finish(): MatchSpec {
    // Protocol-defining names first, so "tp_dst=80,tcp" and "tp_dst=80,ip,nw_proto=6" both resolve.
    const first = (n: string): number => (n === 'ip_proto' || n === 'nw_proto' ? 0 : 1);
    const deferred = [...this.deferred].sort((a, b) => first(a[0]) - first(b[0]));
    for (const [name, raw] of deferred) {
      const eth = this.eth(), proto = this.proto();
      let f: FieldName;
      switch (name) {
        case 'ip_proto': case 'nw_proto': f = eth === ETH_ARP || eth === ETH_RARP ? 'arp_op' : 'ip_proto'; break;
        case 'nw_src': case 'ip_src': f = eth === ETH_ARP || eth === ETH_RARP ? 'arp_spa' : 'ipv4_src'; break;
        case 'nw_dst': case 'ip_dst': f = eth === ETH_ARP || eth === ETH_RARP ? 'arp_tpa' : 'ipv4_dst'; break;
        case 'tp_src': case 'tp_dst': {
          const p = proto === 6n ? 'tcp' : proto === 17n ? 'udp' : proto === 132n ? 'sctp' : fail(`${name} needs tcp, udp or sctp in the match first`);
          f = `${p}_${name.slice(3)}` as FieldName; break;
        }
        case 'icmp_type': case 'icmp_code':
          f = `${eth === ETH_IPV6 ? 'icmpv6' : 'icmpv4'}_${name.slice(5)}` as FieldName; break;
        default: f = (ALIASES[name] ?? name) as FieldName;
      }
      const { value, mask } = parseValueMask(f, raw, name);
      this.set(f, value, mask, name);
    }
    this.checkPrereqs();
    const out: FieldMatch[] = [];
    for (const f of FIELD_ORDER) {
      const e = this.fields.get(f);
      if (e) out.push(e.mask === undefined ? { field: f, value: e.value } : { field: f, value: e.value, mask: e.mask });
    }
    return out;
  }

  private checkPrereqs(): void {
    const eth = this.eth(), proto = this.proto();
    const need = (cond: boolean, f: string, what: string): void => { if (!cond) fail(`${f} needs ${what} in the match (OpenFlow prerequisite)`); };
    const vid = this.fields.get('vlan_vid');
    if (this.fields.has('vlan_pcp') && !vid) this.set('vlan_vid', VID_PRESENT, VID_PRESENT, 'vlan_pcp');
    else if (this.fields.has('vlan_pcp')) need(((vid!.value & VID_PRESENT) !== 0n), 'vlan_pcp', 'a VLAN tag (dl_vlan or vlan_vid)');
    for (const f of this.fields.keys()) {
      switch (f) {
        case 'ipv4_src': case 'ipv4_dst': need(eth === ETH_IP, f, 'ip (dl_type=0x0800)'); break;
        case 'ipv6_src': case 'ipv6_dst': case 'ipv6_flabel': need(eth === ETH_IPV6, f, 'ipv6 (dl_type=0x86dd)'); break;
        case 'ip_proto': case 'ip_dscp': case 'ip_ecn': need(eth === ETH_IP || eth === ETH_IPV6, f, 'ip or ipv6'); break;
        case 'tcp_src': case 'tcp_dst': need(proto === 6n && (eth === ETH_IP || eth === ETH_IPV6), f, 'tcp or tcp6'); break;
        case 'udp_src': case 'udp_dst': need(proto === 17n && (eth === ETH_IP || eth === ETH_IPV6), f, 'udp or udp6'); break;
        case 'sctp_src': case 'sctp_dst': need(proto === 132n && (eth === ETH_IP || eth === ETH_IPV6), f, 'sctp or sctp6'); break;
        case 'icmpv4_type': case 'icmpv4_code': need(eth === ETH_IP && proto === 1n, f, 'icmp'); break;
        case 'icmpv6_type': case 'icmpv6_code': need(eth === ETH_IPV6 && proto === 58n, f, 'icmp6'); break;
        case 'arp_op': case 'arp_spa': case 'arp_tpa': case 'arp_sha': case 'arp_tha': need(eth === ETH_ARP || eth === ETH_RARP, f, 'arp'); break;
        default: break;
      }
    }
  }
}

function portNameLookup(portNames: FlowParseOptions['portNames'], name: string): number | undefined {
  if (!portNames) return undefined;
  if (portNames instanceof Map) return portNames.get(name);
  return Object.prototype.hasOwnProperty.call(portNames, name) ? portNames[name] : undefined;
}
const RESERVED_PORTS: Record<string, number> = {
  in_port: OFPP.IN_PORT, table: OFPP.TABLE, normal: OFPP.NORMAL, flood: OFPP.FLOOD, all: OFPP.ALL,
  controller: OFPP.CONTROLLER, local: OFPP.LOCAL, any: OFPP.ANY, none: OFPP.ANY,
};
function parsePort(raw: string | undefined, name: string, portNames: FlowParseOptions['portNames']): number {
  if (raw === undefined || raw === '') fail(`${name} needs a port`);
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);   // ovs-ofctl quotes names
  if (/^(0x[0-9a-f]+|\d+)$/i.test(raw)) return parseUint(raw, name, 0xffffffff);
  const byName = portNameLookup(portNames, raw);
  if (byName !== undefined) return byName;
  const reserved = RESERVED_PORTS[raw.toLowerCase()];
  if (reserved !== undefined) return reserved;
  fail(`${name}=${raw}: unknown port "${raw}"`);
}

// ---------------------------------------------------------------------------------------------
// Actions and instructions

const OVS_EXTENSIONS = new Set([
  'resubmit', 'learn', 'note', 'ct', 'ct_clear', 'load', 'move', 'multipath', 'bundle', 'bundle_load', 'enqueue', 'exit',
  'conjunction', 'fin_timeout', 'sample', 'clone', 'push_mpls', 'pop_mpls', 'set_mpls_label', 'set_mpls_tc', 'stack_push',
  'stack_pop', 'dec_nsh_ttl', 'encap', 'decap', 'check_pkt_larger', 'controller2', 'nat', 'output_reg', 'write_pkt_mark',
  'set_field_masked', 'mod_tp_src', 'mod_tp_dst', 'mod_nw_tos', 'mod_nw_ecn', 'set_tunnel_id', 'delete_field', 'debug_recirc',
]);
const ACTION_NAMES = ['output', 'normal', 'flood', 'all', 'controller', 'in_port', 'local', 'drop', 'strip_vlan', 'pop_vlan', 'push_vlan',
  'mod_vlan_vid', 'mod_vlan_pcp', 'mod_dl_src', 'mod_dl_dst', 'mod_nw_src', 'mod_nw_dst', 'mod_nw_ttl', 'set_field', 'set_queue', 'group',
  'dec_ttl', 'set_tunnel', 'set_tunnel64', 'copy_ttl_out', 'copy_ttl_in', 'dec_mpls_ttl', 'set_mpls_ttl',
  'goto_table', 'write_metadata', 'meter', 'write_actions', 'clear_actions'];

/** "name:arg", "name(arg)", "name=arg" or "name" -> [name, arg]. */
function actionParts(tok: string): [string, string | undefined] {
  const m = /^([a-z_0-9]+)\s*(?:[:=](.*)|\((.*)\))?$/is.exec(tok);
  if (!m) fail(`cannot read action "${tok}"`);
  return [m[1].toLowerCase(), m[2] !== undefined ? m[2].trim() : m[3]?.trim()];
}

function parseSetField(arg: string | undefined): Action {
  const m = arg === undefined ? null : /^(.*)->\s*([a-z_0-9]+)$/i.exec(arg);
  if (!m) fail(`set_field needs VALUE->FIELD, got "${arg ?? ''}"`);
  const name = m[2].toLowerCase();
  const f = ALIASES[name] ?? (name === 'vlan_vid' || name === 'dl_vlan' ? 'vlan_vid' : name === 'nw_src' || name === 'ip_src' ? 'ipv4_src' : name === 'nw_dst' || name === 'ip_dst' ? 'ipv4_dst' : undefined);
  if (!f) fail(`set_field: unknown or unsupported field "${m[2]}"`);
  if (m[1].includes('/')) fail(`set_field: masked values are not supported (${m[1]})`);
  let value = parseScalar(kindOf(f), m[1].trim(), 'set_field', FIELDS[f].bits);
  if (f === 'vlan_vid' && value < VID_PRESENT) value |= VID_PRESENT;
  return { type: 'set_field', field: f, value };
}

function parseActionList(text: string, portNames: FlowParseOptions['portNames'], instr: Instructions | null, what: () => string): Action[] {
  const actions: Action[] = [];
  let sawDrop = false;
  const once = <K extends keyof Instructions>(k: K, v: Instructions[K], name: string): void => {
    if (!instr) fail(`"${name}" is an instruction and cannot appear inside write_actions`);
    if (instr[k] !== undefined) fail(`"${name}" given twice`);
    instr[k] = v;
  };
  for (const tok of splitTop(text, ',', what)) {
    if (/^(0x[0-9a-f]+|\d+)$/i.test(tok)) { actions.push({ type: 'output', port: parseUint(tok, 'output', 0xffffffff) }); continue; }
    const [name, arg] = actionParts(tok);
    switch (name) {
      case 'output': {
        const pm = arg !== undefined ? /^port\s*=\s*([^,]+)(?:,\s*max_len\s*=\s*(\w+))?$/i.exec(arg) : null;
        if (pm) {
          const a: Action = { type: 'output', port: parsePort(pm[1].trim(), 'output', portNames) };
          if (pm[2] !== undefined) a.maxLen = parseUint(pm[2], 'max_len', 0xffff);
          actions.push(a);
        } else actions.push({ type: 'output', port: parsePort(arg, 'output', portNames) });
        break;
      }
      case 'normal': case 'flood': case 'all': case 'in_port': case 'local': case 'table':
        if (arg !== undefined) fail(`${name.toUpperCase()} takes no argument`);
        actions.push({ type: 'output', port: RESERVED_PORTS[name] });
        break;
      case 'controller': {
        let maxLen: number = OFPCML_NO_BUFFER;
        if (arg !== undefined && arg !== '') {
          if (/^\d+$/.test(arg)) maxLen = parseUint(arg, 'controller max_len', 0xffff);
          else for (const kv of arg.split(',')) {
            const [k, v] = keyValue(kv);
            if (k === 'max_len') maxLen = parseUint(v, 'max_len', 0xffff);
            else fail(`controller(${k}=...) is not supported (only max_len)`);
          }
        }
        actions.push({ type: 'output', port: OFPP.CONTROLLER, maxLen });
        break;
      }
      case 'drop': sawDrop = true; break;
      case 'strip_vlan': case 'pop_vlan': actions.push({ type: 'pop_vlan' }); break;
      case 'push_vlan': {
        const e = parseUint(arg, 'push_vlan', 0xffff);
        if (e !== 0x8100 && e !== 0x88a8) fail(`push_vlan:${arg}: ethertype must be 0x8100 or 0x88a8`);
        actions.push({ type: 'push_vlan', ethertype: e });
        break;
      }
      case 'mod_vlan_vid': {
        // Open vSwitch pushes a tag when the frame has none. Sluice maps mod_vlan_vid to OpenFlow
        // 1.3's set_field vlan_vid, which rewrites an existing tag only (an untagged frame is left
        // as is). To tag untagged frames write push_vlan:0x8100,mod_vlan_vid:N.

        const v = parseUint(arg, 'mod_vlan_vid', 4095);
        actions.push({ type: 'set_field', field: 'vlan_vid', value: VID_PRESENT | BigInt(v) });
        break;
      }
      case 'mod_vlan_pcp': actions.push({ type: 'set_field', field: 'vlan_pcp', value: BigInt(parseUint(arg, 'mod_vlan_pcp', 7)) }); break;
      case 'mod_dl_src': case 'mod_dl_dst': case 'mod_nw_src': case 'mod_nw_dst': {
        const f: FieldName = name === 'mod_dl_src' ? 'eth_src' : name === 'mod_dl_dst' ? 'eth_dst' : name === 'mod_nw_src' ? 'ipv4_src' : 'ipv4_dst';
        actions.push({ type: 'set_field', field: f, value: parseScalar(kindOf(f), arg ?? '', name, FIELDS[f].bits) });
        break;
      }
      case 'mod_nw_ttl': actions.push({ type: 'set_nw_ttl', ttl: parseUint(arg, name, 255) }); break;
      case 'set_field': actions.push(parseSetField(arg)); break;
      case 'set_queue': actions.push({ type: 'set_queue', queueId: parseUint(arg, name, 0xffffffff) }); break;
      case 'group': actions.push({ type: 'group', groupId: parseUint(arg, name, 0xffffff00) }); break;
      case 'dec_ttl':
        if (arg !== undefined && arg !== '') fail('dec_ttl(ids) is an Open vSwitch extension that Sluice does not support');
        actions.push({ type: 'dec_nw_ttl' }); break;
      case 'set_tunnel': case 'set_tunnel64': actions.push({ type: 'set_field', field: 'tunnel_id', value: parseBig(arg, name, 64) }); break;
      case 'copy_ttl_out': actions.push({ type: 'copy_ttl_out' }); break;
      case 'copy_ttl_in': actions.push({ type: 'copy_ttl_in' }); break;
      case 'dec_mpls_ttl': actions.push({ type: 'dec_mpls_ttl' }); break;
      case 'set_mpls_ttl': actions.push({ type: 'set_mpls_ttl', ttl: parseUint(arg, name, 255) }); break;
      case 'goto_table': once('gotoTable', parseUint(arg, name, 254), name); break;
      case 'meter': once('meter', parseUint(arg, name, 0xffff0000), name); break;
      case 'clear_actions': once('clearActions', true, name); break;
      case 'write_metadata': {
        const [v, m] = (arg ?? '').split('/');
        once('writeMetadata', { value: parseBig(v, name, 64), mask: m === undefined ? allOnes(64) : parseBig(m, name, 64) }, name);
        break;
      }
      case 'write_actions': once('writeActions', parseActionList(arg ?? '', portNames, null, what), name); break;
      default:
        if (OVS_EXTENSIONS.has(name)) fail(`"${name}" is an Open vSwitch extension that Sluice does not support`);
        fail(`unknown action "${name}"${didYouMean(name, ACTION_NAMES)}`);
    }
  }
  if (sawDrop && (actions.length > 0 || (instr && Object.keys(instr).length > 0))) fail('"drop" must be the only action');
  return actions;
}

function parseInstructions(text: string, portNames: FlowParseOptions['portNames'], what: () => string): Instructions {
  const instr: Instructions = {};
  const apply = parseActionList(text, portNames, instr, what);
  const out: Instructions = {};
  // Canonical key order (the spec's execution order) so parse results compare deep-equal.
  if (instr.meter !== undefined) out.meter = instr.meter;
  if (apply.length > 0) out.applyActions = apply;
  if (instr.clearActions) out.clearActions = true;
  if (instr.writeActions) out.writeActions = instr.writeActions;
  if (instr.writeMetadata) out.writeMetadata = instr.writeMetadata;
  if (instr.gotoTable !== undefined) out.gotoTable = instr.gotoTable;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Flows

const FLAG_KEYS: Record<string, number> = {
  send_flow_rem: FlowFlags.SEND_FLOW_REM, check_overlap: FlowFlags.CHECK_OVERLAP, reset_counts: FlowFlags.RESET_COUNTS,
  no_packet_counts: FlowFlags.NO_PKT_COUNTS, no_byte_counts: FlowFlags.NO_BYT_COUNTS,
};
const FLOW_KEYS = ['table', 'priority', 'cookie', 'idle_timeout', 'hard_timeout', 'out_port', 'out_group', ...Object.keys(FLAG_KEYS)];
/** dump-flows output fields, accepted and ignored so that formatted flows parse back. */
const STATS_KEYS = new Set(['duration', 'n_packets', 'n_bytes', 'idle_age', 'hard_age', 'importance']);

function splitActions(text: string): [string, string | undefined] {
  const m = /(^|[\s,])(actions|instructions)\s*=/i.exec(text);
  if (!m) return [text, undefined];
  return [text.slice(0, m.index + m[1].length), text.slice(m.index + m[0].length)];
}

interface Common { match: MatchSpec; tableId?: number; priority?: number; cookie?: bigint; cookieMask?: bigint; idle: number; hard: number; flags: number; outPort?: number; outGroup?: number }

function parseCommon(text: string, matchText: string, opts: FlowParseOptions, filter: boolean, what: () => string): Common {
  const mb = new MatchBuilder();
  const c: Common = { match: [], idle: 0, hard: 0, flags: 0 };
  for (const tok of splitTop(matchText, ', \t\r\n', what)) {
    const [key, raw] = keyValue(tok);
    if (FLAG_KEYS[key] !== undefined && raw === undefined) {
      if (filter) fail(`"${key}" is not allowed in a filter`);
      c.flags |= FLAG_KEYS[key];
      continue;
    }
    switch (key) {
      case 'table':
        if (filter && raw !== undefined && raw.toLowerCase() === 'all') { c.tableId = undefined; break; }
        c.tableId = parseUint(raw, key, 254); break;
      case 'priority': c.priority = parseUint(raw, key, 0xffff); break;
      case 'cookie': {
        const [v, m] = (raw ?? '').split('/');
        c.cookie = parseBig(v, key, 64);
        if (m !== undefined) {
          if (!filter) fail('cookie=V/MASK is only for filters (del-flows, dump-flows)');
          c.cookieMask = parseBig(m, key, 64);
        } else if (filter) c.cookieMask = allOnes(64);
        break;
      }
      case 'idle_timeout': case 'hard_timeout': {
        if (filter) fail(`"${key}" is not allowed in a filter`);
        const v = parseUint(raw, key, 0xffff);
        if (key === 'idle_timeout') c.idle = v; else c.hard = v;
        break;
      }
      case 'out_port': case 'out_group':
        if (!filter) fail(`"${key}" is only for filters (del-flows, dump-flows)`);
        if (key === 'out_port') c.outPort = parsePort(raw, key, opts.portNames); else c.outGroup = parseUint(raw, key, 0xffffffff);
        break;
      default:
        if (STATS_KEYS.has(key)) break;
        mb.add(key, raw, opts.portNames);
    }
  }
  c.match = mb.finish();
  return c;
}

function run<T>(what: () => string, f: () => T): T {
  try { return f(); } catch (e) {
    if (e instanceof Fail) throw new FlowSyntaxError(`${what()}: ${e.message}`);
    throw e;
  }
}
function quote(text: string): string { return JSON.stringify(text.trim()); }

/** Parse an ovs-ofctl add-flow line into a FlowSpec; throws FlowSyntaxError naming the bad token. */
export function parseFlow(text: string, opts: FlowParseOptions = {}): FlowSpec {
  if (typeof text !== 'string') throw new FlowSyntaxError(`bad flow: expected text, got ${typeof text}`);
  const what = (): string => `bad flow ${quote(text)}`;
  return run(what, () => {
    const [matchText, actionText] = splitActions(text);
    if (actionText === undefined) fail('no actions (end with actions=..., e.g. actions=drop)');
    const c = parseCommon(text, matchText, opts, false, what);
    return {
      tableId: c.tableId ?? opts.defaultTable ?? 0,
      priority: c.priority ?? DEFAULT_PRIORITY,
      match: c.match,
      instructions: parseInstructions(actionText, opts.portNames, what),
      cookie: c.cookie ?? 0n,
      idleTimeoutS: c.idle,
      hardTimeoutS: c.hard,
      flags: c.flags,
    };
  });
}

/** Parse a del-flows / dump-flows filter ("table=0,cookie=0x5/0xff,out_port=2,ip"). */
export function parseFlowFilter(text: string, opts: FlowParseOptions = {}): FlowFilter {
  const what = (): string => `bad flow filter ${quote(text)}`;
  return run(what, () => {
    const [matchText, actionText] = splitActions(text);
    if (actionText !== undefined) fail('a filter has no actions');
    const c = parseCommon(text, matchText, opts, true, what);
    const f: FlowFilter = { match: c.match };
    if (c.tableId !== undefined) f.tableId = c.tableId;
    if (c.cookie !== undefined) { f.cookie = c.cookie & c.cookieMask!; f.cookieMask = c.cookieMask; }
    if (c.outPort !== undefined) f.outPort = c.outPort;
    if (c.outGroup !== undefined) f.outGroup = c.outGroup;
    if (c.priority !== undefined) f.priority = c.priority;
    return f;
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting

const SHORTHAND_NAMES: Array<[bigint, bigint | undefined, string]> = [
  [ETH_IP, 1n, 'icmp'], [ETH_IP, 6n, 'tcp'], [ETH_IP, 17n, 'udp'], [ETH_IP, 132n, 'sctp'],
  [ETH_IPV6, 58n, 'icmp6'], [ETH_IPV6, 6n, 'tcp6'], [ETH_IPV6, 17n, 'udp6'], [ETH_IPV6, 132n, 'sctp6'],
  [ETH_IP, undefined, 'ip'], [ETH_IPV6, undefined, 'ipv6'], [ETH_ARP, undefined, 'arp'], [ETH_RARP, undefined, 'rarp'],
];
const OUT_NAMES: Record<string, string> = {
  eth_src: 'dl_src', eth_dst: 'dl_dst', ipv4_src: 'nw_src', ipv4_dst: 'nw_dst', tcp_src: 'tp_src', tcp_dst: 'tp_dst',
  udp_src: 'tp_src', udp_dst: 'tp_dst', sctp_src: 'tp_src', sctp_dst: 'tp_dst', icmpv4_type: 'icmp_type', icmpv4_code: 'icmp_code',
  ip_proto: 'nw_proto', vlan_pcp: 'dl_vlan_pcp', ipv6_flabel: 'ipv6_label', tunnel_id: 'tun_id', tun_ipv4_src: 'tun_src', tun_ipv4_dst: 'tun_dst',
};

/** A match in ovs-ofctl words ("arp,in_port=1,dl_vlan=100"); "" matches everything. */
export function formatMatch(match: MatchSpec): string {
  const byField = new Map<FieldName, FieldMatch>();
  for (const m of match) byField.set(m.field, m);
  const parts: string[] = [];
  const eth = byField.get('eth_type'), proto = byField.get('ip_proto');
  if (eth && eth.mask === undefined) {
    for (const [e, p, name] of SHORTHAND_NAMES) {
      if (eth.value !== e) continue;
      if (p !== undefined && !(proto && proto.mask === undefined && proto.value === p)) continue;
      parts.push(name);
      byField.delete('eth_type');
      if (p !== undefined) byField.delete('ip_proto');
      break;
    }
  }

  const pcp = byField.get('vlan_pcp');
  for (const f of FIELD_ORDER) {
    const m = byField.get(f);
    if (!m) continue;
    switch (f) {
      case 'eth_type': parts.push(`dl_type=0x${m.value.toString(16).padStart(4, '0')}`); break;
      case 'vlan_vid':
        if (m.mask === undefined) parts.push(m.value === 0n ? 'dl_vlan=0xffff' : `dl_vlan=${m.value & 0xfffn}`);
        else if (m.value === VID_PRESENT && m.mask === VID_PRESENT && pcp) { /* implied by dl_vlan_pcp */ }
        else parts.push(`vlan_vid=0x${m.value.toString(16)}/0x${m.mask.toString(16)}`);
        break;
      case 'in_port': parts.push(`in_port=${formatPortNum(Number(m.value))}`); break;
      default: {
        const dec = f === 'ip_proto' || f === 'vlan_pcp' || f === 'ip_dscp' || f === 'ip_ecn' || f.startsWith('tcp_') || f.startsWith('udp_')
          || f.startsWith('sctp_') || f.startsWith('icmpv') || f === 'arp_op';
        parts.push(`${OUT_NAMES[f] ?? f}=${formatValueMask(f, m.value, m.mask, dec)}`);
      }
    }
  }
  return parts.join(',');
}

const PORT_NAMES_OUT = new Map<number, string>([
  [OFPP.IN_PORT, 'IN_PORT'], [OFPP.TABLE, 'TABLE'], [OFPP.NORMAL, 'NORMAL'], [OFPP.FLOOD, 'FLOOD'], [OFPP.ALL, 'ALL'],
  [OFPP.CONTROLLER, 'CONTROLLER'], [OFPP.LOCAL, 'LOCAL'], [OFPP.ANY, 'ANY'],
]);
function formatPortNum(p: number): string { return PORT_NAMES_OUT.get(p) ?? String(p); }
function hex(v: bigint): string { return `0x${v.toString(16)}`; }

function formatActionList(actions: readonly Action[]): string {
  const out: string[] = [];
  for (const a of actions) {
    switch (a.type) {
      case 'output':
        if (a.port === OFPP.CONTROLLER) out.push(`CONTROLLER:${a.maxLen ?? OFPCML_NO_BUFFER}`);
        else if (a.maxLen !== undefined) out.push(`output(port=${formatPortNum(a.port)},max_len=${a.maxLen})`);
        else out.push(PORT_NAMES_OUT.has(a.port) ? formatPortNum(a.port) : `output:${a.port}`);
        break;
      case 'push_vlan': out.push(`push_vlan:0x${a.ethertype.toString(16)}`); break;
      case 'pop_vlan': out.push('pop_vlan'); break;
      case 'set_field':
        if (a.field === 'vlan_vid' && (a.value & VID_PRESENT)) out.push(`mod_vlan_vid:${a.value & 0xfffn}`);
        else out.push(`set_field:${formatDec(a.field, a.value)}->${a.field}`);
        break;
      case 'group': out.push(`group:${a.groupId}`); break;
      case 'set_queue': out.push(`set_queue:${a.queueId}`); break;
      case 'dec_nw_ttl': out.push('dec_ttl'); break;
      case 'copy_ttl_out': out.push('copy_ttl_out'); break;
      case 'copy_ttl_in': out.push('copy_ttl_in'); break;
      case 'set_nw_ttl': out.push(`mod_nw_ttl:${a.ttl}`); break;
      case 'set_mpls_ttl': out.push(`set_mpls_ttl:${a.ttl}`); break;
      case 'dec_mpls_ttl': out.push('dec_mpls_ttl'); break;
      case 'experimenter': out.push(`experimenter(0x${a.experimenter.toString(16)})`); break;
    }
  }
  return out.join(',');
}

/** Instructions as an ovs-ofctl actions= value ("meter:1,output:2,goto_table:3"); "drop" if none. */
export function formatActions(instructions: Instructions): string {
  const parts: string[] = [];
  if (instructions.meter !== undefined) parts.push(`meter:${instructions.meter}`);
  if (instructions.applyActions && instructions.applyActions.length > 0) parts.push(formatActionList(instructions.applyActions));
  if (instructions.clearActions) parts.push('clear_actions');
  if (instructions.writeActions) parts.push(`write_actions(${formatActionList(instructions.writeActions)})`);
  if (instructions.writeMetadata) {
    const { value, mask } = instructions.writeMetadata;
    parts.push(mask === allOnes(64) ? `write_metadata:${hex(value)}` : `write_metadata:${hex(value)}/${hex(mask)}`);
  }
  if (instructions.gotoTable !== undefined) parts.push(`goto_table:${instructions.gotoTable}`);
  return parts.length > 0 ? parts.join(',') : 'drop';
}

/** One flow in ovs-ofctl dump-flows style; parseFlow() reads it back to the same FlowSpec. */
export function formatFlow(spec: FlowSpec, stats?: FlowStats): string {
  const head: string[] = [`cookie=${hex(spec.cookie)}`];
  if (stats) head.push(`duration=${stats.durationS.toFixed(3)}s`);
  head.push(`table=${spec.tableId}`);
  if (stats) head.push(`n_packets=${stats.packets}`, `n_bytes=${stats.bytes}`);
  for (const [name, bit] of Object.entries(FLAG_KEYS)) if (spec.flags & bit) head.push(name);
  if (spec.idleTimeoutS) head.push(`idle_timeout=${spec.idleTimeoutS}`);
  if (spec.hardTimeoutS) head.push(`hard_timeout=${spec.hardTimeoutS}`);
  if (stats && stats.idleAgeS !== undefined) head.push(`idle_age=${Math.floor(stats.idleAgeS)}`);
  const m = formatMatch(spec.match);
  const prio = spec.priority !== DEFAULT_PRIORITY ? `priority=${spec.priority}` : '';
  const tail = [prio, m].filter((x) => x !== '').join(',');
  const actions = `actions=${formatActions(spec.instructions)}`;
  return tail ? ` ${head.join(', ')}, ${tail} ${actions}` : ` ${head.join(', ')}, ${actions}`;
}

// ---------------------------------------------------------------------------------------------
// Groups

const GROUP_TYPES: Record<string, GroupSpec['type']> = {
  all: GroupType.ALL, select: GroupType.SELECT, indirect: GroupType.INDIRECT, ff: GroupType.FF, fast_failover: GroupType.FF,
};
const GROUP_TYPE_NAMES = ['all', 'select', 'indirect', 'ff'];

/** Parse ovs-ofctl add-group text: "group_id=1,type=all,bucket=output:1,bucket=weight:2,actions=output:2". */
export function parseGroup(text: string, opts: FlowParseOptions = {}): GroupSpec {
  const what = (): string => `bad group ${quote(text)}`;
  return run(what, () => {
    const pieces = text.split(/(?:^|[\s,])bucket\s*=/i);
    let groupId: number | undefined;
    let type: GroupSpec['type'] | undefined;
    for (const tok of splitTop(pieces[0], ', \t', what)) {
      const [k, v] = keyValue(tok);
      if (k === 'group_id') groupId = parseUint(v, k, 0xffffff00);
      else if (k === 'type') {
        const t = GROUP_TYPES[(v ?? '').toLowerCase()];
        if (t === undefined) fail(`type=${v ?? ''}: use all, select, indirect or ff`);
        type = t;
      } else fail(`unknown group field "${k}"${didYouMean(k, ['group_id', 'type', 'bucket'])}`);
    }
    if (groupId === undefined) fail('group_id is required');
    if (type === undefined) fail('type is required (all, select, indirect or ff)');
    const buckets: Bucket[] = [];
    for (let i = 1; i < pieces.length; i++) {
      const b: Bucket = { weight: type === GroupType.SELECT ? 1 : 0, watchPort: OFPP.ANY, watchGroup: OFPG_ANY, actions: [] };
      let rest = pieces[i].trim();
      for (;;) {
        const m = /^(weight|watch_port|watch_group|bucket_id)\s*[:=]\s*([^,\s]+)\s*(?:,|$)/i.exec(rest);
        if (!m) break;
        const k = m[1].toLowerCase();
        if (k === 'weight') b.weight = parseUint(m[2], k, 0xffff);
        else if (k === 'watch_port') b.watchPort = parsePort(m[2], k, opts.portNames);
        else if (k === 'watch_group') b.watchGroup = parseUint(m[2], k, 0xffffffff);
        rest = rest.slice(m[0].length).trim();
      }
      rest = rest.replace(/^actions\s*=/i, '');
      b.actions = parseActionList(rest, opts.portNames, null, what);
      buckets.push(b);
    }
    if (type === GroupType.INDIRECT && buckets.length !== 1) fail(`an indirect group needs exactly one bucket, got ${buckets.length}`);
    return { groupId, type, buckets };
  });
}

/** A group in ovs-ofctl dump-groups style; parseGroup() reads it back. */
export function formatGroup(g: GroupSpec): string {
  const parts = [`group_id=${g.groupId}`, `type=${GROUP_TYPE_NAMES[g.type]}`];
  for (const b of g.buckets) {
    const bp: string[] = [];
    if (b.weight !== (g.type === GroupType.SELECT ? 1 : 0)) bp.push(`weight:${b.weight}`);
    if (b.watchPort !== OFPP.ANY) bp.push(`watch_port:${formatPortNum(b.watchPort)}`);
    if (b.watchGroup !== OFPG_ANY) bp.push(`watch_group:${b.watchGroup}`);
    bp.push(`actions=${b.actions.length ? formatActionList(b.actions) : 'drop'}`);
    parts.push(`bucket=${bp.join(',')}`);
  }
  return parts.join(',');
}
