// The OpenFlow NORMAL action: a VLAN-aware MAC-learning switch (what a standalone bridge does).
// decide() classifies a frame's VLAN on its ingress port, learns its source MAC, and picks the output
// ports, each with "leave tagged or untagged"; the Bridge applies the tag edits (src/vlan/tag.ts).
// Hot path: typed arrays only — a chained hash + intrusive LRU list for the MAC table, per-VID flood lists.
import { K, VID_PRESENT, macJoin } from '../packet/flow-key.js';
import type { FlowKey } from '../packet/flow-key.js';
import {
  VID_COUNT, NO_VID, validateVlanPortConfig, portCarriesVid, ingressNativeVid, egressUntaggedVid,
} from '../vlan/port-mode.js';
import type { VlanPortConfig } from '../vlan/port-mode.js';

export interface NormalPortInfo {
  /** OpenFlow port number, 1 .. 0x7fffffff. */
  ofport: number;
  vlan: VlanPortConfig;
  /** false: left out of floods (unknown unicast, broadcast, multicast); still gets unicast to a learned MAC. */
  canFlood: boolean;
  /** false: receives nothing from NORMAL (OpenFlow OFPPC_NO_FWD). */
  canForward: boolean;
  /** A tunnel port (VXLAN): split horizon, nothing received from a tunnel is flooded into another tunnel. */
  tunnel?: boolean;
}

/** Why NORMAL produced no output. Values are stable (counters are indexed by them). */
export const NormalDrop = {
  None: 0,
  VlanNotAllowed: 1,   // tagged VID not carried by the ingress port, or untagged/priority-tagged on a pure trunk
  TaggedOnAccess: 2,   // frame with a non-zero VID on an access port
  NoPorts: 3,          // nowhere to go: destination learned on the ingress port, or an empty flood set
  BadVid: 4,           // VID 4095 (reserved)
  UnknownPort: 5,      // ingress port never given to setPort()
} as const;
export type NormalDropCode = (typeof NormalDrop)[keyof typeof NormalDrop];
export const NORMAL_DROP_NAMES: readonly string[] =
  ['none', 'vlan-not-allowed', 'tagged-on-access', 'no-ports', 'bad-vid', 'unknown-port'];

/** MAC-table event counters, indexed like NORMAL_COUNTER_NAMES. */
export const NormalCounter = { Learned: 0, Moved: 1, Evicted: 2, Expired: 3 } as const;
export const NORMAL_COUNTER_NAMES: readonly string[] = ['mac-learned', 'mac-moved', 'mac-evicted', 'mac-expired'];

export const DEFAULT_MAX_PORTS = 1024;
/** DESIGN defaults: 8192 entries a bridge, aged out after 300 s. */
export const DEFAULT_MAC_TABLE_SIZE = 8192;
export const DEFAULT_AGING_MS = 300_000;
/** Highest ofport NORMAL accepts (decisions carry ofports in an Int32Array). */
export const MAX_NORMAL_OFPORT = 0x7fffffff;

/** Where decide() writes its verdict; one reusable instance per pipeline. */
export class NormalDecision {
  /** 0 = forward to ports[0 .. count), else a NormalDrop code (count is then 0). */
  dropReason = 0;
  /** The frame's VLAN (1-4094) once classified, 0 if dropped before that. */
  vid = 0;
  /** PCP of the received tag (kept on tagged egress), 0 when the frame arrived untagged. */
  pcp = 0;
  count = 0;
  readonly ports: Int32Array;
  /** Per output: 1 = leave with an 802.1Q tag carrying vid/pcp, 0 = untagged. */
  readonly tagged: Uint8Array;
  constructor(maxPorts: number = DEFAULT_MAX_PORTS) {
    this.ports = new Int32Array(maxPorts);
    this.tagged = new Uint8Array(maxPorts);
  }
}

/** Ports of one VLAN that take part in its floods (canForward && canFlood), built when first needed. */
class FloodList {
  constructor(readonly count: number, readonly slots: Int32Array, readonly ofports: Int32Array, readonly tagged: Uint8Array) {}
}

