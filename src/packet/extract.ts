// Flow-key extraction (OVS flow_extract / miniflow_extract): one pass over a frame with a cursor
// that stops, never throws, on truncation, filling a reusable FlowKey. This is the hot path: no
// allocation, no closures, plain byte math; see bench/extract.bench.ts for its cost.
import { K, ParseError, VID_PRESENT, type FlowKey, type ParseErrorCode } from './flow-key.js';

// Offsets kept local (named, not imported per access) so the function stays self-contained.
const ETH_TYPE_OFF = 12, ETH_HLEN = 14, TAG_LEN = 4;
const T_IPV4 = 0x0800, T_ARP = 0x0806, T_RARP = 0x8035, T_IPV6 = 0x86dd;
const T_VLAN = 0x8100, T_QINQ = 0x88a8, T_QINQ_OLD = 0x9100;
const T_MIN = 0x0600, T_NONE = 0x05ff;
const LLC_SNAP_LEN = 8;                                  // DSAP SSAP CTL OUI(3) TYPE(2)
const IP4_MIN = 20, IP6_LEN = 40, ARP_FIXED = 8, ARP_ETH_IP4 = 28;
const IP4_TOTLEN = 2, IP4_FRAG = 6, IP4_TTL = 8, IP4_PROTO = 9, IP4_SRC = 12, IP4_DST = 16;
const IP6_PLEN = 4, IP6_NH = 6, IP6_HLIM = 7, IP6_SRC = 8, IP6_DST = 24;
const ARP_OP = 6, ARP_SHA = 8, ARP_SPA = 14, ARP_THA = 18, ARP_TPA = 24;
const P_ICMP = 1, P_TCP = 6, P_UDP = 17, P_ICMPV6 = 58, P_SCTP = 132;
const TCP_MIN = 20, UDP_LEN = 8, SCTP_MIN = 12, ICMP_MIN = 4;   // ICMP: type, code, checksum
// Word indices of K as module-local constants: TurboFan folds these, but not loads from the
// imported K object (~10 ns/frame more for UDP/IPv4). Checked against K once at load, below.
const W_ETH_DST_HI = 3, W_ETH_DST_LO = 4, W_ETH_SRC_HI = 5, W_ETH_SRC_LO = 6, W_ETH_TYPE = 7;
const W_VLAN_VID = 8, W_VLAN_PCP = 9, W_IP_PROTO = 10, W_IP_DSCP = 11, W_IP_ECN = 12, W_IP_TTL = 13;
const W_IPV4_SRC = 14, W_IPV4_DST = 15, W_TP_SRC = 16, W_TP_DST = 17, W_ICMP_TYPE = 18, W_ICMP_CODE = 19;
const W_ARP_OP = 20, W_ARP_SPA = 21, W_ARP_TPA = 22, W_ARP_SHA_HI = 23, W_ARP_SHA_LO = 24, W_ARP_THA_HI = 25, W_ARP_THA_LO = 26;
const W_IPV6_SRC_0 = 27, W_IPV6_SRC_1 = 28, W_IPV6_SRC_2 = 29, W_IPV6_SRC_3 = 30;
const W_IPV6_DST_0 = 31, W_IPV6_DST_1 = 32, W_IPV6_DST_2 = 33, W_IPV6_DST_3 = 34, W_IPV6_FLABEL = 35;
const W_TCP_FLAGS = 40, W_VLAN_OUTER_TPID = 41, W_L3_OFF = 42, W_L4_OFF = 43;
{
  const mine: Record<string, number> = {
    ETH_DST_HI: W_ETH_DST_HI, ETH_DST_LO: W_ETH_DST_LO, ETH_SRC_HI: W_ETH_SRC_HI, ETH_SRC_LO: W_ETH_SRC_LO, ETH_TYPE: W_ETH_TYPE,
    VLAN_VID: W_VLAN_VID, VLAN_PCP: W_VLAN_PCP, IP_PROTO: W_IP_PROTO, IP_DSCP: W_IP_DSCP, IP_ECN: W_IP_ECN, IP_TTL: W_IP_TTL,
    IPV4_SRC: W_IPV4_SRC, IPV4_DST: W_IPV4_DST, TP_SRC: W_TP_SRC, TP_DST: W_TP_DST, ICMP_TYPE: W_ICMP_TYPE, ICMP_CODE: W_ICMP_CODE,
    ARP_OP: W_ARP_OP, ARP_SPA: W_ARP_SPA, ARP_TPA: W_ARP_TPA, ARP_SHA_HI: W_ARP_SHA_HI, ARP_SHA_LO: W_ARP_SHA_LO, ARP_THA_HI: W_ARP_THA_HI, ARP_THA_LO: W_ARP_THA_LO,
    IPV6_SRC_0: W_IPV6_SRC_0, IPV6_SRC_1: W_IPV6_SRC_1, IPV6_SRC_2: W_IPV6_SRC_2, IPV6_SRC_3: W_IPV6_SRC_3,
    IPV6_DST_0: W_IPV6_DST_0, IPV6_DST_1: W_IPV6_DST_1, IPV6_DST_2: W_IPV6_DST_2, IPV6_DST_3: W_IPV6_DST_3, IPV6_FLABEL: W_IPV6_FLABEL,
    TCP_FLAGS: W_TCP_FLAGS, VLAN_OUTER_TPID: W_VLAN_OUTER_TPID, L3_OFF: W_L3_OFF, L4_OFF: W_L4_OFF,
  };
  for (const n of Object.keys(mine)) if ((K as Record<string, number>)[n] !== mine[n]) throw new Error(`extract.ts: word ${n} is out of step with K`);
}
// ParseError codes the L2 path returns, as module constants (less bytecode than ParseError.X: the
// standalone loop inlines extractL2Key within V8's per-function inlining budget).
const PE_NONE = 0, PE_TRUNCATED_VLAN = 2;
if (ParseError.None !== PE_NONE || ParseError.TruncatedVlan !== PE_TRUNCATED_VLAN) throw new Error('extract.ts: ParseError codes out of step');
// At most two VLAN tags are parsed, like OVS FLOW_MAX_VLAN_HEADERS.

