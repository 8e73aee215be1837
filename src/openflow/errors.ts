// OfpError: the one exception the OpenFlow codec throws, carrying the spec's error type and code
// (OFPET_* / OFPxxC_*) so the connection can answer with OFPT_ERROR. Also the match checks the
// agent runs on FLOW_MOD: OXM prerequisites (OFPBMC_BAD_PREREQ), duplicates and mask/value rules.
import { OFPBMC, OFPET, OFPVID_PRESENT } from './constants.js';
import type { Match, OxmBasicName } from './oxm.js';

/** At most this many bytes of the offending message go back in an OFPT_ERROR (spec: >= 64). */
export const OFP_ERROR_DATA_MAX = 64;

export class OfpError extends Error {
  override readonly name = 'OfpError';
  constructor(
    readonly type: number,
    readonly code: number,
    message: string,
    readonly data?: Uint8Array,
  ) {
    super(message);
  }
  /** Same error, with (a copy of at most 64 bytes of) the offending message attached. */
  withData(buf: Uint8Array, off: number, len: number): OfpError {
    const n = Math.max(0, Math.min(len, OFP_ERROR_DATA_MAX, buf.length - off));
    return new OfpError(this.type, this.code, this.message, Buffer.from(buf.subarray(off, off + n)));
  }
}

export function badRequest(code: number, message: string): OfpError {
  return new OfpError(OFPET.BAD_REQUEST, code, message);
}
export function badMatch(code: number, message: string): OfpError {
  return new OfpError(OFPET.BAD_MATCH, code, message);
}

type Prereq = (m: Map<string, { value: bigint; mask?: bigint }>) => boolean;
const exact = (m: Map<string, { value: bigint; mask?: bigint }>, f: string, ...vals: bigint[]): boolean => {
  const e = m.get(f);
  return e !== undefined && e.mask === undefined && vals.includes(e.value);
};
const ETH_IP = (m: Map<string, { value: bigint; mask?: bigint }>) => exact(m, 'eth_type', 0x0800n, 0x86ddn);
const ETH_IPV4 = (m: Map<string, { value: bigint; mask?: bigint }>) => exact(m, 'eth_type', 0x0800n);
const ETH_IPV6 = (m: Map<string, { value: bigint; mask?: bigint }>) => exact(m, 'eth_type', 0x86ddn);
const ETH_ARP = (m: Map<string, { value: bigint; mask?: bigint }>) => exact(m, 'eth_type', 0x0806n);
const ETH_MPLS = (m: Map<string, { value: bigint; mask?: bigint }>) => exact(m, 'eth_type', 0x8847n, 0x8848n);
const proto = (p: bigint): Prereq => (m) => exact(m, 'ip_proto', p);

/** OpenFlow 1.3 §7.2.3.8 prerequisite table (prerequisites of the prerequisite are checked too). */
const PREREQS: Partial<Record<OxmBasicName, Prereq>> = {
  in_phy_port: (m) => m.has('in_port'),
  vlan_pcp: (m) => {
    const v = m.get('vlan_vid');
    if (v === undefined) return false;
    const mask = v.mask ?? 0xffffn;
    return (v.value & mask & BigInt(OFPVID_PRESENT)) !== 0n;
  },
  ip_dscp: ETH_IP, ip_ecn: ETH_IP, ip_proto: ETH_IP,
  ipv4_src: ETH_IPV4, ipv4_dst: ETH_IPV4,
  tcp_src: proto(6n), tcp_dst: proto(6n),
  udp_src: proto(17n), udp_dst: proto(17n),
  sctp_src: proto(132n), sctp_dst: proto(132n),
  icmpv4_type: (m) => proto(1n)(m) && ETH_IPV4(m), icmpv4_code: (m) => proto(1n)(m) && ETH_IPV4(m),
  arp_op: ETH_ARP, arp_spa: ETH_ARP, arp_tpa: ETH_ARP, arp_sha: ETH_ARP, arp_tha: ETH_ARP,
  ipv6_src: ETH_IPV6, ipv6_dst: ETH_IPV6, ipv6_flabel: ETH_IPV6, ipv6_exthdr: ETH_IPV6,
  icmpv6_type: (m) => proto(58n)(m) && ETH_IPV6(m), icmpv6_code: (m) => proto(58n)(m) && ETH_IPV6(m),
  ipv6_nd_target: (m) => exact(m, 'icmpv6_type', 135n, 136n),
  ipv6_nd_sll: (m) => exact(m, 'icmpv6_type', 135n),
  ipv6_nd_tll: (m) => exact(m, 'icmpv6_type', 136n),
  mpls_label: ETH_MPLS, mpls_tc: ETH_MPLS, mpls_bos: ETH_MPLS,
  pbb_isid: (m) => exact(m, 'eth_type', 0x88e7n),
};

function indexMatch(match: Match): Map<string, { value: bigint; mask?: bigint }> {
  const m = new Map<string, { value: bigint; mask?: bigint }>();
  for (const f of match) if (f.field !== 'raw') m.set(f.field, f);
  return m;
}

/** Throws OfpError(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ) if a field's prerequisites are missing. */
export function checkPrerequisites(match: Match): void {
  const m = indexMatch(match);
  for (const f of match) {
    if (f.field === 'raw') continue;
    const p = PREREQS[f.field];
    if (p !== undefined && !p(m)) throw badMatch(OFPBMC.BAD_PREREQ, `Match field ${f.field} is missing its prerequisite`);
  }
}

/**
 * Full FLOW_MOD match check: duplicate fields (OFPBMC_DUP_FIELD), value bits outside the mask
 * (OFPBMC_BAD_WILDCARDS), then prerequisites (OFPBMC_BAD_PREREQ).
 */
export function checkMatch(match: Match): void {
  const seen = new Set<string>();
  for (const f of match) {
    if (f.field === 'raw') continue;
    if (seen.has(f.field)) throw badMatch(OFPBMC.DUP_FIELD, `Match field ${f.field} appears twice`);
    seen.add(f.field);
    if (f.mask !== undefined && (f.value & ~f.mask) !== 0n) {
      throw badMatch(OFPBMC.BAD_WILDCARDS, `Match field ${f.field} has value bits outside its mask`);
    }
  }
  checkPrerequisites(match);
}
