// Pipeline throughput, in process: MemoryPorts preloaded with frame rings (no per-frame copy of the
// test data beyond the rx "DMA" into the pool packet), batches of 64, one core. Prints Mpps for
// NORMAL with VLAN tagging, a 1,000-flow two-table OpenFlow pipeline with cache hits and misses,
// and NORMAL behind an ingress policer. `node --import tsx bench/pipeline.bench.ts`; never asserts.
// Each figure is wall-clock frames/s for the whole per-frame path: pool alloc + rx copy, flow-key
// extraction (L2 only in (a)/(d), where table 0 holds only the default NORMAL entry and the bridge
// takes its standalone fast path), classification/NORMAL incl. MAC learning and table/flow/cache
// counters, VLAN push, tx batch and release. On a shared machine compare A/B runs back to back.
// Mpps is frames per second of process CPU time (user+system, process.cpuUsage: less sensitive to
// other load on a shared machine than wall time, which is printed too). Allocation: V8 heap bytes
// allocated during the measured window per frame — used-heap growth plus what every GC in the
// window freed (v8.GCProfiler), after a full GC at the start — and the number of scavenges.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pathToFileURL } from 'node:url';
import { Bridge } from '../src/datapath/bridge.js';
import { MemoryPort } from '../src/datapath/ports/memory.js';
import { PacketPool } from '../src/packet/pool.js';
import { OFPP } from '../src/flow/types.js';
import type { FlowSpec } from '../src/flow/types.js';
import type { Limiter } from '../src/qos/limiter.js';
import { buildFrame } from '../src/packet/build.js';
import { Channel } from '../src/qos/channel.js';

export interface Figure { name: string; value: number; unit: string; target?: number; note?: string }

const RUN_MS = Number(process.env.BENCH_MS ?? 700);
const mac = (n: number): string => `02:00:${((n >>> 24) & 0xff).toString(16).padStart(2, '0')}:${((n >>> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >>> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
const ip = (n: number): string => `10.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;

function udp(src: number, dst: number, o: { vid?: number; sport?: number; dport?: number; ipDst?: number } = {}): Buffer {
  return buildFrame({
    dst: mac(dst), src: mac(src), vlans: o.vid ? [{ vid: o.vid }] : undefined, padTo60: true,
    payload: { kind: 'ipv4', src: ip(src), dst: ip(o.ipDst ?? dst), l4: { kind: 'udp', sport: o.sport ?? 1000, dport: o.dport ?? 5000, payload: new Uint8Array(4) } },
  });
}

function flow(p: Partial<FlowSpec>): FlowSpec {
  return { tableId: 0, priority: 100, match: [], instructions: {}, cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0, ...p };
}

v8.setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

export interface Measured { mpps: number; wallMpps: number; txRatio: number; bytesPerFrame: number; scavenges: number }

/**
 * Poll until RUN_MS elapsed. mpps = frames received per CPU-second of the process; wallMpps the
 * same per wall second; bytesPerFrame = V8 heap bytes allocated in the window / frames.
 */
export function measure(br: Bridge, rxPort: MemoryPort, txPort: MemoryPort): Measured {
  let t0 = performance.now();
  // warm-up
  while (performance.now() - t0 < 150) br.poll(performance.now());
  fullGc();
  const rx0 = rxPort.rxCount, tx0 = txPort.txCount;
  const prof = new v8.GCProfiler();
  prof.start();
  const heap0 = v8.getHeapStatistics().used_heap_size;
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  let now = t0;
  while (now - t0 < RUN_MS) {
    for (let i = 0; i < 64; i++) br.poll(now);
    now = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const heap1 = v8.getHeapStatistics().used_heap_size;
  const gcs = prof.stop().statistics;
  let freed = 0, scavenges = 0;
  for (const g of gcs) {
    freed += g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize;
    if (g.gcType === 'Scavenge') scavenges++;
  }
  const frames = rxPort.rxCount - rx0;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    mpps: frames / (cpuMs * 1000), wallMpps: frames / ((now - t0) * 1000), txRatio: (txPort.txCount - tx0) / Math.max(1, frames),
    bytesPerFrame: Math.max(0, heap1 - heap0 + freed) / Math.max(1, frames), scavenges,
  };
}

export function note(m: Measured, what: string): string {
  return `tx/rx ${m.txRatio.toFixed(2)}; alloc ${m.bytesPerFrame.toFixed(2)} B/frame (${m.scavenges} scavenges); wall ${m.wallMpps.toFixed(2)} Mpps${what ? `; ${what}` : ''}`;
}

