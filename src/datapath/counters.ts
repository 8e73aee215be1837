// Drop reasons and counter tables of the bridge (VPP-style parallel enum + name table). Counters
// are Float64Array slots indexed by DROP codes: exact to 2^53, no BigInt and no allocation per frame.

/** Why the datapath dropped a frame. Codes index DROP_NAMES and every per-port drop array. */
export const DROP = {
  TooShort: 0,
  Malformed: 1,
  VlanNotAllowed: 2,
  TaggedOnAccess: 3,
  NoFlow: 4,
  IngressPoliced: 5,
  EgressPoliced: 6,
  MeterDrop: 7,
  ShaperQueueFull: 8,
  TxFull: 9,
  PoolExhausted: 10,
  PortDown: 11,
  NoPorts: 12,
  NoRecv: 13,
  NoForward: 14,
  NoController: 15,
  NoPacketIn: 16,
  LocalPort: 17,
  TtlExceeded: 18,
  GroupEmpty: 19,
  GroupDepth: 20,
  ActionFailed: 21,
  InPortOutput: 22,
  UnknownPort: 23,
  /** The egress device refused the frame as longer than its MTU (EMSGSIZE on send). */
  TxTooBig: 24,
  /** The frame arrived with a partial (offloaded) checksum that could not be completed (complete-checksum.ts). */
  CsumIncomplete: 25,
  /**
   * A GSO super-frame (vnet port) that had to be cut for an egress without offloads and could not
   * be (headers gso.ts cannot parse, a gso type that does not match them, UFO): dropped whole.
   */
  GsoFailed: 26,
} as const;
export type DropCode = (typeof DROP)[keyof typeof DROP];

/** Kebab-case names by DROP code (stable: used in stats, metrics and golden counters). */
export const DROP_NAMES: readonly string[] = [
  'too-short', 'malformed', 'vlan-not-allowed', 'tagged-on-access', 'no-flow', 'ingress-policed',
  'egress-policed', 'meter-drop', 'shaper-queue-full', 'tx-full', 'pool-exhausted', 'port-down',
  'no-ports', 'no-recv', 'no-forward', 'no-controller', 'no-packet-in', 'local-port',
  'ttl-exceeded', 'group-empty', 'group-depth', 'action-failed', 'in-port-output', 'unknown-port',
  'tx-too-big', 'csum-incomplete', 'gso-failed',
];
export const DROP_COUNT = DROP_NAMES.length;

/** Per-port traffic counters (index with PC), plus drops by reason. */
export const PC = { RxPackets: 0, RxBytes: 1, TxPackets: 2, TxBytes: 3 } as const;

export class PortCounters {
  readonly traffic = new Float64Array(4);
  readonly drops = new Float64Array(DROP_COUNT);
  reset(): void { this.traffic.fill(0); this.drops.fill(0); }
}

/** Non-zero drop counters as { name: count } (cold path). */
export function dropsRecord(drops: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < drops.length; i++) if (drops[i] !== 0) out[DROP_NAMES[i]] = drops[i];
  return out;
}

/** Bridge-wide execution counters (not drops), indexed by XC. */
export const XC = { CacheHits: 0, CacheMisses: 1, Copies: 2, PacketIns: 3, ExperimenterIgnored: 4 } as const;
export const EXEC_COUNTER_NAMES: readonly string[] = ['cache-hits', 'cache-misses', 'copies', 'packet-ins', 'experimenter-ignored'];
