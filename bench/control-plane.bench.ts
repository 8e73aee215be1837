// Control plane against a busy datapath: a real `sluice switch` child (system ports on two veth
// pairs in the root namespace, OpenFlow listener on 127.0.0.1), run once with the datapath in a
// worker thread (SLUICE_DATAPATH_THREADS=1) and once inline (=0), figures side by side:
//   - OpenFlow echo round trip and GET /stats on the management socket, while bench/ports-gen.c
//     floods 64-byte frames at its maximum rate through the switch (on 2 vCPUs the generator and
//     the datapath then hold both), and again at a paced 100 kpps;
//   - the longest gap between forwarded frames of a steady 100 kpps stream (kernel receive
//     timestamps, bench/control-plane-gap.c) while 10,000 FLOW_MODs + a barrier arrive at once;
//   - PACKET_IN -> this process as controller -> PACKET_OUT -> frame out, with the 100 kpps stream
//     running (and dropped by a flow, so the probe's receiver sees only probes).
// Needs root, ip, gcc. Figures only, no asserts; run under `flock /tmp/sluice-bench.lock`.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OfClient } from '../src/agent/openflow/client.js';
import { MgmtClient } from '../src/agent/mgmt-client.js';
import { SystemPort } from '../src/datapath/ports/system.js';
import { Batch } from '../src/packet/batch.js';
import { PacketPool } from '../src/packet/pool.js';
import { buildFrame } from '../src/packet/build.js';
import { OFPFC, OFPP, OFP_NO_BUFFER, encodeMessage } from '../src/openflow/index.js';
import type { OfpMessage } from '../src/openflow/messages.js';

interface Figure { name: string; value: number; unit: string; target?: number; targetMax?: number; note?: string }
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const q = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN; };
const SECS = Number(process.env.CP_BENCH_SECS ?? 4);
const PROBE_TYPE = 0x88b6;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}
async function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const a = s.address(); const p = typeof a === 'object' && a ? a.port : 0; s.close(() => resolve(p)); }); });
}
function proc(bin: string, args: string[]): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, done: new Promise((r) => child.on('exit', () => r(out.trim()))) };
}

// The floor: a bare OpenFlow echo responder in a process of its own (HELLO and ECHO only, no switch
// behind it), probed in the same loop as the switch. On 2 vCPUs held by the flood generator and the
// datapath, its round trip is what scheduling alone costs any control plane on this machine.
const ECHO_FLOOR = `const net = require('node:net');
net.createServer((s) => { s.setNoDelay(true); let acc = Buffer.alloc(0);
  s.on('data', (d) => { acc = acc.length ? Buffer.concat([acc, d]) : d;
    while (acc.length >= 8) { const len = acc.readUInt16BE(2); if (acc.length < len) break;
      const m = Buffer.from(acc.subarray(0, len)); acc = acc.subarray(len);
      if (m[1] === 2) { m[1] = 3; s.write(m); } else if (m[1] === 0) { m.writeUInt16BE(8, 2); s.write(m.subarray(0, 8)); } } });
}).listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('up\\n'));`;

const V = { ga: 'cpb-ga', sa: 'cpb-sa', gb: 'cpb-gb', sb: 'cpb-sb' };
function links(up: boolean): void {
  spawnSync('ip', ['link', 'del', V.ga]); spawnSync('ip', ['link', 'del', V.gb]);
  if (!up) return;
  for (const [g, s] of [[V.ga, V.sa], [V.gb, V.sb]]) {
    sh('ip', ['link', 'add', g, 'type', 'veth', 'peer', 'name', s]);
    for (const d of [g, s]) {
      spawnSync('sysctl', ['-qw', `net.ipv6.conf.${d}.disable_ipv6=1`]);
      sh('ip', ['link', 'set', d, 'up']);
    }
  }
}

function flowMod(xid: number, priority: number, match: Array<{ field: string; value: bigint }>, actions: unknown[]): Buffer {
  return encodeMessage({
    type: 'flow_mod', xid, cookie: BigInt(xid), cookieMask: 0n, tableId: 0, command: OFPFC.ADD, idleTimeout: 0, hardTimeout: 0,
    priority, bufferId: OFP_NO_BUFFER, outPort: OFPP.ANY, outGroup: 0xffffffff, flags: 0,
    match, instructions: actions.length ? [{ type: 'apply_actions', actions }] : [],
  } as OfpMessage);
}