const NONE = -1;
const DIRECT_OFPORTS = 4096;          // ofports below this map to slots through an Int32Array, above through a Map
const WORDS_PER_PORT = VID_COUNT / 32; // VLAN membership bitmap words per port slot
const INITIAL_SLOTS = 16;
const F_IN_USE = 1, F_CAN_FLOOD = 2, F_CAN_FORWARD = 4, F_TUNNEL = 8;
const VID_MASK = 0xfff;
const VID_RESERVED = 0xfff;
const PCP_MASK = 7;
const MAC_GROUP_BIT = 0x0100;         // I/G bit of the first MAC byte, inside the HI word (top 16 bits)
const MAX_MAC_TABLE_SIZE = 1 << 24;
// Flow-key words decide() reads, as module constants (folded by TurboFan; K.X is a load per access).
const W_ETH_DST_HI = 3, W_ETH_DST_LO = 4, W_ETH_SRC_HI = 5, W_ETH_SRC_LO = 6, W_VLAN_VID = 8, W_VLAN_PCP = 9;
if (K.ETH_DST_HI !== W_ETH_DST_HI || K.ETH_DST_LO !== W_ETH_DST_LO || K.ETH_SRC_HI !== W_ETH_SRC_HI || K.ETH_SRC_LO !== W_ETH_SRC_LO ||
  K.VLAN_VID !== W_VLAN_VID || K.VLAN_PCP !== W_VLAN_PCP) throw new Error('normal.ts: flow-key word indices out of step with K');

function sameVlanConfig(a: VlanPortConfig, b: VlanPortConfig): boolean {
  if (a.mode !== b.mode || a.vid !== b.vid) return false;
  if (a.vids === undefined || b.vids === undefined) return a.vids === b.vids;
  return a.vids.length === b.vids.length && a.vids.every((v, i) => v === b.vids![i]);
}

export class Normal {
  readonly macTableSize: number;
  readonly agingMs: number;
  /** Drops by NormalDrop code (the Bridge may also count them per port). */
  readonly drops = new Float64Array(NORMAL_DROP_NAMES.length);
  /** MAC-table events by NormalCounter index. */
  readonly counters = new Float64Array(NORMAL_COUNTER_NAMES.length);

  // ---- ports, by slot (dense, reused after removePort)
  private slotCap = INITIAL_SLOTS;
  private readonly direct = new Int32Array(DIRECT_OFPORTS).fill(NONE);
  private readonly far = new Map<number, number>();
  private infos: (NormalPortInfo | null)[] = [];
  private freeSlots: number[] = [];
  private slotOfport = new Int32Array(INITIAL_SLOTS);
  private slotFlags = new Uint8Array(INITIAL_SLOTS);
  private slotAccess = new Uint8Array(INITIAL_SLOTS);
  private slotNativeVid = new Uint16Array(INITIAL_SLOTS);
  private slotUntaggedVid = new Uint16Array(INITIAL_SLOTS);
  private member = new Uint32Array(INITIAL_SLOTS * WORDS_PER_PORT);
  private floods: (FloodList | null)[] = new Array<FloodList | null>(VID_COUNT).fill(null);

  // ---- MAC table: entries in typed arrays, chained hash on (vid, mac), and a lazy LRU list: a refresh
  // only stamps touch[e] (a sequence number); the list is reordered when eviction or aging reaches an
  // entry whose touch is newer than listed[e] (it goes to the tail then). Head = least recently seen.
  private readonly keyHi: Uint32Array;   // vid << 16 | top 16 bits of the MAC
  private readonly keyLo: Uint32Array;   // low 32 bits of the MAC
  private readonly entSlot: Int32Array;  // port slot the MAC was learned on
  private readonly seenMs: Float64Array;
  /** Sighting sequence number of the last learn/refresh, and the one the entry had when put at the tail. */
  private readonly touch: Float64Array;
  private readonly listed: Float64Array;
  private readonly chain: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;     // LRU successor, or free-list link for free entries
  private readonly buckets: Int32Array;
  private readonly bucketMask: number;
  private head = NONE;
  private tail = NONE;
  private freeHead = NONE;
  private used = 0;
  /** [0] = the latest nowMs seen, [1] = the sighting sequence. A typed array, not fields, so the doubles are never boxed (no allocation per frame). */
  private readonly clock = new Float64Array(2);

