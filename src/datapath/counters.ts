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
  /** VXLAN (ports/vxlan.ts): the encapsulated frame would exceed the underlay MTU (never fragmented). */
  TunnelTooBig: 27,
  /** VXLAN: a datagram that arrived in IP fragments (longer than the underlay MTU allows whole). */
  TunnelFragment: 28,
  /** VXLAN: shorter than a VXLAN header and an Ethernet header, I flag clear, or larger than a packet buffer. */
  TunnelMalformed: 29,
  /** VXLAN: a VNI the port does not carry (received), or a frame with no VNI for it (sent). */
  TunnelUnknownVni: 30,
  /** VXLAN: a decapsulated frame carrying an 802.1Q tag (RFC 7348 §6.1: discarded). */
  TunnelInnerTag: 31,
  /** VXLAN: nowhere to send it: no tun_dst with `remote: flow`, or an empty flood list. */
  TunnelNoRemote: 32,
} as const;
export type DropCode = (typeof DROP)[keyof typeof DROP];

/** Kebab-case names by DROP code (stable: used in stats, metrics and golden counters). */
export const DROP_NAMES: readonly string[] = [
  'too-short', 'malformed', 'vlan-not-allowed', 'tagged-on-access', 'no-flow', 'ingress-policed',
  'egress-policed', 'meter-drop', 'shaper-queue-full', 'tx-full', 'pool-exhausted', 'port-down',
  'no-ports', 'no-recv', 'no-forward', 'no-controller', 'no-packet-in', 'local-port',
  'ttl-exceeded', 'group-empty', 'group-depth', 'action-failed', 'in-port-output', 'unknown-port',
  'tx-too-big', 'csum-incomplete', 'gso-failed', 'tunnel-too-big', 'tunnel-fragment', 'tunnel-malformed',
  'tunnel-unknown-vni', 'tunnel-inner-tag', 'tunnel-no-remote',
];
export const DROP_COUNT = DROP_NAMES.length;

/** Per-port traffic counters (index with PC), plus drops by reason. */
export const PC = { RxPackets: 0, RxBytes: 1, TxPackets: 2, TxBytes: 3 } as const;

export class PortCounters {
  /** Private arrays, or views into a CounterArena (shared with another thread). */
  constructor(readonly traffic: Float64Array = new Float64Array(4), readonly drops: Float64Array = new Float64Array(DROP_COUNT)) {}
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

const PORT_SLOT = 4 + DROP_COUNT;
const EXEC_COUNT = EXEC_COUNTER_NAMES.length;

/**
 * The bridge's counters in one SharedArrayBuffer, so another thread (the control thread of a worker
 * datapath) reads them directly, without asking the datapath. Layout, all Float64 except the slot
 * table: [exec counters | bridge drops | `capacity` port slots of traffic (PC) + drops (DROP)], then
 * an Int32 slot table holding the ofport owning each slot (0: free). The datapath writes its
 * counters in place (the same typed-array stores as with private arrays: nothing more per frame);
 * only port add/remove touches the slot table. A reader may see a counter one frame behind; an
 * aligned Float64 never tears on the 64-bit targets Node runs on.
 */
export class CounterArena {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly exec: Float64Array;
  readonly drops: Float64Array;
  private readonly slots: Float64Array;
  private readonly owner: Int32Array;

  /** A new arena for `capacity` ports, or a view of an existing one (`buffer` from the writer). */
  constructor(capacityOrBuffer: number | SharedArrayBuffer) {
    if (typeof capacityOrBuffer === 'number') {
      this.capacity = capacityOrBuffer;
      this.buffer = new SharedArrayBuffer(CounterArena.bytes(capacityOrBuffer));
    } else {
      this.buffer = capacityOrBuffer;
      this.capacity = CounterArena.capacityOf(capacityOrBuffer.byteLength);
    }
    const f64 = (EXEC_COUNT + DROP_COUNT + this.capacity * PORT_SLOT);
    this.exec = new Float64Array(this.buffer, 0, EXEC_COUNT);
    this.drops = new Float64Array(this.buffer, EXEC_COUNT * 8, DROP_COUNT);
    this.slots = new Float64Array(this.buffer, (EXEC_COUNT + DROP_COUNT) * 8, this.capacity * PORT_SLOT);
    this.owner = new Int32Array(this.buffer, f64 * 8, this.capacity);
  }

  static bytes(capacity: number): number { return (EXEC_COUNT + DROP_COUNT + capacity * PORT_SLOT) * 8 + capacity * 4; }
  private static capacityOf(bytes: number): number { return (bytes - (EXEC_COUNT + DROP_COUNT) * 8) / (PORT_SLOT * 8 + 4); }

  /** Zeroed counters of a new port in a free slot; null when the arena is full (the port keeps private counters). */
  claim(ofport: number): PortCounters | null {
    for (let i = 0; i < this.capacity; i++) {
      if (Atomics.load(this.owner, i) !== 0) continue;
      const pc = this.view(i);
      pc.reset();
      Atomics.store(this.owner, i, ofport);
      return pc;
    }
    return null;
  }

  /** Free the slot of a removed port (its counters are gone, as with private arrays). */
  release(ofport: number): void {
    for (let i = 0; i < this.capacity; i++) if (Atomics.load(this.owner, i) === ofport) { Atomics.store(this.owner, i, 0); return; }
  }

  /** The counters of `ofport` as the writer keeps them (a live view), or null when it has no slot. */
  port(ofport: number): PortCounters | null {
    for (let i = 0; i < this.capacity; i++) if (Atomics.load(this.owner, i) === ofport) return this.view(i);
    return null;
  }

  /** Execution counters by name (cold path). */
  execRecord(): Record<string, number> {
    const out: Record<string, number> = {};
    EXEC_COUNTER_NAMES.forEach((n, i) => { out[n] = this.exec[i]; });
    return out;
  }

  private view(i: number): PortCounters {
    const off = this.slots.byteOffset + i * PORT_SLOT * 8;
    return new PortCounters(new Float64Array(this.buffer, off, 4), new Float64Array(this.buffer, off + 32, DROP_COUNT));
  }
}
