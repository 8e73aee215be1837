// Runs the OpenFlow pipeline on packets: the interpreter. Flow-cache probe or table classification,
// instructions (meter, apply-actions, clear/write-actions, write-metadata, goto-table), the action
// set, output ports incl. NORMAL/FLOOD/CONTROLLER/TABLE, group buckets, and deferred outputs (the
// last output takes the original packet; earlier ones get copies made at the moment they happen).
// Split out: set-field.ts (header edits and checksums), cache-policy.ts (cache key words, precompiled
// outputs), standalone.ts (when the bridge is standalone, its per-batch accounting), groups.ts
// (bucket choice), vlan/tag.ts (the egress tag edit), trace-describe.ts. Hot path: preallocated contexts, indexed loops, no allocation.
import { K, MATCH_WORDS, FlowKey, macJoin, PARSE_ERROR_NAMES } from '../packet/flow-key.js';
import { extractFlowKey } from '../packet/extract.js';
import type { Packet } from '../packet/packet.js';
import { NO_PACKET } from '../packet/batch.js';
import type { PacketPool } from '../packet/pool.js';
import { OFPP } from '../flow/types.js';
import type { Action } from '../flow/types.js';
import { OP, OP_COUNT, OP_NAMES, STRIDE } from './actions.js';
import type { ActionList, Program } from './actions.js';
import type { FlowEntry } from './flow-table.js';
import { FS_PACKETS, FS_BYTES, FS_LAST_HIT_MS, TS_LOOKUP, TS_MATCHED } from './flow-table.js';
import { CACHE_DEPTH } from './flow-cache.js';
import type { FlowCache } from './flow-cache.js';
import { CachePolicy, fastOutput } from './cache-policy.js';
import { accountStandalone } from './standalone.js';
import type { Pipeline } from './pipeline.js';
import { pickBucket, lastBucket, resolveGroupRefs } from './groups.js';
import type { Group } from './groups.js';
import { Normal, NormalDecision, NormalDrop, NORMAL_DROP_NAMES } from './normal.js';
import type { NormalPortInfo } from './normal.js';
import { DROP, DROP_NAMES, XC, EXEC_COUNTER_NAMES } from './counters.js';
import { FlowFlags } from '../flow/types.js';
import { isTagged, outerTci, pushVlan, popVlan, applyEgressVlan } from '../vlan/tag.js';
import { egressUntaggedVid } from '../vlan/port-mode.js';
import { editField, EDIT_OK } from './set-field.js';
import { describeKey, safeFormatActions, safeFormatMatch } from './trace-describe.js';
import type { TraceResult } from './trace.js';
import { admitWire } from '../qos/limiter.js';

/** OFPR_* packet-in reasons. */
export const OFPR = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2 } as const;
const OFPR_NO_MATCH = 0, OFPR_ACTION = 1;

/** What the executor needs from the bridge (one implementation: Bridge, so calls stay monomorphic). */
export interface ExecHost {
  /** Take ownership of `pkt` and queue it for transmission on `ofport` (or drop and count it there). */
  txQueue(pkt: Packet, ofport: number, nowMs: number): void;
  /** Port exists and is not administratively down. */
  portLive(ofport: number): boolean;
  /** Fill `out` with the ports a FLOOD (all=false) or ALL (all=true) from `inPort` reaches; return the count. */
  floodPorts(inPort: number, all: boolean, out: Int32Array): number;
  /** Deliver a packet-in; false if there is no controller (the caller counts). Does not take ownership. */
  packetIn(pkt: Packet, reason: number, tableId: number, cookie: bigint, maxLen: number): boolean;
  /** Count a drop against a port (ingress or egress; 0 = bridge-wide only). */
  countDrop(ofport: number, code: number): void;
  portName(ofport: number): string;
  normalPorts(): NormalPortInfo[];
}

const PEND_NONE = -1;
const MAX_CTX = 6;          // main context + nested group clones
const MAX_TABLE_STEPS = 64; // goto chains are strictly increasing, so at most tableCount; cap anyway
// Per-frame constants as module consts: TurboFan folds these, not loads from imported objects.
const XC_CACHE_HITS = 0, XC_CACHE_MISSES = 1, FF_NO_PKT_COUNTS = 8, FF_NO_BYT_COUNTS = 16;
const OP_OUTPUT = 20, OP_GROUP = 19, OP_EXPERIMENTER = 18, OP_POP_VLAN = 1, OP_PUSH_VLAN = 2;
if (XC.CacheHits !== XC_CACHE_HITS || XC.CacheMisses !== XC_CACHE_MISSES || FlowFlags.NO_PKT_COUNTS !== FF_NO_PKT_COUNTS ||
  FlowFlags.NO_BYT_COUNTS !== FF_NO_BYT_COUNTS || OP.OUTPUT !== OP_OUTPUT || OP.GROUP !== OP_GROUP || OP.EXPERIMENTER !== OP_EXPERIMENTER ||
  OP.POP_VLAN !== OP_POP_VLAN || OP.PUSH_VLAN !== OP_PUSH_VLAN) throw new Error('executor.ts: counter/flag/opcode constants out of step');

