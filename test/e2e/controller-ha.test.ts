// Several controllers end to end: a three-member etcd cluster (etcd-server, loopback ports, data in
// temporary directories), three `sluice controller --store etcd:...` processes, two `sluice switch`
// daemons listing all three controllers, joined by a trunk veth, a namespace VM on each. While the
// VMs ping every 10 ms: kill -9 of the leader (0 lost, a new MASTER within lease TTL + 1 s as the
// switches log it, its reconcile sends nothing), kill -9 of an etcd member (nothing changes), a
// frozen leader (fenced: the new one is MASTER, the old one ends up SLAVE); a leader really cut off
// from etcd by nftables (each controller runs in a cgroup v2 of its own; see helpers/partition.ts)
// steps down, is fenced, programs nothing, and stays a follower once the partition heals; a change
// acknowledged by a follower is what the leader holds.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { startEtcd } from '../helpers/etcd.js';
import type { EtcdCluster } from '../helpers/etcd.js';
import { Partition, ProcessCgroup, partitionUnsupported } from '../helpers/partition.js';
import { describePrivileged, gate } from '../helpers/privileged.js';
import { NetnsLab, runAsync, waitFor } from '../helpers/netns.js';
import type { ExecResult } from '../helpers/netns.js';
import { SwitchProc, addHost, freePort, pingUntilStopped } from './switch-harness.js';
import type { Host } from './switch-harness.js';

const TTL_S = 2;
/** The partition test needs nft and a cgroup v2 hierarchy; the rest of the suite does not. */
const PARTITION = gate({ root: false, tools: ['nft'], check: partitionUnsupported });

class ControllerProc {
  child: ChildProcess | null = null;
  stderr = '';
  /** `cg`: run it in that cgroup (every socket it opens is the cgroup's, so a Partition can cut it off). */
  constructor(readonly name: string, readonly dir: string, readonly ofPort: number, readonly apiPort: number, readonly store: string, readonly cg: ProcessCgroup | null = null) {}

  async start(): Promise<void> {
    this.stderr = '';
    const argv = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', this.dir, '--store', this.store, '--lease-ttl', String(TTL_S),
      '--openflow', `ptcp:${this.ofPort}:127.0.0.1`, '--api', `127.0.0.1:${this.apiPort}`, '--lldp-interval', '0.5', '--log-level', 'info', '--log-format', 'json'];
    const [cmd, ...args] = this.cg ? this.cg.wrap(argv) : argv;
    const child = spawn(cmd!, args, {
      cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' },
    });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    await waitFor(() => this.stderr.includes('controller running') || child.exitCode !== null, 30_000, `controller ${this.name}`);
    if (child.exitCode !== null) throw new Error(`sluice controller exited ${child.exitCode}: ${this.stderr}`);
  }

  get alive(): boolean { return this.child !== null && this.child.exitCode === null && this.child.signalCode === null; }
  kill(sig: NodeJS.Signals): void { this.child?.kill(sig); }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    await Promise.race([new Promise((r) => c.once('exit', r)), new Promise((r) => setTimeout(r, 8000))]);
    if (c.exitCode === null) c.kill('SIGKILL');
  }

  async get<T>(path: string): Promise<T> {
    return await (await this.request('GET', path)).json() as T;
  }

  async post<T>(path: string): Promise<T> {
    return await (await this.request('POST', path)).json() as T;
  }

  /** One sample of a gauge from GET /metrics (NaN if absent). */
  async metric(name: string): Promise<number> {
    const text = await (await this.request('GET', '/metrics')).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  }

  private async request(method: string, path: string): Promise<Response> {
    const token = readFileSync(join(this.dir, 'api-token'), 'utf8').trim();
    const r = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, { method, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status}`);
    return r;
  }

  /** Its own log lines with message `msg` (JSON), with their times. */
  logged(msg: string): { time: number }[] {
    const out = [];
    for (const line of this.stderr.split('\n')) {
      if (!line.includes(msg)) continue;
      try { out.push(JSON.parse(line) as { time: number }); } catch { /* not a JSON line */ }
    }
    return out;
  }

  cli(args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return runAsync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args,
      '--controller', `http://127.0.0.1:${this.apiPort}`, '--token-file', join(this.dir, 'api-token')], timeoutMs);
  }

  async ok(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} (${this.name}) exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }
}

interface SwitchRow { name: string; connected: boolean; role: 'master' | 'slave' | null; lastReconcile: { ok: boolean; flowMods: number; groupMods: number; meterMods: number; errors: string[]; at: string } | null }

