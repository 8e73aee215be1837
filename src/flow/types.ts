// The datapath's own model of OpenFlow flows (like OVS `ofpact`s versus the wire format): plain
// values that the config's flow strings, the CLI and the OpenFlow agent all produce. The pipeline
// compiles them into its fast form; nothing here is used per frame.
import { K } from '../packet/flow-key.js';

/** OpenFlow 1.3 reserved port numbers (datapath does not import openflow/, so they live here). */
export const OFPP = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;
export const OFPG_ANY = 0xffffffff;
export const OFPCML_NO_BUFFER = 0xffff;

/**
 * Matchable fields, with OXM names (as ovs-ofctl and the OpenFlow spec spell them) and the flow-key
 * words they occupy. `bits` is the field width; fields wider than 32 bits span two words (hi, lo)
 * and IPv6 addresses four. tcp/udp/sctp ports share TP_SRC/TP_DST and icmpv4/icmpv6 share
 * ICMP_TYPE/CODE: prerequisites (eth_type, ip_proto) in the same match tell them apart.
 */
export const FIELDS = {
  in_port: { words: [K.IN_PORT], bits: 32, maskable: false },
  metadata: { words: [K.METADATA_HI, K.METADATA_LO], bits: 64, maskable: true },
  eth_dst: { words: [K.ETH_DST_HI, K.ETH_DST_LO], bits: 48, maskable: true },
  eth_src: { words: [K.ETH_SRC_HI, K.ETH_SRC_LO], bits: 48, maskable: true },
  eth_type: { words: [K.ETH_TYPE], bits: 16, maskable: false },
  vlan_vid: { words: [K.VLAN_VID], bits: 13, maskable: true },   // includes OFPVID_PRESENT (0x1000)
  vlan_pcp: { words: [K.VLAN_PCP], bits: 3, maskable: false },
  ip_dscp: { words: [K.IP_DSCP], bits: 6, maskable: false },
  ip_ecn: { words: [K.IP_ECN], bits: 2, maskable: false },
  ip_proto: { words: [K.IP_PROTO], bits: 8, maskable: false },
  ipv4_src: { words: [K.IPV4_SRC], bits: 32, maskable: true },
  ipv4_dst: { words: [K.IPV4_DST], bits: 32, maskable: true },
  tcp_src: { words: [K.TP_SRC], bits: 16, maskable: false },
  tcp_dst: { words: [K.TP_DST], bits: 16, maskable: false },
  udp_src: { words: [K.TP_SRC], bits: 16, maskable: false },
  udp_dst: { words: [K.TP_DST], bits: 16, maskable: false },
  sctp_src: { words: [K.TP_SRC], bits: 16, maskable: false },
  sctp_dst: { words: [K.TP_DST], bits: 16, maskable: false },
  icmpv4_type: { words: [K.ICMP_TYPE], bits: 8, maskable: false },
  icmpv4_code: { words: [K.ICMP_CODE], bits: 8, maskable: false },
  arp_op: { words: [K.ARP_OP], bits: 16, maskable: false },
  arp_spa: { words: [K.ARP_SPA], bits: 32, maskable: true },
  arp_tpa: { words: [K.ARP_TPA], bits: 32, maskable: true },
  arp_sha: { words: [K.ARP_SHA_HI, K.ARP_SHA_LO], bits: 48, maskable: true },
  arp_tha: { words: [K.ARP_THA_HI, K.ARP_THA_LO], bits: 48, maskable: true },
  ipv6_src: { words: [K.IPV6_SRC_0, K.IPV6_SRC_1, K.IPV6_SRC_2, K.IPV6_SRC_3], bits: 128, maskable: true },
  ipv6_dst: { words: [K.IPV6_DST_0, K.IPV6_DST_1, K.IPV6_DST_2, K.IPV6_DST_3], bits: 128, maskable: true },
  ipv6_flabel: { words: [K.IPV6_FLABEL], bits: 20, maskable: true },
  icmpv6_type: { words: [K.ICMP_TYPE], bits: 8, maskable: false },
  icmpv6_code: { words: [K.ICMP_CODE], bits: 8, maskable: false },
  tunnel_id: { words: [K.TUNNEL_ID_HI, K.TUNNEL_ID_LO], bits: 64, maskable: true },
  tun_ipv4_src: { words: [K.TUN_IPV4_SRC], bits: 32, maskable: true },
  tun_ipv4_dst: { words: [K.TUN_IPV4_DST], bits: 32, maskable: true },
} as const;
export type FieldName = keyof typeof FIELDS;