function done(key: FlowKey, code: ParseErrorCode): ParseErrorCode { key.error = code; return code; }

/** TruncatedVlan: what was parsed stays (MACs, outer tag), ETH_TYPE = the cut tag's TPID, L3_OFF 0. */
function truncatedVlan(w: Uint32Array, key: FlowKey, type: number, vid: number, pcp: number, tpid: number): ParseErrorCode {
  w[W_VLAN_VID] = vid; w[W_VLAN_PCP] = pcp; w[W_VLAN_OUTER_TPID] = tpid;
  w[W_ETH_TYPE] = type; w[W_L3_OFF] = 0;
  return done(key, ParseError.TruncatedVlan);
}

/**
 * Fill `key` from the frame at buf[off, off+len). Zeroes every word from ETH_DST_HI to the end
 * except the tunnel words (TUNNEL_ID_HI..TUN_IPV4_DST, set by VXLAN decap) and never touches
 * IN_PORT/METADATA (the caller's). Keeps what it parsed and returns a ParseError code (also in
 * key.error). Never reads outside [off, off+len).
 */
export function extractFlowKey(buf: Buffer, off: number, len: number, key: FlowKey): ParseErrorCode {
  // ~28 ns/frame for UDP/IPv4 on Node 20 (was ~50); bench/extract.bench.ts. Every word below is
  // written exactly once on the common paths: straight-line stores with constant indices instead of
  // w.fill(0, 3, 36), a builtin call that alone cost ~17 ns/frame.
  const w = key.w;
  if (len < ETH_HLEN || off < 0) {
    w.fill(0, W_ETH_DST_HI, W_IPV6_FLABEL + 1);
    w[W_TCP_FLAGS] = 0; w[W_VLAN_OUTER_TPID] = 0; w[W_L3_OFF] = 0; w[W_L4_OFF] = 0;
    return done(key, ParseError.TooShort);
  }
  // Zero the L3/L4 words (IP_PROTO .. IPV6_FLABEL, TCP_FLAGS, L4_OFF). Written out here, not a
  // helper: V8 limits the bytecode it inlines into one function, and the L2 prologue
  // (extractL2Key, parseL2Tagged) should get that budget.
  w[W_IP_PROTO] = 0; w[W_IP_DSCP] = 0; w[W_IP_ECN] = 0; w[W_IP_TTL] = 0; w[W_IPV4_SRC] = 0; w[W_IPV4_DST] = 0;
  w[W_TP_SRC] = 0; w[W_TP_DST] = 0; w[W_ICMP_TYPE] = 0; w[W_ICMP_CODE] = 0;
  w[W_ARP_OP] = 0; w[W_ARP_SPA] = 0; w[W_ARP_TPA] = 0; w[W_ARP_SHA_HI] = 0; w[W_ARP_SHA_LO] = 0; w[W_ARP_THA_HI] = 0; w[W_ARP_THA_LO] = 0;
  w[W_IPV6_SRC_0] = 0; w[W_IPV6_SRC_1] = 0; w[W_IPV6_SRC_2] = 0; w[W_IPV6_SRC_3] = 0;
  w[W_IPV6_DST_0] = 0; w[W_IPV6_DST_1] = 0; w[W_IPV6_DST_2] = 0; w[W_IPV6_DST_3] = 0; w[W_IPV6_FLABEL] = 0;
  w[W_TCP_FLAGS] = 0; w[W_L4_OFF] = 0;
  const end = off + len;
  const b = buf;
  if (extractL2Key(b, off, len, key) !== PE_NONE) return key.error as ParseErrorCode;
  const type = w[W_ETH_TYPE];
  const p = off + w[W_L3_OFF];

  let proto = 0;
  let l4 = 0, l4End = 0;
  if (type === T_IPV4) {
    if (p + IP4_MIN > end) return done(key, ParseError.TruncatedL3);
    const vihl = b[p];
    const hl = (vihl & 0x0f) << 2;
    if ((vihl >>> 4) !== 4 || hl < IP4_MIN) return done(key, ParseError.BadL3);
    if (p + hl > end) return done(key, ParseError.TruncatedL3);
    const tos = b[p + 1];
    proto = b[p + IP4_PROTO];
    w[W_IP_DSCP] = tos >>> 2;
    w[W_IP_ECN] = tos & 3;
    w[W_IP_TTL] = b[p + IP4_TTL];
    w[W_IP_PROTO] = proto;
    w[W_IPV4_SRC] = ((b[p + IP4_SRC] << 24) | (b[p + IP4_SRC + 1] << 16) | (b[p + IP4_SRC + 2] << 8) | b[p + IP4_SRC + 3]) >>> 0;
    w[W_IPV4_DST] = ((b[p + IP4_DST] << 24) | (b[p + IP4_DST + 1] << 16) | (b[p + IP4_DST + 2] << 8) | b[p + IP4_DST + 3]) >>> 0;
    const tot = (b[p + IP4_TOTLEN] << 8) | b[p + IP4_TOTLEN + 1];
    if (tot < hl) return done(key, ParseError.BadL3);
    if (p + tot > end) return done(key, ParseError.TruncatedL3);
    if ((((b[p + IP4_FRAG] << 8) | b[p + IP4_FRAG + 1]) & 0x1fff) !== 0) return done(key, ParseError.None); // later fragment: no L4
    l4 = p + hl; l4End = p + tot;            // l4End drops Ethernet padding
  } else if (type === T_IPV6) {
    if (p + IP6_LEN > end) return done(key, ParseError.TruncatedL3);
    if ((b[p] >>> 4) !== 6) return done(key, ParseError.BadL3);
    const tc = ((b[p] & 0x0f) << 4) | (b[p + 1] >>> 4);
    proto = b[p + IP6_NH];
    w[W_IP_DSCP] = tc >>> 2;
    w[W_IP_ECN] = tc & 3;
    w[W_IP_TTL] = b[p + IP6_HLIM];
    w[W_IP_PROTO] = proto;
    w[W_IPV6_FLABEL] = ((b[p + 1] & 0x0f) << 16) | (b[p + 2] << 8) | b[p + 3];
    let q = p + IP6_SRC;
    w[W_IPV6_SRC_0] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0; q += 4;
    w[W_IPV6_SRC_1] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0; q += 4;
    w[W_IPV6_SRC_2] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0; q += 4;
    w[W_IPV6_SRC_3] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0;
    q = p + IP6_DST;
    w[W_IPV6_DST_0] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0; q += 4;
    w[W_IPV6_DST_1] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0; q += 4;
    w[W_IPV6_DST_2] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0; q += 4;
    w[W_IPV6_DST_3] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0;
    const plen = (b[p + IP6_PLEN] << 8) | b[p + IP6_PLEN + 1];
    if (p + IP6_LEN + plen > end) return done(key, ParseError.TruncatedL3);
    l4 = p + IP6_LEN; l4End = l4 + plen;
  } else if (type === T_ARP || type === T_RARP) {
    if (p + ARP_FIXED > end) return done(key, ParseError.TruncatedL3);
    // Only Ethernet/IPv4 ARP fills the key (OVS does the same); other layouts are passed as is.
    if (b[p] === 0 && b[p + 1] === 1 && b[p + 2] === 0x08 && b[p + 3] === 0 && b[p + 4] === 6 && b[p + 5] === 4) {
      if (p + ARP_ETH_IP4 > end) return done(key, ParseError.TruncatedL3);
      w[W_ARP_OP] = (b[p + ARP_OP] << 8) | b[p + ARP_OP + 1];
      let q = p + ARP_SHA;
      w[W_ARP_SHA_HI] = (b[q] << 8) | b[q + 1];
      w[W_ARP_SHA_LO] = ((b[q + 2] << 24) | (b[q + 3] << 16) | (b[q + 4] << 8) | b[q + 5]) >>> 0;
      q = p + ARP_SPA;
      w[W_ARP_SPA] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0;
      q = p + ARP_THA;
      w[W_ARP_THA_HI] = (b[q] << 8) | b[q + 1];
      w[W_ARP_THA_LO] = ((b[q + 2] << 24) | (b[q + 3] << 16) | (b[q + 4] << 8) | b[q + 5]) >>> 0;
      q = p + ARP_TPA;
      w[W_ARP_TPA] = ((b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]) >>> 0;
    }
    return done(key, ParseError.None);
  } else {
    return done(key, ParseError.None);
  }

  // L4: l4End is within [off, end] here.
  w[W_L4_OFF] = l4 - off;
  if (proto === P_TCP) {
    if (l4 + TCP_MIN > l4End) return done(key, ParseError.TruncatedL4);
    w[W_TP_SRC] = (b[l4] << 8) | b[l4 + 1];
    w[W_TP_DST] = (b[l4 + 2] << 8) | b[l4 + 3];
    w[W_TCP_FLAGS] = ((b[l4 + 12] & 0x0f) << 8) | b[l4 + 13];
  } else if (proto === P_UDP) {
    if (l4 + UDP_LEN > l4End) return done(key, ParseError.TruncatedL4);
    w[W_TP_SRC] = (b[l4] << 8) | b[l4 + 1];
    w[W_TP_DST] = (b[l4 + 2] << 8) | b[l4 + 3];
  } else if (proto === P_SCTP) {
    if (l4 + SCTP_MIN > l4End) return done(key, ParseError.TruncatedL4);
    w[W_TP_SRC] = (b[l4] << 8) | b[l4 + 1];
    w[W_TP_DST] = (b[l4 + 2] << 8) | b[l4 + 3];
  } else if ((proto === P_ICMP && type === T_IPV4) || (proto === P_ICMPV6 && type === T_IPV6)) {
    if (l4 + ICMP_MIN > l4End) return done(key, ParseError.TruncatedL4);
    w[W_ICMP_TYPE] = b[l4];
    w[W_ICMP_CODE] = b[l4 + 1];
  }
  return done(key, ParseError.None);
}

