// Shared harness of the `sluice switch` e2e suites: runs the daemon as a child process the way an
// operator does (node + tsx, temp config and socket), runs CLI commands against it asynchronously,
// builds veth/namespace hosts, and runs iperf3 one-shot servers/clients with --json.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { NetnsLab, runAsync, waitFor, type ExecResult } from '../helpers/netns.js';

export class SwitchProc {
  stderr = '';
  exited: number | null = null;
  private constructor(readonly dir: string, readonly configPath: string, readonly socket: string, readonly child: ChildProcess) {}

  /** `env`: extra environment for the daemon (e.g. SLUICE_SYSTEM_RX=mmsg). */
  static async start(yaml: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<SwitchProc> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sw-'));
    const configPath = join(dir, 'sluice.yaml');
    const socket = join(dir, 'sw.sock');
    writeFileSync(configPath, yaml);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'switch', '-c', configPath, '--socket', socket, ...extraArgs], {
      cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLUICE_LOG_LEVEL: 'info', FORCE_COLOR: '0', ...env },
    });
    const sw = new SwitchProc(dir, configPath, socket, child);
    child.stderr!.on('data', (d: Buffer) => { sw.stderr += d.toString(); });
    child.on('exit', (code) => { sw.exited = code ?? -1; });
    try {
      await waitFor(() => existsSync(socket) || sw.exited !== null, 20_000, 'the switch socket');
    } catch (e) { child.kill('SIGKILL'); throw e; }
    if (sw.exited !== null) throw new Error(`sluice switch exited with ${sw.exited}: ${sw.stderr}`);
    return sw;
  }

  /** Run `sluice ARGS --socket <ours>`. */
  cli(args: string[], timeoutMs = 20_000): Promise<ExecResult> {
    return runAsync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args, '--socket', this.socket], timeoutMs);
  }

  async cliJson<T>(args: string[]): Promise<T> {
    const r = await this.cli([...args, '--json']);
    if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  signal(sig: NodeJS.Signals): void { this.child.kill(sig); }

  /** SIGTERM and wait for the exit (SIGKILL after 10 s); removes the temp dir. */
  async stop(): Promise<number> {
    if (this.exited === null) {
      this.child.kill('SIGTERM');
      try { await waitFor(() => this.exited !== null, 10_000, 'the switch to exit'); } catch { this.child.kill('SIGKILL'); }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return this.exited ?? -1;
  }
}

/**
 * A host: namespace `ns` with veth `inner` (address `ip`/24), whose root-side peer `root` becomes
 * a system port. Offloads are turned off so frames on the wire are real-sized.
 */
export interface Host { ns: string; root: string; inner: string; ip: string }
export function addHost(lab: NetnsLab, tag: string, ip: string, opts: { offloads?: boolean } = {}): Host {
  const ns = lab.addNs(tag);
  const root = lab.name(`${tag}r`), inner = lab.name(`${tag}n`);
  lab.addVeth(root, inner, ns);
  if (!opts.offloads) {   // offloads: true keeps the veth defaults (tx checksum, TSO/GSO on)
    lab.offloadsOff(null, root);
    lab.offloadsOff(ns, inner);
  }
  lab.addr(ns, inner, `${ip}/24`);
  return { ns, root, inner, ip };
}

export function ping(lab: NetnsLab, from: Host | string, ip: string, count = 3, extra: string[] = []): Promise<ExecResult> {
  const ns = typeof from === 'string' ? from : from.ns;
  return lab.execAsync(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', ...extra, ip], 15_000);
}

export interface IperfResult { server: IperfJson; client: IperfJson }
export interface IperfJson {
  intervals: Array<{ sum: { start: number; end: number; bits_per_second: number } }>;
  end: { sum?: { bits_per_second: number; lost_percent?: number }; sum_received?: { bits_per_second: number; bytes?: number }; sum_sent?: { bits_per_second: number; bytes?: number } };
}

/**
 * One iperf3 run: a one-shot server (with --json, so its per-second intervals are what was
 * RECEIVED) in `server.ns`, the client in `client.ns`. `during` runs once the client started.
 */
export async function iperf(lab: NetnsLab, client: Host, server: Host, args: string[], during?: (startedAtMs: number) => Promise<void>): Promise<IperfResult> {
  const srv = lab.execAsync(server.ns, ['iperf3', '-s', '-1', '-B', server.ip, '--json'], 30_000);
  await new Promise((r) => setTimeout(r, 400));
  const started = Date.now();
  const cli = lab.execAsync(client.ns, ['iperf3', '-c', server.ip, '--json', ...args], 30_000);
  if (during) await during(started);
  const [c, s] = await Promise.all([cli, srv]);
  if (process.env.SLUICE_IPERF_DUMP) console.log(JSON.stringify(JSON.parse(s.stdout).end).slice(0, 1500));
  if (c.code !== 0) throw new Error(`iperf3 client failed: ${c.stdout.slice(0, 400)} ${c.stderr}`);
  return { client: JSON.parse(c.stdout) as IperfJson, server: JSON.parse(s.stdout) as IperfJson };
}

export const mbit = (bps: number): number => Math.round(bps / 1e4) / 100;

/**
 * The per-test resources of a switch e2e file: namespaces labs, switches and other clean-ups made
 * through it are torn down after each test (switches first, then labs), even when the test fails.
 */
export function switchTestKit(): { lab(): NetnsLab; start(yaml: string, extraArgs?: string[], env?: Record<string, string>): Promise<SwitchProc>; defer(fn: () => unknown): void } {
  const labs: NetnsLab[] = [];
  const switches: SwitchProc[] = [];
  const deferred: Array<() => unknown> = [];
  afterEach(async () => {
    for (const s of switches.splice(0)) await s.stop();
    for (const fn of deferred.splice(0).reverse()) await fn();
    for (const l of labs.splice(0)) l.cleanup();
  });
  return {
    lab: () => { const l = new NetnsLab(); labs.push(l); return l; },
    start: async (yaml, extraArgs = [], env = {}) => { const s = await SwitchProc.start(yaml, extraArgs, env); switches.push(s); return s; },
    defer: (fn) => { deferred.push(fn); },
  };
}

/** A TCP port free on 127.0.0.1 right now (for a listener the test starts next). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