const W_IN_PORT = 0;
if (K.IN_PORT !== W_IN_PORT) throw new Error('executor.ts: IN_PORT word out of step');

/** One packet in flight: the frame, its own key, the deferred output and the action set. */
class Ctx {
  pkt: Packet;
  readonly key = new FlowKey();
  inPort = 0;
  pendPort = PEND_NONE;
  pendTag = -1;          // -1 as is, 0 untagged, 1 tagged with pendVid/pendPcp
  pendVid = 0;
  pendPcp = 0;
  pendMaxLen = 0;
  dead = false;          // packet dropped: stop executing
  popped = false;        // a tag was popped: later lookups see an inner tag the key never held
  tableId = 0;
  cookie = 0n;
  /** PACKET_IN reason for an output:CONTROLLER now: NO_MATCH while the current entry is a table-miss entry (priority 0, empty match), else ACTION. */
  reason: number = OFPR_ACTION;
  setAny = false;
  readonly setHas = new Uint8Array(OP_COUNT);
  readonly setArgs = new Float64Array(OP_COUNT * STRIDE);   // slot op at op*STRIDE, laid out like an ops array
  /** The group of a group action in the action set (resolved when it was written). */
  setGroup: Group | null = null;
  constructor(pkt: Packet) { this.pkt = pkt; }
}

/** NORMAL's drop reason as a DROP code. */
function normalDropCode(r: number): number {
  return r === NormalDrop.VlanNotAllowed ? DROP.VlanNotAllowed : r === NormalDrop.TaggedOnAccess ? DROP.TaggedOnAccess : DROP.NoPorts;
}

export class Executor {
  /** Flow cache with its key policy (cache-policy.ts). */
  readonly policy: CachePolicy;
  readonly counters = new Float64Array(EXEC_COUNTER_NAMES.length);
  readonly normal: Normal;
  /** NORMAL's verdict for the current frame (the Bridge's fused standalone loop fills it with normal.decide()). */
  readonly decision = new NormalDecision();
  private readonly ctxs: Ctx[] = [];
  private readonly floodBuf: Int32Array[] = [];
  private readonly rec: (FlowEntry | null)[] = new Array<FlowEntry | null>(CACHE_DEPTH).fill(null);
  private depth = 0;
  private nowMs = 0;
  /**
   * The same time as the caller's tagged number. A field that only ever held doubles is stored
   * unboxed, and passing it to a non-inlined call (txQueue, decide, admit) boxed a new HeapNumber
   * per frame; this one starts as null so V8 keeps it tagged and passes the caller's object on.
   */
  private nowRef: unknown = null;
  /** Set while tracing: no side effects, events recorded here. */
  private tr: TraceResult | null = null;
  private shadowNormal: Normal | null = null;
  /** Packets sent to output:TABLE by a packet-out, run through the pipeline afterwards. */
  private readonly tableQueue: Packet[] = [];
  /** Cache probe made by process(), handed to runPipeline. */
  private preH = 0;
  private preSlot = -1;
  private preValid = false;
  /** The lookup key of a cache miss (actions may rewrite the key before the insert). */
  private readonly snap = new Uint32Array(MATCH_WORDS);

  constructor(
    readonly pipeline: Pipeline,
    private readonly host: ExecHost,
    private readonly pool: PacketPool,
    normalOpts: { macTableSize: number; agingMs: number },
    cacheSize: number = 16384,
  ) {
    this.policy = new CachePolicy(pipeline, cacheSize);
    this.normal = new Normal(normalOpts);
    for (let i = 0; i < MAX_CTX; i++) { this.ctxs.push(new Ctx(NO_PACKET)); this.floodBuf.push(new Int32Array(1024)); }
  }

  get cache(): FlowCache { return this.policy.cache; }
  get cacheEnabled(): boolean { return this.policy.enabled; }
  set cacheEnabled(on: boolean) { this.policy.enabled = on; }
  /** true: the cache key is only the words some installed flow matches on (plus in_port); false: all words. */
  get megaflow(): boolean { return this.policy.megaflow; }
  // a new key layout invalidates every cached row: the generation moves on
  set megaflow(on: boolean) { if (on !== this.policy.megaflow) { this.policy.megaflow = on; this.pipeline.bump(); } }

  // ------------------------------------------------------------------ entry points

  /** The key the bridge should extract received frames into (saves a copy in process()). */
  get rxKey(): FlowKey { return this.ctxs[0].key; }

