// The Bridge end to end with memory ports: standalone NORMAL (learning, VLAN tagging), OpenFlow
// actions (FLOOD/ALL/IN_PORT, push/pop VLAN, set_field, goto + metadata, action-set order), table
// miss, flow-cache invalidation, counters, timeouts through traffic, runts, and pool accounting.
import { describe, it, expect } from 'vitest';
import { FlowFlags, RemovedReason } from '../../../src/flow/types.js';
import { FlowModResult } from '../../../src/datapath/results.js';
import { flow, out, apply, IP, UDP, MAC, BCAST, udpFrame, makeBridge, send, OFPP } from './helpers.js';

const vidOf = (f: Buffer): number => (f.readUInt16BE(12) === 0x8100 ? f.readUInt16BE(14) & 0xfff : -1);
const pcpOf = (f: Buffer): number => f.readUInt16BE(14) >>> 13;
const counts = (sent: Buffer[][]): number[] => sent.map((s) => s.length);

describe('standalone bridge (NORMAL)', () => {
  it('starts with one priority-0 NORMAL flow in table 0', () => {
    const { br } = makeBridge(2);
    const d = br.dumpFlows();
    expect(d.length).toBe(1);
    expect([d[0].tableId, d[0].priority, d[0].match]).toEqual([0, 0, []]);
    expect(d[0].instructions.applyActions).toEqual([{ type: 'output', port: OFPP.NORMAL }]);
  });

  it('floods unknown, learns, then forwards to one port only; never back to the ingress port', () => {
    const t = makeBridge(3);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 1]);
    expect(counts(send(t, 2, udpFrame(2, 1)))).toEqual([1, 0, 0]);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    expect(t.br.fdb().map((e) => e.ofport).sort()).toEqual([1, 2]);
    expect(t.br.portStats(1)['rx-packets']).toBe(2);
    expect(t.br.portStats(2)['tx-packets']).toBe(2);
    expect(t.br.dumpFlows()[0].packetCount).toBe(3);
  });

  it('access in, trunk out: tags with the access VID keeping PCP 0; trunk in, access out: untags', () => {
    const t = makeBridge(3, { 1: { mode: 'access', vid: 10 }, 2: { mode: 'trunk', vids: [10, 20] }, 3: { mode: 'access', vid: 20 } });
    const s1 = send(t, 1, udpFrame(1, 9));
    expect(counts(s1)).toEqual([0, 1, 0]);
    expect(vidOf(s1[1][0])).toBe(10);
    const s2 = send(t, 2, udpFrame(2, 9, { vid: 20, pcp: 5 }));
    expect(counts(s2)).toEqual([0, 0, 1]);
    expect(vidOf(s2[2][0])).toBe(-1);
    expect(s2[2][0].length).toBe(udpFrame(2, 9).length);
    // a tagged frame on an access port is dropped and counted
    send(t, 1, udpFrame(1, 9, { vid: 10 }));
    expect(t.br.portStats(1).drops['tagged-on-access']).toBe(1);
    // a VLAN the trunk does not carry
    send(t, 2, udpFrame(2, 9, { vid: 30 }));
    expect(t.br.portStats(2).drops['vlan-not-allowed']).toBe(1);
  });

  it('trunk to trunk keeps the tag and its PCP', () => {
    const t = makeBridge(2);
    const s = send(t, 1, udpFrame(1, 2, { vid: 7, pcp: 6 }));
    expect([vidOf(s[1][0]), pcpOf(s[1][0])]).toEqual([7, 6]);
  });

  it('drops runts and truncated tags, counted on the ingress port', () => {
    const t = makeBridge(2);
    send(t, 1, new Uint8Array(10));
    const tagged = udpFrame(1, 2, { vid: 5 }).subarray(0, 15);
    send(t, 1, tagged);
    expect(t.br.portStats(1).drops).toEqual({ 'too-short': 1, malformed: 1 });
    expect(t.pool.available).toBe(t.pool.capacity);
  });
});