/**
 * One field of a match: value and mask as bigint (cold path; fields up to 128 bits). A missing
 * mask means exact. Values are as on the wire: MACs as 48-bit integers, IPv4 as u32, vlan_vid
 * with OFPVID_PRESENT.
 */
export interface FieldMatch { field: FieldName; value: bigint; mask?: bigint }
export type MatchSpec = FieldMatch[];

/** Actions, named after OpenFlow 1.3's (OFPAT_*). Port numbers use OFPP for reserved ports. */
export type Action =
  | { type: 'output'; port: number; maxLen?: number }
  | { type: 'push_vlan'; ethertype: number }          // 0x8100 or 0x88a8
  | { type: 'pop_vlan' }
  | { type: 'set_field'; field: FieldName; value: bigint }
  | { type: 'group'; groupId: number }
  | { type: 'set_queue'; queueId: number }
  | { type: 'dec_nw_ttl' }
  | { type: 'copy_ttl_out' }
  | { type: 'copy_ttl_in' }
  | { type: 'set_nw_ttl'; ttl: number }
  | { type: 'set_mpls_ttl'; ttl: number }
  | { type: 'dec_mpls_ttl' }
  | { type: 'experimenter'; experimenter: number; data: Uint8Array };

/** Instructions (OFPIT_*), at most one of each, executed in the spec's order. */
export interface Instructions {
  meter?: number;
  applyActions?: Action[];
  clearActions?: boolean;
  writeActions?: Action[];
  writeMetadata?: { value: bigint; mask: bigint };
  gotoTable?: number;
}

/** OFPFF_* flags on a flow entry. */
export const FlowFlags = {
  SEND_FLOW_REM: 1 << 0,
  CHECK_OVERLAP: 1 << 1,
  RESET_COUNTS: 1 << 2,
  NO_PKT_COUNTS: 1 << 3,
  NO_BYT_COUNTS: 1 << 4,
} as const;

/** A flow entry as users and controllers state it. */
export interface FlowSpec {
  tableId: number;
  priority: number;
  match: MatchSpec;
  instructions: Instructions;
  cookie: bigint;
  idleTimeoutS: number;   // 0 = none
  hardTimeoutS: number;   // 0 = none
  flags: number;          // FlowFlags
}

export const GroupType = { ALL: 0, SELECT: 1, INDIRECT: 2, FF: 3 } as const;
export interface Bucket { weight: number; watchPort: number; watchGroup: number; actions: Action[] }
export interface GroupSpec { groupId: number; type: (typeof GroupType)[keyof typeof GroupType]; buckets: Bucket[] }

/** Why a flow entry left its table (OFPRR_*). */
export const RemovedReason = { IDLE_TIMEOUT: 0, HARD_TIMEOUT: 1, DELETE: 2, GROUP_DELETE: 3, METER_DELETE: 4 } as const;

/** One flow as reported by dump-flows and FLOW_REMOVED. */
export interface FlowEntryStats {
  tableId: number;
  priority: number;
  cookie: bigint;
  match: MatchSpec;
  instructions: Instructions;
  spec: FlowSpec;
  flags: number;
  idleTimeoutS: number;
  hardTimeoutS: number;
  packetCount: number;
  byteCount: number;
  durationS: number;
  idleAgeS: number;
}