  /**
   * Run one received packet whose key is already in `key` (IN_PORT, metadata 0, tunnel words set).
   * Takes ownership of `pkt`.
   */
  process(pkt: Packet, key: FlowKey, nowMs: number): void {
    this.nowMs = nowMs; this.nowRef = nowMs;
    const pol = this.policy;
    if (pol.enabled && pol.gen === this.pipeline.generation && this.depth === 0) {
      // Probe once here; a precompiled hit (fastOutput) leaves without a context or the interpreter,
      // and a miss or a plain hit hands the hash and slot on to runPipeline (no second probe).
      const cache = pol.cache, w = key.w, h = cache.hash(w), slot = cache.find(w, h, pol.gen);
      if (slot >= 0) {
        const fp = cache.fastPort(slot);
        if (fp > 0) { this.counters[XC_CACHE_HITS]++; this.fastHit(pkt, slot, fp); return; }
      }
      this.preH = h; this.preSlot = slot; this.preValid = true;
    }
    const ctx = this.ctxs[0];
    this.depth = 0;
    this.resetCtx(ctx, pkt);
    if (key !== ctx.key) { ctx.key.w.set(key.w); ctx.key.error = key.error; }
    this.runPipeline(ctx, 0, true);
    this.finish(ctx);
    if (this.tableQueue.length > 0 && this.depth === 0) this.drainTableQueue(nowMs);
  }

  // ---- the standalone NORMAL path (the bridge's fused loop: Bridge.receiveStandalone)

  /** The NORMAL entry when the bridge is standalone, else null (CachePolicy.standaloneEntry). */
  standaloneEntry(): FlowEntry | null { return this.policy.standaloneEntry(); }

  /** Per-batch counters of the standalone path (standalone.ts accountStandalone). */
  accountStandalone(e: FlowEntry, key: FlowKey, count: number, bytes: number, nowMs: number): void {
    accountStandalone(this.pipeline, this.policy.enabled ? this.policy.cache : null, this.counters, e, key, count, bytes, nowMs);
  }

  /**
   * Carry out `this.decision` (normal.decide()'s verdict for `pkt`) when it is a drop or more than
   * one output: earlier outputs get copies, the last the original. One output (a learned unicast)
   * the bridge's standalone loop does itself: applyEgressVlan, then txQueue. Takes ownership of `pkt`.
   */
  normalDropOrFlood(pkt: Packet, nowMs: number): void {
    const d = this.decision, n = d.count;
    if (d.dropReason !== NormalDrop.None || n === 0) {
      this.host.countDrop(pkt.inPort, normalDropCode(d.dropReason));
      this.pool.release(pkt);
      return;
    }
    this.nowMs = nowMs; this.nowRef = nowMs;
    const ctx = this.ctxs[0];
    this.depth = 0;
    this.resetCtx(ctx, pkt);
    const vid = d.vid, pcp = d.pcp;
    for (let i = 0; i < n; i++) this.output(ctx, d.ports[i], d.tagged[i], vid, pcp, 0xffff);
    this.finish(ctx);
  }

  /** PACKET_OUT: run `actions` on `pkt` (ownership taken); output:TABLE runs the pipeline from table 0. */
  packetOut(pkt: Packet, prog: ActionList, nowMs: number): void {
    this.nowMs = nowMs; this.nowRef = nowMs;
    const ctx = this.ctxs[0];
    this.depth = 0;
    this.resetCtx(ctx, pkt);
    this.fillKey(ctx);
    this.runOps(ctx, prog);
    this.finish(ctx);
    this.drainTableQueue(nowMs);
  }

  private drainTableQueue(nowMs: number): void {
    const q = this.tableQueue.splice(0, this.tableQueue.length);
    for (let i = 0; i < q.length; i++) {
      const ctx = this.ctxs[0];
      this.resetCtx(ctx, q[i]);
      this.fillKey(ctx);
      this.nowMs = nowMs; this.nowRef = nowMs;
      this.runPipeline(ctx, 0, false);
      this.finish(ctx);
    }
  }

  /** Trace `pkt` (ownership taken, recycled): no counters, no learning, no meters, no cache. */
  trace(pkt: Packet, nowMs: number, tr: TraceResult): void {
    this.tr = tr;
    try {
      this.nowMs = nowMs; this.nowRef = nowMs;
      const ctx = this.ctxs[0];
      this.depth = 0;
      this.resetCtx(ctx, pkt);
      this.fillKey(ctx);
      tr.parseError = PARSE_ERROR_NAMES[ctx.key.error] ?? String(ctx.key.error);
      tr.key = describeKey(ctx.key);
      this.shadowNormal = this.buildShadowNormal();
      this.runPipeline(ctx, 0, false);
      this.finish(ctx);
      const q = this.tableQueue.splice(0, this.tableQueue.length);
      for (const p of q) this.pool.release(p);
    } finally {
      this.tr = null;
      this.shadowNormal = null;
    }
  }

