// Unit: a channel over two switches, split by demand, with two controllers on etcd (a real one on
// loopback ports). The leader moves the parts as demand moves; the follower, which sends nothing,
// shows the same parts (read from the meters), and a follower that becomes leader adopts what the
// meters hold: its reconcile sends no METER_MOD.
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../../../src/agent/openflow/agent.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { buildFrame } from '../../../src/packet/build.js';
import { Controller } from '../../../src/controller/controller.js';
import { EtcdStateStore } from '../../../src/controller/etcd.js';
import { createChannel, createNetwork, putAttachment } from '../../../src/controller/intent.js';
import { parseRate } from '../../../src/qos/units.js';
import { startEtcd } from '../../helpers/etcd.js';
import type { EtcdCluster } from '../../helpers/etcd.js';
import { describeWithTools } from '../../helpers/privileged.js';
import { freeTcpPort, until } from './lab.js';

const TOTAL = 8_000_000;
const frame = buildFrame({
  dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01',
  payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.99', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(1000 - 42) } },
});

describeWithTools('a channel split by demand, two controllers on etcd', () => {
  const log = pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' });
  let etcd: EtcdCluster;
  const ctls: (Controller | null)[] = [];
  const agents: OpenFlowAgent[] = [];
  const bridges: Bridge[] = [];
  const vm1: MemoryPort[] = [];
  const timers: NodeJS.Timeout[] = [];

  beforeAll(async () => {
    etcd = await startEtcd(1);
    const ports = [await freeTcpPort(), await freeTcpPort()];
    for (const [i, p] of ports.entries()) {
      ctls.push(await Controller.start({
        stateDir: '/nonexistent', openflow: `ptcp:${p}:127.0.0.1`, log: log.child({ ctl: i }), lldpIntervalMs: 60_000, reconcileIntervalMs: 0,
        store: new EtcdStateStore({ endpoints: etcd.endpoints, prefix: '/ha-split/' }), leaseTtlS: 1, id: `c${i}`, splitIntervalMs: 100,
      }));
    }
    for (const [i, host] of ['h1', 'h2'].entries()) {
      const bridge = new Bridge({ name: 'br0', datapathId: BigInt(i + 1), pool: new PacketPool(1024, 2048) });
      for (const [k, n] of ['vm1', 'vm2'].entries()) {
        const mp = new MemoryPort(n, { record: false });
        bridge.addPort({ ofport: k + 1, name: n, backend: mp });
        await mp.open();
        if (n === 'vm1') vm1.push(mp);
      }
      const agent = new OpenFlowAgent(bridge, {
        controllers: ports.map((p) => `tcp:127.0.0.1:${p}`), failMode: 'secure', dpDesc: `${host}/br0`, log, reconnectMs: { min: 50, max: 200 }, portPollMs: 100,
      });
      await agent.start();
      bridges.push(bridge); agents.push(agent);
    }
    timers.push(setInterval(() => { const now = performance.timeOrigin + performance.now(); for (const b of bridges) b.poll(now); }, 2));
    const leader = await until('a leader', () => ctls.find((c) => c?.isLeader) ?? undefined);
    await until('both switches on both controllers', () => ctls.every((c) => c!.switches().filter((s) => s.connected).length === 2));
    await leader.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
    await leader.change((i) => createChannel(i, { name: 'gold', rate: '8mbit' }));
    for (const h of ['h1', 'h2']) {
      await leader.change((i) => putAttachment(i, `${h}/br0`, 'vm1', { network: 'blue', channel: 'gold' }));
      await leader.change((i) => putAttachment(i, `${h}/br0`, 'vm2', { network: 'blue' }));
    }
  }, 30_000);

  afterAll(async () => {
    for (const t of timers) clearInterval(t);
    for (const a of agents) await a.stop();
    for (const c of ctls) await c?.stop();
    await etcd?.stop();
  });

  const parts = (c: Controller): Map<string, number> => new Map((c.channelViews()[0]?.shares ?? []).map((s) => [s.switch, parseRate(s.rate).perSec]));

  it('the follower shows the parts the leader set; a new leader adopts them and sends no METER_MOD', async () => {
    const leader = ctls.find((c) => c!.isLeader)!;
    const follower = ctls.find((c) => c !== leader)!;
    // h1 offers about 2x the channel (20 frames of 1,000 B every 10 ms).
    timers.push(setInterval(() => { for (let k = 0; k < 20; k++) vm1[0]!.inject(frame); }, 10));
    await until('the leader to give h1 most of the channel', () => (parts(leader).get('h1/br0')! >= 0.9 * TOTAL ? true : undefined), 10_000);
    // The follower, which sends nothing, reads the same parts off the meters (once a second).
    await until('the follower to show them', () => {
      const l = parts(leader), f = parts(follower);
      return f.get('h1/br0') === l.get('h1/br0') && f.get('h2/br0') === l.get('h2/br0') ? true : undefined;
    }, 5_000);
    // Steady demand: the parts stay. The leader goes; the follower takes over without touching the meters.
    const held = parts(follower);
    const i = ctls.indexOf(leader);
    await leader.stop();
    ctls[i] = null;
    await until('the follower to lead', () => (follower.isLeader && follower.switches().every((s) => s.role === 'master' && s.lastReconcile !== null) ? true : undefined), 10_000);
    await until('its reconciles to have run', () => follower.switches().filter((s) => s.lastReconcile && Date.parse(s.lastReconcile.at) > 0).length === 2);
    for (const s of follower.switches()) expect({ switch: s.name, meterMods: s.lastReconcile!.meterMods }).toEqual({ switch: s.name, meterMods: 0 });
    expect(parts(follower)).toEqual(held);
  }, 40_000);
}, { tools: ['etcd'] });