/**
 * First stage only: fill the L2 words exactly as extractFlowKey would (ETH_DST/SRC, VLAN_VID/PCP,
 * VLAN_OUTER_TPID, ETH_TYPE after tags and LLC/SNAP, L3_OFF) and leave every L3/L4 word as it was
 * (stale: only for callers that read nothing beyond L2, like the standalone NORMAL path). The code
 * reports only L2 problems: TooShort, TruncatedVlan, else None. Never reads outside [off, off+len).
 *
 * The Ethernet/VLAN prologue, once: extractFlowKey starts with it too. The untagged Ethernet II
 * case is straight-line here; tags and 802.3 lengths go to parseL2Tagged. ~10 ns/frame on Node 20
 * and small enough for V8 to inline into the bridge's standalone loop (bench/pipeline.bench.ts (a)).
 */
export function extractL2Key(buf: Buffer, off: number, len: number, key: FlowKey): ParseErrorCode {
  if (len < ETH_HLEN || off < 0) return extractFlowKey(buf, off, len, key);
  const w = key.w, b = buf;
  w[W_ETH_DST_HI] = (b[off] << 8) | b[off + 1];
  w[W_ETH_DST_LO] = ((b[off + 2] << 24) | (b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5]) >>> 0;
  w[W_ETH_SRC_HI] = (b[off + 6] << 8) | b[off + 7];
  w[W_ETH_SRC_LO] = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
  const type = (b[off + ETH_TYPE_OFF] << 8) | b[off + ETH_TYPE_OFF + 1];
  if (type < T_MIN || isTagTpid(type)) return parseL2Tagged(b, off, off + len, w, key, type);
  w[W_VLAN_VID] = 0; w[W_VLAN_PCP] = 0; w[W_VLAN_OUTER_TPID] = 0;
  w[W_ETH_TYPE] = type; w[W_L3_OFF] = ETH_HLEN;
  key.error = PE_NONE;
  return PE_NONE;
}

