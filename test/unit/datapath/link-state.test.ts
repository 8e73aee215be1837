// Operational link state (Bridge.setPortLinkState) and the PACKET_IN reason of table-miss entries.
import { describe, expect, it } from 'vitest';
import { makeBridge, send, flow, apply, out, udpFrame, BCAST, OFPP } from './helpers.js';
import { GroupType } from '../../../src/flow/types.js';

const counts = (s: Buffer[][]): number[] => s.map((x) => x.length);

describe('setPortLinkState', () => {
  it('a link-down port leaves NORMAL floods and unicast, its MACs are flushed, and it returns when the link comes back', () => {
    const t = makeBridge(3);
    send(t, 2, udpFrame(2, 1));                                   // learn MAC 2 on port 2
    expect(t.br.fdb().map((r) => r.ofport)).toEqual([2]);
    expect(t.br.ports().map((p) => p.linkUp)).toEqual([true, true, true]);
    t.br.setPortLinkState(2, false);
    expect(t.br.ports().map((p) => p.linkUp)).toEqual([true, false, true]);
    expect(t.br.fdb()).toEqual([]);                                // flushed
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]); // unknown now: flood without port 2
    expect(counts(send(t, 1, udpFrame(1, 9, { dstMac: BCAST })))).toEqual([0, 0, 1]);
    t.br.setPortLinkState(2, true);
    expect(counts(send(t, 1, udpFrame(1, 9, { dstMac: BCAST })))).toEqual([0, 1, 1]);
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('frames sent to a link-down port count port-down (not tx-full); FLOOD/ALL skip it; FF groups treat it as not live', () => {
    const t = makeBridge(3);
    t.br.flowMod({ command: 'delete', tableId: 0xff, spec: flow({}) }, 0);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }], instructions: apply(out(2)) }), 0);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 3n }], instructions: apply(out(OFPP.FLOOD)) }), 0);
    t.br.setPortLinkState(2, false);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 0]);
    expect(t.br.portStats(2).drops).toEqual({ 'port-down': 1 });
    expect(t.br.stats().drops).toEqual({ 'port-down': 1 });
    expect(counts(send(t, 3, udpFrame(3, 2)))).toEqual([1, 0, 0]);
    expect(t.br.groupMod('add', { groupId: 1, type: GroupType.FF, buckets: [
      { weight: 0, watchPort: 2, watchGroup: 0xffffffff, actions: [out(2)] },
      { weight: 0, watchPort: 1, watchGroup: 0xffffffff, actions: [out(1)] },
    ] })).toBe(0);
    t.br.addFlow(flow({ priority: 200, match: [{ field: 'in_port', value: 3n }], instructions: apply({ type: 'group', groupId: 1 }) }), 0);
    expect(counts(send(t, 3, udpFrame(3, 2)))).toEqual([1, 0, 0]);
    t.br.setPortLinkState(2, true);
    expect(counts(send(t, 3, udpFrame(3, 2)))).toEqual([0, 1, 0]);
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('throws on an unknown port; setting the same state twice is a no-op', () => {
    const t = makeBridge(1);
    expect(() => t.br.setPortLinkState(9, false)).toThrow(RangeError);
    t.br.setPortLinkState(1, true);
    expect(t.br.ports()[0].linkUp).toBe(true);
  });
});

describe('PACKET_IN reason', () => {
  it('output:CONTROLLER from a table-miss entry is NO_MATCH (0); from any other entry ACTION (1)', () => {
    const t = makeBridge(2);
    t.br.flowMod({ command: 'delete', tableId: 0xff, spec: flow({}) }, 0);
    t.br.addFlow(flow({ priority: 0, cookie: 7n, instructions: apply(out(OFPP.CONTROLLER)) }), 0);        // table-miss
    t.br.addFlow(flow({ priority: 0, tableId: 1, match: [{ field: 'in_port', value: 2n }], cookie: 8n, instructions: apply(out(OFPP.CONTROLLER)) }), 0);
    t.br.addFlow(flow({ priority: 10, match: [{ field: 'in_port', value: 2n }], cookie: 9n, instructions: { gotoTable: 1 } }), 0);
    t.br.addFlow(flow({ priority: 5, match: [{ field: 'in_port', value: 1n }, { field: 'eth_type', value: 0x800n }], cookie: 6n, instructions: { writeActions: [out(OFPP.CONTROLLER)] } }), 0);
    const seen: Array<[number, number, bigint]> = [];
    t.br.onPacketIn = (_p, reason, table, cookie) => seen.push([reason, table, cookie]);
    send(t, 1, udpFrame(1, 2));                    // priority 5 entry (action set): ACTION
    send(t, 1, udpFrame(1, 2, { dstMac: BCAST }));  // same entry
    t.br.flowMod({ command: 'delete_strict', spec: flow({ priority: 5, match: [{ field: 'in_port', value: 1n }, { field: 'eth_type', value: 0x800n }] }) }, 0);
    send(t, 1, udpFrame(1, 2));                    // table-miss entry of table 0: NO_MATCH
    send(t, 2, udpFrame(2, 1));                    // priority 0 but not empty match: ACTION
    expect(seen).toEqual([[1, 0, 6n], [1, 0, 6n], [0, 0, 7n], [1, 1, 8n]]);
    expect(t.br.stats().exec['packet-ins']).toBe(4);
  });

  it('a table-miss entry with several outputs (deferred CONTROLLER output) still reports NO_MATCH', () => {
    const t = makeBridge(2);
    t.br.flowMod({ command: 'delete', tableId: 0xff, spec: flow({}) }, 0);
    t.br.addFlow(flow({ priority: 0, instructions: apply(out(2), out(OFPP.CONTROLLER)) }), 0);
    const seen: number[] = [];
    t.br.onPacketIn = (_p, reason) => seen.push(reason);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1]);
    expect(seen).toEqual([0]);
  });
});
