// Bench: VM to VM across two hosts over a VXLAN overlay (VNI 5001), Sluice against its peers: two
// "hosts" (namespaces) joined by an underlay veth, a "VM" namespace behind each; on both hosts
// Sluice, or the kernel's vxlan device + a Linux bridge, or Open vSwitch userspace. TCP one stream
// and 64-byte frames delivered, offloads off, medians of interleaved rounds, ratios against targets.
//
// Topology (all names `<lab id><suffix>`, removed on exit, also after a failure or Ctrl-C):
//   va(ai 10.51.0.1/24, MTU 1450) -- ap [host ha] ua 10.202.0.1 ==underlay== 10.202.0.2 ub [host hb] bp -- bi(vb 10.51.0.2/24)
// Variants, set up and torn down per round, in turn (order rotated each round):
//   - sluice: a `sluice switch` per host namespace (standalone: NORMAL), a system port on the VM
//     veth and a vxlan port (local/remote the underlay addresses, vni 5001);
//   - kernel: a vxlan device (id 5001, dstport 4789, local/remote, dev the underlay veth) and the
//     VM veth in a Linux bridge, on both hosts;
//   - ovs: Open vSwitch 3.1 userspace (datapath_type=netdev) per host, each with private db/run/log
//     dirs (test/helpers/ovs.ts) and ovs-vswitchd started inside the host namespace: br-int with
//     the VM veth and a vxlan port (key 5001, remote_ip), br-phy holding the underlay veth, the
//     underlay address on br-phy's internal (tap) port (Documentation/howto/userspace-tunneling.rst):
//     the userspace datapath routes and resolves ARP for tunnels through that bridge.
// Figures: iperf3 TCP 1 stream va -> vb (one-shot server per test), and the 64-byte frames of
// bench/ports-gen.c (AF_PACKET sendmmsg at its max rate, in va) counted at vb's veth (rx_packets).
// Offloads (gro gso tso tx) off on every veth end and on the vxlan/bridge/tap devices where they
// can be changed. VXLAN_BENCH_ROUNDS (default 3), VXLAN_BENCH_KINDS=sluice,kernel (a subset).
// Needs root, ip, gcc, iperf3, ping, ethtool; Open vSwitch optional. Run under
// `flock /tmp/sluice-bench.lock`. Figures only, never asserts (STYLE 4.11).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NetnsLab, hasCommand, run as runCmd, waitFor } from '../test/helpers/netns.js';
import { ovsMissing, startOvs, type Ovs } from '../test/helpers/ovs.js';
import { privileged } from '../test/helpers/privileged.js';

interface Figure { name: string; value: number; unit: string; target?: number; targetMax?: number; note?: string }

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Math.max(1, Number(process.env.VXLAN_BENCH_ROUNDS ?? 3));
const FLOOD_S = 3;
const IPERF_S = 3;
const VNI = 5001;
const UL = { a: '10.202.0.1', b: '10.202.0.2' };
const VM = { a: '10.51.0.1', b: '10.51.0.2' };
const VM_MTU = 1450;
const TARGET_OVS = 2;
const TARGET_KERNEL = 0.7;

type Kind = 'sluice' | 'kernel' | 'ovs';
const LABEL: Record<Kind, string> = { sluice: 'Sluice', kernel: 'Linux vxlan + bridge', ovs: 'OVS userspace (netdev)' };

interface Round { gbps: number; retransmits: number; offKpps: number; kpps: number; lossPct: number; lossAt?: string; cpu?: string }

/**
 * A variant set up on both hosts: `down` undoes it; `diag` says what it shows when traffic fails;
 * `counters` (Sluice) reads where frames were lost, as named counters, for a before/after delta.
 */
interface Setup { down: () => Promise<void>; diag?: () => string; counters?: () => Promise<Record<string, number>>; pids?: Array<[string, number]> }

