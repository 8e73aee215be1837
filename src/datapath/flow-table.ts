// One OpenFlow flow table: entries with priority + masked match, classified by tuple-space search
// (one hash subtable per distinct mask, visited in order of their highest priority), plus the
// per-table lookup/matched counters. FLOW_MOD policy lives in pipeline.ts; this is the data structure.
import type { CompiledMatch } from './match.js';
import { matchKey, matchesEqual } from './match.js';
import type { FlowSpec } from '../flow/types.js';
import { MATCH_WORDS } from '../packet/flow-key.js';
import type { Program } from './actions.js';

/** FlowEntry.stats slots. */
export const FS_PACKETS = 0, FS_BYTES = 1, FS_LAST_HIT_MS = 2;

/**
 * An installed flow. Shape fixed at construction. Counters and the last-hit time live in one
 * Float64Array (`stats`, exact to 2^53): a per-frame store of a double into a plain field boxed a
 * new HeapNumber whenever V8 kept the field tagged (~32 B/frame in bench (b)); a typed-array store
 * never allocates. packetCount/byteCount/lastHitMs stay as accessors for the cold path.
 */
export class FlowEntry {
  tableId: number;
  priority: number;
  cookie: bigint;
  flags: number;
  idleTimeoutMs: number;
  hardTimeoutMs: number;
  createdMs: number;
  /** [FS_PACKETS, FS_BYTES, FS_LAST_HIT_MS] — the executor bumps these per frame. */
  readonly stats = new Float64Array(3);
  /** Install order: among equal priorities the earliest-installed entry wins (documented tie rule). */
  seq = 0;
  hash = 0;
  /** Next entry in the same subtable hash chain (priority desc, seq asc). */
  next: FlowEntry | null = null;
  removed = false;
  /** Position in the table's unsorted entry list (-1 = not installed). */
  idx = -1;
  constructor(
    public spec: FlowSpec,
    public match: CompiledMatch,
    public program: Program,
    nowMs: number,
  ) {
    this.tableId = spec.tableId;
    this.priority = spec.priority;
    this.cookie = spec.cookie;
    this.flags = spec.flags;
    this.idleTimeoutMs = spec.idleTimeoutS * 1000;
    this.hardTimeoutMs = spec.hardTimeoutS * 1000;
    this.createdMs = nowMs;
    this.stats[FS_LAST_HIT_MS] = nowMs;
  }
  get packetCount(): number { return this.stats[FS_PACKETS]; }
  set packetCount(v: number) { this.stats[FS_PACKETS] = v; }
  get byteCount(): number { return this.stats[FS_BYTES]; }
  set byteCount(v: number) { this.stats[FS_BYTES] = v; }
  get lastHitMs(): number { return this.stats[FS_LAST_HIT_MS]; }
  set lastHitMs(v: number) { this.stats[FS_LAST_HIT_MS] = v; }
}

