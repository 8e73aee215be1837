// `npm run bench`: runs every in-process benchmark and prints its figures, with the issue's
// targets beside them. Figures only: nothing here asserts on time (STYLE 4.11).
import { cpus } from 'node:os';

interface Figure { name: string; value: number; unit: string; target?: number; targetMax?: number; note?: string }
type BenchModule = { run: () => Promise<Figure[]> | Figure[] };

const suites: Array<[string, () => Promise<BenchModule>]> = [
  ['flow-key extraction', () => import('./extract.bench.js') as Promise<BenchModule>],
  ['NORMAL decision', () => import('./normal.bench.js') as Promise<BenchModule>],
  ['pipeline', () => import('./pipeline.bench.js') as Promise<BenchModule>],
  ['checksum completion', () => import('./checksum.bench.js') as Promise<BenchModule>],
  ['software GSO', () => import('./gso.bench.js') as Promise<BenchModule>],
  ['OpenFlow agent', () => import('./openflow.bench.js') as Promise<BenchModule>],
  ['controller', () => import('./controller.bench.js') as Promise<BenchModule>],
  ['channel groups', () => import('./channel-group.bench.js') as Promise<BenchModule>],
  ['controller failover (etcd)', () => import('./ha.bench.js') as Promise<BenchModule>],
  ['control plane vs busy datapath (worker vs inline)', () => import('./control-plane.bench.js') as Promise<BenchModule>],
  ['VXLAN encap/decap (in process, no syscalls)', () => import('./vxlan.bench.js') as Promise<BenchModule>],
  ['VXLAN VM to VM across two hosts (needs root)', () => import('./vxlan-hosts.bench.js') as Promise<BenchModule>],
];

const only = process.argv.slice(2);
console.log(`sluice bench — node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, one core per run`);
for (const [title, load] of suites) {
  if (only.length > 0 && !only.some((o) => title.includes(o))) continue;
  // the title first: a bench may print its own progress and tables under it while it runs
  console.log(`\n## ${title}`);
  const mod = await load();
  const figures = await mod.run();
  for (const f of figures) {
    const verdict = (ok: boolean): string => (Number.isFinite(f.value) ? (ok ? 'met' : 'MISSED') : 'not measured');
    const target = f.target !== undefined ? `  (target >= ${f.target} ${f.unit}: ${verdict(f.value >= f.target)})`
      : f.targetMax !== undefined ? `  (target < ${f.targetMax} ${f.unit}: ${verdict(f.value < f.targetMax)})` : '';
    console.log(`  ${f.name.padEnd(58)} ${formatValue(f.value).padStart(10)} ${f.unit}${target}${f.note ? `  — ${f.note}` : ''}`);
  }
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