  constructor(opts: { macTableSize: number; agingMs: number }) {
    const { macTableSize, agingMs } = opts;
    if (!Number.isInteger(macTableSize) || macTableSize < 1 || macTableSize > MAX_MAC_TABLE_SIZE) {
      throw new RangeError(`MAC table size ${macTableSize} is out of range 1-${MAX_MAC_TABLE_SIZE}`);
    }
    if (!(agingMs > 0)) throw new RangeError(`MAC aging time ${agingMs} ms must be greater than 0`);
    this.macTableSize = macTableSize;
    this.agingMs = agingMs;
    this.keyHi = new Uint32Array(macTableSize);
    this.keyLo = new Uint32Array(macTableSize);
    this.entSlot = new Int32Array(macTableSize);
    this.seenMs = new Float64Array(macTableSize);
    this.touch = new Float64Array(macTableSize);
    this.listed = new Float64Array(macTableSize);
    this.chain = new Int32Array(macTableSize);
    this.prev = new Int32Array(macTableSize);
    this.next = new Int32Array(macTableSize);
    let nb = 16;
    while (nb < macTableSize * 2) nb *= 2;
    this.buckets = new Int32Array(nb);
    this.bucketMask = nb - 1;
    this.flush();
  }

  // ------------------------------------------------------------------ ports (cold path)

  /** Add or reconfigure a port. Throws RangeError/TypeError on a bad ofport or VLAN config. */
  setPort(info: NormalPortInfo): void {
    const ofport = info.ofport;
    if (!Number.isInteger(ofport) || ofport < 1 || ofport > MAX_NORMAL_OFPORT) {
      throw new RangeError(`port number ${ofport} is out of range 1-${MAX_NORMAL_OFPORT}`);
    }
    validateVlanPortConfig(info.vlan);
    const vlan: VlanPortConfig = { mode: info.vlan.mode };
    if (info.vlan.vid !== undefined) vlan.vid = info.vlan.vid;
    if (info.vlan.vids !== undefined) vlan.vids = info.vlan.vids.slice();
    const copy: NormalPortInfo = { ofport, vlan, canFlood: !!info.canFlood, canForward: !!info.canForward, tunnel: !!info.tunnel };

    let slot = this.slotOf(ofport);
    if (slot === NONE) {
      slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.infos.length;
      if (slot >= this.slotCap) this.growSlots();
      if (ofport < DIRECT_OFPORTS) this.direct[ofport] = slot; else this.far.set(ofport, slot);
    } else if (!sameVlanConfig(this.infos[slot]!.vlan, vlan)) {
      this.flushSlot(slot);   // its MACs may sit in VLANs it no longer carries
    }
    this.infos[slot] = copy;
    this.slotOfport[slot] = ofport;
    this.slotFlags[slot] = F_IN_USE | (copy.canFlood ? F_CAN_FLOOD : 0) | (copy.canForward ? F_CAN_FORWARD : 0) | (copy.tunnel ? F_TUNNEL : 0);
    this.slotAccess[slot] = vlan.mode === 'access' ? 1 : 0;
    this.slotNativeVid[slot] = ingressNativeVid(vlan);
    this.slotUntaggedVid[slot] = egressUntaggedVid(vlan);
    const base = slot * WORDS_PER_PORT;
    for (let vid = 0; vid < VID_COUNT; vid += 32) {
      let word = 0;
      for (let b = 0; b < 32; b++) if (portCarriesVid(vlan, vid + b)) word |= 1 << b;
      this.member[base + (vid >>> 5)] = word;
    }
    this.floods.fill(null);
  }

  /** Forget a port and every MAC learned on it. Unknown ports are ignored. */
  removePort(ofport: number): void {
    const slot = this.slotOf(ofport);
    if (slot === NONE) return;
    this.flushSlot(slot);
    if (ofport < DIRECT_OFPORTS) this.direct[ofport] = NONE; else this.far.delete(ofport);
    this.infos[slot] = null;
    this.slotFlags[slot] = 0;
    this.member.fill(0, slot * WORDS_PER_PORT, (slot + 1) * WORDS_PER_PORT);
    this.freeSlots.push(slot);
    this.floods.fill(null);
  }