  // ------------------------------------------------------------------ pipeline

  private resetCtx(ctx: Ctx, pkt: Packet): void {
    ctx.pkt = pkt;
    ctx.inPort = pkt.inPort;
    ctx.pendPort = PEND_NONE;
    ctx.pendTag = -1;
    ctx.dead = false;
    ctx.popped = false;
    ctx.tableId = 0;
    ctx.cookie = 0n;
    ctx.reason = OFPR_ACTION;
    if (ctx.setAny) { ctx.setHas.fill(0); ctx.setAny = false; ctx.setGroup = null; }
  }

  /** Extract the key from the packet itself (packet-out, trace, output:TABLE). */
  private fillKey(ctx: Ctx): void {
    const p = ctx.pkt, w = ctx.key.w;
    w.fill(0);
    extractFlowKey(p.buf, p.off, p.len, ctx.key);
    w[K.IN_PORT] = p.inPort;
    w[K.TUNNEL_ID_HI] = Math.floor(p.tunnelId / 0x1_0000_0000) >>> 0; w[K.TUNNEL_ID_LO] = p.tunnelId >>> 0;
    w[K.TUN_IPV4_SRC] = p.tunIpv4Src; w[K.TUN_IPV4_DST] = p.tunIpv4Dst;
  }

  private runPipeline(ctx: Ctx, startTable: number, useCache: boolean): void {
    const pl = this.pipeline, tracing = this.tr !== null;
    const key = ctx.key.w;
    const len = ctx.pkt.len;
    let slot = -1, h = 0, n = 0, complete = true, missTable = -1;
    const pol = this.policy, cache = pol.cache;
    const cached = useCache && pol.enabled && !tracing;
    const gen = cached ? pol.sync() : pl.generation;
    if (cached) {
      if (this.preValid) { h = this.preH; slot = this.preSlot; this.preValid = false; }
      else { h = cache.hash(key); slot = cache.find(key, h, gen); }
      if (slot >= 0) this.counters[XC_CACHE_HITS]++;
      else {
        this.counters[XC_CACHE_MISSES]++;
        // actions may rewrite the key (set_field, write-metadata): keep the lookup key for the insert
        const snap = this.snap;
        for (let i = 0; i < MATCH_WORDS; i++) snap[i] = key[i];
      }
    }
    let t = startTable;
    for (let step = 0; step < MAX_TABLE_STEPS; step++) {
      const table = pl.tables[t];
      let e: FlowEntry | null;
      if (slot >= 0) {
        e = step < cache.depth(slot) ? cache.entries[slot * CACHE_DEPTH + step] : null;
      } else {
        e = table === null ? null : table.lookup(key);
      }
      if (!tracing && table !== null) table.counts[TS_LOOKUP]++;
      ctx.tableId = t;
      if (e === null) {
        missTable = t;
        if (tracing) this.tr!.events.push({ kind: 'table', tableId: t, miss: true, priority: 0, cookie: 0n, match: '', instructions: '' });
        this.drop(ctx, DROP.NoFlow);
        break;
      }
      if (n < CACHE_DEPTH) this.rec[n] = e;
      n++;
      if (!tracing) {
        table!.counts[TS_MATCHED]++;
        const st = e.stats;
        if ((e.flags & FF_NO_PKT_COUNTS) === 0) st[FS_PACKETS]++;
        if ((e.flags & FF_NO_BYT_COUNTS) === 0) st[FS_BYTES] += len;
        st[FS_LAST_HIT_MS] = this.nowMs;
      } else {
        this.tr!.events.push({ kind: 'table', tableId: t, miss: false, priority: e.priority, cookie: e.cookie, match: safeFormatMatch(e), instructions: safeFormatActions(e) });
      }
      ctx.cookie = e.cookie;
      // OpenFlow 1.3 §5.4/§7.4.4: output:CONTROLLER from the table-miss entry reports NO_MATCH
      ctx.reason = e.priority === 0 && e.match.words.length === 0 ? OFPR_NO_MATCH : OFPR_ACTION;
      const p = e.program;
      if (p.meterId >= 0 && !this.meter(ctx, p)) { complete = false; break; }
      if (p.apply.count > 0) this.runOps(ctx, p.apply);
      if (ctx.dead) { complete = false; break; }
      if (p.clearActions && ctx.setAny) { ctx.setHas.fill(0); ctx.setAny = false; ctx.setGroup = null; }
      if (p.write.count > 0) this.writeSet(ctx, p.write);
      if (p.hasWriteMeta) {
        key[K.METADATA_HI] = (key[K.METADATA_HI] & ~p.metaMaskHi) | (p.metaValueHi & p.metaMaskHi);
        key[K.METADATA_LO] = (key[K.METADATA_LO] & ~p.metaMaskLo) | (p.metaValueLo & p.metaMaskLo);
      }
      if (p.gotoTable < 0) { this.runActionSet(ctx); break; }
      // after a pop the next lookup depends on the inner tag, which no key word holds: do not cache
      if (ctx.popped) complete = false;
      t = p.gotoTable;
    }
    if (cached && slot < 0 && complete && n <= CACHE_DEPTH) {
      // the key may have been rewritten by set_field/write-metadata: cache under the original key
      cache.insert(this.snap, h, gen, this.rec, n, missTable, missTable < 0 ? fastOutput(this.rec, n, this.snap[W_IN_PORT]) : 0);
    }
  }

