// Three Sluice switches cabled in a triangle: LLDP finds all three trunks, the controller blocks
// one to break the loop and says which, and a broadcast reaches every VM of its network exactly
// once. Then a switch that is away while the intent changes converges when it comes back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { createNetwork, putAttachment } from '../../../src/controller/intent.js';
import { OpenFlowAgent } from '../../../src/agent/openflow/agent.js';
import { Lab, until } from './lab.js';
import type { LabSwitch } from './lab.js';

const bcast = (src: number): Buffer => buildFrame({
  dst: 'ff:ff:ff:ff:ff:ff', src: `02:00:00:00:00:${src.toString(16).padStart(2, '0')}`,
  payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.255', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(20) } },
});

describe('controller topology', () => {
  let lab: Lab;
  let sw: LabSwitch[];

  beforeEach(async () => {
    lab = await Lab.create();
    const ctl = await lab.startController();
    sw = [];
    for (let i = 0; i < 3; i++) sw.push(await lab.addSwitch(`h${i}`, ['vm1', 'ta', 'tb'], BigInt(i + 1)));
    // h0.ta - h1.tb, h1.ta - h2.tb, h2.ta - h0.tb
    for (let i = 0; i < 3; i++) lab.wire(sw[i]!.ports.get('ta')!, sw[(i + 1) % 3]!.ports.get('tb')!);
    await until('three switches', () => ctl.switches().filter((s) => s.connected).length === 3);
    await ctl.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
    for (let i = 0; i < 3; i++) await ctl.change((x) => putAttachment(x, `h${i}/br0`, 'vm1', { network: 'blue' }));
    await until('three links', () => ctl.topology().links.length === 3);
    await ctl.reconcile();
    lab.drainAll();
  });
  afterEach(async () => { await lab.close(); });

  it('blocks one trunk of the triangle and delivers a broadcast once to every VM', async () => {
    const topo = lab.controller!.topology();
    expect(topo.links.filter((l) => l.blocked)).toHaveLength(1);
    expect(lab.controller!.switches().flatMap((s) => s.ports).filter((p) => p.role === 'blocked')).toHaveLength(2);
    sw[0]!.ports.get('vm1')!.inject(bcast(1));
    await until('the broadcast at h1 and h2', () => sw[1]!.ports.get('vm1')!.sent.length > 0 && sw[2]!.ports.get('vm1')!.sent.length > 0);
    await new Promise((r) => setTimeout(r, 300));   // a loop would keep copies coming
    expect(lab.take(sw[1]!, 'vm1')).toHaveLength(1);
    expect(lab.take(sw[2]!, 'vm1')).toHaveLength(1);
    expect(lab.take(sw[0]!, 'vm1')).toHaveLength(0);
  });

  it('a switch away during a change converges when it comes back; the change is not half-applied elsewhere', async () => {
    const ctl = lab.controller!;
    const away = sw[2]!;
    await away.agent.stop();
    await until('h2 gone', () => ctl.switches().find((s) => s.name === 'h2/br0')?.connected === false);
    const res = await ctl.change((x) => createNetwork(x, { name: 'red', vid: 200 }));
    expect(res.switches.map((s) => s.switch).sort()).toEqual(['h0/br0', 'h1/br0']);
    expect(res.switches.every((s) => s.ok)).toBe(true);
    expect(ctl.switches().find((s) => s.name === 'h2/br0')!.connected).toBe(false);
    // back, with what it held before: it gets red's trunk flows and groups
    const agent = new OpenFlowAgent(away.bridge, { controllers: [`tcp:127.0.0.1:${lab.ofPort}`], failMode: 'secure', dpDesc: 'h2/br0', log: lab.log, reconnectMs: { min: 50, max: 200 } });
    away.agent = agent;
    await agent.start();
    const r = await until('h2 reconciled', () => { const s = ctl.switches().find((x) => x.name === 'h2/br0'); return s?.connected && s.lastReconcile && Date.parse(s.lastReconcile.at) > Date.parse(res.switches[0]!.at) ? s.lastReconcile : undefined; });
    expect(r.ok).toBe(true);
    expect(away.bridge.dumpFlows().some((f) => f.match.some((m) => m.field === 'vlan_vid' && m.value === 0x1000n + 200n))).toBe(true);
    const again = await ctl.reconcile('h2/br0');
    expect(again[0]!.flowMods + again[0]!.groupMods + again[0]!.meterMods).toBe(0);
  });
});
