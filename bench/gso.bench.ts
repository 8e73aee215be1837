// Cost of software GSO (src/packet/gso.ts): cutting a 64 KiB TCP super-frame into MSS-sized wire
// frames from the pool (µs per super-frame and the Gbit/s of payload one core cuts), and
// wireBytes, which channels and meters call per super-frame. Run: node --import tsx
// bench/gso.bench.ts (or `npm run bench gso`). Never asserts.
import { pathToFileURL } from 'node:url';
import { buildFrame } from '../src/packet/build.js';
import { GsoSegmenter, wireBytes } from '../src/packet/gso.js';
import { GSO, LARGE_PACKET_SIZE, Packet } from '../src/packet/packet.js';
import { PacketPool } from '../src/packet/pool.js';
import type { Figure } from './pipeline.bench.js';

const MSS = 1448;

function superFrame(payload: number, v6: boolean): Packet {
  const l4 = { kind: 'tcp' as const, sport: 40000, dport: 5201, flags: 0x18, seq: 1, payload: Buffer.alloc(payload, 0x61) };
  const f = buildFrame({ dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01',
    payload: v6 ? { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', l4 } : { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4 } });
  const p = new Packet(LARGE_PACKET_SIZE);
  p.load(f, 0, f.length);
  p.gsoType = v6 ? GSO.TcpV6 : GSO.TcpV4; p.gsoSize = MSS; p.csumPartial = true;
  return p;
}

/** Best of 5 rounds of `n` cuts of `src` into pool packets: ns per super-frame. */
function cutNs(src: Packet, n: number): number {
  const pool = new PacketPool(64, 2048), seg = new GsoSegmenter();
  let best = Infinity;
  for (let r = 0; r < 6; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const k = seg.begin(src);
      for (let j = 0; j < k; j++) { const q = pool.alloc()!; seg.next(q); pool.release(q); }
    }
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (r > 0 && ns < best) best = ns;   // round 0 warms up
  }
  return best;
}

export function run(): Figure[] {
  const figs: Figure[] = [];
  for (const v6 of [false, true]) {
    const p = superFrame(64_000, v6);
    const ns = cutNs(p, 2000);
    figs.push({ name: `cut a 64,000-byte TCP/IPv${v6 ? 6 : 4} super-frame (45 segments)`, value: ns / 1000, unit: 'µs' });
    figs.push({ name: `  payload one core cuts (IPv${v6 ? 6 : 4})`, value: (64_000 * 8) / ns, unit: 'Gbit/s' });
  }
  const p = superFrame(64_000, false);
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1_000_000; i++) sink += wireBytes(p);
  const ns = Number(process.hrtime.bigint() - t0) / 1_000_000;
  if (sink === 0) throw new Error('unreachable');
  figs.push({ name: 'wireBytes of a super-frame (channels, meters)', value: ns, unit: 'ns' });
  return figs;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of run()) console.log(`${f.name.padEnd(60)} ${f.value.toFixed(2)} ${f.unit}`);
}
