// Channel groups in process (issue 11 §1): three members of a 300 Mbit/s group (mins 50/50/50,
// weights 1/1/2) all offering more than their share, frames of 64 and 1500 bytes, on a synthetic
// clock advancing 1 µs a frame. Police: admit() per frame; shape: enqueue() per frame and a drain
// of every member per 64 frames. Figures are frames decided per second of CPU (Mpps), one core.
import { setChannelGroup } from '../src/qos/channel-group.js';
import { ChannelRegistry } from '../src/qos/channel.js';
import { Batch } from '../src/packet/batch.js';
import { PacketPool } from '../src/packet/pool.js';

interface Figure { name: string; value: number; unit: string; target?: number; note?: string }

const N = 2_000_000;

function group(mode: 'police' | 'shape') {
  return setChannelGroup(new ChannelRegistry(), 'uplink', {
    rate: '300mbit', mode, queue: 4096,
    members: { a: { min: '50mbit', weight: 1 }, b: { min: '50mbit', weight: 1 }, c: { min: '50mbit', weight: 2 } },
  }, 0);
}

function police(len: number): number {
  const g = group('police');
  const m = g.members;
  let t = 0, passed = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    t += 0.001;
    if (m[i % 3]!.admit(len, t)) passed++;
  }
  const ms = performance.now() - t0;
  if (passed === 0) throw new Error('nothing passed');
  return N / ms / 1000;
}

function shape(len: number): number {
  const g = group('shape');
  const m = g.members;
  const pool = new PacketPool(16_384, 2048);
  const out = new Batch(64);
  let t = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    t += 0.001;
    const p = pool.alloc();
    if (p !== null) { p.len = len; if (!m[i % 3]!.enqueue(p, t)) pool.release(p); }
    if ((i & 63) === 63) {
      for (const x of m) { out.count = 0; x.drain(t, out); for (let j = 0; j < out.count; j++) pool.release(out.pkts[j]!); }
    }
  }
  const ms = performance.now() - t0;
  for (const x of m) for (const p of x.flush()) pool.release(p);
  return N / ms / 1000;
}

export function run(): Figure[] {
  police(64); shape(64);                       // warm-up: let V8 optimise both paths
  return [
    { name: 'channel group police, 3 members, 64 B frames', value: police(64), unit: 'Mpps', note: 'admit() per frame, re-split every 10 ms of frame clock' },
    { name: 'channel group police, 3 members, 1500 B frames', value: police(1500), unit: 'Mpps' },
    { name: 'channel group shape, 3 members, 64 B frames', value: shape(64), unit: 'Mpps', note: 'enqueue() per frame, drain of each member per 64' },
    { name: 'channel group shape, 3 members, 1500 B frames', value: shape(1500), unit: 'Mpps' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) for (const f of run()) console.log(f);