interface Result { floorEchoP99: number; floorPacedEchoP99: number; pacedEchoP99: number; pacedMgmtP99: number; echoP99: number; echoMax: number; mgmtP99: number; mgmtMax: number; fwdKpps: number; gapUs: number; inGapUs: number; burstMs: number; gapFrames: number; pinP50: number; pinP99: number; pinN: number; loopMaxUs?: number; drainMaxUs?: number }

async function scenario(threads: number, bins: { gen: string; gap: string }, dir: string): Promise<Result> {
  links(true);
  const ofPort = await freePort();
  const cfg = join(dir, `sw${threads}.yaml`), sock = join(dir, `sw${threads}.sock`);
  writeFileSync(cfg, `bridges:\n  cpb:\n    listen: "ptcp:${ofPort}"\n    ports:\n      a: { ofport: 1, type: system, device: ${V.sa} }\n      b: { ofport: 2, type: system, device: ${V.sb} }\n`);
  // CP_BENCH_TRACE_GC=FILE: the switch runs with --trace-gc (every isolate: the worker's lines carry its own address), its stdout to FILE.threads.
  const traceGc = process.env.CP_BENCH_TRACE_GC;
  const sw = spawn(process.execPath, [...(traceGc ? ['--trace-gc'] : []), '--import', 'tsx', 'src/cli/main.ts', 'switch', '-c', cfg, '--socket', sock], {
    cwd: ROOT, stdio: ['ignore', traceGc ? openSync(`${traceGc}.${threads}`, 'w') : 'ignore', 'pipe'], env: { ...process.env, SLUICE_DATAPATH_THREADS: String(threads), SLUICE_LOG_LEVEL: 'warn', SLUICE_DEVICES_DIR: join(dir, `claims${threads}`) },
  });
  let stderr = '';
  sw.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const probeA = new SystemPort(V.ga), probeB = new SystemPort(V.gb);
  let c: OfClient | null = null;
  try {
    const t0 = Date.now();
    while (!existsSync(sock)) { if (Date.now() - t0 > 20_000 || sw.exitCode !== null) throw new Error(`switch did not start: ${stderr}`); await sleep(50); }
    c = await OfClient.connect(ofPort);
    const mgmt = new MgmtClient(sock);
    const txB = async (): Promise<number> => (await mgmt.request<{ ports: Array<{ name: string; txPackets: number }> }>('GET', '/ports')).ports.find((p) => p.name === 'b')!.txPackets;

    // 1. Echo and management API while the generator floods at its maximum rate (0), then at 100 kpps.
    const client0 = c;
    const floorPort = await freePort();
    const floorSrv = spawn(process.execPath, ['-e', ECHO_FLOOR, String(floorPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => floorSrv.stdout!.once('data', r));
    const floor = await OfClient.connect(floorPort);
    const probes = async (rate: number): Promise<{ echo: number[]; floor: number[]; api: number[]; kpps: number }> => {
      const flood = proc(bins.gen, [V.ga, '020000000002', '020000000001', String(rate), String(SECS + 1)]);
      await sleep(700);
      const echo: number[] = [], api: number[] = [], floorEcho: number[] = [];
      const tx0 = await txB(), tf0 = performance.now();
      const until = performance.now() + SECS * 1000 - 500;
      while (performance.now() < until) {
        let t = performance.now();
        if (!(await client0.ping(2000))) echo.push(2000); else echo.push(performance.now() - t);
        t = performance.now();
        if (!(await floor.ping(2000))) floorEcho.push(2000); else floorEcho.push(performance.now() - t);
        t = performance.now();
        await mgmt.request('GET', '/stats');
        api.push(performance.now() - t);
        await sleep(5);
      }
      const kpps = (await txB() - tx0) / (performance.now() - tf0);
      await flood.done;
      return { echo, floor: floorEcho, api, kpps };
    };
    const { echo, floor: floorEcho, api, kpps: fwdKpps } = await probes(0);
    const paced = await probes(100_000);
    floor.close(); floorSrv.kill('SIGTERM');

    // 2. 10,000 FLOW_MODs at once against a steady 100 kpps stream.
    const gapSecs = 4;
    const gap = proc(bins.gap, [V.gb, String(gapSecs)]);
    // The offered stream's own gaps (the generator is descheduled too on a busy machine): the noise floor.
    const gapIn = proc(bins.gap, [V.sa, String(gapSecs)]);
    await mgmt.request('GET', '/stats');   // resets the worker's loop-delay maximum
    await sleep(100);
    const steady = proc(bins.gen, [V.ga, '020000000002', '020000000001', '100000', String(gapSecs - 0.3)]);
    await sleep(1500);
    const msgs: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) msgs.push(flowMod(i + 1, 100, [{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: BigInt(0x0a000000 + i) }], [{ type: 'output', port: 2, maxLen: 0 }]));
    const tb = performance.now();
    c.sendRaw(Buffer.concat(msgs));
    await c.request({ type: 'barrier_request', xid: 0 }, 60_000);
    const burstMs = performance.now() - tb;
    await steady.done;
    const [gapFrames, gapUs] = (await gap.done).split(/\s+/).map(Number);
    const [, inGapUs] = (await gapIn.done).split(/\s+/).map(Number);
    const exec = (await mgmt.request<{ exec: Record<string, number> }>('GET', '/stats')).exec;

    // 3. PACKET_IN -> controller (this process) -> PACKET_OUT -> frame out, with the stream running (dropped by a flow).
    c.sendRaw(Buffer.concat([
      flowMod(20_001, 300, [{ field: 'eth_type', value: BigInt(PROBE_TYPE) }], [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 0xffff }]),
      flowMod(20_002, 300, [{ field: 'eth_type', value: 0x88b5n }], []),
    ]));
    await c.request({ type: 'barrier_request', xid: 0 }, 10_000);
    c.received.length = 0;
    await probeA.open(); await probeB.open();
    const pool = new PacketPool(256), tx = new Batch(1), rx = new Batch(64);
    let outAt = 0, onOut: (() => void) | null = null;
    probeB.onReadable = () => {
      rx.count = 0;
      const n = probeB.recv(rx, pool);
      for (let i = 0; i < n; i++) {
        const p = rx.pkts[i]!;
        if (((p.buf[p.off + 12]! << 8) | p.buf[p.off + 13]!) === PROBE_TYPE && onOut !== null) { outAt = performance.now(); const f = onOut; onOut = null; f(); }
        pool.release(p);
      }
    };
    const client = c;
    const ctl = (m: OfpMessage): void => {
      if (m.type !== 'packet_in') return;
      client.send({ type: 'packet_out', xid: 0, bufferId: OFP_NO_BUFFER, inPort: 1, actions: [{ type: 'output', port: 2, maxLen: 0 }], data: m.data } as OfpMessage);
    };
    // CP_BENCH_PIN_KPPS: the background stream's rate in kpps during this probe (default 100; 0 = idle switch).
    const pinKpps = Number(process.env.CP_BENCH_PIN_KPPS ?? 100);
    const stream = proc(bins.gen, [V.ga, '020000000002', '020000000001', String(pinKpps * 1000 || 1), String(SECS + 2)]);
    await sleep(300);
    const rtt: number[] = [];
    for (let i = 0; i < 250; i++) {
      const frame = buildFrame({ dst: '02:00:00:00:00:02', src: `02:00:00:00:01:${(i & 0xff).toString(16).padStart(2, '0')}`, payload: { kind: 'raw', etherType: PROBE_TYPE, data: Buffer.alloc(46) } });
      const got = new Promise<boolean>((resolve) => { const timer = setTimeout(() => { onOut = null; resolve(false); }, 1000); onOut = () => { clearTimeout(timer); resolve(true); }; });
      const pin = client.waitFor((m) => m.type === 'packet_in', 1000).then(ctl, () => undefined);
      const p = pool.alloc()!;
      p.load(frame, 0, frame.length);
      tx.count = 0; tx.pkts[0] = p; tx.count = 1;
      const t = performance.now();
      probeA.send(tx);
      pool.release(p);
      const ok = await got;
      await pin;
      if (i >= 50) rtt.push(ok ? outAt - t : 1000);
      await sleep(2);
    }
    stream.child.kill('SIGTERM');
    await stream.done;
    return {
      floorEchoP99: q(floorEcho, 0.99), floorPacedEchoP99: q(paced.floor, 0.99), pacedEchoP99: q(paced.echo, 0.99), pacedMgmtP99: q(paced.api, 0.99),
      echoP99: q(echo, 0.99), echoMax: q(echo, 1), mgmtP99: q(api, 0.99), mgmtMax: q(api, 1), fwdKpps,
      gapUs: gapUs ?? NaN, inGapUs: inGapUs ?? NaN, gapFrames: gapFrames ?? 0, burstMs, loopMaxUs: exec['loop-delay-max-us'], drainMaxUs: exec['drain-max-us'], pinP50: q(rtt, 0.5), pinP99: q(rtt, 0.99), pinN: rtt.length,
    };
  } finally {
    c?.close();
    await probeA.close().catch(() => undefined); await probeB.close().catch(() => undefined);
    sw.kill('SIGTERM');
    await new Promise((r) => { if (sw.exitCode !== null) r(null); else sw.on('exit', r); });
    links(false);
  }
}

