// The controller end to end, as an operator runs it: `sluice controller`, two `sluice switch`
// daemons joined by a trunk veth, an Open vSwitch 3.1 userspace bridge (fail-mode secure) joined
// to them by a second trunk, namespace VMs on each; networks blue and red made with the CLI.
// Checks the reachability matrix, LLDP topology, restarts of the controller (kill -9: 0 pings
// lost, no FLOW/GROUP/METER_MOD after reconnect) and of a switch, a flow deleted behind the
// controller's back, channel changes on Sluice and on Open vSwitch, a channel split by demand
// across a Sluice switch and Open vSwitch (its meter read back with ovs-ofctl), a loop among trunks, and bad
// input through the CLI.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab, waitFor } from '../helpers/netns.js';
import type { ExecResult } from '../helpers/netns.js';
import { startOvs } from '../helpers/ovs.js';
import type { Ovs } from '../helpers/ovs.js';
import { ControllerProc, expectEventually } from './controller-harness.js';
import { ReceivedBytes, SwitchProc, addHost, expectRate, freePort, iperf } from './switch-harness.js';
import { parseRate } from '../../src/qos/units.js';
import type { Host } from './switch-harness.js';

interface SwitchRow { name: string; connected: boolean; learnedMacs: number; lastReconcile: { ok: boolean; flowMods: number; groupMods: number; meterMods: number; errors: string[]; at: string } | null }