/** (a)/(d): access port 1 (VLAN 10) -> trunk port 2, 1,000 destination MACs learned on the trunk. */
function normalScenario(ingress: Limiter | null): Measured {
  const br = new Bridge({ name: 'bench', pool: new PacketPool(1024, 2048) });
  const p1 = new MemoryPort('access', { record: false }), p2 = new MemoryPort('trunk', { record: false });
  br.addPort({ ofport: 1, name: 'access', backend: p1, vlan: { mode: 'access', vid: 10 }, ingress });
  br.addPort({ ofport: 2, name: 'trunk', backend: p2, vlan: { mode: 'trunk' } });
  // learn 1,000 MACs on the trunk in VLAN 10
  for (let i = 0; i < 1000; i++) p2.inject(udp(0x100000 + i, 1, { vid: 10 }));
  while (br.poll(0) > 0) { /* drain */ }
  const frames: Buffer[] = [];
  for (let i = 0; i < 1000; i++) frames.push(udp(1 + (i % 8), 0x100000 + i));
  p1.preload(frames);
  return measure(br, p1, p2);
}

/** (b)/(c): table 0 in_port+eth_type -> goto 1; table 1 has 1,000 ipv4_dst/udp_dst flows -> output:2. */
function openflowScenario(kind: 'hits' | 'misses-distinct' | 'cache-off'): Measured {
  const br = new Bridge({ name: 'bench', pool: new PacketPool(1024, 2048), flowCacheSize: kind === 'cache-off' ? 0 : 16384, flowCacheMode: kind === 'misses-distinct' ? 'exact' : 'megaflow' });
  const p1 = new MemoryPort('in', { record: false }), p2 = new MemoryPort('out', { record: false });
  br.addPort({ ofport: 1, name: 'in', backend: p1 });
  br.addPort({ ofport: 2, name: 'out', backend: p2 });
  br.flowMod({ command: 'delete', tableId: 0xff, spec: flow({}) }, 0);
  br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }, { field: 'eth_type', value: 0x800n }], instructions: { gotoTable: 1 } }), 0);
  for (let i = 0; i < 1000; i++) {
    br.addFlow(flow({
      tableId: 1,
      match: [{ field: 'eth_type', value: 0x800n }, { field: 'ip_proto', value: 17n }, { field: 'ipv4_dst', value: BigInt((0x0a000000 | (0x200000 + i)) >>> 0) }, { field: 'udp_dst', value: 5000n }],
      instructions: { applyActions: [{ type: 'output', port: 2 }] },
    }), 0);
  }
  const frames: Buffer[] = [];
  if (kind === 'hits') for (let i = 0; i < 1000; i++) frames.push(udp(1, 2, { ipDst: 0x200000 + i }));
  else for (let i = 0; i < 65536; i++) frames.push(udp(1, 2, { ipDst: 0x200000 + (i % 1000), sport: i }));
  p1.preload(frames);
  return measure(br, p1, p2);
}

const ONLY = process.env.BENCH_ONLY ?? '';

export function run(): Figure[] {
  const figs: Figure[] = [];
  if (ONLY !== '') return runOnly(ONLY);
  const a = normalScenario(null);
  figs.push({ name: '(a) NORMAL, access->trunk tagging, 1,000 learned MACs', value: a.mpps, unit: 'Mpps', target: 10, note: note(a, 'rx copy..tx: L2-only parse, MAC learn+lookup, table/flow/cache counters, VLAN push') });
  const b = openflowScenario('hits');
  figs.push({ name: '(b) 2 tables, 1,000 flows, flow-cache hits', value: b.mpps, unit: 'Mpps', target: 5, note: note(b, 'rx copy..tx: full key, cache hit, 2 entries\' counters, output') });
  const c1 = openflowScenario('misses-distinct');
  figs.push({ name: '(c) same, exact-key cache, 65,536 distinct udp_src (misses)', value: c1.mpps, unit: 'Mpps', target: 0.5, note: note(c1, '') });
  const c2 = openflowScenario('cache-off');
  figs.push({ name: '(c\') same, flow cache disabled (classifier only)', value: c2.mpps, unit: 'Mpps', target: 0.5, note: note(c2, '') });
  const ch = new Channel('bench-police', { rate: '1000gbit', burst: '10mb', mode: 'police' });
  const d = normalScenario(ch);
  figs.push({ name: '(d) (a) behind an ingress policing channel', value: d.mpps, unit: 'Mpps', note: note(d, '') });
  return figs;
}

function runOnly(which: string): Figure[] {
  const r = which === 'a' ? normalScenario(null) : which === 'b' ? openflowScenario('hits') : which === 'c' ? openflowScenario('misses-distinct') : openflowScenario('cache-off');
  return [{ name: `only ${which}`, value: r.mpps, unit: 'Mpps', note: note(r, '') }];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of run()) console.log(`${f.name.padEnd(60)} ${f.value.toFixed(2).padStart(7)} ${f.unit}${f.target ? `  (target ${f.target})` : ''}${f.note ? `  ${f.note}` : ''}`);
}
