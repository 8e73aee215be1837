// The standalone NORMAL path outside the bridge's fused loop (Bridge.receiveStandalone): when it
// applies (table 0 = only the match-all output:NORMAL entry, nothing in other tables) and its
// per-batch accounting, which leaves every counter as the per-frame interpreter would have.
import { OFPP, FlowFlags } from '../flow/types.js';
import type { FlowKey } from '../packet/flow-key.js';
import { OP } from './actions.js';
import type { FlowEntry } from './flow-table.js';
import { FS_PACKETS, FS_BYTES, FS_LAST_HIT_MS, TS_LOOKUP, TS_MATCHED } from './flow-table.js';
import type { FlowCache } from './flow-cache.js';
import type { Pipeline } from './pipeline.js';
import { XC } from './counters.js';

/** The match-all `output:NORMAL` entry when it is all the pipeline holds, else null. Cold: once per generation. */
export function findStandaloneEntry(pl: Pipeline): FlowEntry | null {
  const t0 = pl.tables[0];
  const e = t0 === null ? null : t0.single();
  if (e === null) return null;
  for (let i = 1; i < pl.tables.length; i++) { const t = pl.tables[i]; if (t !== null && t.count > 0) return null; }
  const p = e.program;
  if (e.match.words.length !== 0 || p.meterId >= 0 || p.write.count !== 0 || p.hasWriteMeta || p.gotoTable >= 0) return null;
  if (p.apply.count !== 1 || p.apply.ops[0] !== OP.OUTPUT || p.apply.ops[1] !== OFPP.NORMAL) return null;
  return e;
}

const rec: (FlowEntry | null)[] = [null];

/**
 * Per-batch bookkeeping of the standalone path for `count` frames (`bytes` in all) from one port
 * whose key words hold in_port: table 0 lookup/matched, the NORMAL entry's counters, and the flow
 * cache (`cache` null when off; its key is in_port alone) exactly as per-frame lookups would count
 * it in `counters` (XC): the first frame of an uncached in_port is a miss that inserts [e], the
 * rest hit. One cache probe per batch instead of one per frame.
 */
export function accountStandalone(pl: Pipeline, cache: FlowCache | null, counters: Float64Array, e: FlowEntry, key: FlowKey, count: number, bytes: number, nowMs: number): void {
  const t0 = pl.tables[0]!;
  t0.counts[TS_LOOKUP] += count; t0.counts[TS_MATCHED] += count;
  const st = e.stats;
  if ((e.flags & FlowFlags.NO_PKT_COUNTS) === 0) st[FS_PACKETS] += count;
  if ((e.flags & FlowFlags.NO_BYT_COUNTS) === 0) st[FS_BYTES] += bytes;
  st[FS_LAST_HIT_MS] = nowMs;
  if (cache === null) return;
  const w = key.w, gen = pl.generation, h = cache.hash(w);
  if (cache.find(w, h, gen) >= 0) { counters[XC.CacheHits] += count; return; }
  counters[XC.CacheMisses]++; counters[XC.CacheHits] += count - 1;
  rec[0] = e;
  cache.insert(w, h, gen, rec, 1, -1);
  rec[0] = null;
}
