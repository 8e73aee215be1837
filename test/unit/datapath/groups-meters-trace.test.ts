// Groups of each type, meters and channels (fake Limiters), port config bits, and trace output.
import { describe, it, expect } from 'vitest';
import { GroupType } from '../../../src/flow/types.js';
import type { Bucket } from '../../../src/flow/types.js';
import { formatTrace } from '../../../src/datapath/trace.js';
import { flow, out, apply, UDP, udpFrame, makeBridge, send, FakeLimiter, OFPP, MAC } from './helpers.js';

const counts = (sent: Buffer[][]): number[] => sent.map((s) => s.length);
const bucket = (actions: Bucket['actions'], extra: Partial<Bucket> = {}): Bucket => ({ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions, ...extra });
const vidOf = (f: Buffer): number => (f.readUInt16BE(12) === 0x8100 ? f.readUInt16BE(14) & 0xfff : -1);

describe('groups', () => {
  it('ALL: every bucket on its own copy; bucket edits do not leak to later actions', () => {
    const t = makeBridge(4);
    t.br.groupMod('add', { groupId: 1, type: GroupType.ALL, buckets: [
      bucket([{ type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: 0x1005n }, out(2)]),
      bucket([out(3)]),
    ] });
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }], instructions: apply({ type: 'group', groupId: 1 }, out(4)) }), 0);
    const s = send(t, 1, udpFrame(1, 2));
    expect(counts(s)).toEqual([0, 1, 1, 1]);
    expect([vidOf(s[1][0]), vidOf(s[2][0]), vidOf(s[3][0])]).toEqual([5, -1, -1]);
    expect(t.br.groups()[0]).toMatchObject({ packetCount: 1, buckets: [{ packetCount: 1 }, { packetCount: 1 }] });
    expect(t.pool.available).toBe(t.pool.capacity);
  });
  it('INDIRECT from the action set', () => {
    const t = makeBridge(3);
    t.br.groupMod('add', { groupId: 2, type: GroupType.INDIRECT, buckets: [bucket([out(3)])] });
    t.br.addFlow(flow({ instructions: { writeActions: [{ type: 'group', groupId: 2 }, out(2)] } }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);   // group wins over output in the set
  });
  it('SELECT: one bucket per flow by hash, spread by weight, never a zero-weight bucket', () => {
    const t = makeBridge(4);
    t.br.groupMod('add', { groupId: 3, type: GroupType.SELECT, buckets: [bucket([out(2)], { weight: 1 }), bucket([out(3)], { weight: 3 }), bucket([out(4)], { weight: 0 })] });
    t.br.addFlow(flow({ match: UDP, instructions: apply({ type: 'group', groupId: 3 }) }), 0);
    for (let sport = 0; sport < 400; sport++) send(t, 1, udpFrame(1, 2, { sport: 1000 + sport }));
    const n2 = t.br.portStats(2)['tx-packets'], n3 = t.br.portStats(3)['tx-packets'];
    expect(n2 + n3).toBe(400);
    expect(t.br.portStats(4)['tx-packets']).toBe(0);
    expect(n3).toBeGreaterThan(n2 * 2);
    // the same flow always takes the same bucket
    const before = t.br.portStats(2)['tx-packets'];
    for (let i = 0; i < 10; i++) send(t, 1, udpFrame(1, 2, { sport: 1000 }));
    const d2 = t.br.portStats(2)['tx-packets'] - before;
    expect(d2 === 0 || d2 === 10).toBe(true);
  });
  it('FF: first bucket whose watch port is live; fails over when the port goes down', () => {
    const t = makeBridge(3);
    t.br.groupMod('add', { groupId: 4, type: GroupType.FF, buckets: [bucket([out(2)], { watchPort: 2 }), bucket([out(3)], { watchPort: 3 })] });
    t.br.addFlow(flow({ instructions: apply({ type: 'group', groupId: 4 }) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    t.br.setPortConfig(2, { down: true });
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);
  });
});

describe('meters and channels', () => {
  it('meter instruction: a drop verdict is counted meter-drop and stops the pipeline', () => {
    const t = makeBridge(2);
    const m = new FakeLimiter();
    t.br.setMeter(1, m);
    t.br.addFlow(flow({ match: UDP, instructions: { meter: 1, applyActions: [out(2)] } }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1]);
    m.allow = false;
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0]);
    expect(t.br.portStats(1).drops['meter-drop']).toBe(1);
    expect(m.calls).toBe(2);
    expect(t.br.meterFlowCount(1)).toBe(1);
  });
  it('ingress policing drops before the pipeline; swapping the limiter takes effect on the next frame', () => {
    const t = makeBridge(2);
    const l = new FakeLimiter();
    l.allow = false;
    t.br.setPortLimiter(1, 'ingress', l);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0]);
    expect(t.br.portStats(1).drops['ingress-policed']).toBe(1);
    expect(t.br.dumpFlows()[0].packetCount).toBe(0);
    t.br.setPortLimiter(1, 'ingress', null);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1]);
  });
  it('egress shaping queues, releases later with the release time, tail-drops when full', () => {
    const t = makeBridge(2);
    const sh = new FakeLimiter(true, 2);
    t.br.setPortLimiter(2, 'egress', sh);
    for (let i = 0; i < 3; i++) send(t, 1, udpFrame(1, 2), 0);
    expect(t.ports[1].sent.length).toBe(0);
    expect(t.br.portStats(2).drops['shaper-queue-full']).toBe(1);
    sh.releaseAtMs = 50;
    expect(t.br.nextEventMs(10)).toBe(50);
    t.br.poll(50);
    expect(t.ports[1].sent.map((s) => s.tsMs)).toEqual([50, 50]);
    expect(t.br.nextEventMs(60)).toBe(Infinity);
    expect(t.pool.available).toBe(t.pool.capacity);
  });
  it('egress policing and tx-full drops are counted on the egress port', () => {
    const t = makeBridge(2);
    const pol = new FakeLimiter(); pol.allow = false;
    t.br.setPortLimiter(2, 'egress', pol);
    send(t, 1, udpFrame(1, 2));
    expect(t.br.portStats(2).drops['egress-policed']).toBe(1);
    t.br.setPortLimiter(2, 'egress', null);
    (t.ports[1] as unknown as { txCapacity: number }).txCapacity = 0;
    send(t, 1, udpFrame(1, 2));
    expect(t.br.portStats(2).drops['tx-full']).toBe(1);
    expect(t.pool.available).toBe(t.pool.capacity);
  });
});