interface Bed {
  l: NetnsLab; ha: string; hb: string; va: string; vb: string;
  ua: string; ub: string; ap: string; bp: string; ai: string; bi: string;
  vaMac: string; vbMac: string; genBin: string; dir: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
const firstLines = (e: unknown, n = 3): string => (e instanceof Error ? e.message : String(e)).split('\n').filter(Boolean).slice(0, n).join(' | ');

// ------------------------------------------------------------------------------------------------
// Everything started or created is undone here, in reverse order, on success, failure or signal.
const children = new Set<ChildProcess>();
const undo: Array<() => Promise<void> | void> = [];
/** Sluice switches: stopped by their variant's teardown (SIGTERM), not killed first. */
const isSwitch = new WeakSet<ChildProcess>();

function unregister(fn: () => Promise<void> | void): void { const i = undo.indexOf(fn); if (i >= 0) undo.splice(i, 1); }

function track(c: ChildProcess): ChildProcess { children.add(c); c.on('exit', () => children.delete(c)); return c; }

async function cleanupAll(): Promise<void> {
  // commands still running (a signal arrived mid-test) first: nothing may hold a namespace open
  for (const c of children) { if (!isSwitch.has(c)) { try { c.kill('SIGKILL'); } catch { /* gone */ } } }
  while (undo.length > 0) { try { await undo.pop()!(); } catch { /* best effort */ } }
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
}

/** A command in a namespace, without blocking the loop; the child is tracked (killed on cleanup). */
function nsRun(ns: string, cmd: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = track(spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '', stderr = '';
    c.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    c.on('error', (e) => { clearTimeout(t); res({ code: -1, stdout, stderr: stderr + e.message }); });
    c.on('close', (code) => { clearTimeout(t); res({ code: code ?? -1, stdout, stderr }); });
  });
}

const CLK_TCK = 100;
/** user and kernel CPU ticks of a process (/proc/<pid>/stat fields 14, 15). */
function cpuTicks(pid: number): { usr: number; sys: number } {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { usr: Number(f[11]), sys: Number(f[12]) };
  } catch { return { usr: NaN, sys: NaN }; }
}

function rxPackets(l: NetnsLab, ns: string, dev: string): number {
  return Number(l.exec(ns, ['cat', `/sys/class/net/${dev}/statistics/rx_packets`]).trim());
}

/** ethtool -K ... off where the device lets us (a vxlan or tap device refuses some features). */
function offloadsOff(l: NetnsLab, ns: string, dev: string): boolean {
  let all = true;
  for (const f of ['gro', 'gso', 'tso', 'tx']) {
    try { l.exec(ns, ['ethtool', '-K', dev, f, 'off']); } catch { all = false; }
  }
  return all;
}

// ------------------------------------------------------------------------------------------------
function buildBed(dir: string, genBin: string): Bed {
  const l = new NetnsLab();
  undo.push(() => l.cleanup());
  const ha = l.addNs('ha'), hb = l.addNs('hb'), va = l.addNs('va'), vb = l.addNs('vb');
  const ua = l.name('ua'), ub = l.name('ub'), ap = l.name('ap'), bp = l.name('bp'), ai = l.name('ai'), bi = l.name('bi');
  l.ip(ha, ['link', 'add', ua, 'type', 'veth', 'peer', 'name', ub, 'netns', hb]);
  l.ip(va, ['link', 'add', ai, 'type', 'veth', 'peer', 'name', ap, 'netns', ha]);
  l.ip(vb, ['link', 'add', bi, 'type', 'veth', 'peer', 'name', bp, 'netns', hb]);
  for (const [ns, dev] of [[ha, ua], [hb, ub], [ha, ap], [hb, bp], [va, ai], [vb, bi]] as const) {
    if (!offloadsOff(l, ns, dev)) throw new Error(`could not turn offloads off on ${dev}`);
    l.up(ns, dev);
  }
  for (const [ns, dev, ip] of [[va, ai, VM.a], [vb, bi, VM.b]] as const) {
    l.ip(ns, ['link', 'set', dev, 'mtu', String(VM_MTU)]);
    l.addr(ns, dev, `${ip}/24`);
  }
  const hex = (ns: string, dev: string): string => l.mac(ns, dev).toString('hex');
  return { l, ha, hb, va, vb, ua, ub, ap, bp, ai, bi, vaMac: hex(va, ai), vbMac: hex(vb, bi), genBin, dir };
}

