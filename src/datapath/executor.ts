// Runs the OpenFlow pipeline on packets: flow-cache lookup or table classification, instructions
// (meter, apply-actions, clear/write-actions, write-metadata, goto-table), the action set, groups,
// NORMAL, and deferred outputs (the last output takes the original packet; earlier ones get copies
// made at the moment they happen). Hot path: preallocated contexts, indexed loops, no allocation.
import { K, MATCH_WORDS, VID_PRESENT, FlowKey, formatIpv4, formatMac, macJoin, PARSE_ERROR_NAMES } from '../packet/flow-key.js';
import { extractFlowKey } from '../packet/extract.js';
import type { Packet } from '../packet/packet.js';
import { NO_PACKET } from '../packet/batch.js';
import type { PacketPool } from '../packet/pool.js';
import { OFPP, GroupType } from '../flow/types.js';
import type { Action } from '../flow/types.js';
import { OP, OP_COUNT, OP_NAMES, STRIDE } from './actions.js';
import type { ActionList, Program } from './actions.js';
import type { FlowEntry } from './flow-table.js';
import { FS_PACKETS, FS_BYTES, FS_LAST_HIT_MS, TS_LOOKUP, TS_MATCHED } from './flow-table.js';
import { FlowCache, CACHE_DEPTH } from './flow-cache.js';
import type { Pipeline } from './pipeline.js';
import type { Group } from './groups.js';
import { Normal, NormalDecision, NormalDrop, NORMAL_DROP_NAMES } from './normal.js';
import type { NormalPortInfo } from './normal.js';
import { DROP, DROP_NAMES, XC, EXEC_COUNTER_NAMES } from './counters.js';
import { FlowFlags } from '../flow/types.js';
import { isTagged, outerTci, pushVlan, popVlan, setVlanVid, setVlanPcp } from '../vlan/tag.js';
import { isVlanTpid } from '../packet/vlan.js';
import { makeTci } from '../packet/vlan.js';
import { egressUntaggedVid } from '../vlan/port-mode.js';
import { formatMatch, formatActions } from '../flow/syntax.js';
import type { TraceResult } from './trace.js';
import { arrivalMs } from '../qos/limiter.js';

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
const IPPROTO_TCP = 6, IPPROTO_UDP = 17;
// Per-frame constants as module consts: TurboFan folds these, not loads from imported objects.
const XC_CACHE_HITS = 0, XC_CACHE_MISSES = 1, FF_NO_PKT_COUNTS = 8, FF_NO_BYT_COUNTS = 16;
if (XC.CacheHits !== XC_CACHE_HITS || XC.CacheMisses !== XC_CACHE_MISSES || FlowFlags.NO_PKT_COUNTS !== FF_NO_PKT_COUNTS ||
  FlowFlags.NO_BYT_COUNTS !== FF_NO_BYT_COUNTS) throw new Error('executor.ts: counter/flag constants out of step');

const W_IN_PORT = 0;
if (K.IN_PORT !== W_IN_PORT) throw new Error('executor.ts: IN_PORT word out of step');

/**
 * The output port a cache hit may take directly, or 0: every entry but the last only goes to the
 * next table (no meter, apply or write actions, clear-actions or metadata write), and the last has
 * exactly one apply action, output to a physical port other than the ingress port, no goto, no
 * meter and no write actions. Then the frame leaves unchanged on that port, as the interpreter would.
 */
function fastOutput(rec: (FlowEntry | null)[], n: number, inPort: number): number {
  if (n < 1) return 0;
  for (let i = 0; i < n; i++) {
    const p = rec[i]!.program, last = i === n - 1;
    if (p.meterId >= 0 || p.write.count !== 0 || p.clearActions || p.hasWriteMeta) return 0;
    if (!last) { if (p.apply.count !== 0 || p.gotoTable < 0) return 0; continue; }
    if (p.gotoTable >= 0 || p.apply.count !== 1 || p.apply.ops[0] !== OP.OUTPUT) return 0;
    const port = p.apply.ops[1];
    if (!(port >= 1 && port <= OFPP.MAX) || port === inPort) return 0;
    return port;
  }
  return 0;
}

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
  constructor(pkt: Packet) { this.pkt = pkt; }
}

