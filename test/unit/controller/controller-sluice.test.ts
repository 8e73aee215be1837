// The controller driving real Sluice bridges (in-process, memory ports, real OpenFlow agents over
// TCP): networks isolate, learning turns floods into unicast, LLDP finds the trunk, and a
// controller restart finds everything in place and sends no FLOW_MOD, GROUP_MOD or METER_MOD.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { createNetwork, putAttachment, createChannel, patchChannel } from '../../../src/controller/intent.js';
import { Lab, until } from './lab.js';
import type { LabSwitch } from './lab.js';

const mac = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
const BCAST = 'ff:ff:ff:ff:ff:ff';
const frame = (src: number, dst: string, tag?: number): Buffer => buildFrame({
  dst, src: mac(src), vlans: tag === undefined ? undefined : [{ vid: tag }],
  payload: { kind: 'ipv4', src: `10.0.0.${src}`, dst: '10.0.0.99', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(32) } },
});

describe('controller with Sluice switches', () => {
  let lab: Lab;
  let s1: LabSwitch, s2: LabSwitch;

  beforeEach(async () => {
    lab = await Lab.create();
    const ctl = await lab.startController();
    s1 = await lab.addSwitch('h1', ['vm1', 'vm2', 'trunk'], 0x1n);
    s2 = await lab.addSwitch('h2', ['vm1', 'vm2', 'trunk'], 0x2n);
    lab.wire(s1.ports.get('trunk')!, s2.ports.get('trunk')!);
    await until('both switches', () => ctl.switches().filter((s) => s.connected).length === 2);
    await ctl.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
    await ctl.change((i) => createNetwork(i, { name: 'red', vid: 200 }));
    for (const h of ['h1', 'h2']) {
      await ctl.change((i) => putAttachment(i, `${h}/br0`, 'vm1', { network: 'blue' }));
      await ctl.change((i) => putAttachment(i, `${h}/br0`, 'vm2', { network: 'red' }));
    }
    await until('the trunk', () => ctl.topology().links.length === 1);
    await ctl.reconcile();
    lab.drainAll();
  });
  afterEach(async () => { await lab.close(); });

  it('floods within a network only, untagged on access ports, across the trunk', async () => {
    s1.ports.get('vm1')!.inject(frame(1, BCAST));
    const got = await until('the broadcast at h2 vm1', () => { const f = lab.take(s2, 'vm1'); return f.length > 0 ? f : undefined; });
    expect(got[0]).toEqual(frame(1, BCAST));
    await new Promise((r) => setTimeout(r, 50));
    expect(lab.take(s1, 'vm2')).toEqual([]);
    expect(lab.take(s2, 'vm2')).toEqual([]);
    expect(lab.take(s1, 'vm1')).toEqual([]);   // never back out of the ingress port
  });

  it('drops tagged frames on access ports and frames of other networks', async () => {
    s1.ports.get('vm1')!.inject(frame(1, BCAST, 200));
    await new Promise((r) => setTimeout(r, 100));
    expect(lab.take(s2, 'vm2')).toEqual([]);
    expect(lab.take(s1, 'vm2')).toEqual([]);
  });

  it('learns MACs and forwards known unicast to one port only', async () => {
    const ctl = lab.controller!;
    s2.ports.get('vm1')!.inject(frame(2, BCAST));           // h2 vm1 (mac 2) speaks first
    await until('learned on both switches', () => ctl.switches().every((s) => s.learnedMacs >= 1));
    lab.drainAll();
    s1.ports.get('vm1')!.inject(frame(1, mac(2)));
    const got = await until('unicast at h2 vm1', () => { const f = lab.take(s2, 'vm1'); return f.length > 0 ? f : undefined; });
    expect(got).toEqual([frame(1, mac(2))]);
    const flows = s1.bridge.dumpFlows({ tableId: 2 });
    expect(flows.some((f) => f.match.some((m) => m.field === 'eth_dst' && m.value === 0x0200_0000_0002n))).toBe(true);
  });

  it('restarts without sending a single FLOW_MOD, GROUP_MOD or METER_MOD, keeping learned MACs', async () => {
    let ctl = lab.controller!;
    await ctl.change((i) => createChannel(i, { name: 'gold', rate: '20mbit' }));
    await ctl.change((i) => putAttachment(i, 'h1/br0', 'vm1', { network: 'blue', channel: 'gold' }));
    s2.ports.get('vm1')!.inject(frame(2, BCAST));
    await until('learned', () => ctl.switches().every((s) => s.learnedMacs >= 1));
    await ctl.reconcile();
    const flowsBefore = s1.bridge.dumpFlows().map((f) => `${f.tableId} ${f.priority} ${JSON.stringify(f.match, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`).sort();
    await lab.stopController();
    ctl = await lab.startController();
    const summaries = await until('both switches reconciled', () => {
      const s = ctl.switches().filter((x) => x.connected && x.lastReconcile);
      return s.length === 2 ? s.map((x) => x.lastReconcile!) : undefined;
    });
    for (const r of summaries) {
      expect(r.errors).toEqual([]);
      expect([r.flowMods, r.groupMods, r.meterMods]).toEqual([0, 0, 0]);
    }
    expect(summaries.find((r) => r.switch === 'h1/br0')!.adopted).toBeGreaterThanOrEqual(1);
    const flowsAfter = s1.bridge.dumpFlows().map((f) => `${f.tableId} ${f.priority} ${JSON.stringify(f.match, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`).sort();
    expect(flowsAfter).toEqual(flowsBefore);
    // and a second reconcile of unchanged intent sends nothing either
    const again = await ctl.reconcile();
    expect(again.map((r) => r.flowMods + r.groupMods + r.meterMods)).toEqual([0, 0]);
  });

  it('restores a flow deleted behind its back, and reprograms a switch that lost everything', async () => {
    const ctl = lab.controller!;
    s1.bridge.flowMod({ command: 'delete', spec: { tableId: 3, priority: 0, match: [], instructions: {}, cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 }, tableId: 0xff }, Date.now());
    expect(s1.bridge.dumpFlows().length).toBe(0);
    const [r] = await ctl.reconcile('h1/br0');
    expect(r!.flowMods).toBeGreaterThan(5);
    s1.ports.get('vm1')!.inject(frame(1, BCAST));
    await until('the broadcast at h2 vm1', () => lab.take(s2, 'vm1').length > 0 || undefined);
  });

  it('changes a channel on every switch that carries it, keeping the meter id', async () => {
    const ctl = lab.controller!;
    await ctl.change((i) => createChannel(i, { name: 'gold', rate: '20mbit' }));
    await ctl.change((i) => putAttachment(i, 'h1/br0', 'vm1', { network: 'blue', channel: 'gold' }));
    await ctl.change((i) => putAttachment(i, 'h2/br0', 'vm1', { network: 'blue', channel: 'gold' }));
    const meterId = ctl.channelViews()[0]!.meterId;
    // split evenly: 10 mbit on each switch
    expect(ctl.channelViews()[0]!.shares.map((s) => s.rate)).toEqual(['10mbit', '10mbit']);
    const res = await ctl.change((i) => patchChannel(i, 'gold', { rate: '200mbit' }));
    expect(res.switches.map((s) => s.meterMods)).toEqual([1, 1]);
    expect(res.switches.map((s) => s.flowMods)).toEqual([0, 0]);
    for (const s of [s1, s2]) {
      const m = s1 === s ? s1.agent : s2.agent;
      expect(m).toBeDefined();
    }
    expect(ctl.channelViews()[0]!.meterId).toBe(meterId);
  });
});

