// Bench: VXLAN encapsulation and decapsulation in process, the JS work of VxlanPort's send and recv
// without the syscalls: the port opens on a fake native binding (tunnelSend returns at once,
// udpRecv hands back datagrams already laid into the pool's buffers), batches of 64, 64-byte and
// 1,400-byte inner frames, one core. Prints Mpps each way against the issue's target; never asserts.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pathToFileURL } from 'node:url';
import { VxlanPort } from '../src/datapath/ports/vxlan.js';
import type { NativeBinding } from '../src/datapath/native/index.js';
import { Batch, MAX_BURST } from '../src/packet/batch.js';
import { HEADROOM } from '../src/packet/packet.js';
import type { Packet } from '../src/packet/packet.js';
import { PacketPool } from '../src/packet/pool.js';
import { buildFrame } from '../src/packet/build.js';
import { rd48 } from '../src/packet/bytes.js';
import { VXLAN_HEADER_LEN } from '../src/packet/vxlan.js';
import { parseTunnelAddr } from '../src/vlan/vxlan-encap.js';

export interface Figure { name: string; value: number; unit: string; target?: number; note?: string }

const RUN_MS = Number(process.env.BENCH_MS ?? 700);
const VNI = 5001;
const LOCAL = '10.202.0.1';
const REMOTES = ['10.202.0.2', '10.202.0.3', '10.202.0.4', '10.202.0.5'];
const TARGET_MPPS = 3;
/** "64-byte" as ports-gen.c sends them: 60 bytes of frame, 64 on the wire with the FCS. */
const SMALL = 60;
const LARGE = 1400;

