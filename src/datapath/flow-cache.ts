// Exact-match flow cache in front of the OpenFlow tables (OVS EMC-like): key = the flow-key words
// 0..MATCH_WORDS-1, value = the flow entries matched in each table visited (so per-flow counters and
// meters still apply on hits) and the table that missed, if any. Bounded open addressing in typed
// arrays; an entry is valid only while its generation equals the pipeline's (bumped on any change).
import { MATCH_WORDS } from '../packet/flow-key.js';
import type { FlowEntry } from './flow-table.js';

/** Tables one cached classification may visit (goto chains longer than this are not cached). */
export const CACHE_DEPTH = 8;
/** Slots probed from the home slot. */
const PROBES = 4;

export class FlowCache {
  readonly capacity: number;
  private readonly slotMask: number;
  private readonly keys: Uint32Array;
  private readonly gens: Uint32Array;
  private readonly hashes: Int32Array;
  readonly entries: (FlowEntry | null)[];
  readonly depth: Uint8Array;
  readonly missTable: Int16Array;
  hits = 0;
  misses = 0;
  private victim = 0;

  /** `capacity` is rounded up to a power of two (default 16384 slots, ~3.4 MB). */
  constructor(capacity: number = 16384) {
    let c = 16;
    while (c < capacity) c *= 2;
    this.capacity = c;
    this.slotMask = c - 1;
    this.keys = new Uint32Array(c * MATCH_WORDS);
    this.gens = new Uint32Array(c);
    this.hashes = new Int32Array(c);
    this.entries = new Array<FlowEntry | null>(c * CACHE_DEPTH).fill(null);
    this.depth = new Uint8Array(c);
    this.missTable = new Int16Array(c).fill(-1);
  }

  /** Hash of the key words (FNV-1a style multiply-xor per word, then a final mix). */
  hash(key: Uint32Array): number {
    let h = 0x811c9dc5 | 0;
    for (let w = 0; w < MATCH_WORDS; w++) h = Math.imul(h ^ key[w], 0x01000193);
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13;
    return h;
  }

  /** Slot holding this key at generation `gen`, or -1. */
  find(key: Uint32Array, h: number, gen: number): number {
    const keys = this.keys;
    for (let i = 0; i < PROBES; i++) {
      const s = (h + i) & this.slotMask;
      if (this.gens[s] !== gen || this.hashes[s] !== h) continue;
      const base = s * MATCH_WORDS;
      let w = 0;
      while (w < MATCH_WORDS && keys[base + w] === key[w]) w++;
      if (w === MATCH_WORDS) return s;
    }
    return -1;
  }

  /** Store a classification; replaces a stale slot, else one of the probed slots in turn. */
  insert(key: Uint32Array, h: number, gen: number, rec: (FlowEntry | null)[], n: number, missTable: number): void {
    if (n > CACHE_DEPTH) return;
    let s = -1;
    for (let i = 0; i < PROBES; i++) {
      const t = (h + i) & this.slotMask;
      if (this.gens[t] !== gen) { s = t; break; }
    }
    if (s < 0) { s = (h + this.victim) & this.slotMask; this.victim = (this.victim + 1) % PROBES; }
    this.gens[s] = gen;
    this.hashes[s] = h;
    const kb = s * MATCH_WORDS;
    for (let w = 0; w < MATCH_WORDS; w++) this.keys[kb + w] = key[w];
    const eb = s * CACHE_DEPTH;
    for (let i = 0; i < CACHE_DEPTH; i++) this.entries[eb + i] = i < n ? rec[i] : null;
    this.depth[s] = n;
    this.missTable[s] = missTable;
  }

  /** Drop everything (also done implicitly by a generation bump). */
  clear(): void { this.gens.fill(0); this.entries.fill(null); }

  /** Slots valid at `gen` (cold path, for stats). */
  size(gen: number): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (this.gens[s] === gen) n++;
    return n;
  }
}