describePrivileged('sluice controller: two Sluice switches and Open vSwitch', () => {
  let lab: NetnsLab;
  let ctl: ControllerProc;
  let ovs: Ovs | null = null;
  const sw: Record<'s1' | 's2', SwitchProc | null> = { s1: null, s2: null };
  const yaml: Record<'s1' | 's2', string> = { s1: '', s2: '' };
  const hosts: Record<string, Host> = {};
  const net: Record<string, 'blue' | 'red'> = { a1: 'blue', a2: 'red', b1: 'blue', b2: 'red', o1: 'blue', o2: 'red' };
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-ctl-e2e-'));
  let trunkS1S2 = '', trunkS2S1 = '', trunkS2O = '', trunkOS2 = '';

  const switches = async (): Promise<SwitchRow[]> => (await ctl.json<{ switches: SwitchRow[] }>(['switches'])).switches;
  const ping = (from: string, to: string, count = 2): Promise<ExecResult> =>
    lab.execAsync(hosts[from]!.ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', hosts[to]!.ip], 15_000);

  beforeAll(async () => {
    lab = new NetnsLab();
    ctl = new ControllerProc(stateDir, await freePort(), await freePort());
    await ctl.start();
    let ip = 1;
    for (const h of Object.keys(net)) hosts[h] = addHost(lab, h, `10.77.0.${ip++}`);
    trunkS1S2 = lab.name('t12'); trunkS2S1 = lab.name('t21'); trunkS2O = lab.name('t2o'); trunkOS2 = lab.name('to2');
    lab.addVeth(trunkS1S2, trunkS2S1);
    lab.addVeth(trunkS2O, trunkOS2);
    for (const d of [trunkS1S2, trunkS2S1, trunkS2O, trunkOS2]) lab.offloadsOff(null, d);
    const port = (n: number, name: string, dev: string): string => `      ${name}: { ofport: ${n}, type: system, device: ${dev} }\n`;
    const bridge = (name: string, ports: string): string =>
      `bridges:\n  ${name}:\n    description: ${name}/br0\n    fail-mode: secure\n    controllers: ["tcp:127.0.0.1:${ctl.ofPort}"]\n    ports:\n${ports}`;
    yaml.s1 = bridge('s1', port(1, 'a1', hosts.a1!.root) + port(2, 'a2', hosts.a2!.root) + port(10, 'trunk', trunkS1S2));
    yaml.s2 = bridge('s2', port(1, 'b1', hosts.b1!.root) + port(2, 'b2', hosts.b2!.root) + port(10, 'trunk1', trunkS2S1) + port(11, 'trunk2', trunkS2O));
    sw.s1 = await SwitchProc.start(yaml.s1);
    sw.s2 = await SwitchProc.start(yaml.s2);
    ovs = await startOvs();
    ovs.vsctl(['add-br', 'ovsbr', '--', 'set', 'bridge', 'ovsbr', 'datapath_type=netdev', 'fail-mode=secure', 'protocols=OpenFlow13',
      'other-config:dp-desc=ovs/br0', 'other-config:datapath-id=00000000000000aa',
      '--', 'add-port', 'ovsbr', hosts.o1!.root, '--', 'add-port', 'ovsbr', hosts.o2!.root, '--', 'add-port', 'ovsbr', trunkOS2,
      '--', 'set-controller', 'ovsbr', `tcp:127.0.0.1:${ctl.ofPort}`]);
    ovs.vsctl(['--', '--id=@c', 'get', 'Bridge', 'ovsbr', 'controller', '--', 'set', 'controller', 'ovsbr', 'max_backoff=1000']);
    await expectEventually('three switches connected', async () => (await switches()).filter((s) => s.connected).length === 3);

    await ctl.ok(['net', 'create', 'blue', '--vid', '100']);
    await ctl.ok(['net', 'create', 'red', '--vid', '200']);
    for (const [h, n] of Object.entries(net)) {
      const target = h.startsWith('a') ? `s1/br0:${h}` : h.startsWith('b') ? `s2/br0:${h}` : `ovs/br0:${hosts[h]!.root}`;
      await ctl.ok(['attach', n, target]);
    }
    await expectEventually('two trunks found by LLDP', async () => (await ctl.json<{ links: unknown[] }>(['topology'])).links.length === 2);
  }, 180_000);

  afterAll(async () => {
    for (const s of [sw.s1, sw.s2]) await s?.stop();
    await ctl?.stop();
    await ovs?.stop();
    lab?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('pings within a network, never across, both ways, for every pair of VMs', async () => {
    const pairs = Object.keys(net).flatMap((a) => Object.keys(net).filter((b) => b !== a).map((b) => [a, b] as const));
    const results = await Promise.all(pairs.map(async ([a, b]) => [a, b, (await ping(a, b)).code] as const));
    const wrong = results.filter(([a, b, code]) => (net[a] === net[b]) !== (code === 0)).map(([a, b, code]) => `${a}->${b}: ping exit ${code}`);
    expect(wrong).toEqual([]);
  }, 90_000);

  it('lets no broadcast of blue be seen by red', async () => {
    const dumps = ['a2', 'b2', 'o2'].map((h) => lab.execAsync(hosts[h]!.ns, ['timeout', '4', 'tcpdump', '-nli', hosts[h]!.inner, '-c', '1', 'ether src', [...lab.mac(hosts.a1!.ns, hosts.a1!.inner)].map((b) => b.toString(16).padStart(2, '0')).join(':')], 10_000));
    await new Promise((r) => setTimeout(r, 800));
    await lab.execAsync(hosts.a1!.ns, ['ping', '-b', '-c', '3', '-i', '0.2', '-W', '1', '10.77.0.255'], 10_000);
    for (const d of await Promise.all(dumps)) expect(d.stdout + d.stderr).toMatch(/0 packets captured/);
  }, 30_000);

  it('shows the trunks LLDP found', async () => {
    const topo = await ctl.json<{ links: { a: { switch: string }; b: { switch: string }; blocked: boolean }[] }>(['topology']);
    const pairs = topo.links.map((l) => [l.a.switch, l.b.switch].sort().join(' - ')).sort();
    expect(pairs).toEqual(['ovs/br0 - s2/br0', 's1/br0 - s2/br0']);
    expect(topo.links.every((l) => !l.blocked)).toBe(true);
  });

  it('survives kill -9 of the controller: 0 pings lost, nothing resent on reconnect', async () => {
    await ping('a1', 'b1'); await ping('a1', 'o1');
    const before = await switches();
    const pinger = lab.execAsync(hosts.a1!.ns, ['ping', '-i', '0.01', '-c', '500', '-W', '1', hosts.o1!.ip], 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    ctl.kill9();
    await new Promise((r) => setTimeout(r, 300));
    await ctl.start();
    const p = await pinger;
    expect(p.stdout).toMatch(/500 packets transmitted, 500 received/);
    const after = await expectEventually('all three switches back and reconciled', async () => {
      const rows = await switches();
      return rows.length === 3 && rows.every((s) => s.connected && s.lastReconcile && before.every((b) => b.name !== s.name || b.lastReconcile === null || Date.parse(s.lastReconcile!.at) > Date.parse(b.lastReconcile.at))) ? rows : undefined;
    });
    for (const s of after) {
      expect({ switch: s.name, errors: s.lastReconcile!.errors, mods: s.lastReconcile!.flowMods + s.lastReconcile!.groupMods + s.lastReconcile!.meterMods })
        .toEqual({ switch: s.name, errors: [], mods: 0 });
    }
    const metrics = await fetchText(`http://127.0.0.1:${ctl.apiPort}/metrics`, readFileSync(join(stateDir, 'api-token'), 'utf8').trim());
    expect(metrics).not.toMatch(/sluice_controller_mods_sent_total\{[^}]*\} [1-9]/);
    expect(sw.s1!.stderr + sw.s2!.stderr).not.toMatch(/OFPT_ERROR|"level":50/);
  }, 90_000);

  it('reprograms a switch that restarts empty, and restores a flow deleted behind its back', async () => {
    await sw.s1!.stop();
    sw.s1 = await SwitchProc.start(yaml.s1);
    await expectEventually('s1 back', async () => (await switches()).find((s) => s.name === 's1/br0')?.connected === true);
    await expectEventually('a1 reaches b1 again', async () => (await ping('a1', 'b1', 1)).code === 0);
    ovs!.ofctl(['del-flows', 'ovsbr']);
    expect((await ping('o1', 'b1', 1)).code).not.toBe(0);
    const r = await ctl.json<{ reconciled: { switch: string; flowMods: number }[] }>(['reconcile', 'ovs/br0']);
    expect(r.reconciled[0]!.flowMods).toBeGreaterThan(5);
    await expectEventually('o1 reaches b1 again', async () => (await ping('o1', 'b1', 1)).code === 0);
  }, 90_000);

  for (const where of ['sluice', 'ovs'] as const) {
    it(`changes a channel from 20 to 5 Mbit/s while UDP flows through ${where === 'sluice' ? 'a Sluice switch' : 'Open vSwitch'}`, async () => {
      const src = where === 'sluice' ? 'b1' : 'o1', dst = where === 'sluice' ? 'a1' : 'b1';
      const target = where === 'sluice' ? `s2/br0:${src}` : `ovs/br0:${hosts[src]!.root}`;
      const ch = `ch${where}`;
      await ctl.ok(['channel', 'create', ch, '--rate', '20mbit', '--burst', '32kb']);
      await ctl.ok(['channel', 'assign', ch, target]);
      // What the receiver got, as Ethernet frames (what a meter counts), read off its veth with
      // the time of each read; the switches' CPU waits are sampled with it (see rateFloor).
      const rx = ReceivedBytes.start(hosts[dst]!.root).watch(sw.s1!.child.pid).watch(sw.s2!.child.pid);
      let retMs = 0;
      await iperf(lab, hosts[src]!, hosts[dst]!, ['-u', '-b', '40M', '-t', '8', '-l', '1200'], {
        onClient: (c) => rx.watch(c.pid),
        during: async () => {
          await waitFor(() => { const t0 = rx.startedAt(); return t0 !== undefined && performance.now() - t0 >= 1500; }, 20_000, '1.5 s of UDP traffic');
          await ctl.ok(['channel', 'set', ch, '--rate', '5mbit']);
          retMs = performance.now();
        },
      });
      rx.stop();
      const after = rx.windows(retMs + 1000, rx.stoppedAt());
      console.log(`[channel ${where}] each second from 1 s after \`channel set\` returned: ${after.map((w) => `${(w.bps / 1e6).toFixed(2)} (waited ${w.waitMs.toFixed(0)} ms)`).join(', ')} Mbit/s`);
      expect(after.length).toBeGreaterThanOrEqual(2);
      for (const w of after) expectRate(w, 5e6);
      await ctl.ok(['detach', target]);
      await ctl.ok(['attach', net[src]!, target]);
      await ctl.ok(['channel', 'delete', ch]);
    }, 60_000);
  }

  it('splits a channel over a Sluice switch and Open vSwitch by demand, following it from one to the other', async () => {
    const RATE = 20e6;
    const targets = { sluice: 's2/br0:b1', ovs: `ovs/br0:${hosts.o1!.root}` } as const;
    await ctl.ok(['channel', 'create', 'chsplit', '--rate', '20mbit']);
    for (const t of Object.values(targets)) await ctl.ok(['channel', 'assign', 'chsplit', t]);
    const parts = async (): Promise<Record<string, number>> => {
      const r = await ctl.json<{ channels: { name: string; shares: { switch: string; rate: string }[] }[] }>(['channel', 'list']);
      const c = r.channels.find((x) => x.name === 'chsplit')!;
      const out = Object.fromEntries(c.shares.map((s) => [s.switch, parseRate(s.rate).perSec]));
      expect(Object.values(out).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(RATE);   // never more than the rate in all
      return out;
    };
    // Open vSwitch's meter, as it holds it (kbps).
    const ovsMeterKbps = (): number => Number(/type=drop rate=(\d+)/.exec(ovs!.ofctl(['dump-meters', 'ovsbr']).split('\n').find((l) => l.includes('type=drop')) ?? '')?.[1] ?? NaN);
    // Only o1 (behind Open vSwitch) sends: Open vSwitch gets most of the channel.
    await iperf(lab, hosts.o1!, hosts.b1!, ['-u', '-b', '30M', '-t', '12', '-l', '1200'], {
      during: async () => {
        // Its own meter says so (ovs-ofctl), and so does the controller.
        await expectEventually('Open vSwitch\'s meter to have most of the channel', async () => (ovsMeterKbps() * 1000 >= 0.9 * RATE ? true : undefined), 8_000);
        expect((await parts())['ovs/br0']).toBeGreaterThanOrEqual(0.9 * RATE);
      },
    });
    // Then only b1 (behind Sluice s2): the part moves over.
    await iperf(lab, hosts.b1!, hosts.a1!, ['-u', '-b', '30M', '-t', '12', '-l', '1200'], {
      during: async () => {
        await expectEventually('Open vSwitch\'s meter to give it up', async () => (ovsMeterKbps() * 1000 <= 0.1 * RATE ? true : undefined), 8_000);
        expect((await parts())['s2/br0']).toBeGreaterThanOrEqual(0.9 * RATE);
      },
    });
    for (const t of Object.values(targets)) await ctl.ok(['channel', 'unassign', t]);
    await ctl.ok(['channel', 'delete', 'chsplit']);
  }, 90_000);

  it('breaks a loop among trunks by blocking one link, and still forwards', async () => {
    const x = lab.name('t1o'), y = lab.name('to1');
    lab.addVeth(x, y);
    lab.offloadsOff(null, x); lab.offloadsOff(null, y);
    await sw.s1!.cli(['port', 'add', 'trunk2', '--ofport', '11', '--type', 'system', '--device', x]);
    ovs!.vsctl(['add-port', 'ovsbr', y]);
    const topo = await expectEventually('three links, one blocked', async () => {
      const t = await ctl.json<{ links: { blocked: boolean }[] }>(['topology']);
      return t.links.length === 3 && t.links.filter((l) => l.blocked).length === 1 ? t : undefined;
    });
    expect(topo.links).toHaveLength(3);
    expect((await ping('a1', 'o1')).code).toBe(0);
    expect((await ping('b2', 'o2')).code).toBe(0);
    expect((await ping('a1', 'o2')).code).not.toBe(0);
  }, 60_000);

  it('answers bad input with one line and changes nothing', async () => {
    const bad = join(stateDir, 'bad.json');
    writeFileSync(bad, '{"networks": [ {"name": "x", ');
    const cases: [string[], number, RegExp][] = [
      [['apply', '-f', bad], 2, /bad\.json/],
      [['attach', 'nosuch', 's1/br0:a1', '--replace'], 1, /network "nosuch" does not exist/],
      [['net', 'create', 'green', '--vid', '100'], 1, /vid 100 .* already used by network "blue"/],
      [['attach', 'blue', 's1/br0:a1'], 1, /already attached/],
      [['net', 'create', 'green', '--vid', 'abc'], 2, /vid/],
    ];
    const before = await ctl.ok(['net', 'list', '--json']);
    for (const [args, code, re] of cases) {
      const r = await ctl.cli(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    expect(await ctl.ok(['net', 'list', '--json'])).toBe(before);
  }, 60_000);

  it('a switch that disconnects mid-change converges when it is back', async () => {
    await sw.s2!.stop();
    sw.s2 = null;
    await ctl.ok(['net', 'create', 'green', '--vid', '300']);
    await ctl.ok(['attach', 'green', `ovs/br0:${hosts.o2!.root}`, '--replace']);
    sw.s2 = await SwitchProc.start(yaml.s2);
    await expectEventually('s2 back', async () => (await switches()).find((s) => s.name === 's2/br0')?.connected === true);
    const r = await ctl.json<{ reconciled: { switch: string; flowMods: number; errors: string[] }[] }>(['reconcile']);
    for (const s of r.reconciled) expect({ s: s.switch, mods: s.flowMods, errors: s.errors }).toEqual({ s: s.switch, mods: 0, errors: [] });
    await ctl.ok(['attach', 'red', `ovs/br0:${hosts.o2!.root}`, '--replace']);
    await expectEventually('o2 reaches b2 in red again', async () => (await ping('o2', 'b2', 1)).code === 0);
  }, 90_000);
}, { tools: ['ping', 'tcpdump', 'iperf3', 'ethtool', 'ovs-vsctl', 'ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-ofctl'] });

async function fetchText(url: string, token: string): Promise<string> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return r.text();
}

