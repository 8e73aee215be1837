// One OpenFlow flow table: entries with priority + masked match, classified by tuple-space search
// (one hash subtable per distinct mask, visited in order of their highest priority), plus the
// per-table lookup/matched counters. FLOW_MOD policy lives in pipeline.ts; this is the data structure.
import type { CompiledMatch } from './match.js';
import { matchKey, matchesEqual } from './match.js';
import type { FlowSpec } from './flow-types.js';
import { MATCH_WORDS } from '../packet/flow-key.js';
import type { Program } from './actions.js';

/** An installed flow. Shape fixed at construction; counters are plain numbers (exact to 2^53). */
export class FlowEntry {
  tableId: number;
  priority: number;
  cookie: bigint;
  flags: number;
  idleTimeoutMs: number;
  hardTimeoutMs: number;
  createdMs: number;
  lastHitMs: number;
  packetCount = 0;
  byteCount = 0;
  /** Install order: among equal priorities the earliest-installed entry wins (documented tie rule). */
  seq = 0;
  hash = 0;
  /** Next entry in the same subtable hash chain (priority desc, seq asc). */
  next: FlowEntry | null = null;
  removed = false;
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
    this.lastHitMs = nowMs;
  }
}

/** True if `a` wins over `b` (higher priority, then earlier install). */
function beats(a: FlowEntry, b: FlowEntry): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/** Hash of the masked words (same function for an entry's values and a key & mask). */
function hashMasked(key: Uint32Array | Int32Array, mask: Int32Array, words: Int32Array): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    h = Math.imul(h ^ (key[w] & mask[w]), 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}

class Subtable {
  readonly buckets = new Map<number, FlowEntry>();
  maxPriority = -1;
  count = 0;
  constructor(readonly signature: string, readonly mask: Int32Array, readonly words: Int32Array) {}
}

export class FlowTable {
  /** All entries, priority desc then install order (dump order and the documented tie rule). */
  readonly entries: FlowEntry[] = [];
  private subtables: Subtable[] = [];
  private readonly bySig = new Map<string, Subtable>();
  lookupCount = 0;
  matchedCount = 0;
  /** Entries whose mask uses each key word (the flow cache's megaflow word set is their union). */
  readonly wordRefs = new Int32Array(MATCH_WORDS);
  private static nextSeq = 1;

  constructor(readonly tableId: number) {}

  get count(): number { return this.entries.length; }

  /** Highest-priority matching entry, or null (table miss). Hot path: no allocation. */
  lookup(key: Uint32Array): FlowEntry | null {
    let best: FlowEntry | null = null;
    const sts = this.subtables;
    for (let i = 0; i < sts.length; i++) {
      const st = sts[i];
      if (best !== null && st.maxPriority < best.priority) break;
      let e: FlowEntry | null | undefined = st.buckets.get(hashMasked(key, st.mask, st.words));
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
    for (let e = st.buckets.get(hashMasked(match.value, st.mask, st.words)) ?? null; e !== null; e = e.next) {
      if (!e.removed && e.priority === priority && matchesEqual(e.match, match)) return e;
    }
    return null;
  }

  insert(e: FlowEntry): void {
    e.seq = FlowTable.nextSeq++;
    e.removed = false;
    // sorted list
    let i = this.entries.length;
    while (i > 0 && beats(e, this.entries[i - 1])) i--;
    this.entries.splice(i, 0, e);
    // subtable
    let st = this.bySig.get(e.match.signature);
    if (st === undefined) {
      st = new Subtable(e.match.signature, e.match.mask, e.match.words);
      this.bySig.set(st.signature, st);
      this.subtables.push(st);
    }
    e.hash = hashMasked(e.match.value, st.mask, st.words);
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
    if (e.priority > st.maxPriority) st.maxPriority = e.priority;
    this.account(e, 1);
    this.sortSubtables();
  }

  remove(e: FlowEntry): void {
    if (e.removed) return;
    e.removed = true;
    const idx = this.entries.indexOf(e);
    if (idx >= 0) this.entries.splice(idx, 1);
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
    if (st.count === 0) {
      this.bySig.delete(st.signature);
      this.subtables = this.subtables.filter((s) => s !== st);
    } else {
      let max = -1;
      for (const x of this.entries) if (x.match.signature === st.signature && x.priority > max) max = x.priority;
      st.maxPriority = max;
      this.sortSubtables();
    }
  }

  /** Keep wordRefs in step with the entries (also called when a modify swaps programs). */
  account(e: FlowEntry, d: number): void {
    const words = e.match.words;
    for (let i = 0; i < words.length; i++) this.wordRefs[words[i]] += d;
  }

  private sortSubtables(): void { this.subtables.sort((a, b) => b.maxPriority - a.maxPriority); }
}