  /** The port's config as NORMAL holds it (a copy of what setPort got), or undefined. */
  port(ofport: number): NormalPortInfo | undefined {
    const slot = this.slotOf(ofport);
    return slot === NONE ? undefined : this.infos[slot]!;
  }

  private growSlots(): void {
    const cap = this.slotCap * 2;
    const grow = <T extends Int32Array | Uint8Array | Uint16Array | Uint32Array>(a: T, n: number, make: (n: number) => T): T => {
      const b = make(n); b.set(a); return b;
    };
    this.slotOfport = grow(this.slotOfport, cap, (n) => new Int32Array(n));
    this.slotFlags = grow(this.slotFlags, cap, (n) => new Uint8Array(n));
    this.slotAccess = grow(this.slotAccess, cap, (n) => new Uint8Array(n));
    this.slotNativeVid = grow(this.slotNativeVid, cap, (n) => new Uint16Array(n));
    this.slotUntaggedVid = grow(this.slotUntaggedVid, cap, (n) => new Uint16Array(n));
    this.member = grow(this.member, cap * WORDS_PER_PORT, (n) => new Uint32Array(n));
    this.slotCap = cap;
  }

  private slotOf(ofport: number): number {
    if ((ofport >>> 0) === ofport && ofport < DIRECT_OFPORTS) return this.direct[ofport];
    const s = this.far.get(ofport);
    return s === undefined ? NONE : s;
  }

  private buildFlood(vid: number): FloodList {
    const n = this.infos.length;
    const slots = new Int32Array(n), ofports = new Int32Array(n), tagged = new Uint8Array(n);
    const need = F_IN_USE | F_CAN_FLOOD | F_CAN_FORWARD;
    const w = vid >>> 5, bit = 1 << (vid & 31);
    let c = 0;
    for (let s = 0; s < n; s++) {
      if ((this.slotFlags[s] & need) !== need || (this.member[s * WORDS_PER_PORT + w] & bit) === 0) continue;
      slots[c] = s; ofports[c] = this.slotOfport[s]; tagged[c] = this.slotUntaggedVid[s] === vid ? 0 : 1; c++;
    }
    const fl = new FloodList(c, slots, ofports, tagged);
    this.floods[vid] = fl;
    return fl;
  }

  // ------------------------------------------------------------------ per frame

  /**
   * Classify the frame's VLAN on its ingress port, learn its source, choose output ports (never
   * the ingress port). Never throws; a drop is reported in out.dropReason and counted in `drops`.
   */
  decide(inPort: number, key: FlowKey, nowMs: number, out: NormalDecision): void {
    this.clock[0] = nowMs;
    out.count = 0; out.vid = 0; out.pcp = 0;
    const slot = this.slotOf(inPort);
    if (slot === NONE) { this.drop(out, NormalDrop.UnknownPort); return; }
    const w = key.w;
    const tag = w[W_VLAN_VID];
    let vid = 0, pcp = 0;
    const tagVid = tag & VID_MASK;
    if ((tag & VID_PRESENT) !== 0) pcp = w[W_VLAN_PCP] & PCP_MASK;
    if ((tag & VID_PRESENT) !== 0 && tagVid !== 0) {
      if (tagVid === VID_RESERVED) { this.drop(out, NormalDrop.BadVid); return; }
      if (this.slotAccess[slot] !== 0) { this.drop(out, NormalDrop.TaggedOnAccess); return; }
      if ((this.member[slot * WORDS_PER_PORT + (tagVid >>> 5)] & (1 << (tagVid & 31))) === 0) {
        this.drop(out, NormalDrop.VlanNotAllowed); return;
      }
      vid = tagVid;
    } else {
      vid = this.slotNativeVid[slot];   // untagged or priority-tagged: the access/native VLAN
      if (vid === NO_VID) { this.drop(out, NormalDrop.VlanNotAllowed); return; }
    }
    out.vid = vid; out.pcp = pcp;

    const srcHi = w[W_ETH_SRC_HI];
    if ((srcHi & MAC_GROUP_BIT) === 0) this.learn(vid, srcHi, w[W_ETH_SRC_LO], slot);

    const dstHi = w[W_ETH_DST_HI];
    if ((dstHi & MAC_GROUP_BIT) === 0) {
      const e = this.find(vid, dstHi, w[W_ETH_DST_LO]);
      if (e !== NONE) {
        if (nowMs - this.seenMs[e] >= this.agingMs) {
          this.removeEntry(e);
          this.counters[NormalCounter.Expired]++;
        } else {
          const ds = this.entSlot[e];
          if (ds === slot || (this.slotFlags[ds] & F_CAN_FORWARD) === 0 || out.ports.length === 0) {
            this.drop(out, NormalDrop.NoPorts); return;
          }
          out.ports[0] = this.slotOfport[ds];
          out.tagged[0] = this.slotUntaggedVid[ds] === vid ? 0 : 1;
          out.count = 1; out.dropReason = NormalDrop.None;
          return;
        }
      }
    }

    let fl = this.floods[vid];
    if (fl === null) fl = this.buildFlood(vid);
    const n = fl.count, cap = out.ports.length, slots = fl.slots, ofports = fl.ofports, tagged = fl.tagged;
    const ports = out.ports, outTagged = out.tagged, flags = this.slotFlags;
    const fromTunnel = (flags[slot] & F_TUNNEL) !== 0;
    let c = 0;
    for (let i = 0; i < n && c < cap; i++) {
      if (slots[i] === slot || (fromTunnel && (flags[slots[i]] & F_TUNNEL) !== 0)) continue;
      ports[c] = ofports[i]; outTagged[c] = tagged[i]; c++;
    }
    out.count = c;
    if (c === 0) this.drop(out, NormalDrop.NoPorts); else out.dropReason = NormalDrop.None;
  }

