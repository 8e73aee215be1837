// Bench: TAP transmit cost per I/O mode, without a traffic generator (whose CPU share makes the
// flood figures of bench:ports noisy on a 2-vCPU machine): 20,000 batches of 64 60-byte frames
// written to a TAP that is up (the kernel drops them: unknown EtherType), frames per CPU-second
// of this process (user + kernel). Root only. `node --import tsx bench/tap-io.bench.ts [rw|rw-slots|uring]`
// (default: all three, twice, interleaved). Plain script, prints, never asserts.
import { TapPort, type TapIoMode } from '../src/datapath/ports/tap.js';
import { PacketPool } from '../src/packet/pool.js';
import { Batch } from '../src/packet/batch.js';
import { execSync } from 'node:child_process';
async function one(mode: TapIoMode): Promise<void> {
  const t = new TapPort(`sltapio${process.pid % 10000}`, { io: mode });
  await t.open();
  execSync(`ip link set ${t.name} up`);
  const pool = new PacketPool(256, 2048);
  const b = new Batch(64);
  const frame = Buffer.alloc(60); frame.fill(0xff, 0, 6); frame.writeUInt16BE(0x88b5, 12);
  const pk = [] as ReturnType<PacketPool['alloc']>[];
  for (let i = 0; i < 64; i++) { const p = pool.alloc()!; p.load(frame, 0, 60); pk.push(p); }
  function run(iters: number): number { let s = 0; for (let k = 0; k < iters; k++) { b.count = 0; for (const p of pk) b.pkts[b.count++] = p!; s += t.send(b); } return s; }
  run(2000);
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const sent = run(20000);
  const c1 = process.cpuUsage(c0); const el = performance.now() - t0;
  console.log(`${mode}: tx ${sent} frames, ${(sent / ((c1.user + c1.system) / 1e6) / 1e3).toFixed(0)} kframes per CPU-second (user ${(c1.user/1e3).toFixed(0)} ms, sys ${(c1.system/1e3).toFixed(0)} ms, wall ${el.toFixed(0)} ms), io=${t.io}`);
  await t.close();
}

const modes = (process.argv[2] ? [process.argv[2]] : ['rw-slots', 'rw', 'uring', 'rw-slots', 'rw', 'uring']) as TapIoMode[];
for (const m of modes) await one(m);