  /**
   * A cache hit whose classification was precompiled to "output:port" (fastOutput): the table and
   * entry counters of every table visited, then the one output — no interpreter walk, no action set.
   * (b) ~3.4 -> ~4.6 Mpps per CPU-second on Node 20 together with the allocation fix; bench/pipeline.bench.ts.
   */
  private fastHit(pkt: Packet, slot: number, port: number): void {
    const cache = this.policy.cache, tables = this.pipeline.tables, d = cache.depth(slot), base = slot * CACHE_DEPTH;
    const nowMs = this.nowMs, len = pkt.len;
    for (let i = 0; i < d; i++) {
      const e = cache.entries[base + i]!;
      const table = tables[e.tableId]!;
      table.counts[TS_LOOKUP]++; table.counts[TS_MATCHED]++;
      const st = e.stats;
      if ((e.flags & FF_NO_PKT_COUNTS) === 0) st[FS_PACKETS]++;
      if ((e.flags & FF_NO_BYT_COUNTS) === 0) st[FS_BYTES] += len;
      st[FS_LAST_HIT_MS] = nowMs;
    }
    this.host.txQueue(pkt, port, this.nowRef as number);
  }

  /**
   * The program's meter instruction. The limiter is a reference compiled into the program for the
   * pipeline generation (a meter set or deleted bumps it), not a Map lookup per frame.
   */
  private meter(ctx: Ctx, p: Program): boolean {
    const gen = this.pipeline.generation;
    if (p.refGen !== gen) { p.meter = this.pipeline.meters.get(p.meterId) ?? null; p.refGen = gen; }
    const lim = p.meter;
    if (this.tr !== null) {
      const peek = lim === null ? undefined : (lim as unknown as { peek?: (l: number, n: number) => boolean }).peek;
      const verdict = lim === null ? 'missing' : peek !== undefined ? (peek.call(lim, ctx.pkt.len, this.nowMs) ? 'pass' : 'drop') : 'not-evaluated';
      this.tr.events.push({ kind: 'meter', meterId: p.meterId, verdict });
      if (verdict === 'drop') { this.drop(ctx, DROP.MeterDrop); return false; }
      return true;
    }
    if (lim === null || admitWire(lim, ctx.pkt, this.nowRef as number)) return true;
    this.drop(ctx, DROP.MeterDrop);
    return false;
  }

  /** Drop the context's packet (counted on its ingress port); outputs already made stand. */
  private drop(ctx: Ctx, code: number): void {
    if (this.tr !== null) { this.tr.events.push({ kind: 'drop', reason: DROP_NAMES[code] }); this.tr.drops.push(DROP_NAMES[code]); }
    else this.host.countDrop(ctx.inPort, code);
    ctx.dead = true;
  }

  /** End of a context: the deferred output takes the original packet, else it is recycled. */
  private finish(ctx: Ctx): void {
    const pkt = ctx.pkt;
    if (ctx.pendPort !== PEND_NONE && !ctx.dead) {
      const port = ctx.pendPort;
      ctx.pendPort = PEND_NONE;
      if (!applyEgressVlan(pkt, ctx.pendTag, ctx.pendVid, ctx.pendPcp)) {
        this.host.countDrop(port, DROP.ActionFailed);
        this.pool.release(pkt);
        return;
      }
      this.deliver(pkt, port, ctx.pendMaxLen);
      return;
    }
    ctx.pendPort = PEND_NONE;
    this.pool.release(pkt);
  }

  private deliver(pkt: Packet, port: number, maxLen: number): void {
    if (port === OFPP.TABLE) { this.tableQueue.push(pkt); return; }
    if (port === OFPP.CONTROLLER) {
      const c = this.ctxs[this.depth];
      const ok = this.tr !== null ? true : this.host.packetIn(pkt, c.reason, c.tableId, c.cookie, maxLen);
      if (this.tr !== null) this.tr.events.push({ kind: 'packet-in', reason: c.reason, tableId: c.tableId });
      else if (ok) this.counters[XC.PacketIns]++;
      this.pool.release(pkt);
      return;
    }
    if (this.tr !== null) {
      this.tr.outputs.push({ port, name: this.host.portName(port), frame: Buffer.from(pkt.frame()) });
      this.pool.release(pkt);
      return;
    }
    this.host.txQueue(pkt, port, this.nowRef as number);
  }

