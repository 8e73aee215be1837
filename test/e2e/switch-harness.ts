// Shared harness of the `sluice switch` e2e suites: runs the daemon as a child process the way an
// operator does (node + tsx, temp config and socket), runs CLI commands against it asynchronously,
// builds veth/namespace hosts, runs iperf3 one-shot servers/clients with --json and tcpdump, and
// measures rates from a host's byte counter sampled with the time of each read.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, expect } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { NetnsLab, runAsync, waitFor, type ExecResult } from '../helpers/netns.js';

export class SwitchProc {
  stderr = '';
  exited: number | null = null;
  private constructor(readonly dir: string, readonly configPath: string, readonly socket: string, readonly child: ChildProcess) {}

  /** `env`: extra environment for the daemon (e.g. SLUICE_SYSTEM_RX=mmsg); `netns`: run it inside that namespace (a host of a multi-host lab). */
  static async start(yaml: string, extraArgs: string[] = [], env: Record<string, string> = {}, netns?: string): Promise<SwitchProc> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sw-'));
    const configPath = join(dir, 'sluice.yaml');
    const socket = join(dir, 'sw.sock');
    writeFileSync(configPath, yaml);
    const argv = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'switch', '-c', configPath, '--socket', socket, ...extraArgs];
    // ip netns exec runs the command in place (exec), so the child's pid is the switch's
    const child = spawn(netns ? 'ip' : argv[0], netns ? ['netns', 'exec', netns, ...argv] : argv.slice(1), {
      cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLUICE_LOG_LEVEL: 'info', FORCE_COLOR: '0', ...env },
    });
    const sw = new SwitchProc(dir, configPath, socket, child);
    child.stderr!.on('data', (d: Buffer) => { sw.stderr += d.toString(); });
    child.on('exit', (code) => { sw.exited = code ?? -1; });
    try {
      await waitFor(() => existsSync(socket) || sw.exited !== null, 20_000, 'the switch socket');
    } catch (e) { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); throw e; }
    if (sw.exited !== null) {
      rmSync(dir, { recursive: true, force: true });   // never handed to a kit: nobody else removes it
      throw new Error(`sluice switch exited with ${sw.exited}: ${sw.stderr}`);
    }
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

/**
 * ping -i 0.2 (or `intervalS`) from `from` to `ip` for as long as the test needs: `ready` resolves at the first
 * reply, `stop()` ends it with SIGINT. `lost` lists the requests before the last one that got no
 * reply (the last may still have been in flight when it was stopped).
 */
export function pingUntilStopped(lab: NetnsLab, from: Host, ip: string, intervalS = 0.2): { ready: Promise<void>; stop(): Promise<{ sent: number; lost: number[]; output: string }> } {
  let child: ChildProcess | null = null;
  let out = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => { onReady = r; });
  const done = lab.execAsync(from.ns, ['ping', '-i', String(intervalS), '-W', '1', ip], 600_000, (c) => {
    child = c;
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (/ bytes from .*icmp_seq=/.test(out)) onReady(); });
    c.on('close', () => onReady());
  });
  return {
    ready: ready.then(async () => { if (child?.exitCode !== null) { const r = await done; throw new Error(`ping exited (${r.code}): ${r.stdout}${r.stderr}`); } }),
    stop: async () => {
      child?.kill('SIGINT');
      const r = await done;
      const sent = Number(/(\d+) packets transmitted/.exec(r.stdout)?.[1] ?? 0);
      const replied = new Set([...r.stdout.matchAll(/^\d+ bytes from .*icmp_seq=(\d+)/gm)].map((m) => Number(m[1])));
      const lost: number[] = [];
      for (let seq = 1; seq < sent; seq++) if (!replied.has(seq)) lost.push(seq);
      return { sent, lost, output: r.stdout + r.stderr };
    },
  };
}

export interface IperfResult { server: IperfJson; client: IperfJson }
export interface IperfJson {
  intervals: Array<{ sum: { start: number; end: number; bits_per_second: number } }>;
  end: { sum?: { bits_per_second: number; lost_percent?: number }; sum_received?: { bits_per_second: number; bytes?: number }; sum_sent?: { bits_per_second: number; bytes?: number } };
}

const IPERF_PORT = 5201;

/**
 * One iperf3 run: a one-shot server (with --json, so its per-second intervals are what was
 * RECEIVED) in `server.ns`, the client in `client.ns` once the server listens (however long a busy
 * machine takes to start it). `onClient` gets the client process as it starts (ip netns exec runs
 * iperf3 in place, so its pid is iperf3's); `during` runs once the client started.
 */