describe('trace', () => {
  it('explains tables, actions, NORMAL and outputs without side effects', () => {
    const t = makeBridge(3, { 1: { mode: 'access', vid: 10 }, 2: { mode: 'trunk' }, 3: { mode: 'access', vid: 10 } });
    t.br.addFlow(flow({ priority: 10, match: UDP, instructions: { writeMetadata: { value: 1n, mask: 1n }, gotoTable: 1 } }), 0);
    t.br.addFlow(flow({ tableId: 1, instructions: apply(out(OFPP.NORMAL)) }), 0);
    send(t, 3, udpFrame(3, 1), 0);              // learn MAC 3 on port 3
    const before = JSON.stringify([t.br.dumpFlows().map((f) => f.packetCount), t.br.tableStats().slice(0, 2), t.br.fdb()]);
    const r = t.br.trace(udpFrame(1, 3), 1, 10);
    expect(r.events.filter((e) => e.kind === 'table').map((e) => (e as { tableId: number }).tableId)).toEqual([0, 1]);
    const normal = r.events.find((e) => e.kind === 'normal') as { vid: number; learnedPort: number | null };
    expect([normal.vid, normal.learnedPort]).toEqual([10, 3]);
    expect(r.outputs.map((o) => o.port)).toEqual([3]);
    expect(r.key.eth_src).toBe(MAC(1));
    expect(JSON.stringify([t.br.dumpFlows().map((f) => f.packetCount), t.br.tableStats().slice(0, 2), t.br.fdb()])).toBe(before);
    const text = formatTrace(r);
    expect(text).toContain('priority 10');
    expect(text).toContain('learned on port 3');
    expect(text).toContain('Final: output to 3(p3)');
    // unknown destination: flood within VLAN 10 only, tagged on the trunk
    const r2 = t.br.trace(udpFrame(3, 9), 3, 10);
    expect(r2.outputs.map((o) => [o.port, vidOf(o.frame)])).toEqual([[1, -1], [2, 10]]);
    expect(t.pool.available).toBe(t.pool.capacity);
  });
  it('reports a table miss and the drop', () => {
    const t = makeBridge(2);
    t.br.flowMod({ command: 'delete', spec: flow({}) }, 0);
    const r = t.br.trace(udpFrame(1, 2), 1, 0);
    expect(r.drops).toEqual(['no-flow']);
    expect(formatTrace(r)).toContain('No match');
    expect(t.br.portStats(1).drops).toEqual({});
  });
});