  /**
   * Make an output of the frame as it is now: flush any earlier deferred output as a copy, defer
   * this one. `tag` is the egress tag edit (applyEgressVlan: -1 as is, 0 untagged, 1 vid/pcp).
   */
  private output(ctx: Ctx, port: number, tag: number, vid: number, pcp: number, maxLen: number): void {
    if (ctx.pendPort !== PEND_NONE) this.materialize(ctx);
    ctx.pendPort = port; ctx.pendTag = tag; ctx.pendVid = vid; ctx.pendPcp = pcp; ctx.pendMaxLen = maxLen;
  }

  /** The deferred output gets a copy of the frame as it is now (before the next modification). */
  private materialize(ctx: Ctx): void {
    const port = ctx.pendPort;
    ctx.pendPort = PEND_NONE;
    const q = this.pool.allocFor(ctx.pkt.len);   // a GSO super-frame needs a large packet
    if (q === null) { this.host.countDrop(ctx.inPort, DROP.PoolExhausted); return; }
    ctx.pkt.copyTo(q);
    if (this.tr === null) this.counters[XC.Copies]++;
    if (!applyEgressVlan(q, ctx.pendTag, ctx.pendVid, ctx.pendPcp)) {
      this.host.countDrop(port, DROP.ActionFailed);
      this.pool.release(q);
      return;
    }
    this.deliver(q, port, ctx.pendMaxLen);
  }

  // ------------------------------------------------------------------ actions

  /** Run an action list; its group actions follow the groups resolved for this generation. */
  private runOps(ctx: Ctx, list: ActionList): void {
    const ops = list.ops, n = list.count, refs = list.groupRefs;
    if (refs !== null && list.refGen !== this.pipeline.generation) resolveGroupRefs(list, this.pipeline.groups, this.pipeline.generation);
    for (let i = 0; i < n && !ctx.dead; i++) {
      const o = i * STRIDE;
      if (ops[o] === OP_GROUP) this.doGroup(ctx, refs![i], ops[o + 1], false);
      else this.runOne(ctx, ops, o);
    }
  }

  private writeSet(ctx: Ctx, list: ActionList): void {
    const ops = list.ops, n = list.count, refs = list.groupRefs;
    if (refs !== null && list.refGen !== this.pipeline.generation) resolveGroupRefs(list, this.pipeline.groups, this.pipeline.generation);
    for (let i = 0; i < n; i++) {
      const o = i * STRIDE, op = ops[o];
      ctx.setHas[op] = 1;
      const so = op * STRIDE;
      ctx.setArgs[so] = op; ctx.setArgs[so + 1] = ops[o + 1]; ctx.setArgs[so + 2] = ops[o + 2]; ctx.setArgs[so + 3] = ops[o + 3];
      if (op === OP_GROUP) ctx.setGroup = refs![i];
    }
    ctx.setAny = true;
  }

  /** Execute the action set in the OpenFlow order (opcode order); group overrides output. */
  private runActionSet(ctx: Ctx): void {
    if (!ctx.setAny) return;
    const has = ctx.setHas, a = ctx.setArgs;
    if (this.tr !== null) {
      const names: string[] = [];
      for (let op = 1; op < OP_COUNT; op++) if (has[op] === 1) names.push(OP_NAMES[op]);
      this.tr.events.push({ kind: 'action-set', text: names.join(', ') });
    }
    for (let op = 1; op < OP_COUNT && !ctx.dead; op++) {
      if (has[op] === 0) continue;
      if (op === OP_OUTPUT && has[OP_GROUP] === 1) continue;
      if (op === OP_GROUP) this.doGroup(ctx, ctx.setGroup, a[op * STRIDE + 1], true);
      else this.runOne(ctx, a, op * STRIDE);
    }
    has.fill(0);
    ctx.setAny = false;
    ctx.setGroup = null;
  }

  /** Record an action line; callers guard with `this.tr !== null` so no string is built per frame. */
  private traceAction(text: string): void { if (this.tr !== null) this.tr.events.push({ kind: 'action', text }); }