// ---- incremental checksum (RFC 1624): HC' = ~(~HC + ~m + m')
function csumFold(s: number): number { while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return s; }
function csumUpdate16(buf: Buffer, csumOff: number, oldW: number, newW: number): void {
  const hc = (buf[csumOff] << 8) | buf[csumOff + 1];
  const s = csumFold((~hc & 0xffff) + (~oldW & 0xffff) + (newW & 0xffff));
  const r = ~s & 0xffff;
  buf[csumOff] = r >>> 8; buf[csumOff + 1] = r & 0xff;
}
function csumUpdate32(buf: Buffer, csumOff: number, oldV: number, newV: number): void {
  csumUpdate16(buf, csumOff, oldV >>> 16, newV >>> 16);
  csumUpdate16(buf, csumOff, oldV & 0xffff, newV & 0xffff);
}

export class Executor {
  readonly cache: FlowCache;
  cacheEnabled = true;
  /** true: the cache key is only the words some installed flow matches on (plus in_port); false: all words. */
  megaflow = true;
  private cacheGen = 0;
  readonly counters = new Float64Array(EXEC_COUNTER_NAMES.length);
  readonly normal: Normal;
  /** NORMAL's verdict for the current frame (the Bridge's fused standalone loop reads it after normal.decide()). */
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
  /** Standalone fast path: generation checked, and the table-0 NORMAL entry at it (or null). */
  private fastGen = 0;
  private fastEntry: FlowEntry | null = null;

  constructor(
    readonly pipeline: Pipeline,
    private readonly host: ExecHost,
    private readonly pool: PacketPool,
    normalOpts: { macTableSize: number; agingMs: number },
    cacheSize: number = 16384,
  ) {
    this.cache = new FlowCache(cacheSize);
    this.normal = new Normal(normalOpts);
    for (let i = 0; i < MAX_CTX; i++) { this.ctxs.push(new Ctx(NO_PACKET)); this.floodBuf.push(new Int32Array(1024)); }
  }

  // ------------------------------------------------------------------ entry points

  /** The key the bridge should extract received frames into (saves a copy in process()). */
  get rxKey(): FlowKey { return this.ctxs[0].key; }

