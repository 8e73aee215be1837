// Exact-match flow cache in front of the OpenFlow tables (OVS EMC-like). Key = the flow-key words in
// `words` (all MATCH_WORDS, or as a megaflow-lite only those some installed flow masks), value = the
// flow entries matched in each table visited (per-flow counters and meters still apply on hits) and
// the table that missed, if any. Bounded open addressing in typed arrays; a slot is valid only while
// its generation equals the pipeline's (bumped on any change, which also recomputes `words`).
import { MATCH_WORDS } from '../packet/flow-key.js';
import type { FlowEntry } from './flow-table.js';

/** Tables one cached classification may visit (goto chains longer than this are not cached). */
export const CACHE_DEPTH = 8;
/** Slots probed from the home slot. */
const PROBES = 4;

/**
 * Int32 row per slot: generation, hash, depth, miss table, fast output port, then the key words
 * (one cache line for short keys). FAST > 0: the classification is "goto ... then output:FAST" with
 * no other action, meter or action set, so a hit needs only the counters and one tx (executor).
 */
const GEN = 0, HASH = 1, DEPTH = 2, MISS = 3, FAST = 4, KEY = 5;
const ROW = KEY + MATCH_WORDS;

export class FlowCache {
  readonly capacity: number;
  private readonly slotMask: number;
  private readonly rows: Int32Array;
  readonly entries: (FlowEntry | null)[];
  private victim = 0;
  /** Key words compared and hashed (ascending). */
  private words: Int32Array = Int32Array.from({ length: MATCH_WORDS }, (_, i) => i);

  /** `capacity` is rounded up to a power of two (default 16384 slots: ~3 MB of rows + 1 MB of entry refs). */
  constructor(capacity: number = 16384) {
    let c = 16;
    while (c < capacity) c *= 2;
    this.capacity = c;
    this.slotMask = c - 1;
    this.rows = new Int32Array(c * ROW);
    this.entries = new Array<FlowEntry | null>(c * CACHE_DEPTH).fill(null);
  }

  /** Hash of the key words (FNV-1a style multiply-xor per word, then a final mix). */
  hash(key: Uint32Array): number {
    const words = this.words;
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ key[words[i]], 0x01000193);
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13;
    return h;
  }

  /** Slot holding this key at generation `gen` (a uint32 stored as int32), or -1. */
  find(key: Uint32Array, h: number, gen: number): number {
    const rows = this.rows, words = this.words, nw = words.length, g = gen | 0;
    for (let i = 0; i < PROBES; i++) {
      const s = (h + i) & this.slotMask;
      const r = s * ROW;
      if (rows[r + GEN] !== g || rows[r + HASH] !== h) continue;
      let j = 0;
      while (j < nw && rows[r + KEY + j] === (key[words[j]] | 0)) j++;
      if (j === nw) return s;
    }
    return -1;
  }

  /** Entries recorded for a slot, and the table that missed (-1 = none). */
  depth(slot: number): number { return this.rows[slot * ROW + DEPTH]; }
  missTable(slot: number): number { return this.rows[slot * ROW + MISS]; }
  /** The single physical output port of a precompiled classification, or 0 (run the programs). */
  fastPort(slot: number): number { return this.rows[slot * ROW + FAST]; }

  /** Store a classification; replaces a stale slot, else one of the probed slots in turn. */
  insert(key: Uint32Array, h: number, gen: number, rec: (FlowEntry | null)[], n: number, missTable: number, fastPort: number = 0): void {
    if (n > CACHE_DEPTH) return;
    const rows = this.rows, g = gen | 0;
    let s = -1;
    for (let i = 0; i < PROBES; i++) {
      const t = (h + i) & this.slotMask;
      if (rows[t * ROW + GEN] !== g) { s = t; break; }
    }
    if (s < 0) { s = (h + this.victim) & this.slotMask; this.victim = (this.victim + 1) % PROBES; }
    const r = s * ROW, words = this.words;
    rows[r + GEN] = g; rows[r + HASH] = h; rows[r + DEPTH] = n; rows[r + MISS] = missTable; rows[r + FAST] = fastPort;
    for (let j = 0; j < words.length; j++) rows[r + KEY + j] = key[words[j]];
    const eb = s * CACHE_DEPTH;
    for (let i = 0; i < CACHE_DEPTH; i++) this.entries[eb + i] = i < n ? rec[i] : null;
  }

  /** Set the key words (call only together with a generation change: old slots become invalid). */
  setWords(words: Int32Array): void { this.words = words; }
  get keyWords(): Int32Array { return this.words; }

  /** Drop everything (also done implicitly by a generation bump). */
  clear(): void { for (let s = 0; s < this.capacity; s++) this.rows[s * ROW + GEN] = 0; this.entries.fill(null); }

  /** Slots valid at `gen` (cold path, for stats). */
  size(gen: number): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (this.rows[s * ROW + GEN] === (gen | 0)) n++;
    return n;
  }
}