  /**
   * One action other than group, read from an ops array at `o` (op, a, b, c). Arguments stay in the
   * array: passing large doubles (reserved port numbers) to a non-inlined call would box a
   * HeapNumber per frame.
   */
  private runOne(ctx: Ctx, args: Float64Array, o: number): void {
    const op = args[o], a = args[o + 1];
    if (this.tr !== null && op !== OP_OUTPUT) this.traceAction(`${OP_NAMES[op]}${op >= OP.PUSH_VLAN && op !== OP.DEC_NW_TTL ? `:${a}` : ''}`);
    if (op === OP_OUTPUT) { this.doOutput(ctx, args, o); return; }
    if (op === OP_EXPERIMENTER) { if (this.tr === null) this.counters[XC.ExperimenterIgnored]++; return; }
    // everything below modifies the frame or its metadata: an earlier deferred output gets a copy first
    if (ctx.pendPort !== PEND_NONE) this.materialize(ctx);
    const p = ctx.pkt;
    if (op === OP_POP_VLAN) {
      if (popVlan(p)) { this.rekey(ctx); ctx.popped = true; }
      return;
    }
    if (op === OP_PUSH_VLAN) {
      // OpenFlow: the new tag copies VID/PCP from an existing outer tag, else 0
      const tci = isTagged(p) ? outerTci(p) : 0;
      if (pushVlan(p, a, tci)) this.rekey(ctx); else this.drop(ctx, DROP.ActionFailed);
      return;
    }
    const r = editField(p, ctx.key.w, op, a, args[o + 2]);
    if (r !== EDIT_OK) this.drop(ctx, r);
  }

  /** Re-derive header words after a push/pop (in_port, metadata and tunnel words are kept). */
  private rekey(ctx: Ctx): void {
    const p = ctx.pkt;
    extractFlowKey(p.buf, p.off, p.len, ctx.key);
  }

  private doOutput(ctx: Ctx, args: Float64Array, o: number): void {
    const port = args[o + 1], maxLen = args[o + 2];
    if (port <= OFPP.MAX) {
      if (port === ctx.inPort) { if (this.tr !== null) this.traceAction(`output:${port} (ingress port: dropped, use IN_PORT)`); this.countOnly(ctx.inPort, DROP.InPortOutput); return; }
      if (this.tr !== null) this.traceAction(`output:${port}`);
      this.output(ctx, port, -1, 0, 0, maxLen);
      return;
    }
    switch (port) {
      case OFPP.IN_PORT:
        if (this.tr !== null) this.traceAction(`output:IN_PORT (${ctx.inPort})`);
        if (ctx.inPort >= 1 && ctx.inPort <= OFPP.MAX) this.output(ctx, ctx.inPort, -1, 0, 0, maxLen);
        else this.countOnly(ctx.inPort, DROP.UnknownPort);
        return;
      case OFPP.NORMAL: this.doNormal(ctx); return;
      case OFPP.FLOOD: case OFPP.ALL: {
        const buf = this.floodBuf[this.depth];
        const n = this.host.floodPorts(ctx.inPort, port === OFPP.ALL, buf);
        if (this.tr !== null) this.traceAction(`${port === OFPP.ALL ? 'ALL' : 'FLOOD'}: ports ${Array.prototype.join.call(buf.subarray(0, n), ',') || '(none)'}`);
        for (let i = 0; i < n; i++) this.output(ctx, buf[i], -1, 0, 0, maxLen);
        return;
      }
      case OFPP.CONTROLLER:
        if (this.tr !== null) this.traceAction('output:CONTROLLER');
        if (this.tr === null && !this.host.packetIn(ctx.pkt, ctx.reason, ctx.tableId, ctx.cookie, maxLen)) { this.host.countDrop(ctx.inPort, DROP.NoController); return; }
        if (this.tr !== null) this.tr.events.push({ kind: 'packet-in', reason: ctx.reason, tableId: ctx.tableId });
        else this.counters[XC.PacketIns]++;
        return;
      case OFPP.TABLE:
        if (this.tr !== null) this.traceAction('output:TABLE');
        this.output(ctx, OFPP.TABLE, -1, 0, 0, maxLen);
        return;
      case OFPP.LOCAL:
        if (this.tr !== null) this.traceAction('output:LOCAL (no local port: dropped)');
        this.countOnly(ctx.inPort, DROP.LocalPort);
        return;
      default:
        this.countOnly(ctx.inPort, DROP.UnknownPort);
    }
  }

  /** Count without killing the packet (one output failed, others may follow). */
  private countOnly(port: number, code: number): void {
    if (this.tr !== null) this.tr.drops.push(DROP_NAMES[code]);
    else this.host.countDrop(port, code);
  }

  private doNormal(ctx: Ctx): void {
    const d = this.decision;
    if (this.tr !== null) { this.traceNormal(ctx, d); }
    else this.normal.decide(ctx.inPort, ctx.key, this.nowRef as number, d);
    if (d.dropReason !== NormalDrop.None || d.count === 0) { this.countOnly(ctx.inPort, normalDropCode(d.dropReason)); return; }
    const vid = d.vid, pcp = d.pcp;
    for (let i = 0; i < d.count; i++) this.output(ctx, d.ports[i], d.tagged[i], vid, pcp, 0xffff);
  }

