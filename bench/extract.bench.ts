// Benchmark of extractFlowKey (the per-frame parse): prints ns/frame for a few frame shapes.
// Run: node --import tsx bench/extract.bench.ts. No assertions; run() returns the figures.
import { pathToFileURL } from 'node:url';
import { buildFrame } from '../src/packet/build.js';
import { extractFlowKey } from '../src/packet/extract.js';
import { FlowKey } from '../src/packet/flow-key.js';

/** Shape read by bench/run.ts (name, value, unit, target: higher is better) plus the raw figures. */
export interface ExtractFigure { name: string; value: number; unit: string; target?: number; note?: string; nsPerFrame: number; frames: number }

function fixtures(): Array<{ name: string; frame: Buffer }> {
  const mac = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01' };
  const udp = { kind: 'udp' as const, sport: 1234, dport: 53, payload: Buffer.alloc(18) };
  return [
    { name: 'udp/ipv4', frame: buildFrame({ ...mac, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: udp } }) },
    { name: 'udp/ipv4 vlan', frame: buildFrame({ ...mac, vlans: [{ vid: 100 }], payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: udp } }) },
    { name: 'tcp/ipv6', frame: buildFrame({ ...mac, payload: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', l4: { kind: 'tcp', sport: 1, dport: 80 } } }) },
    { name: 'arp', frame: buildFrame({ ...mac, payload: { kind: 'arp', op: 1, sha: mac.src, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' }, padTo60: true }) },
  ];
}

/** Measure each fixture: `frames` extractions after a warm-up; best of 5 rounds. */
export function run(frames = 2_000_000): ExtractFigure[] {
  const key = new FlowKey();
  const out: ExtractFigure[] = [];
  for (const { name, frame } of fixtures()) {
    // Put the frame in a private buffer at an offset, as the datapath's Packet does.
    const buf = Buffer.allocUnsafeSlow(frame.length + 128);
    frame.copy(buf, 128);
    const len = frame.length;
    let sink = 0;
    for (let i = 0; i < 200_000; i++) sink += extractFlowKey(buf, 128, len, key);
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < frames; i++) sink += extractFlowKey(buf, 128, len, key);
      const ns = Number(process.hrtime.bigint() - t0) / frames;
      if (ns < best) best = ns;
    }
    if (sink !== 0) throw new Error(`bench fixture ${name} did not parse cleanly`);
    out.push({ name: `extractFlowKey ${name}`, value: best, unit: 'ns/frame', nsPerFrame: best, frames });
    if (name === 'udp/ipv4') {
      // The design target (well under 100 ns) as a rate, so the runner's ">= target" reads right.
      out.push({ name: 'extractFlowKey udp/ipv4 rate', value: 1000 / best, unit: 'Mframes/s', target: 10, note: '10 Mframes/s = 100 ns/frame', nsPerFrame: best, frames });
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of run()) console.log(`${f.name.padEnd(32)} ${f.value.toFixed(1).padStart(7)} ${f.unit}`);
}
