// OpenFlow agent benchmarks: FLOW_MOD install rate over one TCP connection on 127.0.0.1 (10,000
// flow_mods then a barrier; cold first run and a warm second one), and the PACKET_IN round trip
// through ovs-testcontroller (frame in on a table miss -> PACKET_IN -> controller's PACKET_OUT ->
// frame out), event-driven with performance.now() stamps and split into its two halves.
// Figures only, no asserts.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bridge } from '../src/datapath/bridge.js';
import { MemoryPort } from '../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../src/agent/openflow/agent.js';
import { OfClient } from '../src/agent/openflow/client.js';
import { buildFrame } from '../src/packet/build.js';
import { OFPFC, OFPP, OFP_NO_BUFFER, OfpFramer, encodeMessage } from '../src/openflow/index.js';

interface Figure { name: string; value: number; unit: string; target?: number; targetMax?: number; note?: string }
const nowMs = (): number => performance.timeOrigin + performance.now();

async function flowModRate(n = 10_000, label = ''): Promise<Figure> {
  const bridge = new Bridge({ name: 'br-bench', datapathId: 1n });
  bridge.addPort({ ofport: 1, name: 'p1', backend: new MemoryPort('p1') });
  bridge.addPort({ ofport: 2, name: 'p2', backend: new MemoryPort('p2') });
  const agent = new OpenFlowAgent(bridge, { listen: 'ptcp:0', failMode: 'secure' });
  await agent.start();
  const c = await OfClient.connect(agent.listeningPort);
  const msgs: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    msgs.push(encodeMessage({
      type: 'flow_mod', xid: i + 1, cookie: BigInt(i), cookieMask: 0n, tableId: 0, command: OFPFC.ADD, idleTimeout: 0, hardTimeout: 0,
      priority: 100, bufferId: OFP_NO_BUFFER, outPort: OFPP.ANY, outGroup: 0xffffffff, flags: 0,
      match: [{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: BigInt(0x0a000000 + i) }],
      instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }],
    }));
  }
  const all = Buffer.concat(msgs);
  const t0 = performance.now();
  c.sendRaw(all);
  await c.request({ type: 'barrier_request', xid: 0 }, 60_000);   // sent after the flow_mods
  const dt = (performance.now() - t0) / 1000;
  const installed = bridge.dumpFlows({ tableId: 0 }).length - 1;
  const errs = c.received.filter((m) => m.type === 'error');
  if (errs.length > 0) console.error('first error', errs[0], errs.length);
  c.close();
  await agent.stop();
  return { name: `FLOW_MOD install, ${n} over one TCP connection + barrier${label}`, value: n / dt, unit: 'flows/s', target: 50_000, note: `${installed} installed, ${(dt * 1000).toFixed(0)} ms` };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const a = s.address(); const p = typeof a === 'object' && a ? a.port : 0; s.close(() => resolve(p)); }); });
}