export async function iperf(lab: NetnsLab, client: Host, server: Host, args: string[], o: { during?: () => Promise<void>; onClient?: (child: ChildProcess) => void } = {}): Promise<IperfResult> {
  let srvChild: ChildProcess | null = null;
  const srv = lab.execAsync(server.ns, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '-B', server.ip, '--json'], 60_000, (c) => { srvChild = c; });
  const srvPid = (): number | undefined => srvChild?.pid;
  const srvExited = (): boolean => srvChild?.exitCode !== null;
  await waitFor(() => srvExited() || tcpListening(srvPid(), 'iperf3', server.ip, IPERF_PORT), 20_000, 'the iperf3 server to listen');
  if (srvExited()) { const r = await srv; throw new Error(`iperf3 server exited early (${r.code}): ${r.stdout.slice(0, 400)} ${r.stderr}`); }
  const cli = lab.execAsync(client.ns, ['iperf3', '-c', server.ip, '-p', String(IPERF_PORT), '--json', ...args], 60_000, o.onClient);
  if (o.during) await o.during();
  const [c, s] = await Promise.all([cli, srv]);
  if (process.env.SLUICE_IPERF_DUMP) console.log(JSON.stringify(JSON.parse(s.stdout).end).slice(0, 1500));
  if (c.code !== 0) throw new Error(`iperf3 client failed: ${c.stdout.slice(0, 400)} ${c.stderr}`);
  return { client: JSON.parse(c.stdout) as IperfJson, server: JSON.parse(s.stdout) as IperfJson };
}

/**
 * True when process `pid`, once it runs `comm` (after `ip netns exec` switched namespace and
 * exec'd), has a TCP socket listening on ip:port in its namespace (/proc/<pid>/net/tcp).
 */