  /**
   * Run one received packet whose key is already in `key` (IN_PORT, metadata 0, tunnel words set).
   * Takes ownership of `pkt`.
   */
  process(pkt: Packet, key: FlowKey, nowMs: number): void {
    this.nowMs = nowMs; this.nowRef = nowMs;
    if (this.cacheEnabled && this.cacheGen === this.pipeline.generation && this.depth === 0) {
      // Probe once here; a precompiled hit (fastOutput) leaves without a context or the interpreter,
      // and a miss or a plain hit hands the hash and slot on to runPipeline (no second probe).
      const cache = this.cache, w = key.w, h = cache.hash(w), slot = cache.find(w, h, this.cacheGen);
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

  /**
   * The flow entry every frame hits when the bridge is standalone — table 0 holds only a match-all
   * entry whose one instruction is apply-actions:output:NORMAL, no other table has flows (so a
   * megaflow cache keys on in_port alone), and the cache is off or in megaflow mode — else null.
   * Then processStandalone() may replace process() for a frame whose key holds only in_port,
   * metadata, tunnel and L2 words (extractL2Key). Rechecked per generation; cheap per frame.
   */
  standaloneEntry(): FlowEntry | null {
    const gen = this.pipeline.generation;
    if (gen !== this.fastGen) this.refreshStandalone(gen);
    const e = this.fastEntry;
    if (e === null || !this.cacheEnabled) return e;
    if (this.cacheGen !== gen) this.refreshCacheWords(gen);
    return this.megaflow && this.cache.keyWords.length === 1 ? e : null;
  }

  private refreshStandalone(gen: number): void {
    this.fastGen = gen;
    this.fastEntry = null;
    const t0 = this.pipeline.tables[0];
    const e = t0 === null ? null : t0.single();
    if (e === null) return;
    for (let i = 1; i < this.pipeline.tables.length; i++) { const t = this.pipeline.tables[i]; if (t !== null && t.count > 0) return; }
    const p = e.program;
    if (e.match.words.length !== 0 || p.meterId >= 0 || p.write.count !== 0 || p.hasWriteMeta || p.gotoTable >= 0) return;
    if (p.apply.count !== 1 || p.apply.ops[0] !== OP.OUTPUT || p.apply.ops[1] !== OFPP.NORMAL) return;
    this.fastEntry = e;
  }

  /**
   * process() for a standalone bridge (`e` from standaloneEntry(), `key` with valid L2 words): the
   * same counters (table 0, the entry, cache hits/misses and inserts), the same NORMAL decision,
   * tag edits, drops and outputs, minus the generic context, cache-key and action-interpreter work.
   * Takes ownership of `pkt`. Whole frame (rx copy .. tx) ~215 ns on Node 20, was ~415 through
   * process(); bench/pipeline.bench.ts (a).
   */
  processStandalone(pkt: Packet, key: FlowKey, e: FlowEntry, nowMs: number): void {
    this.accountStandalone(e, key, 1, pkt.len, nowMs);
    this.normalForward(pkt, key, nowMs);
  }

  /**
   * Per-batch bookkeeping of the standalone path for `count` frames (`bytes` in all) from one port
   * whose key words hold in_port: table 0 lookup/matched, the NORMAL entry's counters, and the flow
   * cache exactly as per-frame lookups would count it (the first frame of an uncached in_port is a
   * miss that inserts [e], the rest hit). One cache probe per batch instead of one per frame.
   */
  accountStandalone(e: FlowEntry, key: FlowKey, count: number, bytes: number, nowMs: number): void {
    const pl = this.pipeline, t0 = pl.tables[0]!;
    t0.counts[TS_LOOKUP] += count; t0.counts[TS_MATCHED] += count;
    const st = e.stats;
    if ((e.flags & FF_NO_PKT_COUNTS) === 0) st[FS_PACKETS] += count;
    if ((e.flags & FF_NO_BYT_COUNTS) === 0) st[FS_BYTES] += bytes;
    st[FS_LAST_HIT_MS] = nowMs;
    if (this.cacheEnabled) {
      // key words = [in_port] (standaloneEntry checked): a hit, or a miss that caches [e]
      const cache = this.cache, w = key.w, gen = pl.generation;
      const h = cache.hash(w);
      if (cache.find(w, h, gen) >= 0) this.counters[XC_CACHE_HITS] += count;
      else { this.counters[XC_CACHE_MISSES]++; this.counters[XC_CACHE_HITS] += count - 1; this.rec[0] = e; cache.insert(w, h, gen, this.rec, 1, -1); }
    }
  }

  /**
   * The NORMAL part of the standalone path for one frame (`key` with valid L2 words): decision,
   * tag edit, drops, outputs. Takes ownership of `pkt`. With the per-batch accounting above, the
   * whole frame (rx copy .. tx) costs ~120 ns per CPU-second on Node 20; was ~175 with per-frame
   * cache probes and counters; bench/pipeline.bench.ts (a).
   */
  normalForward(pkt: Packet, key: FlowKey, nowMs: number): void {
    this.normal.decide(pkt.inPort, key, nowMs, this.decision);
    this.normalApply(pkt, nowMs);
  }

  /**
   * The rest of normalForward() once `this.decision` holds normal.decide()'s verdict for `pkt`:
   * drops, tag edit, outputs (flood copies). Takes ownership of `pkt`.
   */
  normalApply(pkt: Packet, nowMs: number): void {
    this.nowMs = nowMs; this.nowRef = nowMs;
    const d = this.decision, inPort = pkt.inPort;
    const n = d.count;
    if (d.dropReason !== NormalDrop.None || n === 0) {
      const r = d.dropReason;
      this.host.countDrop(inPort, r === NormalDrop.VlanNotAllowed ? DROP.VlanNotAllowed : r === NormalDrop.TaggedOnAccess ? DROP.TaggedOnAccess : DROP.NoPorts);
      this.pool.release(pkt);
      return;
    }
    if (n === 1) {
      const port = d.ports[0];
      if (!this.applyTag(pkt, d.tagged[0], d.vid, d.pcp)) { this.host.countDrop(port, DROP.ActionFailed); this.pool.release(pkt); return; }
      this.host.txQueue(pkt, port, nowMs);
      return;
    }
    // flood: earlier outputs get copies, the last the original (as output()/finish() do)
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
    if (ctx.setAny) { ctx.setHas.fill(0); ctx.setAny = false; }
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
    const gen = pl.generation;
    const cache = this.cache;
    const cached = useCache && this.cacheEnabled && !tracing;
    if (cached) {
      if (this.cacheGen !== gen) this.refreshCacheWords(gen);
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
      if (p.meterId >= 0 && !this.meter(ctx, p.meterId)) { complete = false; break; }
      if (p.apply.count > 0) this.runOps(ctx, p.apply);
      if (ctx.dead) { complete = false; break; }
      if (p.clearActions && ctx.setAny) { ctx.setHas.fill(0); ctx.setAny = false; }
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
    const cache = this.cache, tables = this.pipeline.tables, d = cache.depth(slot), base = slot * CACHE_DEPTH;
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

  private readonly snap = new Uint32Array(MATCH_WORDS);

  /**
   * Megaflow-lite: which entry each table yields depends only on the words some entry masks (the
   * subtables hash and compare nothing else), and actions rewrite words with constants, so keying the
   * cache on the union of masked words is exact. (pop_vlan followed by goto-table exposes an inner
   * tag no key word holds: such classifications are never cached, see runPipeline.)
   */
  private refreshCacheWords(gen: number): void {
    this.cacheGen = gen;
    const used = new Uint8Array(MATCH_WORDS);
    used[K.IN_PORT] = 1;
    const full = !this.megaflow;
    for (const t of this.pipeline.tables) {
      if (t === null) continue;
      for (let w = 0; w < MATCH_WORDS; w++) if (t.wordRefs[w] > 0) used[w] = 1;
    }
    const words: number[] = [];
    for (let w = 0; w < MATCH_WORDS; w++) if (full || used[w] === 1) words.push(w);
    this.cache.setWords(Int32Array.from(words));
  }

  private meter(ctx: Ctx, id: number): boolean {
    const lim = this.pipeline.meters.get(id);
    if (this.tr !== null) {
      const peek = lim === undefined ? undefined : (lim as unknown as { peek?: (l: number, n: number) => boolean }).peek;
      const verdict = lim === undefined ? 'missing' : peek !== undefined ? (peek.call(lim, ctx.pkt.len, this.nowMs) ? 'pass' : 'drop') : 'not-evaluated';
      this.tr.events.push({ kind: 'meter', meterId: id, verdict });
      if (verdict === 'drop') { this.drop(ctx, DROP.MeterDrop); return false; }
      return true;
    }
    if (lim === undefined || lim.admit(ctx.pkt.len, arrivalMs(ctx.pkt.tsMs, this.nowRef as number))) return true;
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
      if (ctx.pendTag >= 0 && !this.applyTag(pkt, ctx.pendTag, ctx.pendVid, ctx.pendPcp)) {
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

  /** Make an output of the frame as it is now: flush any earlier deferred output as a copy, defer this one. */
  private output(ctx: Ctx, port: number, tag: number, vid: number, pcp: number, maxLen: number): void {
    if (ctx.pendPort !== PEND_NONE) this.materialize(ctx);
    ctx.pendPort = port; ctx.pendTag = tag; ctx.pendVid = vid; ctx.pendPcp = pcp; ctx.pendMaxLen = maxLen;
  }

  /** The deferred output gets a copy of the frame as it is now (before the next modification). */
  private materialize(ctx: Ctx): void {
    const port = ctx.pendPort;
    ctx.pendPort = PEND_NONE;
    const q = this.pool.alloc();
    if (q === null) { this.host.countDrop(ctx.inPort, DROP.PoolExhausted); return; }
    ctx.pkt.copyTo(q);
    if (this.tr === null) this.counters[XC.Copies]++;
    if (ctx.pendTag >= 0 && !this.applyTag(q, ctx.pendTag, ctx.pendVid, ctx.pendPcp)) {
      this.host.countDrop(port, DROP.ActionFailed);
      this.pool.release(q);
      return;
    }
    this.deliver(q, port, ctx.pendMaxLen);
  }

  /**
   * Give the frame the tag state NORMAL chose: tag=1 tagged with vid/pcp, tag=0 untagged. One read
   * of the outer TPID (was isTagged + outerTci); the push itself is pushVlan's 12-byte MAC move.
   */
  private applyTag(p: Packet, tag: number, vid: number, pcp: number): boolean {
    const b = p.buf, o = p.off;
    const tagged = p.len >= 18 && isVlanTpid((b[o + 12] << 8) | b[o + 13]);
    if (tag === 1) {
      if (tagged) {
        const tci = (b[o + 14] << 8) | b[o + 15];
        if ((tci & 0xfff) !== vid && !setVlanVid(p, vid)) return false;
        if ((tci >>> 13) !== pcp && !setVlanPcp(p, pcp)) return false;
        return true;
      }
      return pushVlan(p, 0x8100, makeTci(vid, pcp, 0));
    }
    if (tag === 0 && tagged) return popVlan(p);
    return true;
  }

  // ------------------------------------------------------------------ actions

  private runOps(ctx: Ctx, list: ActionList): void {
    const ops = list.ops, n = list.count;
    for (let i = 0; i < n && !ctx.dead; i++) {
      const o = i * STRIDE;
      this.runOne(ctx, ops, o, false);
    }
  }

  private writeSet(ctx: Ctx, list: ActionList): void {
    const ops = list.ops, n = list.count;
    for (let i = 0; i < n; i++) {
      const o = i * STRIDE, op = ops[o];
      ctx.setHas[op] = 1;
      const so = op * STRIDE;
      ctx.setArgs[so] = op; ctx.setArgs[so + 1] = ops[o + 1]; ctx.setArgs[so + 2] = ops[o + 2]; ctx.setArgs[so + 3] = ops[o + 3];
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
      if (op === OP.OUTPUT && has[OP.GROUP] === 1) continue;
      this.runOne(ctx, a, op * STRIDE, true);
    }
    has.fill(0);
    ctx.setAny = false;
  }

  /** Record an action line; callers guard with `this.tr !== null` so no string is built per frame. */
  private traceAction(text: string): void { if (this.tr !== null) this.tr.events.push({ kind: 'action', text }); }

  /**
   * One action, read from an ops array at `o` (op, a, b, c). Arguments stay in the array: passing
   * large doubles (reserved port numbers) to a non-inlined call would box a HeapNumber per frame.
   */
  private runOne(ctx: Ctx, args: Float64Array, o: number, fromSet: boolean): void {
    const op = args[o], a = args[o + 1], b = args[o + 2];
    if (this.tr !== null && op !== OP.OUTPUT && op !== OP.GROUP) this.traceAction(`${OP_NAMES[op]}${op >= OP.PUSH_VLAN && op !== OP.DEC_NW_TTL ? `:${a}` : ''}`);
    if (op === OP.OUTPUT) { this.doOutput(ctx, args, o); return; }
    if (op === OP.GROUP) { this.doGroup(ctx, a, fromSet); return; }
    if (op === OP.EXPERIMENTER) { if (this.tr === null) this.counters[XC.ExperimenterIgnored]++; return; }
    // everything below modifies the frame or its metadata: an earlier deferred output gets a copy first
    if (ctx.pendPort !== PEND_NONE) this.materialize(ctx);
    const p = ctx.pkt, w = ctx.key.w, buf = p.buf;
    switch (op) {
      case OP.POP_VLAN:
        if (popVlan(p)) { this.rekey(ctx); ctx.popped = true; }
        return;
      case OP.PUSH_VLAN: {
        // OpenFlow: the new tag copies VID/PCP from an existing outer tag, else 0
        const tci = isTagged(p) ? outerTci(p) : 0;
        if (pushVlan(p, a, tci)) this.rekey(ctx); else this.drop(ctx, DROP.ActionFailed);
        return;
      }
      case OP.SET_VLAN_VID:
        if (setVlanVid(p, a)) w[K.VLAN_VID] = VID_PRESENT | a;
        return;
      case OP.SET_VLAN_PCP:
        if (setVlanPcp(p, a)) w[K.VLAN_PCP] = a;
        return;
      case OP.SET_ETH_SRC: case OP.SET_ETH_DST: {
        const o = p.off + (op === OP.SET_ETH_SRC ? 6 : 0);
        const hi = Math.floor(a / 0x1_0000_0000), lo = a >>> 0;
        buf[o] = hi >>> 8; buf[o + 1] = hi & 0xff;
        buf[o + 2] = lo >>> 24; buf[o + 3] = (lo >>> 16) & 0xff; buf[o + 4] = (lo >>> 8) & 0xff; buf[o + 5] = lo & 0xff;
        if (op === OP.SET_ETH_SRC) { w[K.ETH_SRC_HI] = hi; w[K.ETH_SRC_LO] = lo; } else { w[K.ETH_DST_HI] = hi; w[K.ETH_DST_LO] = lo; }
        return;
      }
      case OP.SET_IPV4_SRC: case OP.SET_IPV4_DST: {
        if (w[K.ETH_TYPE] !== 0x0800 || w[K.L3_OFF] === 0) return;
        const l3 = p.off + w[K.L3_OFF], fo = l3 + (op === OP.SET_IPV4_SRC ? 12 : 16);
        const old = ((buf[fo] << 24) | (buf[fo + 1] << 16) | (buf[fo + 2] << 8) | buf[fo + 3]) >>> 0;
        const v = a >>> 0;
        buf[fo] = v >>> 24; buf[fo + 1] = (v >>> 16) & 0xff; buf[fo + 2] = (v >>> 8) & 0xff; buf[fo + 3] = v & 0xff;
        csumUpdate32(buf, l3 + 10, old, v);
        this.fixL4Pseudo(p, w, old, v);
        w[op === OP.SET_IPV4_SRC ? K.IPV4_SRC : K.IPV4_DST] = v;
        return;
      }
      case OP.SET_IP_DSCP: {
        if (w[K.L3_OFF] === 0) return;
        const l3 = p.off + w[K.L3_OFF];
        if (w[K.ETH_TYPE] === 0x0800) {
          const oldW = (buf[l3] << 8) | buf[l3 + 1];
          buf[l3 + 1] = (a << 2) | (buf[l3 + 1] & 3);
          csumUpdate16(buf, l3 + 10, oldW, (buf[l3] << 8) | buf[l3 + 1]);
        } else if (w[K.ETH_TYPE] === 0x86dd) {
          // traffic class spans bytes 0-1: version(4) tc(8) flow(4..)
          const tc = (a << 2) | (((buf[l3 + 1] >>> 4) & 3));
          buf[l3] = (buf[l3] & 0xf0) | (tc >>> 4); buf[l3 + 1] = ((tc & 0xf) << 4) | (buf[l3 + 1] & 0x0f);
        } else return;
        w[K.IP_DSCP] = a;
        return;
      }
      case OP.SET_TP_SRC: case OP.SET_TP_DST: {
        if (w[K.L4_OFF] === 0) return;
        const proto = w[K.IP_PROTO];
        if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== 132) return;
        const l4 = p.off + w[K.L4_OFF], fo = l4 + (op === OP.SET_TP_SRC ? 0 : 2);
        const old = (buf[fo] << 8) | buf[fo + 1];
        buf[fo] = a >>> 8; buf[fo + 1] = a & 0xff;
        if (proto === IPPROTO_TCP) csumUpdate16(buf, l4 + 16, old, a);
        else if (proto === IPPROTO_UDP && ((buf[l4 + 6] | buf[l4 + 7]) !== 0)) csumUpdate16(buf, l4 + 6, old, a);
        // SCTP's CRC32c is not updated (documented limitation)
        w[op === OP.SET_TP_SRC ? K.TP_SRC : K.TP_DST] = a;
        return;
      }
      case OP.DEC_NW_TTL: case OP.SET_NW_TTL: {
        if (w[K.L3_OFF] === 0) return;
        const l3 = p.off + w[K.L3_OFF];
        if (w[K.ETH_TYPE] === 0x0800) {
          const ttl = buf[l3 + 8];
          if (op === OP.DEC_NW_TTL && ttl <= 1) { this.drop(ctx, DROP.TtlExceeded); return; }
          const nt = op === OP.DEC_NW_TTL ? ttl - 1 : a;
          const oldW = (ttl << 8) | buf[l3 + 9];
          buf[l3 + 8] = nt;
          csumUpdate16(buf, l3 + 10, oldW, (nt << 8) | buf[l3 + 9]);
          w[K.IP_TTL] = nt;
        } else if (w[K.ETH_TYPE] === 0x86dd) {
          const hl = buf[l3 + 7];
          if (op === OP.DEC_NW_TTL && hl <= 1) { this.drop(ctx, DROP.TtlExceeded); return; }
          buf[l3 + 7] = op === OP.DEC_NW_TTL ? hl - 1 : a;
          w[K.IP_TTL] = buf[l3 + 7];
        }
        return;
      }
      case OP.SET_TUNNEL_ID:
        p.tunnelId = a * 0x1_0000_0000 + b;
        w[K.TUNNEL_ID_HI] = a; w[K.TUNNEL_ID_LO] = b;
        return;
      case OP.SET_TUN_IPV4_SRC: p.tunIpv4Src = a; w[K.TUN_IPV4_SRC] = a; return;
      case OP.SET_TUN_IPV4_DST: p.tunIpv4Dst = a; w[K.TUN_IPV4_DST] = a; return;
      case OP.SET_QUEUE: p.queueId = a; return;
      default: return;
    }
  }

  /** TCP/UDP checksums cover the IPv4 addresses through the pseudo-header. */
  private fixL4Pseudo(p: Packet, w: Uint32Array, old: number, v: number): void {
    if (w[K.L4_OFF] === 0) return;
    const l4 = p.off + w[K.L4_OFF], buf = p.buf, proto = w[K.IP_PROTO];
    if (proto === IPPROTO_TCP && w[K.L4_OFF] + 18 <= p.len) csumUpdate32(buf, l4 + 16, old, v);
    else if (proto === IPPROTO_UDP && w[K.L4_OFF] + 8 <= p.len && (buf[l4 + 6] | buf[l4 + 7]) !== 0) csumUpdate32(buf, l4 + 6, old, v);
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
    if (d.dropReason !== NormalDrop.None) {
      const code = d.dropReason === NormalDrop.VlanNotAllowed ? DROP.VlanNotAllowed
        : d.dropReason === NormalDrop.TaggedOnAccess ? DROP.TaggedOnAccess : DROP.NoPorts;
      this.countOnly(ctx.inPort, code);
      return;
    }
    if (d.count === 0) { this.countOnly(ctx.inPort, DROP.NoPorts); return; }
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

  private bucketLive(g: Group, i: number): boolean {
    const b = g.buckets[i];
    if (b.watchPort !== OFPP.ANY && !this.host.portLive(b.watchPort)) return false;
    if (b.watchGroup !== 0xffffffff && this.pipeline.groups.get(b.watchGroup) === undefined) return false;
    return true;
  }

  private selectBucket(ctx: Ctx, g: Group): number {
    const w = ctx.key.w;
    // L2 + 5-tuple hash, so one flow always takes one bucket
    let h = 0x9747b28c | 0;
    h = Math.imul(h ^ w[K.ETH_SRC_LO], 0x01000193); h = Math.imul(h ^ w[K.ETH_DST_LO], 0x01000193);
    h = Math.imul(h ^ w[K.IPV4_SRC] ^ w[K.IPV6_SRC_3], 0x01000193); h = Math.imul(h ^ w[K.IPV4_DST] ^ w[K.IPV6_DST_3], 0x01000193);
    h = Math.imul(h ^ ((w[K.TP_SRC] << 16) | w[K.TP_DST]), 0x01000193); h = Math.imul(h ^ w[K.IP_PROTO], 0x01000193);
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;   // murmur3 fmix32
    let total = 0;
    for (let i = 0; i < g.buckets.length; i++) if (this.bucketLive(g, i)) total += g.buckets[i].weight;
    if (total === 0) return -1;
    let r = (h >>> 0) % total;
    for (let i = 0; i < g.buckets.length; i++) {
      if (!this.bucketLive(g, i)) continue;
      const wt = g.buckets[i].weight;
      if (r < wt) return i;
      r -= wt;
    }
    return -1;
  }

  private doGroup(ctx: Ctx, id: number, fromSet: boolean): void {
    const g = this.pipeline.groups.get(id);
    if (g === undefined) { if (this.tr !== null) this.traceAction(`group:${id} (missing)`); this.countOnly(ctx.inPort, DROP.GroupEmpty); return; }
    const tracing = this.tr !== null;
    if (!tracing) { g.packetCount++; g.byteCount += ctx.pkt.len; }
    let first = 0, last = -1;
    if (g.type === GroupType.ALL) { first = 0; last = g.buckets.length - 1; }
    else if (g.type === GroupType.INDIRECT) { first = 0; last = 0; }
    else if (g.type === GroupType.SELECT) { first = this.selectBucket(ctx, g); last = first; }
    else { // FF
      first = -1;
      for (let i = 0; i < g.buckets.length; i++) if (this.bucketLive(g, i)) { first = i; break; }
      last = first;
    }
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
    const q = this.pool.alloc();
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

  /** Compile packet-out actions (cold path); returns null on invalid actions. */
  static describeProgram(p: Program): string { return `meter=${p.meterId} goto=${p.gotoTable}`; }
}

function safeFormatMatch(e: FlowEntry): string {
  try { return formatMatch(e.match.spec); } catch { return JSON.stringify(e.match.spec, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)); }
}
function safeFormatActions(e: FlowEntry): string {
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

export { NORMAL_DROP_NAMES };
export type { Action };
