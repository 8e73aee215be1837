// What the flow cache keys on and what a hit may skip: the cache itself (flow-cache.ts) is a plain
// exact-match table; this file decides its key words per pipeline generation (megaflow-lite or
// every word), which classifications may be stored as "output:<port>", and when a bridge is
// standalone (table 0 = the NORMAL entry only) so the bridge may take its fused NORMAL loop.
import { K, MATCH_WORDS } from '../packet/flow-key.js';
import { OFPP } from '../flow/types.js';
import { OP } from './actions.js';
import type { FlowEntry } from './flow-table.js';
import { FlowCache } from './flow-cache.js';
import type { Pipeline } from './pipeline.js';
import { findStandaloneEntry } from './standalone.js';

export class CachePolicy {
  readonly cache: FlowCache;
  /** false: no probes, no inserts (flowCacheSize 0, or a replay with the cache off). */
  enabled = true;
  /** true: the cache key is only the words some installed flow matches on (plus in_port); false: all words. */
  megaflow = true;
  /** Generation the key words were computed for (0: never). */
  gen = 0;
  private standaloneGen = 0;
  private standalone: FlowEntry | null = null;

  constructor(private readonly pipeline: Pipeline, size: number) { this.cache = new FlowCache(size); }

  /** Bring the key words up to the pipeline's generation; returns that generation. */
  sync(): number {
    const gen = this.pipeline.generation;
    if (gen !== this.gen) this.refreshWords(gen);
    return gen;
  }

  /**
   * Megaflow-lite: which entry each table yields depends only on the words some entry masks (the
   * subtables hash and compare nothing else), and actions rewrite words with constants, so keying the
   * cache on the union of masked words is exact. (pop_vlan followed by goto-table exposes an inner
   * tag no key word holds: such classifications are never cached, see Executor.runPipeline.)
   */
  private refreshWords(gen: number): void {
    this.gen = gen;
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

  /**
   * The flow entry every frame hits when the bridge is standalone — table 0 holds only a match-all
   * entry whose one instruction is apply-actions:output:NORMAL, no other table has flows (so a
   * megaflow cache keys on in_port alone), and the cache is off or in megaflow mode — else null.
   * Then the bridge may run NORMAL on L2 words only (extractL2Key) and account per batch.
   * Rechecked per generation; cheap per frame.
   */
  standaloneEntry(): FlowEntry | null {
    const gen = this.pipeline.generation;
    if (gen !== this.standaloneGen) { this.standaloneGen = gen; this.standalone = findStandaloneEntry(this.pipeline); }
    const e = this.standalone;
    if (e === null || !this.enabled) return e;
    this.sync();
    return this.megaflow && this.cache.keyWords.length === 1 ? e : null;
  }
}

/**
 * The output port a cache hit may take directly, or 0: every entry but the last only goes to the
 * next table (no meter, apply or write actions, clear-actions or metadata write), and the last has
 * exactly one apply action, output to a physical port other than the ingress port, no goto, no
 * meter and no write actions. Then the frame leaves unchanged on that port, as the interpreter would.
 */
export function fastOutput(rec: (FlowEntry | null)[], n: number, inPort: number): number {
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