  private drop(out: NormalDecision, code: number): void {
    out.dropReason = code; out.count = 0;
    this.drops[code]++;
  }

  private hash(hk: number, lo: number): number {
    let h = Math.imul(lo ^ (hk << 7), 0x9e3779b1) ^ Math.imul(hk ^ (lo >>> 15), 0x85ebca6b);
    h ^= h >>> 15; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 13;
    return h & this.bucketMask;
  }

  private find(vid: number, hi: number, lo: number): number {
    const hk = (vid << 16) | hi;
    let e = this.buckets[this.hash(hk, lo)];
    while (e !== NONE && (this.keyLo[e] !== lo || this.keyHi[e] !== hk)) e = this.chain[e];
    return e;
  }

  /**
   * Learn or refresh (vid, mac) on `slot` at clock[0]. A refresh is one hash-chain walk and two
   * stores (seen time, sighting number): no LRU relink per frame (was unlink + append, ~8 ns of the
   * ~25 ns decide() in bench (a)). Allocates nothing.
   */
  private learn(vid: number, hi: number, lo: number, slot: number): void {
    const nowMs = this.clock[0];
    const seq = ++this.clock[1];
    const hk = (vid << 16) | hi;
    const b = this.hash(hk, lo);
    let e = this.buckets[b];
    while (e !== NONE && (this.keyLo[e] !== lo || this.keyHi[e] !== hk)) e = this.chain[e];
    if (e !== NONE) {
      if (this.entSlot[e] !== slot) { this.entSlot[e] = slot; this.counters[NormalCounter.Moved]++; }
      this.seenMs[e] = nowMs;
      this.touch[e] = seq;
      return;
    }
    if (this.freeHead === NONE) { this.removeEntry(this.lruHead()); this.counters[NormalCounter.Evicted]++; }
    e = this.freeHead;
    this.freeHead = this.next[e];
    this.keyHi[e] = hk; this.keyLo[e] = lo; this.entSlot[e] = slot; this.seenMs[e] = nowMs;
    this.touch[e] = seq; this.listed[e] = seq;
    this.chain[e] = this.buckets[b]; this.buckets[b] = e;
    this.lruAppend(e);
    this.used++;
    this.counters[NormalCounter.Learned]++;
  }