  /** NORMAL without learning: classification and flood set from a port-only shadow, unicast from the real table. */
  private traceNormal(ctx: Ctx, d: NormalDecision): void {
    const shadow = this.shadowNormal!;
    shadow.decide(ctx.inPort, ctx.key, this.nowMs, d);
    if (d.dropReason !== NormalDrop.None) {
      this.tr!.events.push({ kind: 'normal', vid: d.vid, learnedPort: null, flood: false, ports: [], drop: NORMAL_DROP_NAMES[d.dropReason] });
      return;
    }
    const w = ctx.key.w;
    const dst = macJoin(w[K.ETH_DST_HI], w[K.ETH_DST_LO]);
    const isGroup = (w[K.ETH_DST_HI] & 0x0100) !== 0;
    const learned = isGroup ? -1 : this.normal.lookup(d.vid, dst, this.nowMs);
    if (learned >= 0) {
      const info = this.host.normalPorts().find((x) => x.ofport === learned);
      if (learned === ctx.inPort || info === undefined || !info.canForward) d.count = 0;
      else { d.count = 1; d.ports[0] = learned; d.tagged[0] = egressUntaggedVid(info.vlan) === d.vid ? 0 : 1; }
      this.tr!.events.push({ kind: 'normal', vid: d.vid, learnedPort: learned, flood: false, ports: Array.from(d.ports.subarray(0, d.count)), drop: d.count === 0 ? 'no-ports' : null });
      return;
    }
    this.tr!.events.push({ kind: 'normal', vid: d.vid, learnedPort: null, flood: true, ports: Array.from(d.ports.subarray(0, d.count)), drop: null });
  }

  private buildShadowNormal(): Normal {
    const n = new Normal({ macTableSize: 16, agingMs: this.normal.agingMs });
    for (const info of this.host.normalPorts()) n.setPort(info);
    return n;
  }

  // ------------------------------------------------------------------ groups

  /**
   * Group action: `g` is the group resolved for this generation (null: it no longer exists), `id`
   * its id for trace and drop reporting. Bucket choice is groups.ts pickBucket; each bucket runs on
   * a copy, except the last of a group run from the action set (nothing follows it).
   */
  private doGroup(ctx: Ctx, g: Group | null, id: number, fromSet: boolean): void {
    if (this.tr !== null && g === null) this.traceAction(`group:${id} (missing)`);
    if (g === null) { this.countOnly(ctx.inPort, DROP.GroupEmpty); return; }
    const tracing = this.tr !== null;
    if (!tracing) { g.packetCount++; g.byteCount += ctx.pkt.len; }
    const first = pickBucket(g, ctx.key.w, this.host, this.pipeline.groups, this.pipeline.generation);
    const last = first < 0 ? -1 : lastBucket(g, first);
    if (tracing) {
      const bs: number[] = [];
      for (let i = first; i >= 0 && i <= last; i++) bs.push(i);
      this.tr!.events.push({ kind: 'group', groupId: id, type: ['all', 'select', 'indirect', 'ff'][g.type], buckets: bs });
    }
    if (first < 0 || last < first) { this.countOnly(ctx.inPort, DROP.GroupEmpty); return; }
    for (let i = first; i <= last; i++) {
      const b = g.buckets[i];
      if (!tracing) { b.packetCount++; b.byteCount += ctx.pkt.len; }
      if (i === last && fromSet) { this.runOps(ctx, b.actions); continue; }
      this.runClone(ctx, b.actions);
    }
  }

  /** Run `list` on a copy of the context's packet (a group bucket), with its own key and deferred output. */
  private runClone(ctx: Ctx, list: ActionList): void {
    if (this.depth + 1 >= MAX_CTX) { this.countOnly(ctx.inPort, DROP.GroupDepth); return; }
    const q = this.pool.allocFor(ctx.pkt.len);
    if (q === null) { this.countOnly(ctx.inPort, DROP.PoolExhausted); return; }
    ctx.pkt.copyTo(q);
    if (this.tr === null) this.counters[XC.Copies]++;
    // the copy must not see the parent's deferred output or action set
    this.depth++;
    const c = this.ctxs[this.depth];
    this.resetCtx(c, q);
    c.inPort = ctx.inPort;
    c.key.w.set(ctx.key.w);
    c.tableId = ctx.tableId; c.cookie = ctx.cookie; c.reason = ctx.reason;
    this.runOps(c, list);
    this.finish(c);
    this.depth--;
  }
}

export { describeKey, NORMAL_DROP_NAMES };
export type { Action };