describe('controller: ports that come and go', () => {
  it('programs a port that appears after the switch connected, without waiting for a periodic reconcile', async () => {
    const lab = await Lab.create();
    try {
      const ctl = await lab.startController();
      const s1 = await lab.addSwitch('h1', ['vm1'], 0x21n);
      await until('switch', () => ctl.switches().some((s) => s.connected && s.lastReconcile));
      await ctl.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
      await ctl.change((i) => putAttachment(i, 'h1/br0', 'vm2', { network: 'blue' }));   // no such port yet
      const { MemoryPort } = await import('../../../src/datapath/ports/memory.js');
      const vm2 = new MemoryPort('vm2');
      await vm2.open();
      s1.bridge.addPort({ ofport: 2, name: 'vm2', backend: vm2 });
      s1.ports.set('vm2', vm2);
      await until('vm2 classified', () => s1.bridge.dumpFlows({ tableId: 0 }).some((f) => f.match.some((m) => m.field === 'in_port' && m.value === 2n)) || undefined);
    } finally {
      await lab.close();
    }
  });
});

describe('controller: a change that cannot be made durable', () => {
  it('is refused, and switches that already had it are put back', async () => {
    const lab = await Lab.create();
    try {
      const { FileStateStore } = await import('../../../src/controller/store.js');
      const real = new FileStateStore(lab.stateDir);
      let failNext = false;
      const store = {
        where: real.where,
        load: () => real.load(),
        save: async (s: Parameters<typeof real.save>[0]): Promise<void> => {
          if (failNext) { failNext = false; throw new Error('ENOSPC: no space left on device'); }
          await real.save(s);
        },
      };
      const ctl = await lab.startController({ store });
      const s1 = await lab.addSwitch('h1', ['vm1'], 0x11n);
      await until('switch', () => ctl.switches().some((s) => s.connected && s.lastReconcile));
      await ctl.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
      await ctl.change((i) => createChannel(i, { name: 'gold', rate: '20mbit' }));
      await ctl.change((i) => putAttachment(i, 'h1/br0', 'vm1', { network: 'blue', channel: 'gold' }));
      failNext = true;
      await expect(ctl.change((i) => patchChannel(i, 'gold', { rate: '5mbit' }))).rejects.toThrow(/ENOSPC/);
      expect(ctl.intent.channels).toEqual([{ name: 'gold', rate: '20mbit' }]);
      const [r] = await ctl.reconcile('h1/br0');
      expect(r!.meterMods).toBe(0);   // the switch holds the 20 Mbit/s meter again
      expect(s1.bridge.dumpFlows().length).toBeGreaterThan(0);
    } finally {
      await lab.close();
    }
  });
});
