// `sluice demo` logic: four namespace "VMs" (blue VLAN 100, red VLAN 200) on TAP ports of an
// in-process SwitchDaemon; pings, isolation, and an iperf3 run whose channel is raised mid-flight
// through daemon.setChannel (what `sluice channel set` calls). Everything created is tracked and removed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SwitchDaemon, type PortView } from '../agent/daemon.js';

// ------------------------------------------------------------------ requirements

export interface DemoProbes {
  platform: string;
  uid: number | undefined;
  /** /dev/net/tun opens read-write. */
  tun: () => boolean;
  /** `cmd` is on PATH. */
  has: (cmd: string) => boolean;
}

export const REPLAY_HINT = 'npx sluice replay --case pcaps/vlan-isolation';

export function systemProbes(): DemoProbes {
  return {
    platform: process.platform,
    uid: typeof process.getuid === 'function' ? process.getuid() : undefined,
    tun: () => { try { accessSync('/dev/net/tun', constants.R_OK | constants.W_OK); return true; } catch { return false; } },
    has: (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0,
  };
}

/** What the demo lacks on this host, as short phrases (empty = ready). */
export function missingRequirements(p: DemoProbes): string[] {
  if (p.platform !== 'linux') return [`Linux (this is ${p.platform})`];
  const miss: string[] = [];
  if (p.uid !== 0) miss.push('root (it creates namespaces and TAP devices)');
  if (!p.tun()) miss.push('/dev/net/tun');
  if (!p.has('ip')) miss.push('`ip` (iproute2)');
  if (!p.has('ping')) miss.push('`ping` (iputils-ping)');
  if (!p.has('iperf3')) miss.push('`iperf3`');
  return miss;
}

/** The one- or two-line message for a host that cannot run the demo. */
export function requirementsMessage(missing: string[]): string {
  return `sluice demo needs root, /dev/net/tun, ip, ping and iperf3; missing here: ${missing.join(', ')}.\n`
    + `Try the same VLAN isolation offline, no root needed: ${REPLAY_HINT}`;
}

// ------------------------------------------------------------------ UI contract

export interface StepHandle {
  update(text: string): void;
  ok(detail: string): void;
  fail(detail: string): void;
}
export interface RateSample { second: number; mbit: number; channel: string; raised: boolean }
export interface DemoUi {
  step(label: string): StepHandle;
  rate(s: RateSample): void;
  note(text: string): void;
}

export interface DemoOptions {
  durationS: number;
  /** UDP rate iperf3 offers (Mbit/s). */
  offeredMbit: number;
  fromMbit: number;
  toMbit: number;
  log: Logger;
  ui: DemoUi;
}

export interface DemoResult {
  ok: boolean;
  pingRttMs?: number;
  isolated?: boolean;
  beforeMbit?: number;
  afterMbit?: number;
  reactionMs?: number;
  iperfBeforeMbit?: number;
  iperfAfterMbit?: number;
  ports: PortView[];
  error?: string;
}

// ------------------------------------------------------------------ the lab

interface Vm { port: string; ns: string; tap: string; ip: string; vid: number }

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || '').trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/** Everything the demo creates, removable at any point (idempotent, never throws). */
export class DemoLab {
  readonly id = 'sl' + [...randomBytes(4)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
  readonly dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  readonly namespaces: string[] = [];
  readonly children = new Set<ChildProcess>();
  daemon: SwitchDaemon | null = null;
  private cleaning: Promise<void> | null = null;

  addNs(suffix: string): string {
    const ns = this.id + suffix;
    sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Run `cmd` in `ns`, tracked so cleanup can kill it. */
  exec(ns: string, cmd: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      this.children.add(child);
      let stdout = '', stderr = '';
      child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (err) => { clearTimeout(t); this.children.delete(child); resolve({ code: -1, stdout, stderr: stderr + err.message }); });
      child.on('close', (code) => { clearTimeout(t); this.children.delete(child); resolve({ code: code ?? -1, stdout, stderr }); });
    });
  }

  cleanup(): Promise<void> {
    return (this.cleaning ??= (async () => {
      for (const c of this.children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
      this.children.clear();
      if (this.daemon) { await this.daemon.stop().catch(() => undefined); this.daemon = null; }
      for (const ns of this.namespaces.splice(0).reverse()) {
        // Processes left in the namespace (none expected) die before it goes.
        const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
        for (const pid of pids.split(/\s+/).filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
        spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      }
      rmSync(this.dir, { recursive: true, force: true });
    })());
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const UDP_LEN = 1472;

/** Run the demo on `lab` (the caller owns cleanup, so a signal can trigger it too). */
export async function runDemo(lab: DemoLab, o: DemoOptions): Promise<DemoResult> {
  const { ui } = o;
  const res: DemoResult = { ok: false, ports: [] };
  const vms: Vm[] = [
    { port: 'blue-1', ns: '', tap: lab.id + 'b1', ip: '10.77.100.1', vid: 100 },
    { port: 'blue-2', ns: '', tap: lab.id + 'b2', ip: '10.77.100.2', vid: 100 },
    { port: 'red-1', ns: '', tap: lab.id + 'r1', ip: '10.77.200.1', vid: 200 },
    { port: 'red-2', ns: '', tap: lab.id + 'r2', ip: '10.77.200.2', vid: 200 },
  ];
  const [b1, b2, r1, r2] = vms;
  const chan = 'blue-1-ch';

  // 1. Switch + topology.
  let s = ui.step('Starting the switch: 4 TAP ports, blue = VLAN 100, red = VLAN 200');
  try {
    const cfg = join(lab.dir, 'sluice.yaml');
    writeFileSync(cfg, `bridges:\n  demo:\n    ports:\n${vms.map((v, i) =>
      `      ${v.port}: { ofport: ${i + 1}, type: tap, device: ${v.tap}, vlan: { mode: access, vid: ${v.vid} }${v === b1 ? `, channel: ${chan}` : ''} }\n`).join('')}`
      + `channels:\n  ${chan}: { rate: ${o.fromMbit}mbit }\n`);
    lab.daemon = await SwitchDaemon.start({ configPath: cfg, log: o.log, openflow: false });
    s.ok(`bridge demo up, channel ${chan} ${o.fromMbit} Mbit/s on blue-1`);
    s = ui.step('Creating 4 namespace VMs and moving their TAPs in');
    for (const v of vms) {
      v.ns = lab.addNs(v.port.replace('-', '').replace('blue', 'b').replace('red', 'r') + 'ns');
      s.update(`${v.port}: ${v.ns}`);
      sh('ip', ['link', 'set', v.tap, 'netns', v.ns]);
      sh('ip', ['-n', v.ns, 'addr', 'add', `${v.ip}/16`, 'dev', v.tap]);
      sh('ip', ['-n', v.ns, 'link', 'set', v.tap, 'up']);
    }
    s.ok(vms.map((v) => `${v.port} ${v.ip}`).join(', ') + ' (one /16: only VLANs separate them)');
  } catch (e) { s.fail((e as Error).message); res.error = (e as Error).message; return res; }

  // 2. Same-VLAN ping.
  s = ui.step('Ping blue-1 -> blue-2 (same VLAN)');
  const [pb, pr] = await Promise.all([
    lab.exec(b1.ns, ['ping', '-c', '4', '-i', '0.2', '-W', '1', b2.ip]),
    lab.exec(r1.ns, ['ping', '-c', '4', '-i', '0.2', '-W', '1', r2.ip]),
  ]);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(pb.stdout);
  const recv = (out: string): number => Number(/(\d+) received/.exec(out)?.[1] ?? 0);
  if (recv(pb.stdout) === 0) { s.fail(`no reply: ${(pb.stdout + pb.stderr).trim().split('\n').pop() ?? ''}`); res.error = 'blue ping failed'; return res; }
  res.pingRttMs = rtt ? Number(rtt[1]) : undefined;
  s.ok(`ping OK: ${recv(pb.stdout)}/4 replies, avg RTT ${rtt ? `${rtt[1]} ms` : '?'}; red-1 -> red-2 ${recv(pr.stdout)}/4`);

  // 3. Cross-VLAN isolation: same subnet, so only the switch can stop it.
  s = ui.step('Ping blue -> red (different VLANs, same subnet)');
  const [x1, x2] = await Promise.all([
    lab.exec(b1.ns, ['ping', '-c', '2', '-i', '0.3', '-W', '1', r1.ip]),
    lab.exec(r2.ns, ['ping', '-c', '2', '-i', '0.3', '-W', '1', b2.ip]),
  ]);
  const leaked = recv(x1.stdout) + recv(x2.stdout);
  res.isolated = leaked === 0;
  if (!res.isolated) { s.fail(`isolation BROKEN: ${leaked} replies crossed VLANs`); res.error = 'isolation broken'; return res; }
  s.ok('isolation OK: 0/4 replies across VLANs (blue-1 -> red-1, red-2 -> blue-2): ARP never leaves its VLAN');

  // 4. iperf3 through the channel, raised mid-run.
  const secs = Math.max(5, Math.round(o.durationS - 3));
  const changeAt = Math.floor(secs / 2);
  s = ui.step(`iperf3 UDP ${o.offeredMbit}M offered blue-1 -> blue-2 for ${secs} s; channel ${o.fromMbit} -> ${o.toMbit} Mbit/s at ${changeAt} s`);
  const server = lab.exec(b2.ns, ['iperf3', '-s', '-1', '-J', '-B', b2.ip], (secs + 15) * 1000);
  await sleep(400);
  const client = lab.exec(b1.ns, ['iperf3', '-c', b2.ip, '-u', '-b', `${o.offeredMbit}M`, '-l', String(UDP_LEN), '-t', String(secs), '-B', b1.ip], (secs + 15) * 1000);
  // Sample what the switch delivers to blue-2 (Ethernet frame bytes, as the channel counts them).
  const b2ofport = (await lab.daemon!.listPorts()).find((p) => p.name === 'blue-2')!.ofport;
  const txBytes = async (): Promise<number> => (await lab.daemon!.dp.portStats()).find((p) => p.ofport === b2ofport)?.stats['tx-bytes'] ?? 0;
  const samples: Array<{ t: number; bytes: number }> = [];
  const t0 = performance.now();
  let changedAt = -1, channelNow = `${o.fromMbit}mbit`;
  const perSecond: Array<{ second: number; start: number; end: number; mbit: number }> = [];
  // Wait for traffic to start (iperf3 connects first), then measure from the first byte.
  const startBytes = await txBytes();
  while ((await txBytes()) - startBytes < 100_000 && performance.now() - t0 < 3000) await sleep(20);
  const tStart = performance.now();
  samples.push({ t: 0, bytes: await txBytes() });
  let lastSec = { t: 0, bytes: samples[0].bytes };
  while (true) {
    await sleep(100);
    const t = (performance.now() - tStart) / 1000;
    samples.push({ t, bytes: await txBytes() });
    if (t - lastSec.t >= 1) {
      const cur = samples[samples.length - 1];
      const mbit = ((cur.bytes - lastSec.bytes) * 8) / (cur.t - lastSec.t) / 1e6;
      perSecond.push({ second: perSecond.length + 1, start: lastSec.t, end: cur.t, mbit });
      ui.rate({ second: perSecond.length, mbit, raised: changedAt >= 0, channel: channelNow });
      lastSec = cur;
    }
    // The same call `sluice channel set` makes through the management API (PUT /channels/:name).
    if (changedAt < 0 && t >= changeAt) {
      const before = performance.now();
      await lab.daemon!.setChannel(chan, { rate: `${o.toMbit}mbit` });
      changedAt = (performance.now() - tStart) / 1000;
      channelNow = `${o.toMbit}mbit`;
      ui.note(`channel ${chan} set to ${o.toMbit}mbit at ${changedAt.toFixed(2)} s (setChannel took ${(performance.now() - before).toFixed(1)} ms)`);
      // Realign the per-second windows on the change, so each one is wholly before or after it.
      lastSec = { t: changedAt, bytes: await txBytes() };
      samples.push(lastSec);
    }
    if (t >= secs - 0.15) break;
  }
  const [cr, sr] = await Promise.all([client, server]);
  if (cr.code !== 0) { s.fail(`iperf3 client failed: ${(cr.stderr || cr.stdout).trim().split('\n').pop() ?? ''}`); res.error = 'iperf3 failed'; return res; }
  // Before: whole seconds ending before the change (skip the first: ARP/start); after: seconds starting >= 1 s after it.
  const avg = (xs: number[]): number => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  const windows = perSecond;
  const before = windows.filter((w) => w.end <= changedAt + 1e-6 && w.start >= 0.9).map((w) => w.mbit);
  res.beforeMbit = avg(before.length ? before : windows.filter((w) => w.end <= changedAt + 1e-6).map((w) => w.mbit));
  // After: windows starting >= 0.9 s after the change (the first one holds the step itself).
  const settled = windows.filter((w) => w.start >= changedAt + 0.9).map((w) => w.mbit);
  res.afterMbit = avg(settled.length ? settled : windows.filter((w) => w.start >= changedAt).map((w) => w.mbit));
  // Reaction: first 200 ms window after the change at >= 80 % of the new rate.
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i];
    if (a.t < changedAt) continue;
    const b = samples.find((x) => x.t >= a.t + 0.2);
    if (!b) break;
    if (((b.bytes - a.bytes) * 8) / (b.t - a.t) / 1e6 >= 0.8 * Math.min(o.toMbit, o.offeredMbit)) { res.reactionMs = Math.round((b.t - changedAt) * 1000); break; }
  }
  try {
    const j = JSON.parse(sr.stdout) as { intervals: Array<{ sum: { start: number; end: number; bits_per_second: number } }> };
    const iv = j.intervals.map((x) => x.sum);
    res.iperfBeforeMbit = avg(iv.filter((x) => x.end <= changedAt && x.start >= 1).map((x) => x.bits_per_second / 1e6));
    res.iperfAfterMbit = avg(iv.filter((x) => x.start >= changedAt + 1 && x.end - x.start > 0.9).map((x) => x.bits_per_second / 1e6));
  } catch { /* the switch's own figures still stand */ }
  const okBefore = Math.abs(res.beforeMbit - o.fromMbit) / o.fromMbit < 0.15;
  const okAfter = Number.isFinite(res.afterMbit) && res.afterMbit > 0.6 * Math.min(o.toMbit, o.offeredMbit);
  const detail = `rate ${res.beforeMbit.toFixed(1)} -> ${res.afterMbit.toFixed(1)} Mbit/s`
    + (res.reactionMs !== undefined ? `, at >= 80 % of the new rate within ${res.reactionMs} ms of the change (100 ms sampling)` : '')
    + (res.iperfBeforeMbit !== undefined && Number.isFinite(res.iperfBeforeMbit) ? ` (iperf3 receiver goodput ${res.iperfBeforeMbit.toFixed(1)} -> ${Number.isFinite(res.iperfAfterMbit) ? res.iperfAfterMbit!.toFixed(1) : '?'})` : '');
  if (okBefore && okAfter) s.ok(detail); else { s.fail(`${detail}: expected ~${o.fromMbit} then ~${o.toMbit}`); res.error = 'rates off'; }
  res.ports = await lab.daemon!.listPorts();
  res.ok = okBefore && okAfter;
  return res;
}