export async function run(): Promise<Figure[]> {
  const skip = (why: string): Figure[] => [{ name: 'control plane against a busy datapath', value: 0, unit: '', note: `skipped: ${why}` }];
  if (process.getuid?.() !== 0) return skip('needs root (veth, AF_PACKET)');
  if (spawnSync('sh', ['-c', 'command -v ip && command -v gcc']).status !== 0) return skip('needs ip and gcc');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cpbench-'));
  try {
    const bins = { gen: join(dir, 'gen'), gap: join(dir, 'gap') };
    sh('gcc', ['-O2', '-o', bins.gen, join(ROOT, 'bench/ports-gen.c')]);
    sh('gcc', ['-O2', '-o', bins.gap, join(ROOT, 'bench/control-plane-gap.c')]);
    const w = await scenario(1, bins, dir);
    const i = await scenario(0, bins, dir);
    const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '?');
    const side = (a: number, b: number, unit: string): string => `inline (threads=0): ${f2(b)} ${unit}; worker: ${f2(a)} ${unit}`;
    return [
      { name: 'flood forwarded during the echo/API probes (worker)', value: w.fwdKpps, unit: 'kpps', note: `inline: ${f2(i.fwdKpps)} kpps; ports-gen at max rate, 64 B` },
      { name: 'OpenFlow echo p99 while flooding (worker)', value: w.echoP99, unit: 'ms', targetMax: 2, note: `${side(w.echoP99, i.echoP99, 'ms')}; max worker ${f2(w.echoMax)}, inline ${f2(i.echoMax)}; floor (a bare echo responder process, same loop): ${f2(w.floorEchoP99)} / ${f2(i.floorEchoP99)} ms` },
      { name: 'mgmt API GET /stats p99 while flooding (worker)', value: w.mgmtP99, unit: 'ms', targetMax: 5, note: `${side(w.mgmtP99, i.mgmtP99, 'ms')}; max worker ${f2(w.mgmtMax)}, inline ${f2(i.mgmtMax)}` },
      { name: 'OpenFlow echo p99 at a paced 100 kpps (worker)', value: w.pacedEchoP99, unit: 'ms', targetMax: 2, note: `${side(w.pacedEchoP99, i.pacedEchoP99, 'ms')}; floor (bare echo responder): ${f2(w.floorPacedEchoP99)} / ${f2(i.floorPacedEchoP99)} ms` },
      { name: 'mgmt API GET /stats p99 at a paced 100 kpps (worker)', value: w.pacedMgmtP99, unit: 'ms', targetMax: 5, note: side(w.pacedMgmtP99, i.pacedMgmtP99, 'ms') },
      { name: 'longest forwarding gap, 10k FLOW_MOD burst @100 kpps (worker)', value: w.gapUs / 1000, unit: 'ms', targetMax: 1, note: `inline: ${f2(i.gapUs / 1000)} ms; offered stream's own longest gap ${f2(w.inGapUs / 1000)} / ${f2(i.inGapUs / 1000)} ms; burst+barrier ${w.burstMs.toFixed(0)} ms (inline ${i.burstMs.toFixed(0)} ms); ${w.gapFrames} / ${i.gapFrames} frames received` },
      { name: '  worker loop delay max during the burst', value: (w.loopMaxUs ?? NaN) / 1000, unit: 'ms', note: `longest drain chunk ${f2((w.drainMaxUs ?? NaN) / 1000)} ms (budget 0.5 ms); includes the runner's own moderation sleeps (<= 2 ms per pass)` },
      { name: 'PACKET_IN -> controller -> forwarded p99 (worker)', value: w.pinP99, unit: 'ms', targetMax: 2, note: `${side(w.pinP99, i.pinP99, 'ms')}; p50 worker ${f2(w.pinP50)}, inline ${f2(i.pinP50)}; ${w.pinN} samples, ${process.env.CP_BENCH_PIN_KPPS ?? 100} kpps stream running` },
    ];
  } finally {
    links(false);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await run()) console.log(f);
}