async function packetInRoundTrip(samples = 300): Promise<Figure[]> {
  if (spawnSync('sh', ['-c', 'command -v ovs-testcontroller']).status !== 0) {
    return [{ name: 'PACKET_IN round trip via ovs-testcontroller', value: 0, unit: 'ms', note: 'skipped: ovs-testcontroller not installed' }];
  }
  const tmp = mkdtempSync(join(tmpdir(), 'sluice-ofbench-'));
  const port = await freePort();
  const ctl = spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `ptcp:${port}:127.0.0.1`, '--no-chdir', `--unixctl=${join(tmp, 'c.ctl')}`, '-vconsole:off'], { stdio: 'ignore' });
  const bridge = new Bridge({ name: 'br-bench', datapathId: 2n });
  const p1 = new MemoryPort('p1'), p2 = new MemoryPort('p2');
  bridge.addPort({ ofport: 1, name: 'p1', backend: p1 });
  bridge.addPort({ ofport: 2, name: 'p2', backend: p2 });
  const agent = new OpenFlowAgent(bridge, { controllers: [`tcp:127.0.0.1:${port}`], failMode: 'secure', reconnectMs: { min: 50, max: 200 } });
  await agent.start();
  try {
    const t0 = Date.now();
    while (!bridge.dumpFlows({ tableId: 0 }).some((f) => f.priority === 0 && f.instructions.applyActions?.some((a) => a.type === 'output' && a.port === OFPP.CONTROLLER))) {
      if (Date.now() - t0 > 10_000) throw new Error('ovs-testcontroller did not connect');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Broadcast frames from distinct sources: always a table miss (the learning switch floods
    // broadcasts with PACKET_OUT and installs no flow for them), so every sample is a round trip.
    // Event-driven, no polling: bridge.poll() runs the pipeline synchronously and writes the
    // PACKET_IN before it returns; the PACKET_OUT is executed (and the frame handed to p2) while
    // the agent handles the controller's message. So the loop sleeps in epoll between the two,
    // and each sample is split into inject -> PACKET_IN written -> frame out at p2 (performance.now).
    let tPacketIn = 0;
    let onOut: (() => void) | null = null;
    const handler = bridge.onPacketIn!;
    bridge.onPacketIn = (pkt, reason, tableId, cookie, maxLen) => { handler(pkt, reason, tableId, cookie, maxLen); tPacketIn = performance.now(); };
    const send = p2.send.bind(p2);
    p2.send = (b) => { const n = send(b); if (onOut !== null) { const f = onOut; onOut = null; f(); } return n; };
    const total: number[] = [], up: number[] = [], back: number[] = [];
    const warmup = 50;
    for (let i = 0; i < warmup + samples; i++) {
      const src = `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
      const f = buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src, payload: { kind: 'raw', etherType: 0x88b5, data: Buffer.alloc(46) } });
      p2.takeSent();
      let timer: NodeJS.Timeout | undefined;
      const out = new Promise<number>((resolve, reject) => {
        onOut = () => { clearTimeout(timer); resolve(performance.now()); };
        timer = setTimeout(() => { onOut = null; reject(new Error('no forwarded frame within 2 s')); }, 2000);
      });
      const start = performance.now();
      p1.inject(f);
      bridge.poll(nowMs());
      const tOut = await out;
      if (i < warmup) continue;
      total.push(tOut - start); up.push(tPacketIn - start); back.push(tOut - tPacketIn);
    }
    const q = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]!; };
    const note = (xs: number[]): string => `p50 ${q(xs, 0.5).toFixed(3)}, p99 ${q(xs, 0.99).toFixed(3)}, max ${q(xs, 1).toFixed(3)} ms`;
    return [
      { name: 'PACKET_IN -> ovs-testcontroller -> PACKET_OUT, p50', value: q(total, 0.5), unit: 'ms', note: `${samples} samples after ${warmup} warm-up` },
      { name: 'PACKET_IN -> ovs-testcontroller -> PACKET_OUT, p99', value: q(total, 0.99), unit: 'ms', targetMax: 2, note: `max ${q(total, 1).toFixed(3)} ms` },
      { name: '  inject -> PACKET_IN written (pipeline + encode + write)', value: q(up, 0.99), unit: 'ms p99', note: note(up) },
      { name: '  PACKET_IN written -> frame out (controller + agent)', value: q(back, 0.99), unit: 'ms p99', note: note(back) },
    ];
  } finally {
    await agent.stop();
    ctl.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The framer alone, fed in small reads as a slow or chunking peer would deliver them: 20,000 FLOW_MODs
 * in 16-byte chunks, and 64 KiB messages (the largest OpenFlow allows) in 64-byte chunks. With the
 * default per-turn budget, so the figure includes yielding with setImmediate every 256 messages.
 * Before the framer kept a chunk list it re-joined the pending bytes on every chunk: quadratic in
 * the message size over the chunk size (a 64 KiB message in 64-byte reads copied ~32 MB).
 */
async function framingRate(): Promise<Figure[]> {
  const fm = (i: number): Buffer => encodeMessage({
    type: 'flow_mod', xid: i + 1, cookie: BigInt(i), cookieMask: 0n, tableId: 0, command: OFPFC.ADD, idleTimeout: 0, hardTimeout: 0,
    priority: 100, bufferId: OFP_NO_BUFFER, outPort: OFPP.ANY, outGroup: 0xffffffff, flags: 0,
    match: [{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: BigInt(0x0a000000 + i) }],
    instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: 2, maxLen: 0 }] }],
  });
  const small = Buffer.concat(Array.from({ length: 20_000 }, (_, i) => fm(i)));
  const big = Buffer.concat(Array.from({ length: 32 }, (_, i) => encodeMessage({ type: 'echo_request', xid: i + 1, data: Buffer.alloc(0xffff - 8) })));
  const feed = async (all: Buffer, chunk: number, expect: number): Promise<number> => {
    // Pushes stop while the framer waits for its next turn, as a session pauses its socket then.
    let got = 0, off = 0;
    const f = new OfpFramer(() => { got++; });
    const t0 = performance.now();
    while (got < expect) {
      while (off < all.length && !f.waiting) { f.push(all.subarray(off, Math.min(all.length, off + chunk))); off += chunk; }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return performance.now() - t0;
  };
  await feed(small, 16, 20_000);   // warm-up
  const msSmall = await feed(small, 16, 20_000);
  const msBig = await feed(big, 64, 32);
  return [
    { name: 'OpenFlow framing, FLOW_MODs in 16-byte reads', value: 20_000 / msSmall / 1000, unit: 'M msg/s', note: `${(small.length / 1e6).toFixed(1)} MB in ${msSmall.toFixed(0)} ms, 256 messages per turn` },
    { name: 'OpenFlow framing, 64 KiB messages in 64-byte reads', value: big.length / 1e6 / (msBig / 1000), unit: 'MB/s', note: `32 messages in ${msBig.toFixed(0)} ms` },
  ];
}

export async function run(): Promise<Figure[]> {
  // The first run is the figure (a controller installing flows after it connects meets cold
  // code); the second, on a fresh bridge in the same process, shows the JIT-warm rate.
  return [await flowModRate(), await flowModRate(10_000, ' (2nd run, warm)'), ...(await packetInRoundTrip()), ...(await framingRate())];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of await run()) console.log(`${f.name.padEnd(60)} ${f.value.toFixed(f.value >= 100 ? 0 : 3).padStart(10)} ${f.unit}${f.target !== undefined ? ` (target ${f.target})` : ''}${f.note ? `  — ${f.note}` : ''}`);
}