/** The underlay addresses on the veth ends (Sluice, kernel) or removed from them (OVS: on br-phy). */
function underlayOnVeths(b: Bed, on: boolean): void {
  for (const [ns, dev, ip] of [[b.ha, b.ua, UL.a], [b.hb, b.ub, UL.b]] as const) {
    if (on) b.l.addr(ns, dev, `${ip}/24`);
    else b.l.ip(ns, ['addr', 'flush', 'dev', dev]);
  }
}

// ------------------------------------------------------------------------------------------------
function mgmtGet(sock: string, path: string): Promise<unknown> {
  return new Promise((res, rej) => {
    const req = http.request({ socketPath: sock, path, method: 'GET' }, (r) => {
      let body = ''; r.on('data', (d) => { body += d; }); r.on('end', () => { try { res(JSON.parse(body)); } catch (e) { rej(e); } });
    });
    req.on('error', rej); req.end();
  });
}

/** `sluice switch` inside host namespace `ns`: a system port on the VM veth and a vxlan port. */
async function startSluice(b: Bed, ns: string, vmPort: string, local: string, remote: string, tag: string): Promise<{ stop: () => Promise<void>; sock: string; pid: number }> {
  const cfg = join(b.dir, `${tag}.yaml`), sock = join(b.dir, `${tag}.sock`), claims = join(b.dir, `claims-${tag}`);
  mkdirSync(claims, { recursive: true });
  writeFileSync(cfg, `bridges:\n  ${tag}:\n    ports:\n` +
    `      vm: { ofport: 1, type: system, device: ${vmPort} }\n` +
    `      vx: { ofport: 2, type: vxlan, local: ${local}, remote: [${remote}], vni: ${VNI} }\n`);
  rmSync(sock, { force: true });
  const child = track(spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'switch', '-c', cfg, '--socket', sock, '--log-level', 'warn'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLUICE_DEVICES_DIR: claims, FORCE_COLOR: '0' } }));
  isSwitch.add(child);
  let err = '', exited = false;
  child.stderr!.on('data', (d: Buffer) => { if (err.length < 4000) err += d.toString(); });
  child.on('exit', () => { exited = true; });
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    const end = Date.now() + 5000;
    while (!exited && Date.now() < end) await sleep(20);
    if (!exited) { child.kill('SIGKILL'); while (!exited) await sleep(20); }
  };
  try {
    await waitFor(() => exited || existsSync(sock), 30_000, `sluice switch in ${ns} (management socket)`);
    for (let i = 0; ; i++) {   // the socket file can appear a moment before the server answers
      if (exited) throw new Error('exited');
      try { await mgmtGet(sock, '/stats'); break; } catch (e) { if (i >= 50) throw e; await sleep(100); }
    }
  } catch (e) {
    await stop();
    throw new Error(`sluice switch in ${ns} did not start: ${firstLines(e, 1)}\n${err}`);
  }
  return { stop, sock, pid: child.pid ?? -1 };   // ip netns exec execs in place: the switch's pid
}

/** Drops a switch counted (by reason, and per port: kernel, rx, tx) and the host's UDP receive-buffer overflows. */
async function sluiceCounters(host: string, ns: string, sock: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const st = await mgmtGet(sock, '/stats') as { drops?: Record<string, number>; ports?: Array<{ name?: string; io?: Record<string, number> }> };
  for (const [k, v] of Object.entries(st.drops ?? {})) out[`${host} ${k}`] = v;
  for (const p of st.ports ?? []) for (const k of ['kernel-drops', 'rx-drops', 'tx-drops']) out[`${host} ${p.name ?? '?'} ${k}`] = p.io?.[k] ?? 0;
  const snmp = (await nsRun(ns, ['cat', '/proc/net/snmp'], 5000)).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  if (snmp.length === 2) {
    const [h, v] = snmp.map((l) => l.trim().split(/\s+/));
    const i = h!.indexOf('RcvbufErrors');
    if (i > 0) out[`${host} UDP RcvbufErrors`] = Number(v![i]);
  }
  return out;
}