function isTagTpid(t: number): boolean { return t === T_VLAN || t === T_QINQ || t === T_QINQ_OLD; }

/**
 * extractL2Key after the MACs when the frame is tagged or its type field is an 802.3 length. Kept
 * out of line on purpose: it is over V8's single-inline limit (460 bytes of bytecode), so
 * extractL2Key's optimized code never grows by it, and extractL2Key stays small enough to inline
 * into extractFlowKey and the bridge's loop even after tagged frames were seen (V8 counts a
 * callee's already-inlined bytecode against the caller's budget).
 */
function parseL2Tagged(b: Buffer, off: number, end: number, w: Uint32Array, key: FlowKey, first: number): ParseErrorCode {
  let type = first;
  let p = off + ETH_HLEN;
  // VLAN tags: the outermost gives VID/PCP/TPID; a second is skipped; a third stays as ETH_TYPE.
  if (isTagTpid(type)) {
    if (p + TAG_LEN > end) return truncatedVlan(w, key, type, 0, 0, 0);
    const vid = VID_PRESENT | ((b[p] & 0x0f) << 8) | b[p + 1], pcp = b[p] >>> 5, tpid = type;
    w[W_VLAN_VID] = vid; w[W_VLAN_PCP] = pcp; w[W_VLAN_OUTER_TPID] = tpid;
    type = (b[p + 2] << 8) | b[p + 3];
    p += TAG_LEN;
    if (isTagTpid(type)) {
      if (p + TAG_LEN > end) return truncatedVlan(w, key, type, vid, pcp, tpid);
      type = (b[p + 2] << 8) | b[p + 3];
      p += TAG_LEN;
    }
  } else {
    w[W_VLAN_VID] = 0; w[W_VLAN_PCP] = 0; w[W_VLAN_OUTER_TPID] = 0;
  }
  if (type < T_MIN) {
    // 802.3 length field: LLC/SNAP with OUI 0 carries an EtherType, anything else is "none".
    type = T_NONE;
    if (p + LLC_SNAP_LEN <= end && b[p] === 0xaa && b[p + 1] === 0xaa && b[p + 2] === 0x03 &&
        b[p + 3] === 0 && b[p + 4] === 0 && b[p + 5] === 0) {
      const t = (b[p + 6] << 8) | b[p + 7];
      if (t >= T_MIN) { type = t; p += LLC_SNAP_LEN; }
    }
  }
  w[W_ETH_TYPE] = type;
  w[W_L3_OFF] = p - off;
  key.error = PE_NONE;
  return PE_NONE;
}

