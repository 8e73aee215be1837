// The flow key: every header field the pipeline can match on, extracted once per frame into a
// reusable Uint32Array (OVS `struct flow`, miniflow-style fixed slots). Masked matching and the
// flow cache work on these words directly; 48- and 64-bit fields take two words (hi, lo).

/** Word index of each field. 48-bit MACs: HI holds the top 16 bits, LO the low 32. */
export const K = {
  IN_PORT: 0,
  METADATA_HI: 1, METADATA_LO: 2,     // OpenFlow metadata (pipeline register, 64 bits)
  ETH_DST_HI: 3, ETH_DST_LO: 4,
  ETH_SRC_HI: 5, ETH_SRC_LO: 6,
  ETH_TYPE: 7,                        // innermost ethertype after VLAN tags (0x05ff or less: 802.3, see below)
  VLAN_VID: 8,                        // OXM style: 0x1000 | vid when tagged (OFPVID_PRESENT), 0 when untagged
  VLAN_PCP: 9,
  IP_PROTO: 10,                       // IPv4 protocol / IPv6 next header
  IP_DSCP: 11, IP_ECN: 12, IP_TTL: 13,
  IPV4_SRC: 14, IPV4_DST: 15,
  TP_SRC: 16, TP_DST: 17,             // TCP/UDP/SCTP ports
  ICMP_TYPE: 18, ICMP_CODE: 19,       // ICMPv4 or ICMPv6 (ETH_TYPE tells which)
  ARP_OP: 20, ARP_SPA: 21, ARP_TPA: 22,
  ARP_SHA_HI: 23, ARP_SHA_LO: 24, ARP_THA_HI: 25, ARP_THA_LO: 26,
  IPV6_SRC_0: 27, IPV6_SRC_1: 28, IPV6_SRC_2: 29, IPV6_SRC_3: 30,
  IPV6_DST_0: 31, IPV6_DST_1: 32, IPV6_DST_2: 33, IPV6_DST_3: 34,
  IPV6_FLABEL: 35,
  TUNNEL_ID_HI: 36, TUNNEL_ID_LO: 37, // VNI after VXLAN decap (tunnel_id)
  TUN_IPV4_SRC: 38, TUN_IPV4_DST: 39,
  TCP_FLAGS: 40,
  VLAN_OUTER_TPID: 41,                // 0x8100 / 0x88a8 of the outermost tag, 0 when untagged
  L3_OFF: 42,                         // not matchable: offset of the L3 header from the frame start
  L4_OFF: 43,                         // not matchable: offset of the L4 header from the frame start
  COUNT: 44,
} as const;

/** Words that take part in matching and in the flow cache's exact key (all but the offsets). */
export const MATCH_WORDS = 42;

/** OFPVID_PRESENT: set in K.VLAN_VID when the frame carries an 802.1Q tag. */
export const VID_PRESENT = 0x1000;

/**
 * Why extraction stopped early. Extraction never throws: on truncation or a malformed header it
 * keeps what it parsed (OVS `goto out`) and reports a code; the caller counts or drops.
 */
export const ParseError = {
  None: 0,
  TooShort: 1,        // shorter than an Ethernet header (a runt)
  TruncatedVlan: 2,   // 802.1Q/802.1ad tag cut short
  TruncatedL3: 3,     // IPv4/IPv6/ARP header cut short or a bad IHL/total length
  TruncatedL4: 4,     // TCP/UDP/ICMP header cut short
  BadL3: 5,           // version or header length field wrong
} as const;
export type ParseErrorCode = (typeof ParseError)[keyof typeof ParseError];
export const PARSE_ERROR_NAMES = ['none', 'too-short', 'truncated-vlan', 'truncated-l3', 'truncated-l4', 'bad-l3'] as const;

/** One reusable key per pipeline (never one per frame). */
export class FlowKey {
  readonly w = new Uint32Array(K.COUNT);
  /** Parse result of the last extraction (ParseError). */
  error: ParseErrorCode = ParseError.None;
  clear(): void { this.w.fill(0); this.error = ParseError.None; }
}

/** 48-bit MAC split into words, from a number < 2^48. */
export function macHi(mac: number): number { return Math.floor(mac / 0x1_0000_0000) & 0xffff; }
export function macLo(mac: number): number { return mac >>> 0; }
export function macJoin(hi: number, lo: number): number { return hi * 0x1_0000_0000 + (lo >>> 0); }

/** Cold path: "aa:bb:cc:dd:ee:ff" <-> 48-bit number. parseMac throws TypeError on bad input. */
export function parseMac(s: string): number {
  const m = /^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$/i.exec(s.trim());
  if (!m) throw new TypeError(`"${s}" is not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i], 16);
  return v;
}
export function formatMac(mac: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) parts.push((Math.floor(mac / 2 ** (8 * i)) & 0xff).toString(16).padStart(2, '0'));
  return parts.join(':');
}
export function parseIpv4(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new TypeError(`"${s}" is not an IPv4 address`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}
export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}