describe('OpenFlow actions through the bridge', () => {
  it('table miss drops and counts no-flow', () => {
    const t = makeBridge(2);
    t.br.flowMod({ command: 'delete', tableId: 0xff, spec: flow({}) }, 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0]);
    expect(t.br.portStats(1).drops['no-flow']).toBe(1);
    expect(t.br.tableStats()[0]).toMatchObject({ lookupCount: 1, matchedCount: 0 });
  });

  it('FLOOD skips ingress and no-flood ports, ALL only ingress; IN_PORT sends back; plain output to ingress is dropped', () => {
    const t = makeBridge(4);
    t.br.setPortConfig(3, { noFlood: true });
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }], instructions: apply(out(OFPP.FLOOD)) }), 0);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 2n }], instructions: apply(out(OFPP.ALL)) }), 0);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 3n }], instructions: apply(out(OFPP.IN_PORT)) }), 0);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 4n }], instructions: apply(out(4)) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0, 1]);
    expect(counts(send(t, 2, udpFrame(2, 1)))).toEqual([1, 0, 1, 1]);
    expect(counts(send(t, 3, udpFrame(3, 1)))).toEqual([0, 0, 1, 0]);
    expect(counts(send(t, 4, udpFrame(4, 1)))).toEqual([0, 0, 0, 0]);
    expect(t.br.portStats(4).drops['in-port-output']).toBe(1);
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('outputs carry the frame as it is at that point of the action list', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }], instructions: apply(out(2), { type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: 0x1000n | 42n }, out(3)) }), 0);
    const s = send(t, 1, udpFrame(1, 2));
    expect(vidOf(s[1][0])).toBe(-1);
    expect(vidOf(s[2][0])).toBe(42);
    // pop_vlan back out
    t.br.addFlow(flow({ priority: 200, match: [{ field: 'in_port', value: 2n }], instructions: apply({ type: 'pop_vlan' }, out(3)) }), 0);
    const s2 = send(t, 2, udpFrame(2, 3, { vid: 9 }));
    expect(s2[2][0].equals(udpFrame(2, 3))).toBe(true);
  });

  it('set_field rewrites MAC/IP/ports with correct IPv4 and UDP checksums', () => {
    const t = makeBridge(2);
    t.br.addFlow(flow({ match: UDP, instructions: apply(
      { type: 'set_field', field: 'eth_dst', value: 0x0a0b0c0d0e0fn },
      { type: 'set_field', field: 'ipv4_dst', value: 0xc0a80101n },
      { type: 'set_field', field: 'udp_dst', value: 53n },
      { type: 'dec_nw_ttl' },
      out(2)) }), 0);
    const s = send(t, 1, udpFrame(1, 2, { ttl: 9 }));
    const expected = udpFrame(1, 2, { dstMac: '0a:0b:0c:0d:0e:0f', ipDst: '192.168.1.1', dport: 53, ttl: 8 });
    expect(s[1][0].toString('hex')).toBe(expected.toString('hex'));
  });

  it('dec_nw_ttl on TTL 1 drops and counts ttl-exceeded', () => {
    const t = makeBridge(2);
    t.br.addFlow(flow({ match: IP, instructions: apply({ type: 'dec_nw_ttl' }, out(2)) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2, { ttl: 1 })))).toEqual([0, 0]);
    expect(t.br.portStats(1).drops['ttl-exceeded']).toBe(1);
  });

  it('goto-table with write-metadata, metadata match in the next table', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ priority: 10, match: [{ field: 'in_port', value: 1n }], instructions: { writeMetadata: { value: 0xabn, mask: 0xffn }, gotoTable: 1 } }), 0);
    t.br.addFlow(flow({ tableId: 1, match: [{ field: 'metadata', value: 0xabn, mask: 0xffn }], instructions: apply(out(3)) }), 0);
    t.br.addFlow(flow({ tableId: 1, priority: 1, instructions: apply(out(2)) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);
    const ts = t.br.tableStats();
    expect([ts[1].lookupCount, ts[1].matchedCount]).toEqual([1, 1]);
  });

  it('action set runs at the end in spec order: set-field before output regardless of write order; clear-actions empties it', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }], instructions: { writeActions: [out(2), { type: 'push_vlan', ethertype: 0x8100 }], gotoTable: 1 } }), 0);
    t.br.addFlow(flow({ tableId: 1, instructions: { writeActions: [{ type: 'set_field', field: 'vlan_vid', value: 0x1000n | 77n }] } }), 0);
    const s = send(t, 1, udpFrame(1, 2));
    expect(counts(s)).toEqual([0, 1, 0]);
    expect(vidOf(s[1][0])).toBe(77);
    t.br.flowMod({ command: 'modify', spec: flow({ tableId: 1, instructions: { clearActions: true, writeActions: [out(3)] } }) }, 0);
    const s2 = send(t, 1, udpFrame(1, 2));
    expect(counts(s2)).toEqual([0, 0, 1]);
    expect(vidOf(s2[2][0])).toBe(-1);
  });

  it('CONTROLLER output calls onPacketIn; without a controller it is a counted drop', () => {
    const t = makeBridge(2);
    t.br.addFlow(flow({ cookie: 5n, instructions: apply(out(OFPP.CONTROLLER)) }), 0);
    send(t, 1, udpFrame(1, 2));
    expect(t.br.portStats(1).drops['no-controller']).toBe(1);
    const seen: Array<[number, number, bigint, number]> = [];
    t.br.onPacketIn = (p, reason, table, cookie) => seen.push([p.inPort, reason, cookie, table]);
    send(t, 1, udpFrame(1, 2));
    expect(seen).toEqual([[1, 1, 5n, 0]]);
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('packet-out: output to a port and output:TABLE through the pipeline', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: [{ field: 'in_port', value: 1n }], instructions: apply(out(3)) }), 0);
    expect(t.br.packetOut(udpFrame(1, 2), OFPP.CONTROLLER, [out(2)], 0)).toBe(FlowModResult.Ok);
    expect(t.ports[1].takeSent().length).toBe(1);
    t.br.packetOut(udpFrame(1, 2), 1, [out(OFPP.TABLE)], 0);
    expect(t.ports[2].takeSent().length).toBe(1);
    expect(t.br.packetOut(udpFrame(1, 2), 1, [{ type: 'group', groupId: 9 }], 0)).toBe(FlowModResult.UnknownGroup);
    expect(t.pool.available).toBe(t.pool.capacity);
  });
});

