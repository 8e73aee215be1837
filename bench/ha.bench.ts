// Controller failover (issue 11, part 4): three etcd members (etcd-server, loopback, data in a
// temporary directory), three `sluice controller --store etcd:... --lease-ttl 2` processes, and a
// Sluice bridge in this process whose real OpenFlow agent connects to all three. Ten times: kill -9
// the leader, time until the switch has granted MASTER to another controller, start the killed one
// again (it comes back as a follower). Figures only, no asserts (STYLE 4.11).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Bridge } from '../src/datapath/bridge.js';
import { MemoryPort } from '../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../src/agent/openflow/agent.js';
import { PacketPool } from '../src/packet/pool.js';
import { findOnPath } from '../test/helpers/host-tools.js';
import { freePort, startEtcd } from '../test/helpers/etcd.js';

export interface Figure { name: string; value: number; unit: string; target?: number; targetMax?: number; note?: string }

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TTL_S = 2;
const KILLS = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs: number, stepMs = 5): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

function startController(dir: string, ofPort: number, apiPort: number, store: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', dir, '--store', store, '--lease-ttl', String(TTL_S),
    '--openflow', `ptcp:${ofPort}:127.0.0.1`, '--api', `127.0.0.1:${apiPort}`, '--log-level', 'info', '--log-format', 'json'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' },
  });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (err.includes('controller running')) resolve(child); });
    child.once('exit', (code) => reject(new Error(`sluice controller exited ${code}: ${err.slice(-2000)}`)));
  });
}

export async function run(): Promise<Figure[]> {
  const name = `leader kill -9 -> new MASTER (${KILLS} kills)`;
  if (findOnPath('etcd') === null) return [{ name, value: Number.NaN, unit: 'ms', note: 'not run: etcd not found (apt-get install etcd-server)' }];
  const etcd = await startEtcd(3);
  const base = mkdtempSync(path.join(tmpdir(), 'sluice-ha-bench-'));
  const ctls: { dir: string; ofPort: number; apiPort: number; proc: ChildProcess | null }[] = [];
  let agent: OpenFlowAgent | null = null;
  try {
    for (let i = 0; i < 3; i++) ctls.push({ dir: path.join(base, `c${i}`), ofPort: await freePort(), apiPort: await freePort(), proc: null });
    for (const c of ctls) c.proc = await startController(c.dir, c.ofPort, c.apiPort, etcd.spec);
    const bridge = new Bridge({ name: 'br0', datapathId: 0xbe4cn, pool: new PacketPool(256, 2048) });
    const mp = new MemoryPort('vm1');
    bridge.addPort({ ofport: 1, name: 'vm1', backend: mp });
    await mp.open();
    agent = new OpenFlowAgent(bridge, {
      controllers: ctls.map((c) => `tcp:127.0.0.1:${c.ofPort}`), failMode: 'secure', dpDesc: 'bench/br0', log: pino({ level: 'silent' }),
      reconnectMs: { min: 50, max: 200 }, portPollMs: 100,
    });
    await agent.start();
    const a = agent;
    const open = (): ReturnType<OpenFlowAgent['sessions']> => a.sessions().filter((s) => s.state === 'open');
    const times: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await until('three sessions, one MASTER', () => open().length === 3 && open().filter((s) => s.role === 'master').length === 1, 60_000, 20);
      const m = open().find((s) => s.role === 'master')!;
      const victim = ctls.find((c) => m.peer.endsWith(`:${c.ofPort}`))!;
      const t0 = performance.now();
      victim.proc!.kill('SIGKILL');
      await until('a new MASTER', () => open().some((s) => s.role === 'master' && s.peer !== m.peer), 30_000);
      times.push(performance.now() - t0);
      await new Promise((r) => (victim.proc!.exitCode !== null || victim.proc!.signalCode !== null ? r(null) : victim.proc!.once('exit', r)));
      victim.proc = await startController(victim.dir, victim.ofPort, victim.apiPort, etcd.spec);
    }
    const sorted = [...times].sort((x, y) => x - y);
    const median = (sorted[4]! + sorted[5]!) / 2;
    const note = `lease TTL ${TTL_S} s, 3 etcd members, 3 controllers; from the kill until the switch granted MASTER to another`;
    return [
      { name: `${name}, median`, value: median, unit: 'ms', targetMax: TTL_S * 1000 + 1000, note },
      { name: `${name}, max`, value: sorted[sorted.length - 1]!, unit: 'ms', targetMax: TTL_S * 1000 + 1000, note: `all: ${times.map((t) => Math.round(t)).join(', ')}` },
    ];
  } finally {
    await agent?.stop();
    for (const c of ctls) c.proc?.kill('SIGKILL');
    await etcd.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await run()) console.log(`${f.name}: ${f.value.toFixed(0)} ${f.unit}${f.note ? ` (${f.note})` : ''}`);
}