/** The switch's own log lines "OpenFlow request refused" for BAD_REQUEST/IS_SLAVE, by the peer they came from (a controller's listener). */
function isSlaveRefusals(sw: SwitchProc, peer: string, since: number): number {
  let n = 0;
  for (const line of sw.stderr.split('\n')) {
    if (!line.includes('OpenFlow request refused')) continue;
    try {
      const o = JSON.parse(line) as { time: number; type: number; code: number; peer: string };
      if (o.peer === peer && o.type === 1 && o.code === 10 && o.time >= since) n++;
    } catch { /* not a JSON line */ }
  }
  return n;
}

interface FlowRow { table: number; priority: number; cookie: string; match: Record<string, string>; actions: string[] }
/** What a switch holds, without counters, in a fixed order: equal lists mean nothing was changed. */
async function flowTable(sw: SwitchProc): Promise<string[]> {
  const r = await sw.cliJson<{ flows: FlowRow[] }>(['flows', 'dump']);
  return r.flows.map((f) => JSON.stringify([f.table, f.priority, f.cookie, f.match, f.actions])).sort();
}

/** The switch's own log lines "controller role changed": when it granted which role with which generation id. */
function roleChanges(sw: SwitchProc): { time: number; role: string; generation: bigint; peer: string }[] {
  const out = [];
  for (const line of sw.stderr.split('\n')) {
    if (!line.includes('controller role changed')) continue;
    try {
      const o = JSON.parse(line) as { time: number; role: string; generation: string; peer: string };
      out.push({ time: o.time, role: o.role, generation: BigInt(o.generation), peer: o.peer });
    } catch { /* not a JSON line */ }
  }
  return out;
}