async function setupSluice(b: Bed): Promise<Setup> {
  underlayOnVeths(b, true);
  const started = await Promise.allSettled([
    startSluice(b, b.ha, b.ap, UL.a, UL.b, 'vxa'),
    startSluice(b, b.hb, b.bp, UL.b, UL.a, 'vxb'),
  ]);
  const down = async (): Promise<void> => {
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    underlayOnVeths(b, false);
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) { await down(); throw failed.reason; }
  const [sa, sb] = started.map((s) => (s as PromiseFulfilledResult<{ sock: string; pid: number }>).value);
  const counters = async (): Promise<Record<string, number>> => ({ ...await sluiceCounters('A', b.ha, sa!.sock), ...await sluiceCounters('B', b.hb, sb!.sock) });
  return { down, counters, pids: [['A', sa!.pid], ['B', sb!.pid]] };
}

async function setupKernel(b: Bed): Promise<Setup> {
  underlayOnVeths(b, true);
  const br = b.l.name('kbr'), vx = b.l.name('kvx');
  const down = async (): Promise<void> => {
    for (const ns of [b.ha, b.hb]) for (const d of [br, vx]) { try { b.l.ip(ns, ['link', 'del', d]); } catch { /* not made */ } }
    underlayOnVeths(b, false);
  };
  try {
    for (const [ns, ul, local, remote, port] of [[b.ha, b.ua, UL.a, UL.b, b.ap], [b.hb, b.ub, UL.b, UL.a, b.bp]] as const) {
      b.l.ip(ns, ['link', 'add', vx, 'type', 'vxlan', 'id', String(VNI), 'dstport', '4789', 'local', local, 'remote', remote, 'dev', ul]);
      b.l.ip(ns, ['link', 'add', br, 'type', 'bridge']);
      for (const d of [port, vx]) { b.l.ip(ns, ['link', 'set', d, 'master', br]); b.l.up(ns, d); }
      b.l.up(ns, br);
      offloadsOff(b.l, ns, vx); offloadsOff(b.l, ns, br);
    }
  } catch (e) { await down(); throw e; }
  return { down };
}

/** Open vSwitch userspace on both hosts (see the header comment); `diag` shows its tunnel tables. */
async function setupOvs(b: Bed): Promise<Setup> {
  const instances: Array<{ ns: string; o: Ovs }> = [];
  let done = false;
  const down = async (): Promise<void> => {
    if (done) return;
    done = true;
    for (const { o } of instances.reverse()) await o.stop();
    for (const ns of [b.ha, b.hb]) for (const d of ['br-phy', 'br-int']) { try { b.l.ip(ns, ['link', 'del', d]); } catch { /* gone with its daemon */ } }
  };
  const appctl = (o: Ovs, args: string[]): string => runCmd('ovs-appctl', ['-t', join(o.dir, 'ovs-vswitchd.ctl'), ...args]);
  const diag = (): string => instances.map(({ ns, o }) => {
    const show = (args: string[]): string => { try { return appctl(o, args).trim().split('\n').filter((x) => !/fe80|::1|127\.0\.0/.test(x)).join('; '); } catch (e) { return firstLines(e, 1); } };
    return `${ns}: ovs/route/show: ${show(['ovs/route/show'])} || tnl/arp/show: ${show(['tnl/arp/show'])} || tnl/ports/show: ${show(['tnl/ports/show'])}`;
  }).join(' ### ');
  undo.push(down);   // startOvs's daemons are not our tracked children: a signal mid-setup still ends them
  try {
    for (const [ns, ul, local, remote, port] of [[b.ha, b.ua, UL.a, UL.b, b.ap], [b.hb, b.ub, UL.b, UL.a, b.bp]] as const) {
      const o = await startOvs({ wrap: ['ip', 'netns', 'exec', ns], prefix: 'sluice-vxovs-' });
      instances.push({ ns, o });
      o.vsctl(['add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail-mode=standalone',
        '--', 'add-port', 'br-int', port,
        '--', 'add-port', 'br-int', 'vx0', '--', 'set', 'interface', 'vx0', 'type=vxlan', `options:remote_ip=${remote}`, `options:key=${VNI}`]);
      o.vsctl(['add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev', 'fail-mode=standalone', '--', 'add-port', 'br-phy', ul]);
      b.l.addr(ns, 'br-phy', `${local}/24`);
      b.l.up(ns, 'br-phy');
      offloadsOff(b.l, ns, 'br-phy');
      // ovs-vswitchd caches the namespace's routes over netlink: wait until it has the underlay's
      try {
        await waitFor(() => { try { return appctl(o, ['ovs/route/show']).includes('10.202.0.0/24 dev br-phy'); } catch { return false; } }, 5000, 'the underlay route in ovs/route/show');
      } catch {
        appctl(o, ['ovs/route/add', '10.202.0.0/24', 'br-phy']);   // as the howto says, if it is missing
      }
    }
  } catch (e) {
    const d = diag();
    await down();
    throw new Error(`${firstLines(e, 2)}${d ? ` [${d}]` : ''}`);
  } finally {
    unregister(down);
  }
  return { down, diag };
}