const mac = (n: number): string => `02:00:${((n >>> 24) & 0xff).toString(16).padStart(2, '0')}:${((n >>> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >>> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;

/** An IPv4/UDP frame of exactly `len` bytes from VM `src` to VM `dst`, UDP ports varied by `i`. */
function frame(src: number, dst: number, len: number, i: number): Buffer {
  const payload = new Uint8Array(len - 14 - 20 - 8);
  const f = buildFrame({
    dst: mac(dst), src: mac(src),
    payload: { kind: 'ipv4', src: `10.51.${(src >>> 8) & 0xff}.${src & 0xff}`, dst: `10.51.${(dst >>> 8) & 0xff}.${dst & 0xff}`, l4: { kind: 'udp', sport: 1024 + (i % 4096), dport: 5201, payload } },
  });
  if (f.length !== len) throw new Error(`frame is ${f.length} bytes, wanted ${len}`);
  return f;
}

/**
 * The native binding minus the kernel: sockets are fake fds, tunnelSend "sends" every message,
 * udpRecv fills `count` slots with what recvmmsg would report (length, sender, receive age) for
 * datagrams whose bytes the bench laid into every pool buffer beforehand (the kernel's copy).
 */
function fakeBinding(recvLen: number, sender: string): NativeBinding {
  const from = parseTunnelAddr(sender).w0 | 0;
  class Poller { start(): void { /* no fd */ } stop(): void { /* no fd */ } close(): void { /* no fd */ } }
  const fake = {
    udpOpen: () => ({ fd: 1_000_001, family: 4 }),
    rawOpen: () => 1_000_002,
    closeFd: () => undefined,
    Poller,
    tunnelSend: (_fd: number, _h: Buffer, _hl: Int32Array, _b: Buffer[], _o: Int32Array, _l: Int32Array, count: number, res: Int32Array): number => {
      res[0] = 0; res[1] = 1; res[2] = 0; res[3] = 0;
      return count;
    },
    udpRecv: (_fd: number, _b: Buffer[], _o: Int32Array, _c: Int32Array, lens: Int32Array, count: number, res: Int32Array, addrs: Int32Array, ages: Float64Array): number => {
      for (let i = 0; i < count; i++) {
        lens[i] = recvLen;
        const a = i * 6;
        addrs[a] = 4; addrs[a + 1] = from; addrs[a + 2] = 0; addrs[a + 3] = 0; addrs[a + 4] = 0; addrs[a + 5] = 49152 + i;
        ages[i] = 0.02;
      }
      res[0] = 0; res[1] = 1;
      return count;
    },
  };
  return fake as unknown as NativeBinding;
}

v8.setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

interface Measured { mpps: number; wallMpps: number; bytesPerFrame: number; scavenges: number; frames: number }

/** Run `step` (returns frames handled) for RUN_MS after a warm-up: Mpps per CPU-second and per wall second, heap bytes allocated per frame. */
function measure(step: () => number): Measured {
  let t0 = performance.now();
  while (performance.now() - t0 < 150) step();
  fullGc();
  const prof = new v8.GCProfiler();
  prof.start();
  const heap0 = v8.getHeapStatistics().used_heap_size;
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  let now = t0, frames = 0;
  while (now - t0 < RUN_MS) {
    for (let i = 0; i < 64; i++) frames += step();
    now = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const heap1 = v8.getHeapStatistics().used_heap_size;
  let freed = 0, scavenges = 0;
  for (const g of prof.stop().statistics) {
    freed += g.beforeGC.heapStatistics.usedHeapSize - g.afterGC.heapStatistics.usedHeapSize;
    if (g.gcType === 'Scavenge') scavenges++;
  }
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return { mpps: frames / (cpuMs * 1000), wallMpps: frames / ((now - t0) * 1000), bytesPerFrame: Math.max(0, heap1 - heap0 + freed) / Math.max(1, frames), scavenges, frames };
}

function note(m: Measured, what: string): string {
  return `wall ${m.wallMpps.toFixed(2)} Mpps; alloc ${m.bytesPerFrame.toFixed(2)} B/frame (${m.scavenges} scavenges); ${what}`;
}

/**
 * Encapsulation: 16 batches of 64 frames (1,024 frames to 1,000 inner MACs) sent in turn. `learned`:
 * every destination MAC was learned behind one of 4 VTEPs (one datagram per frame); otherwise the
 * destinations are unknown and each frame is replicated to all 4 VTEPs (head-end replication).
 */
async function encap(len: number, learned: boolean): Promise<{ m: Measured; drops: number }> {
  const port = new VxlanPort('vx', { local: LOCAL, remote: REMOTES, vni: VNI, underlayMtu: 1500 });
  await port.open(fakeBinding(0, REMOTES[0]!));
  const pool = new PacketPool(1024 + 64);
  const batches: Batch[] = [];
  const nowMs = performance.timeOrigin + performance.now();
  for (let b = 0; b < 16; b++) {
    const batch = new Batch(MAX_BURST);
    for (let i = 0; i < MAX_BURST; i++) {
      const k = b * MAX_BURST + i, dst = 0x10000 + (k % 1000);
      const p = pool.alloc()!;
      const f = frame(1 + (k % 8), dst, len, k);
      p.load(f, 0, f.length);
      if (learned) port.vteps.learn(VNI, rd48(p.buf, p.off), k % REMOTES.length, nowMs);
      batch.pkts[batch.count++] = p;
    }
    batches.push(batch);
  }
  let next = 0;
  const m = measure(() => {
    const batch = batches[next]!;
    next = (next + 1) & 15;
    return port.send(batch);
  });
  const out = { m, drops: port.counters.txDrops };
  await port.close();
  return out;
}

/**
 * Decapsulation: datagrams (VXLAN header + inner frame, from 64 source VMs behind one VTEP) sit in
 * every pool buffer where the port receives them; each step receives a batch of 64 and gives the
 * packets back to the pool, as the bridge does once it has forwarded them.
 */
async function decap(len: number): Promise<{ m: Measured; drops: number; forwarded: number }> {
  const port = new VxlanPort('vx', { local: LOCAL, remote: REMOTES, vni: VNI, underlayMtu: 1500 });
  await port.open(fakeBinding(VXLAN_HEADER_LEN + len, REMOTES[0]!));
  const pool = new PacketPool(512);
  const all: Packet[] = [];
  for (let p = pool.alloc(); p !== null; p = pool.alloc()) all.push(p);
  for (const [i, p] of all.entries()) {
    const at = HEADROOM - VXLAN_HEADER_LEN, b = p.buf;
    b[at] = 0x08; b[at + 1] = 0; b[at + 2] = 0; b[at + 3] = 0;
    b[at + 4] = (VNI >>> 16) & 0xff; b[at + 5] = (VNI >>> 8) & 0xff; b[at + 6] = VNI & 0xff; b[at + 7] = 0;
    frame(0x20000 + (i % 64), 1 + (i % 8), len, i).copy(b, HEADROOM);
  }
  for (const p of all) pool.release(p);
  const batch = new Batch(MAX_BURST);
  const pkts = batch.pkts;
  const m = measure(() => {
    batch.count = 0;
    const n = port.recv(batch, pool);
    for (let i = 0; i < n; i++) pool.release(pkts[i]!);
    return n;
  });
  const out = { m, drops: port.counters.rxDrops, forwarded: port.counters.rxFrames };
  await port.close();
  return out;
}

export async function run(): Promise<Figure[]> {
  const figs: Figure[] = [];
  const sizeName = (len: number): string => (len === SMALL ? '64-byte' : '1,400-byte');
  for (const len of [SMALL, LARGE]) {
    const e = await encap(len, true);
    figs.push({
      name: `encap (VxlanPort.send), ${sizeName(len)} inner frames`, value: e.m.mpps, unit: 'Mpps', target: len === SMALL ? TARGET_MPPS : undefined,
      note: note(e.m, `1,000 inner MACs learned behind 4 VTEPs: VTEP lookup, source-port hash, outer IPv4+UDP+VXLAN written; fake tunnelSend${e.drops ? `; ${e.drops} tx drops!` : ''}`),
    });
  }
  const f = await encap(SMALL, false);
  figs.push({
    name: 'encap, 64-byte frames to unknown MACs, flooded to 4 VTEPs', value: f.m.mpps, unit: 'Mpps',
    note: note(f.m, `frames in; ${(f.m.mpps * REMOTES.length).toFixed(2)} M datagrams/s out (head-end replication)${f.drops ? `; ${f.drops} tx drops!` : ''}`),
  });
  for (const len of [SMALL, LARGE]) {
    const d = await decap(len);
    figs.push({
      name: `decap (VxlanPort.recv), ${sizeName(len)} inner frames`, value: d.m.mpps, unit: 'Mpps', target: len === SMALL ? TARGET_MPPS : undefined,
      note: note(d.m, `pool alloc, VNI check, sender interned, source MAC learned behind its VTEP, tunnel metadata set; fake udpRecv; harness releases each batch${d.drops ? `; ${d.drops} rx drops!` : ''}`),
    });
  }
  return figs;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of await run()) console.log(`${f.name.padEnd(60)} ${f.value.toFixed(2).padStart(7)} ${f.unit}${f.target ? `  (target ${f.target}: ${f.value >= f.target ? 'met' : 'MISSED'})` : ''}${f.note ? `  ${f.note}` : ''}`);
}