export function tcpListening(pid: number | undefined, comm: string, ip: string, port: number): boolean {
  if (pid === undefined) return false;
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) return false;
    // local_address is the IPv4 address as a host-order (little-endian here) hex word, then the port; 0A = LISTEN
    const want = `${Buffer.from(ip.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0')}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    return readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1).some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1] === want && f[3] === '0A';
    });
  } catch { return false; }
}

/** One sample: a host's received bytes, the run-queue wait of the watched processes (pid -> ms), and when it was read (performance.now() ms). */
export interface ByteSample { tMs: number; bytes: number; waitMs: Map<number, number> }

/** A measured window: bits/s over [fromMs, toMs], and how long the watched processes waited for a CPU in it. */
export interface RateWindow { bps: number; fromMs: number; toMs: number; waitMs: number }

/** Time `pid`'s main thread has spent runnable but waiting for a CPU (ms; /proc/<pid>/schedstat), or undefined. */
export function runQueueWaitMs(pid: number): number | undefined {
  try { return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6; } catch { return undefined; }
}

/**
 * What a host received, from its veth's byte counter, sampled every `everyMs` with the time of
 * each read. `dev` is the root-side end of the host's veth (Host.root): its tx_bytes is the count
 * the host's own end (Host.inner) reports as rx_bytes, i.e. every frame the switch delivered to
 * the host, counted as a channel counts it (Ethernet header to end of payload). Rates are bytes
 * over the time between two samples, so a timer that fires late on a busy machine moves a window
 * but never skews it, and the receiving process (its scheduling, its socket buffer) does not enter
 * the figure.
 *
 * The scheduler does enter what the switch can deliver: a channel's bucket runs on the switch's
 * loop clock and holds 10 ms of tokens by default, so a switch (or a sender) kept off the CPU
 * longer than that loses tokens it never gets back. Processes given to watch() have their
 * run-queue wait sampled with the bytes, and each window says how long they waited in it.
 */
export class ReceivedBytes {
  readonly samples: ByteSample[] = [];
  private readonly pids: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private constructor(private readonly file: string) {}

  static start(dev: string, everyMs = 50): ReceivedBytes {
    const c = new ReceivedBytes(`/sys/class/net/${dev}/statistics/tx_bytes`);
    c.sample();
    c.timer = setInterval(() => c.sample(), everyMs);
    return c;
  }

  /** Also sample the run-queue wait of `pid` (the switch, a sender) from now on. */
  watch(pid: number | undefined): this {
    if (pid !== undefined && !this.pids.includes(pid)) this.pids.push(pid);
    return this;
  }

  /** Read the counter now (also called by the timer). A read descheduled midway (> 2 ms) is dropped. */
  sample(): void {
    let bytes: number;
    const waitMs = new Map<number, number>();
    const t0 = performance.now();
    try { bytes = Number(readFileSync(this.file, 'utf8')); } catch { this.stop(); return; }   // the device is gone
    for (const pid of this.pids) { const w = runQueueWaitMs(pid); if (w !== undefined) waitMs.set(pid, w); }
    const t1 = performance.now();
    if (t1 - t0 <= 2) this.samples.push({ tMs: (t0 + t1) / 2, bytes, waitMs });
  }

  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = null; }

  /** The time of the first sample more than `minBytes` above the first one (traffic has started), if any yet. */
  startedAt(minBytes = 10 * 1514): number | undefined {
    const base = this.samples[0]?.bytes ?? 0;
    return this.samples.find((x) => x.bytes - base > minBytes)?.tMs;
  }

  /** The time of the first sample within `slackBytes` of the last one (traffic has stopped). */
  stoppedAt(slackBytes = 2 * 1514): number {
    const last = this.samples[this.samples.length - 1];
    return this.samples.find((x) => last.bytes - x.bytes <= slackBytes)!.tMs;
  }

  /** The rate while traffic ran: from `settleMs` after it started to when it stopped. */
  steady(settleMs: number): RateWindow {
    const t0 = this.startedAt();
    if (t0 === undefined) throw new Error(`no traffic seen on ${this.file} (${this.samples.length} samples)`);
    return this.rate(t0 + settleMs, this.stoppedAt());
  }

  /** The window from the first sample at or after `fromMs` to the last one at or before `toMs`. */
  rate(fromMs: number, toMs: number): RateWindow {
    const a = this.samples.find((x) => x.tMs >= fromMs);
    let b: ByteSample | undefined;
    for (let i = this.samples.length - 1; i >= 0 && b === undefined; i--) if (this.samples[i].tMs <= toMs) b = this.samples[i];
    if (!a || !b || b.tMs - a.tMs < 100) throw new Error(`fewer than 100 ms of samples in ${fromMs.toFixed(0)}-${toMs.toFixed(0)} ms`);
    let waitMs = 0;
    for (const [pid, w] of b.waitMs) { const w0 = a.waitMs.get(pid); if (w0 !== undefined) waitMs += w - w0; }
    return { bps: ((b.bytes - a.bytes) * 8 * 1000) / (b.tMs - a.tMs), fromMs: a.tMs, toMs: b.tMs, waitMs };
  }

  /** Consecutive windows of about `windowMs` from `fromMs`, the last one ending at or before `toMs`. */
  windows(fromMs: number, toMs: number, windowMs = 1000): RateWindow[] {
    const out: RateWindow[] = [];
    for (let t = fromMs; t + windowMs <= toMs; ) {
      const w = this.rate(t, t + windowMs);
      out.push(w);
      t = w.toMs;
    }
    return out;
  }
}

/**
 * The least a channel of `rate` may deliver in `w`: `rate` less the tolerance, less the share of
 * the window the watched processes spent waiting for a CPU (tokens a loop-clock bucket could not
 * use; none on an idle machine). There is no such allowance above the rate: waiting never adds.
 */
export function rateFloor(rate: number, tolerance: number, w: RateWindow): number {
  return rate * (1 - tolerance - w.waitMs / (w.toMs - w.fromMs));
}

/** `w` is within `tolerance` of `rate`: never above; below only by that, less the CPU waits in `w` (rateFloor). */
export function expectRate(w: RateWindow, rate: number, tolerance = 0.05): void {
  expect(w.bps).toBeLessThan(rate * (1 + tolerance));
  expect(w.bps).toBeGreaterThan(rateFloor(rate, tolerance, w));
}

/**
 * tcpdump -l on `dev` in `ns`: `ready` resolves once it says it is listening (it then sees every
 * frame), `stop()` ends it with SIGINT and returns what it printed (lines on stdout, the
 * "N packets captured" summary on stderr).
 */
export function tcpdump(lab: NetnsLab, ns: string, dev: string, args: string[]): { ready: Promise<void>; stop(): Promise<ExecResult> } {
  let child: ChildProcess | null = null;
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => { onReady = r; });
  const done = lab.execAsync(ns, ['tcpdump', '-i', dev, '-l', ...args], 120_000, (c) => {
    child = c;
    c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); if (/listening on/.test(stderr)) onReady(); });
    c.on('close', () => onReady());
  });
  return {
    ready: ready.then(async () => {
      if (child?.exitCode !== null) { const r = await done; throw new Error(`tcpdump exited (${r.code}): ${r.stderr}`); }
    }),
    stop: async () => { child?.kill('SIGINT'); return done; },
  };
}

export const mbit = (bps: number): number => Math.round(bps / 1e4) / 100;

/**
 * The per-test resources of a switch e2e file: namespaces labs, switches and other clean-ups made
 * through it are torn down after each test (switches first, then labs), even when the test fails.
 */
export function switchTestKit(): { lab(): NetnsLab; start(yaml: string, extraArgs?: string[], env?: Record<string, string>, netns?: string): Promise<SwitchProc>; defer(fn: () => unknown): void } {
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
    start: async (yaml, extraArgs = [], env = {}, netns) => { const s = await SwitchProc.start(yaml, extraArgs, env, netns); switches.push(s); return s; },
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