  /**
   * The least recently seen entry (or NONE): entries at the head refreshed since they were listed go
   * to the tail first. Each entry moves at most once per call; every entry behind the returned one
   * was listed (and so seen) later. Cold path (eviction, aging).
   */
  private lruHead(): number {
    let h = this.head;
    while (h !== NONE && this.touch[h] > this.listed[h]) {
      this.listed[h] = this.touch[h];
      if (h === this.tail) break;
      this.lruUnlink(h); this.lruAppend(h);
      h = this.head;
    }
    return h;
  }

  private lruUnlink(e: number): void {
    const p = this.prev[e], n = this.next[e];
    if (p === NONE) this.head = n; else this.next[p] = n;
    if (n === NONE) this.tail = p; else this.prev[n] = p;
  }

  private lruAppend(e: number): void {
    this.prev[e] = this.tail; this.next[e] = NONE;
    if (this.tail === NONE) this.head = e; else this.next[this.tail] = e;
    this.tail = e;
  }

  /** Take entry `e` out of its hash chain and the LRU list, onto the free list. */
  private removeEntry(e: number): void {
    const b = this.hash(this.keyHi[e], this.keyLo[e]);
    let c = this.buckets[b];
    if (c === e) this.buckets[b] = this.chain[e];
    else {
      while (this.chain[c] !== e) c = this.chain[c];
      this.chain[c] = this.chain[e];
    }
    this.lruUnlink(e);
    this.next[e] = this.freeHead; this.freeHead = e;
    this.used--;
  }

  // ------------------------------------------------------------------ table maintenance (cold path)

  /** Remove entries not seen for agingMs; returns how many. Call from a timer (e.g. every second). */
  expire(nowMs: number): number {
    this.clock[0] = nowMs;
    let n = 0;
    // The (lazily ordered) LRU list puts the least recently seen entry at lruHead().
    for (let h = this.lruHead(); h !== NONE && nowMs - this.seenMs[h] >= this.agingMs; h = this.lruHead()) { this.removeEntry(h); n++; }
    this.counters[NormalCounter.Expired] += n;
    return n;
  }

  /** Learned MACs, oldest first (like ovs-appctl fdb/show); ageS is measured at nowMs (default: the last time seen). */
  fdb(nowMs: number = this.clock[0]): Array<{ vid: number; mac: number; ofport: number; ageS: number }> {
    const live: number[] = [];
    for (let e = this.head; e !== NONE; e = this.next[e]) if (nowMs - this.seenMs[e] < this.agingMs) live.push(e);
    live.sort((a, b) => this.touch[a] - this.touch[b]);   // oldest sighting first (the list is only lazily ordered)
    return live.map((e) => {
      const hk = this.keyHi[e];
      return { vid: hk >>> 16, mac: macJoin(hk & 0xffff, this.keyLo[e]), ofport: this.slotOfport[this.entSlot[e]], ageS: Math.floor(Math.max(0, nowMs - this.seenMs[e]) / 1000) };
    });
  }

  /** The ofport `mac` was learned on in `vid`, or -1 (cold path: trace, tests). Does not refresh. */
  lookup(vid: number, mac: number, nowMs: number = this.clock[0]): number {
    const e = this.find(vid, Math.floor(mac / 0x1_0000_0000) & 0xffff, mac >>> 0);
    if (e === NONE || nowMs - this.seenMs[e] >= this.agingMs) return -1;
    return this.slotOfport[this.entSlot[e]];
  }

  /** Entries in the table (including aged ones not yet removed). */
  get macCount(): number { return this.used; }

  /** Forget every MAC learned on `ofport`. */
  flushPort(ofport: number): void {
    const slot = this.slotOf(ofport);
    if (slot !== NONE) this.flushSlot(slot);
  }

  private flushSlot(slot: number): void {
    for (let e = this.head; e !== NONE;) {
      const n = this.next[e];
      if (this.entSlot[e] === slot) this.removeEntry(e);
      e = n;
    }
  }

  /** Forget every learned MAC (ports stay). */
  flush(): void {
    this.buckets.fill(NONE);
    const n = this.macTableSize;
    for (let i = 0; i < n; i++) this.next[i] = i + 1 < n ? i + 1 : NONE;
    this.freeHead = 0; this.head = NONE; this.tail = NONE; this.used = 0;
  }
}