/** True if `a` wins over `b` (higher priority, then earlier install). */
function beats(a: FlowEntry, b: FlowEntry): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/** Hash of a key's masked words (`masks` aligned with `words`). Hot path. */
function hashMasked(key: Uint32Array, words: Int32Array, masks: Int32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < words.length; i++) {
    h = Math.imul(h ^ (key[words[i]] & masks[i]), 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}

/** The same hash over a compiled match's values (already masked): equal to hashMasked of any key it matches. */
function hashValues(m: CompiledMatch): number {
  const vm = m.vm, n = m.words.length;
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ vm[2 * i], 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}

class Subtable {
  readonly buckets = new Map<number, FlowEntry>();
  /** Entries per priority: maxPriority is recomputed from these keys, not from a scan of the entries. */
  readonly prioCount = new Map<number, number>();
  maxPriority = -1;
  count = 0;
  /** Mask of each word in `words` (shared by every entry of the subtable). */
  readonly masks: Int32Array;
  constructor(readonly signature: string, readonly words: Int32Array, vm: Int32Array) {
    this.masks = new Int32Array(words.length);
    for (let i = 0; i < words.length; i++) this.masks[i] = vm[2 * i + 1];
  }
}

/** Table counters slots (FlowTable.counts). */
export const TS_LOOKUP = 0, TS_MATCHED = 1;

export class FlowTable {
  /** Installed entries in no particular order (swap-remove: O(1)); `entries` is the sorted view. */
  private readonly list: FlowEntry[] = [];
  /** `list` sorted priority desc then install order, rebuilt on first read after a change (cold path). */
  private sorted: FlowEntry[] | null = [];
  /** Subtables by maxPriority desc (kept in order by moving one subtable per change, not a sort). */
  private readonly subtables: Subtable[] = [];
  private readonly bySig = new Map<string, Subtable>();
  /** [TS_LOOKUP, TS_MATCHED]: a typed array so per-frame increments never box. */
  readonly counts = new Float64Array(2);
  /** Entries whose mask uses each key word (the flow cache's megaflow word set is their union). */
  readonly wordRefs = new Int32Array(MATCH_WORDS);
  private static nextSeq = 1;

  constructor(readonly tableId: number) {}

  get count(): number { return this.list.length; }
  get lookupCount(): number { return this.counts[TS_LOOKUP]; }
  set lookupCount(v: number) { this.counts[TS_LOOKUP] = v; }
  get matchedCount(): number { return this.counts[TS_MATCHED]; }
  set matchedCount(v: number) { this.counts[TS_MATCHED] = v; }

  /**
   * All entries, priority desc then install order (dump order and the documented tie rule). A
   * snapshot: later inserts/removes build a new array, so callers may remove while iterating it.
   * Cold path: sorting 10,000 entries takes ~3 ms, once per change burst, never per flow-mod.
   */
  get entries(): FlowEntry[] {
    if (this.sorted === null) this.sorted = this.list.slice().sort((a, b) => (beats(a, b) ? -1 : beats(b, a) ? 1 : 0));
    return this.sorted;
  }

  /** Entries in no particular order (no sort): for whole-table scans whose result does not depend on order. */
  unordered(): readonly FlowEntry[] { return this.list; }

  /** The only entry when the table holds exactly one, else null (no sort). */
  single(): FlowEntry | null { return this.list.length === 1 ? this.list[0] : null; }

  /** Highest-priority matching entry, or null (table miss). Hot path: no allocation. */
  lookup(key: Uint32Array): FlowEntry | null {
    let best: FlowEntry | null = null;
    const sts = this.subtables;
    for (let i = 0; i < sts.length; i++) {
      const st = sts[i];
      if (best !== null && st.maxPriority < best.priority) break;
      let e: FlowEntry | null | undefined = st.buckets.get(hashMasked(key, st.words, st.masks));
      while (e !== undefined && e !== null) {
        if (matchKey(e.match, key)) {
          if (best === null || beats(e, best)) best = e;
          break;
        }
        e = e.next;
      }
    }
    return best;
  }

  /** The entry with this exact match and priority, or null. */
  findStrict(match: CompiledMatch, priority: number): FlowEntry | null {
    // Equal matches share a mask signature and a masked hash: walk one bucket, not the table
    // (a scan here made 10,000 flow-mods quadratic: seconds instead of milliseconds).
    const st = this.bySig.get(match.signature);
    if (st === undefined) return null;
    for (let e = st.buckets.get(hashValues(match)) ?? null; e !== null; e = e.next) {
      if (!e.removed && e.priority === priority && matchesEqual(e.match, match)) return e;
    }
    return null;
  }

  /** O(1) apart from the hash chain of equal masked values and one subtable move (was a splice into a sorted array plus a subtable sort). */
  insert(e: FlowEntry): void {
    e.seq = FlowTable.nextSeq++;
    e.removed = false;
    e.idx = this.list.length;
    this.list.push(e);
    this.sorted = null;
    // subtable
    let st = this.bySig.get(e.match.signature);
    if (st === undefined) {
      st = new Subtable(e.match.signature, e.match.words, e.match.vm);
      this.bySig.set(st.signature, st);
      this.subtables.push(st);
    }
    e.hash = hashValues(e.match);
    const head = st.buckets.get(e.hash);
    if (head === undefined || beats(e, head)) {
      e.next = head ?? null;
      st.buckets.set(e.hash, e);
    } else {
      let p = head;
      while (p.next !== null && beats(p.next, e)) p = p.next;
      e.next = p.next;
      p.next = e;
    }
    st.count++;
    st.prioCount.set(e.priority, (st.prioCount.get(e.priority) ?? 0) + 1);
    if (e.priority > st.maxPriority) st.maxPriority = e.priority;
    this.account(e, 1);
    this.reposition(st);
  }

  remove(e: FlowEntry): void {
    if (e.removed) return;
    e.removed = true;
    const list = this.list, i = e.idx;
    if (i >= 0 && i < list.length && list[i] === e) {
      const last = list.pop()!;
      if (last !== e) { list[i] = last; last.idx = i; }
    }
    e.idx = -1;
    this.sorted = null;
    const st = this.bySig.get(e.match.signature);
    if (st === undefined) return;
    const head = st.buckets.get(e.hash);
    if (head === e) {
      if (e.next === null) st.buckets.delete(e.hash); else st.buckets.set(e.hash, e.next);
    } else if (head !== undefined) {
      let p = head;
      while (p.next !== null && p.next !== e) p = p.next;
      if (p.next === e) p.next = e.next;
    }
    e.next = null;
    this.account(e, -1);
    st.count--;
    const pc = (st.prioCount.get(e.priority) ?? 1) - 1;
    if (pc > 0) st.prioCount.set(e.priority, pc); else st.prioCount.delete(e.priority);
    if (st.count === 0) {
      this.bySig.delete(st.signature);
      const k = this.subtables.indexOf(st);   // O(subtables), not O(entries)
      if (k >= 0) this.subtables.splice(k, 1);
    } else if (pc === 0 && e.priority === st.maxPriority) {
      let max = -1;
      for (const p of st.prioCount.keys()) if (p > max) max = p;
      st.maxPriority = max;
      this.reposition(st);
    }
  }

  /** Keep wordRefs in step with the entries (also called when a modify swaps programs). */
  account(e: FlowEntry, d: number): void {
    const words = e.match.words;
    for (let i = 0; i < words.length; i++) this.wordRefs[words[i]] += d;
  }

  /** Move one subtable to its place in maxPriority-desc order (the others are already in order). */
  private reposition(st: Subtable): void {
    const a = this.subtables;
    let i = a.indexOf(st);
    while (i > 0 && a[i - 1].maxPriority < st.maxPriority) { a[i] = a[i - 1]; i--; }
    while (i < a.length - 1 && a[i + 1].maxPriority > st.maxPriority) { a[i] = a[i + 1]; i++; }
    a[i] = st;
  }
}
