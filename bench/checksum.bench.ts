// Cost of completing offloaded (partial) TCP/UDP checksums at egress: completeChecksum ns/frame for
// a few frame shapes, the DataView word sum against bytes.ts's byte loop, and NORMAL forwarding of
// full-size TCP frames with and without the partial mark (Mpps per CPU-second, as pipeline.bench).
// Run: node --import tsx bench/checksum.bench.ts (or `npm run bench checksum`). Never asserts.
import { pathToFileURL } from 'node:url';
import { buildFrame } from '../src/packet/build.js';
import { sumBytes } from '../src/packet/bytes.js';
import { completeChecksum, sumWords } from '../src/packet/complete-checksum.js';
import { Bridge } from '../src/datapath/bridge.js';
import { MemoryPort } from '../src/datapath/ports/memory.js';
import { PacketPool } from '../src/packet/pool.js';
import { measure, note, type Figure } from './pipeline.bench.js';

const MAC = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01' };
const tcp = (payloadLen: number, v6 = false, vid?: number): Buffer => buildFrame({
  ...MAC, vlans: vid ? [{ vid }] : undefined,
  payload: v6
    ? { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', l4: { kind: 'tcp', sport: 40000, dport: 5201, flags: 0x10, payload: Buffer.alloc(payloadLen, 0x61) } }
    : { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'tcp', sport: 40000, dport: 5201, flags: 0x10, payload: Buffer.alloc(payloadLen, 0x61) } },
});
const udpTagged = (payloadLen: number): Buffer => buildFrame({
  ...MAC, vlans: [{ vid: 10 }], payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 5353, dport: 9999, payload: Buffer.alloc(payloadLen, 0x62) } },
});

/** Best of 5 rounds of `n` calls of fn, ns per call. */
function nsPer(n: number, fn: () => number): number {
  let sink = 0;
  for (let i = 0; i < n / 4; i++) sink += fn();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn();
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (ns < best) best = ns;
  }
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return best;
}

/** NORMAL between two ports, 1514-byte TCP frames to one learned MAC; `partial` marks them all. */
function forwarding(partial: boolean): ReturnType<typeof measure> {
  const br = new Bridge({ name: 'bench', pool: new PacketPool(1024, 2048) });
  const p1 = new MemoryPort('a', { record: false }), p2 = new MemoryPort('b', { record: false });
  br.addPort({ ofport: 1, name: 'a', backend: p1 });
  br.addPort({ ofport: 2, name: 'b', backend: p2 });
  p2.inject(buildFrame({ dst: MAC.src, src: MAC.dst, payload: { kind: 'ipv4', src: '10.0.0.2', dst: '10.0.0.1', l4: { kind: 'udp', sport: 1, dport: 1 } } }));
  while (br.poll(0) > 0) { /* learn */ }
  p1.preload([tcp(1460)], Infinity, partial);
  return measure(br, p1, p2);
}

export function run(): Figure[] {
  const figs: Figure[] = [];
  const shapes: Array<[string, Buffer]> = [
    ['tcp/ipv4 ACK, 54 B', tcp(0)],
    ['tcp/ipv4, 1514 B', tcp(1460)],
    ['tcp/ipv6, 1514 B', tcp(1440, true)],
    ['udp/ipv4 802.1Q, 1518 B', udpTagged(1472)],
  ];
  for (const [name, f] of shapes) {
    const buf = Buffer.allocUnsafeSlow(f.length + 128);     // as a pool Packet: private store, frame at headroom
    f.copy(buf, 128);
    const len = f.length;
    figs.push({ name: `completeChecksum ${name}`, value: nsPer(name.includes('54') ? 2_000_000 : 200_000, () => completeChecksum(buf, 128, len)), unit: 'ns/frame' });
  }
  const b = Buffer.allocUnsafeSlow(2048).fill(0x5a);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const words = nsPer(200_000, () => sumWords(dv, 162, 1480));
  const bytes = nsPer(200_000, () => sumBytes(b, 162, 1480));
  figs.push({ name: 'ones\'-complement sum of 1480 B: sumWords (DataView)', value: words, unit: 'ns', note: `bytes.ts sumBytes (byte loop): ${bytes.toFixed(0)} ns, ${(bytes / words).toFixed(1)}x` });
  const plain = forwarding(false), part = forwarding(true);
  figs.push({ name: 'NORMAL, 1514 B TCP, complete checksums', value: plain.mpps, unit: 'Mpps', note: note(plain, '') });
  figs.push({ name: 'NORMAL, 1514 B TCP, all partial (completed at egress)', value: part.mpps, unit: 'Mpps',
    note: note(part, `${((1000 / part.mpps) - (1000 / plain.mpps)).toFixed(0)} ns/frame more`) });
  return figs;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of run()) console.log(`${f.name.padEnd(56)} ${f.value.toFixed(2).padStart(9)} ${f.unit}${f.note ? `  ${f.note}` : ''}`);
}