// ------------------------------------------------------------------------------------------------
async function connectivity(b: Bed): Promise<void> {
  // ARP and learning in every switch on the path; the first pings can be lost while OVS resolves its tunnel ARP
  for (let i = 0; i < 5; i++) {
    const r = await nsRun(b.va, ['ping', '-c', '3', '-i', '0.2', '-W', '1', VM.b], 10_000);
    if (r.code === 0) return;
    await sleep(500);
  }
  throw new Error(`${VM.a} cannot ping ${VM.b} over the overlay`);
}

async function iperf(b: Bed): Promise<{ gbps: number; retransmits: number }> {
  const srv = nsRun(b.vb, ['iperf3', '-s', '-1', '-B', VM.b], (IPERF_S + 20) * 1000);
  await sleep(300);
  const r = await nsRun(b.va, ['iperf3', '-c', VM.b, '-t', String(IPERF_S), '-J'], (IPERF_S + 15) * 1000);
  await srv;
  try {
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } } };
    return { gbps: j.end.sum_received.bits_per_second / 1e9, retransmits: j.end.sum_sent.retransmits ?? NaN };
  } catch { return { gbps: NaN, retransmits: NaN }; }
}

async function flood(b: Bed): Promise<{ offKpps: number; kpps: number; lossPct: number }> {
  const before = rxPackets(b.l, b.vb, b.bi);
  const r = await nsRun(b.va, [b.genBin, b.ai, b.vbMac, b.vaMac, '0', String(FLOOD_S)], (FLOOD_S + 10) * 1000);
  await sleep(300);
  const delivered = rxPackets(b.l, b.vb, b.bi) - before;
  const [sent, secs] = r.stdout.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(sent) || !Number.isFinite(secs)) throw new Error(`ports-gen failed: ${r.stdout}${r.stderr}`);
  return { offKpps: sent! / secs! / 1000, kpps: delivered / secs! / 1000, lossPct: 100 * (1 - delivered / Math.max(1, sent!)) };
}

async function measure(b: Bed, setup: Setup): Promise<Round> {
  await connectivity(b);
  const c0 = setup.counters ? await setup.counters() : null;
  const p0 = (setup.pids ?? []).map(([, pid]) => cpuTicks(pid)), t0 = performance.now();
  const f = await flood(b);
  const secs = (performance.now() - t0) / 1000;
  const cpu = (setup.pids ?? []).map(([name, pid], i) => {
    const a = p0[i]!, z = cpuTicks(pid);
    return `${name} ${fmt((100 * (z.usr - a.usr)) / CLK_TCK / secs, 0)}+${fmt((100 * (z.sys - a.sys)) / CLK_TCK / secs, 0)} %`;
  }).join(', ') || undefined;
  let lossAt: string | undefined;
  if (c0 && setup.counters) {
    const c1 = await setup.counters();
    lossAt = Object.entries(c1).map(([k, v]) => [k, v - (c0[k] ?? 0)] as const).filter(([, d]) => d > 0).map(([k, d]) => `${k} ${d}`).join(', ') || 'nothing counted';
  }
  await sleep(500);
  const t = await iperf(b);
  return { ...f, ...t, lossAt, cpu };
}

