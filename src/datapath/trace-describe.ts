// Readable forms of flow keys and entries for ofproto/trace (executor.ts in trace mode). Cold path.
import { K, formatIpv4, formatMac, macJoin } from '../packet/flow-key.js';
import type { FlowKey } from '../packet/flow-key.js';
import { formatMatch, formatActions } from '../flow/syntax.js';
import type { FlowEntry } from './flow-table.js';

export function safeFormatMatch(e: FlowEntry): string {
  try { return formatMatch(e.match.spec); } catch { return JSON.stringify(e.match.spec, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)); }
}
export function safeFormatActions(e: FlowEntry): string {
  try { return formatActions(e.spec.instructions); } catch { return '(unformattable instructions)'; }
}

/** Named non-zero fields of a key (trace output). */
export function describeKey(key: FlowKey): Record<string, string> {
  const w = key.w, out: Record<string, string> = {};
  out.in_port = String(w[K.IN_PORT]);
  out.eth_src = formatMac(macJoin(w[K.ETH_SRC_HI], w[K.ETH_SRC_LO]));
  out.eth_dst = formatMac(macJoin(w[K.ETH_DST_HI], w[K.ETH_DST_LO]));
  out.eth_type = `0x${w[K.ETH_TYPE].toString(16).padStart(4, '0')}`;
  if (w[K.VLAN_VID] !== 0) { out.vlan_vid = String(w[K.VLAN_VID] & 0xfff); out.vlan_pcp = String(w[K.VLAN_PCP]); }
  if (w[K.METADATA_HI] !== 0 || w[K.METADATA_LO] !== 0) out.metadata = `0x${w[K.METADATA_HI].toString(16)}${w[K.METADATA_LO].toString(16).padStart(8, '0')}`;
  if (w[K.ETH_TYPE] === 0x0800) {
    out.ipv4_src = formatIpv4(w[K.IPV4_SRC]); out.ipv4_dst = formatIpv4(w[K.IPV4_DST]);
    out.ip_proto = String(w[K.IP_PROTO]); out.ip_ttl = String(w[K.IP_TTL]);
    if (w[K.IP_DSCP] !== 0) out.ip_dscp = String(w[K.IP_DSCP]);
  }
  if (w[K.IP_PROTO] === 6 || w[K.IP_PROTO] === 17) { out.tp_src = String(w[K.TP_SRC]); out.tp_dst = String(w[K.TP_DST]); }
  if (w[K.ETH_TYPE] === 0x0806) { out.arp_op = String(w[K.ARP_OP]); out.arp_spa = formatIpv4(w[K.ARP_SPA]); out.arp_tpa = formatIpv4(w[K.ARP_TPA]); }
  if (w[K.TUNNEL_ID_HI] !== 0 || w[K.TUNNEL_ID_LO] !== 0) out.tunnel_id = String(w[K.TUNNEL_ID_HI] * 0x1_0000_0000 + w[K.TUNNEL_ID_LO]);
  return out;
}