describe('flow cache', () => {
  it('a flow changed after a frame was cached takes effect on the next frame', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: UDP, instructions: apply(out(2)) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    expect(t.br.stats().exec['cache-hits']).toBe(1);
    t.br.flowMod({ command: 'modify', spec: flow({ match: UDP, instructions: apply(out(3)) }) }, 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);
    t.br.flowMod({ command: 'delete', spec: flow({ match: UDP }) }, 0);
    send(t, 1, udpFrame(1, 2));   // back to NORMAL: floods
    expect(t.br.dumpFlows()[0].packetCount).toBe(1);
  });
  it('hits bump per-flow counters and refresh idle timeouts', () => {
    const t = makeBridge(2);
    const removed: number[] = [];
    t.br.onFlowRemoved = (_s, r) => removed.push(r);
    t.br.addFlow(flow({ match: UDP, idleTimeoutS: 2, flags: FlowFlags.SEND_FLOW_REM, instructions: apply(out(2)) }), 0);
    for (let ms = 0; ms <= 5000; ms += 1000) send(t, 1, udpFrame(1, 2), ms);
    const f = t.br.dumpFlows({ match: UDP }, 5000)[0];
    expect([f.packetCount, f.byteCount]).toEqual([6, 6 * udpFrame(1, 2).length]);
    expect(removed).toEqual([]);
    t.br.poll(6999);
    expect(removed).toEqual([]);
    t.br.poll(8000);
    expect(removed).toEqual([RemovedReason.IDLE_TIMEOUT]);
  });
  it('set_field in table 0 before a lookup in table 1 is cached under the original key', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: UDP, instructions: { applyActions: [{ type: 'set_field', field: 'udp_dst', value: 99n }], gotoTable: 1 } }), 0);
    t.br.addFlow(flow({ tableId: 1, match: [...UDP, { field: 'udp_dst', value: 99n }], instructions: apply(out(3)) }), 0);
    t.br.addFlow(flow({ tableId: 1, priority: 1, instructions: apply(out(2)) }), 0);
    for (let i = 0; i < 3; i++) expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);
    expect(t.br.stats().exec['cache-hits']).toBe(2);
  });
});