// ------------------------------------------------------------------------------------------------
export async function run(): Promise<Figure[]> {
  const title = 'VM to VM over VXLAN';
  const skip = (why: string): Figure[] => [{ name: title, value: NaN, unit: '', note: `skipped: ${why}` }];
  const p = privileged();
  if (!p.ok) return skip(`needs root (${p.reason})`);
  for (const c of ['ip', 'gcc', 'iperf3', 'ping', 'ethtool']) if (!hasCommand(c)) return skip(`${c} not installed`);

  const onSig = (): void => { void cleanupAll().then(() => process.exit(130)); };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  const t0 = performance.now();
  // other work on the machine (this bench takes the lock; e2e suites with a CPU hog do not) shows here
  const load0 = loadavg()[0]!.toFixed(2);
  const skipped = new Map<Kind, string>();
  const res = new Map<Kind, Round[]>();
  let offNote = '';
  try {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-vxbench-'));
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    const genBin = join(dir, 'ports-gen');
    runCmd('gcc', ['-O2', '-o', genBin, join(ROOT, 'bench/ports-gen.c')], 30_000);
    const b = buildBed(dir, genBin);

    let kinds: Kind[] = ['sluice', 'kernel', 'ovs'];
    const only = process.env.VXLAN_BENCH_KINDS?.split(',').map((x) => x.trim());
    if (only) kinds = kinds.filter((k) => only.includes(k));
    const missing = ovsMissing();
    if (missing && kinds.includes('ovs')) skipped.set('ovs', `Open vSwitch: ${missing}`);
    for (const k of kinds) res.set(k, []);
    offNote = 'offloads off (gro gso tso tx) on every veth end, and where settable on vxlan/bridge/tap devices';
    console.log(`  topology: va(${b.ai}, MTU ${VM_MTU}) -- [host ${b.ha}] ${b.ua} ${UL.a} == underlay veth == ${UL.b} ${b.ub} [host ${b.hb}] -- vb(${b.bi}); VNI ${VNI}; ${offNote}`);
    console.log(`  per variant and round: 64-byte flood ${FLOOD_S} s (ports-gen, max rate) va -> vb, then iperf3 TCP 1 stream ${IPERF_S} s; ${ROUNDS} interleaved rounds, medians`);

    for (let round = 0; round < ROUNDS; round++) {
      const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
      for (const k of order) {
        if (skipped.has(k)) continue;
        const ts = performance.now();
        let setup: Setup | null = null;
        try {
          setup = k === 'sluice' ? await setupSluice(b) : k === 'kernel' ? await setupKernel(b) : await setupOvs(b);
          undo.push(setup.down);
          let r: Round;
          try { r = await measure(b, setup); } catch (e) { throw new Error(`${firstLines(e)}${setup.diag ? ` [${setup.diag()}]` : ''}`); }
          res.get(k)!.push(r);
          console.log(`  round ${round + 1}/${ROUNDS} ${LABEL[k].padEnd(24)} TCP ${fmt(r.gbps)} Gbit/s (${fmt(r.retransmits, 0)} retr), 64 B ${fmt(r.kpps, 0)} of ${fmt(r.offKpps, 0)} kpps ` +
            `(${((performance.now() - ts) / 1000).toFixed(1)} s)${r.cpu ? `; flood: switch CPU user+kernel ${r.cpu}` : ''}${r.lossAt ? `; counted ${r.lossAt}` : ''}`);
        } catch (e) {
          const why = firstLines(e, 4);
          console.log(`  round ${round + 1}/${ROUNDS} ${LABEL[k]}: failed: ${why}`);
          // a peer that cannot be set up here is skipped for the rest of the run, with its reason
          if (k !== 'sluice' && res.get(k)!.length === 0) skipped.set(k, why);
        } finally {
          if (setup) {
            unregister(setup.down);
            try { await setup.down(); } catch (e) { console.log(`  teardown of ${LABEL[k]} failed: ${firstLines(e)}`); }
          }
        }
      }
    }
  } finally {
    await cleanupAll();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }

  // ------------------------------------------------------------------------------------------------
  const m = (k: Kind, f: (r: Round) => number): number => median((res.get(k) ?? []).map(f));
  const rows: string[][] = [['variant', 'rounds', 'TCP 1 Gbit/s', 'retransmits', '64B offered kpps', '64B delivered kpps', 'loss %']];
  for (const k of res.keys()) {
    if (skipped.has(k) && (res.get(k) ?? []).length === 0) { rows.push([LABEL[k], '0', `skipped: ${skipped.get(k)}`, '', '', '', '']); continue; }
    rows.push([LABEL[k], String(res.get(k)!.length), fmt(m(k, (r) => r.gbps)), fmt(m(k, (r) => r.retransmits), 0), fmt(m(k, (r) => r.offKpps), 0),
      fmt(m(k, (r) => r.kpps), 0), fmt(Math.max(0, m(k, (r) => r.lossPct)), 1)]);
  }
  console.log(`  medians of ${ROUNDS} interleaved rounds (${((performance.now() - t0) / 1000).toFixed(0)} s in all; 1-min load average ${load0} at the start, ${loadavg()[0]!.toFixed(2)} at the end):`);
  printTable(rows);

  const figs: Figure[] = [];
  const peerNote = (metric: (r: Round) => number, unit: string, d: number): string =>
    (['kernel', 'ovs'] as const).filter((k) => res.has(k)).map((k) => `${LABEL[k]} ${skipped.has(k) && !res.get(k)!.length ? 'skipped' : `${fmt(m(k, metric), d)} ${unit}`}`).join('; ');
  figs.push({ name: 'TCP 1 stream VM to VM, Sluice on both hosts', value: m('sluice', (r) => r.gbps), unit: 'Gbit/s', note: `${peerNote((r) => r.gbps, 'Gbit/s', 2)}; inner MTU ${VM_MTU}` });
  figs.push({ name: '64-byte frames delivered VM to VM, Sluice on both hosts', value: m('sluice', (r) => r.kpps), unit: 'kpps', note: `${peerNote((r) => r.kpps, 'kpps', 0)}; offered ${fmt(m('sluice', (r) => r.offKpps), 0)} kpps (ports-gen max rate)` });
  const ratio = (what: string, metric: (r: Round) => number, peer: Kind, target: number): void => {
    const name = `  ${what}: Sluice / ${LABEL[peer]}`;
    if (!res.has(peer) || !res.has('sluice')) return;
    const why = skipped.get(peer);
    if (why !== undefined && res.get(peer)!.length === 0) { figs.push({ name, value: NaN, unit: 'x', note: `skipped: ${why}` }); return; }
    figs.push({ name, value: m('sluice', metric) / m(peer, metric), unit: 'x', target, note: `medians ${fmt(m('sluice', metric))} / ${fmt(m(peer, metric))}` });
  };
  for (const [what, metric] of [['TCP 1 stream', (r: Round) => r.gbps], ['64 B delivered', (r: Round) => r.kpps]] as const) {
    ratio(what, metric, 'ovs', TARGET_OVS);
    ratio(what, metric, 'kernel', TARGET_KERNEL);
  }
  return figs;
}

function printTable(rows: string[][]): void {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const [j, r] of rows.entries()) {
    console.log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')}`);
    if (j === 0) console.log(`  ${w.map((n) => '-'.repeat(n)).join('  ')}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of await run()) console.log(f);
}