describePrivileged('several controllers on etcd: failover under ping', () => {
  let lab: NetnsLab;
  let etcd: EtcdCluster;
  const ctls: ControllerProc[] = [];
  const sw: SwitchProc[] = [];
  const hosts: Record<string, Host> = {};
  const base = mkdtempSync(join(tmpdir(), 'sluice-ha-e2e-'));
  const figures: Record<string, number> = {};
  const cgroups: ProcessCgroup[] = [];
  let partition: Partition | null = null;

  const rows = async (c: ControllerProc): Promise<SwitchRow[]> => (await c.get<{ switches: SwitchRow[] }>('/v1/switches')).switches;
  /** The controller both switches have as MASTER (asked of each live one), or undefined. */
  const master = async (among = ctls): Promise<ControllerProc | undefined> => {
    for (const c of among) {
      if (!c.alive) continue;
      try {
        const r = await rows(c);
        if (r.filter((s) => s.connected && s.role === 'master').length === 2) return c;
      } catch { /* starting or gone */ }
    }
    return undefined;
  };

  beforeAll(async () => {
    etcd = await startEtcd(3);
    for (const n of ['c1', 'c2', 'c3']) {
      const cg = PARTITION.run ? new ProcessCgroup(`sluice-ha-${process.pid}-${n}`) : null;
      if (cg) cgroups.push(cg);
      ctls.push(new ControllerProc(n, join(base, n), await freePort(), await freePort(), etcd.spec, cg));
    }
    for (const c of ctls) await c.start();
    lab = new NetnsLab();
    hosts.a1 = addHost(lab, 'a1', '10.78.0.1');
    hosts.b1 = addHost(lab, 'b1', '10.78.0.2');
    const t12 = lab.name('t12'), t21 = lab.name('t21');
    lab.addVeth(t12, t21);
    for (const d of [t12, t21]) lab.offloadsOff(null, d);
    const list = ctls.map((c) => `"tcp:127.0.0.1:${c.ofPort}"`).join(', ');
    const yaml = (name: string, vm: Host, trunk: string): string =>
      `bridges:\n  ${name}:\n    description: ${name}/br0\n    fail-mode: secure\n    controllers: [${list}]\n    ports:\n` +
      `      vm: { ofport: 1, type: system, device: ${vm.root} }\n      trunk: { ofport: 10, type: system, device: ${trunk} }\n`;
    sw.push(await SwitchProc.start(yaml('s1', hosts.a1, t12)), await SwitchProc.start(yaml('s2', hosts.b1, t21)));
    try {
      await until(async () => (await Promise.all(ctls.map(async (c) => (await rows(c).catch(() => [])).filter((s) => s.connected).length))).every((n) => n === 2), 60_000, 'every controller connected to both switches');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${sw.map((s) => s.stderr.slice(-3000)).join('\n---\n')}\n${ctls.map((c) => c.stderr.slice(-3000)).join('\n---\n')}`);
    }
    const leader = await until(() => master(), 30_000, 'a MASTER');
    const follower = ctls.find((c) => c !== leader)!;
    // Made through a follower: the intent lives in etcd; the leader programs the switches.
    await follower.ok(['net', 'create', 'blue', '--vid', '100']);
    await follower.ok(['attach', 'blue', 's1/br0:vm']);
    await follower.ok(['attach', 'blue', 's2/br0:vm']);
    await until(async () => (await lab.execAsync(hosts.a1.ns, ['ping', '-c', '1', '-W', '1', hosts.b1.ip], 5000)).code === 0, 60_000, 'a1 reaches b1');
  }, 240_000);

  beforeEach((ctx) => {
    ctx.onTestFailed(() => {
      const tail = (t: string): string => t.split('\n').filter((l) => !l.includes('"level":20')).slice(-40).join('\n');
      console.log(`[controller-ha] logs at the failure:\n${ctls.map((c) => `== ${c.name}\n${tail(c.stderr)}`).join('\n')}\n${sw.map((s, i) => `== s${i + 1}\n${tail(s.stderr)}`).join('\n')}`);
    });
  });

  afterAll(async () => {
    try { partition?.heal(); } catch (e) { console.log(`[controller-ha] healing the partition: ${(e as Error).message}`); }
    for (const s of sw) await s.stop();
    for (const c of ctls) await c.stop();
    for (const cg of cgroups) if (!cg.remove()) console.log(`[controller-ha] could not remove ${cg.dir} (pids ${cg.pids().join(' ')})`);
    await etcd?.stop();
    lab?.cleanup();
    rmSync(base, { recursive: true, force: true });
    if (Object.keys(figures).length > 0) console.log(`[controller-ha] ${JSON.stringify(figures)}`);
  }, 60_000);

  it('kill -9 of the leader: 0 pings lost, a new MASTER within lease TTL + 1 s, and its reconcile sends nothing', async () => {
    const old = (await master())!;
    const p = pingUntilStopped10ms(lab, hosts.a1!, hosts.b1!.ip);
    await p.ready;
    await new Promise((r) => setTimeout(r, 1000));
    const tKill = Date.now();
    old.kill('SIGKILL');
    // The switches' own word: each logs the role it grants, with the generation id.
    const granted = await until(() => {
      const t = sw.map((s) => roleChanges(s).find((c) => c.role === 'master' && c.time >= tKill));
      return t.every((x) => x !== undefined) ? t.map((x) => x!) : undefined;
    }, 15_000, 'both switches to grant MASTER to another controller');
    const failoverMs = Math.max(...granted.map((g) => g.time)) - tKill;
    figures.failoverMs = failoverMs;
    const next = (await until(() => master(), 10_000, 'the new MASTER in the API'))!;
    expect(next).not.toBe(old);
    await new Promise((r) => setTimeout(r, 1000));
    const r = await p.stop();
    expect({ lost: r.lost, sentEnough: r.sent > 200 }).toEqual({ lost: [], sentEnough: true });
    expect(failoverMs).toBeLessThanOrEqual(TTL_S * 1000 + 1000);
    const after = await until(async () => {
      const s = await rows(next);
      return s.every((x) => x.lastReconcile && Date.parse(x.lastReconcile.at) >= tKill - 5) ? s : undefined;
    }, 10_000, 'the new leader\'s reconciles');
    for (const s of after) {
      expect({ switch: s.name, ok: s.lastReconcile!.ok, mods: [s.lastReconcile!.flowMods, s.lastReconcile!.groupMods, s.lastReconcile!.meterMods] })
        .toEqual({ switch: s.name, ok: true, mods: [0, 0, 0] });
    }
    // It comes back as a follower.
    await old.start();
    await until(async () => (await rows(old).catch(() => [])).filter((s) => s.connected && s.role === 'slave').length === 2, 30_000, 'the old leader back as SLAVE');
  }, 90_000);

  it('a change acknowledged by a follower is what the leader holds, and survives the leader', async () => {
    const leader = (await master())!;
    const follower = ctls.find((c) => c !== leader && c.alive)!;
    await follower.ok(['net', 'create', 'green', '--vid', '300']);
    // Acknowledged means committed in etcd: the leader has it as soon as it hears the watch.
    await until(async () => (await leader.get<{ networks: { name: string }[] }>('/v1/networks')).networks.some((n) => n.name === 'green'), 5000, 'the leader to hold green');
    for (const c of ctls) expect((await c.get<{ networks: { name: string }[] }>('/v1/networks')).networks.map((n) => n.name).sort()).toEqual(['blue', 'green']);
  }, 60_000);

  it('kill -9 of one etcd member: the leader stays, no ping lost, writes still work', async () => {
    const leader = (await master())!;
    const before = sw.map((s) => roleChanges(s).length);
    const p = pingUntilStopped10ms(lab, hosts.a1!, hosts.b1!.ip);
    await p.ready;
    etcd.kill(0);
    await new Promise((r) => setTimeout(r, (TTL_S + 3) * 1000));
    const follower = ctls.find((c) => c !== leader && c.alive)!;
    await follower.ok(['net', 'create', 'yellow', '--vid', '400']);
    await until(async () => (await leader.get<{ networks: { name: string }[] }>('/v1/networks')).networks.some((n) => n.name === 'yellow'), 5000, 'the leader to hold yellow');
    const r = await p.stop();
    expect(r.lost).toEqual([]);
    expect(await master()).toBe(leader);
    expect(sw.map((s) => roleChanges(s).length)).toEqual(before);   // no role changed anywhere
  }, 60_000);

  it('a frozen (partitioned) leader is fenced: the next one is MASTER, and the old one, back, is SLAVE', async () => {
    const old = (await master())!;
    const p = pingUntilStopped10ms(lab, hosts.a1!, hosts.b1!.ip);
    await p.ready;
    const t0 = Date.now();
    old.kill('SIGSTOP');
    const next = await until(async () => {
      const m = await master(ctls.filter((c) => c !== old));
      return m;
    }, 15_000, 'another MASTER while the old leader is frozen');
    figures.partitionFailoverMs = Date.now() - t0;
    old.kill('SIGCONT');
    // Back, it learns it lost the lease and follows; the switches never gave it MASTER back.
    await until(async () => (await rows(old)).filter((s) => s.connected && s.role === 'master').length === 0, 15_000, 'the old leader to stop being MASTER');
    expect(await master()).toBe(next);
    const r = await p.stop();
    expect(r.lost).toEqual([]);
    const late = sw.flatMap((s) => roleChanges(s).filter((c) => c.time >= t0 && c.role === 'master'));
    expect(new Set(late.map((c) => c.generation)).size).toBe(1);   // one new generation, granted once per switch
  }, 60_000);

  it('a leader cut off from etcd (not from the switches) steps down and programs nothing; healed, it stays a follower', async (ctx) => {
    if (!PARTITION.run) {
      if (PARTITION.fail) throw new Error(`SLUICE_REQUIRE_PRIVILEGED=1 but the partition test cannot run: ${PARTITION.reason}`);
      ctx.skip(PARTITION.reason);
    }
    const old = (await master())!;
    const oldPeer = `127.0.0.1:${old.ofPort}`;
    const p = pingUntilStopped10ms(lab, hosts.a1!, hosts.b1!.ip);
    await p.ready;
    await new Promise((r) => setTimeout(r, 500));
    const before = await Promise.all(sw.map((s) => flowTable(s)));
    const t0 = Date.now();
    // Every etcd client port, both ways, for the leader's process only: its OpenFlow sessions and
    // API stay up, and the other controllers still reach etcd.
    partition = Partition.start(old.cg!, etcd.endpoints.map((e) => Number(new URL(e).port)));
    try {
      const granted = await until(() => {
        const t = sw.map((s) => roleChanges(s).find((c) => c.role === 'master' && c.time >= t0 && c.peer !== oldPeer));
        return t.every((x) => x !== undefined) ? t.map((x) => x!) : undefined;
      }, 15_000, 'both switches to grant MASTER to another controller').catch((e: Error) => {
        // Rules that never match (no socket cgroup data, say) show as nothing dropped.
        throw new Error(`${e.message} (segments dropped by the partition: ${JSON.stringify(partition?.dropped())})`);
      });
      const grantedAt = Math.max(...granted.map((g) => g.time));
      figures.netPartitionFailoverMs = grantedAt - t0;
      const next = (await until(() => master(ctls.filter((c) => c !== old)), 10_000, 'the new MASTER in the API'))!;
      // The old leader says it follows once its lease is gone (it cannot renew it).
      await until(async () => (await old.metric('sluice_controller_leader')) === 0, 10_000, 'the cut-off leader to report sluice_controller_leader 0');
      const stepDown = old.logged('not the leader any more').find((l) => l.time >= t0);
      expect(stepDown, 'the cut-off leader logs that it stepped down').toBeDefined();
      figures.netPartitionStepDownMs = stepDown!.time - t0;
      // > 0: it had stopped leading before any switch gave MASTER to the next one.
      figures.netPartitionStepDownBeforeGrantMs = Math.min(...granted.map((g) => g.time)) - stepDown!.time;

      // Still cut off, it tries to program: a reconcile on demand and a change of the intent.
      const mid = await Promise.all(sw.map((s) => flowTable(s)));
      const rec = await old.post<{ reconciled: { switch: string; ok: boolean; flowMods: number; groupMods: number; meterMods: number; errors: string[] }[] }>('/v1/reconcile');
      expect(rec.reconciled.map((r) => ({ ok: r.ok, mods: r.flowMods + r.groupMods + r.meterMods, follows: r.errors.some((e) => /follows/.test(e)) })))
        .toEqual(sw.map(() => ({ ok: false, mods: 0, follows: true })));
      const tWrite = Date.now();
      const write = await old.cli(['net', 'create', 'red', '--vid', '500'], 30_000);
      figures.netPartitionWriteMs = Date.now() - tWrite;
      console.log(`[controller-ha] a change on the cut-off controller: exit ${write.code} after ${figures.netPartitionWriteMs} ms: ${write.stderr.trim()}${write.stdout.trim()}`);
      expect(write.code, `a change made on the cut-off controller: ${write.stdout}${write.stderr}`).not.toBe(0);
      // One line saying the store did not confirm it (HTTP 503), not an internal error.
      expect(write.stderr).toMatch(/^sluice: .*did not confirm the change .*read it back before retrying\n$/);
      await new Promise((r) => setTimeout(r, 1000));
      const after = await Promise.all(sw.map((s) => flowTable(s)));
      expect(after).toEqual(mid);
      expect(after).toEqual(before);
      // Whatever it sent once the switches had a new MASTER was refused (OFPBRC_IS_SLAVE).
      figures.netPartitionIsSlaveRefusals = sw.map((s) => isSlaveRefusals(s, oldPeer, grantedAt)).reduce((a, b) => a + b, 0);
      const dropped = partition.dropped();
      expect(dropped.out, 'segments the cut-off controller sent to etcd, dropped').toBeGreaterThan(0);
      expect(await master()).toBe(next);
      expect(await old.metric('sluice_controller_leader')).toBe(0);
      expect(figures.netPartitionFailoverMs).toBeLessThanOrEqual(TTL_S * 1000 + 1000 + 1500);   // lease TTL + 1 s, and room for a busy machine

      // Healed: it campaigns again, behind the new leader, and takes the SLAVE role.
      const tHeal = Date.now();
      partition.heal();
      await until(async () => (await rows(old).catch(() => [])).filter((s) => s.connected && s.role === 'slave').length === 2, 30_000, 'the old leader back as SLAVE');
      figures.netPartitionRejoinMs = Date.now() - tHeal;
      await new Promise((r) => setTimeout(r, (TTL_S + 1) * 1000));
      expect(await master()).toBe(next);
      expect(await old.metric('sluice_controller_leader')).toBe(0);
      const r = await p.stop();
      expect({ lost: r.lost, sentEnough: r.sent > 300 }).toEqual({ lost: [], sentEnough: true });
      const late = sw.flatMap((s) => roleChanges(s).filter((c) => c.time >= t0 && c.role === 'master'));
      expect(late.filter((c) => c.peer === oldPeer)).toEqual([]);
      expect(new Set(late.map((c) => c.generation)).size).toBe(1);   // one new generation, granted once per switch
      expect(late.length).toBe(2);
      expect(await Promise.all(sw.map((s) => flowTable(s)))).toEqual(before);
    } finally {
      partition.heal();
      await p.stop().catch(() => undefined);
    }
  }, 120_000);
}, { tools: ['etcd', 'ping'] });

/** Poll `fn` every 25 ms until it gives a value (not undefined or false); throws naming `what` after `timeoutMs`. */
async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** pingUntilStopped at 10 ms intervals. */
function pingUntilStopped10ms(lab: NetnsLab, from: Host, ip: string): ReturnType<typeof pingUntilStopped> {
  return pingUntilStopped(lab, from, ip, 0.01);
}