describe('flow cache key (megaflow-lite)', () => {
  it('keys only on matched words: frames differing elsewhere share an entry until a flow matches that word', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: UDP, instructions: apply(out(2)) }), 0);
    send(t, 1, udpFrame(1, 2, { sport: 1 }));
    send(t, 1, udpFrame(1, 2, { sport: 2 }));
    expect(t.br.stats().exec).toMatchObject({ 'cache-hits': 1, 'cache-misses': 1 });
    t.br.addFlow(flow({ priority: 200, match: [...UDP, { field: 'udp_src', value: 2n }], instructions: apply(out(3)) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2, { sport: 1 })))).toEqual([0, 1, 0]);
    expect(counts(send(t, 1, udpFrame(1, 2, { sport: 2 })))).toEqual([0, 0, 1]);
    expect(counts(send(t, 1, udpFrame(1, 2, { sport: 2 })))).toEqual([0, 0, 1]);
  });
  it('pop_vlan then goto is never cached (the inner tag is in no key word)', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ match: [{ field: 'vlan_vid', value: 0x1000n | 100n }], instructions: { applyActions: [{ type: 'pop_vlan' }], gotoTable: 1 } }), 0);
    t.br.addFlow(flow({ tableId: 1, match: [{ field: 'vlan_vid', value: 0x1000n | 7n }], instructions: apply(out(2)) }), 0);
    t.br.addFlow(flow({ tableId: 1, priority: 1, instructions: apply(out(3)) }), 0);
    const qinq = (inner: number): Buffer => {
      const f = udpFrame(1, 2, { vid: inner });
      return Buffer.concat([f.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 100]), f.subarray(12)]);
    };
    expect(counts(send(t, 1, qinq(7)))).toEqual([0, 1, 0]);
    expect(counts(send(t, 1, qinq(8)))).toEqual([0, 0, 1]);
    expect(counts(send(t, 1, qinq(7)))).toEqual([0, 1, 0]);
  });
});

describe('pool accounting', () => {
  it('every packet is recycled exactly once after floods, drops, groups and packet-ins', () => {
    const t = makeBridge(4, { 4: { mode: 'access', vid: 5 } });
    const start = t.pool.available;
    t.br.onPacketIn = () => {};
    for (let i = 0; i < 20; i++) send(t, 1 + (i % 3), udpFrame(1 + (i % 3), 9, { dstMac: i % 2 ? BCAST : MAC(9) }));
    t.br.groupMod('add', { groupId: 1, type: 0, buckets: [1, 2, 3].map((p) => ({ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [out(p)] })) });
    t.br.addFlow(flow({ priority: 5, match: [{ field: 'in_port', value: 4n }], instructions: apply({ type: 'group', groupId: 1 }, out(OFPP.CONTROLLER)) }), 0);
    for (let i = 0; i < 5; i++) send(t, 4, udpFrame(4, 1));
    send(t, 1, new Uint8Array(3));
    expect(t.pool.available).toBe(start);
    expect(t.ports[0].sent.length + t.ports[1].sent.length).toBe(0);
  });
});
