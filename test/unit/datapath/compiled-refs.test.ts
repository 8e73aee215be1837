// Meter and group references compiled into action programs (resolved objects, re-resolved when the
// pipeline generation moves): a replaced meter or group takes effect on the next frame, a deleted
// one is never followed, and two bridges sharing one compiled program never see each other's.
import { describe, it, expect } from 'vitest';
import { GroupType } from '../../../src/flow/types.js';
import type { Bucket } from '../../../src/flow/types.js';
import { flow, out, apply, UDP, udpFrame, makeBridge, send, FakeLimiter } from './helpers.js';

const counts = (sent: Buffer[][]): number[] => sent.map((s) => s.length);
const bucket = (actions: Bucket['actions'], extra: Partial<Bucket> = {}): Bucket => ({ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions, ...extra });

describe('compiled meter references', () => {
  it('a meter replaced by setMeter is used from the next frame on', () => {
    const t = makeBridge(2);
    const a = new FakeLimiter(), b = new FakeLimiter();
    t.br.setMeter(1, a);
    t.br.addFlow(flow({ match: UDP, instructions: { meter: 1, applyActions: [out(2)] } }), 0);
    send(t, 1, udpFrame(1, 2));
    t.br.setMeter(1, b);
    b.allow = false;
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0]);
    expect([a.calls, b.calls]).toEqual([1, 1]);
  });

  it('two bridges with identical metered flows (one shared program) each use their own meter', () => {
    const t1 = makeBridge(2), t2 = makeBridge(2);
    const m1 = new FakeLimiter(), m2 = new FakeLimiter();
    m2.allow = false;
    t1.br.setMeter(1, m1); t2.br.setMeter(1, m2);
    const spec = flow({ match: UDP, instructions: { meter: 1, applyActions: [out(2)] } });
    t1.br.addFlow(spec, 0); t2.br.addFlow(spec, 0);
    for (let i = 0; i < 3; i++) {
      expect(counts(send(t1, 1, udpFrame(1, 2)))).toEqual([0, 1]);
      expect(counts(send(t2, 1, udpFrame(1, 2)))).toEqual([0, 0]);
    }
    expect([m1.calls, m2.calls]).toEqual([3, 3]);
  });
});

describe('compiled group references', () => {
  it('a modified group is followed from the next frame on', () => {
    const t = makeBridge(3);
    t.br.groupMod('add', { groupId: 7, type: GroupType.INDIRECT, buckets: [bucket([out(2)])] });
    t.br.addFlow(flow({ match: UDP, instructions: apply({ type: 'group', groupId: 7 }) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    t.br.groupMod('modify', { groupId: 7, type: GroupType.INDIRECT, buckets: [bucket([out(3)])] });
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);
    expect(t.br.groups()[0].packetCount).toBe(1);   // the new group object counts from its creation
  });

  it('a bucket whose group was deleted counts group-empty; FF watch groups follow deletes', () => {
    const t = makeBridge(3);
    t.br.groupMod('add', { groupId: 1, type: GroupType.INDIRECT, buckets: [bucket([out(3)])] });
    t.br.groupMod('add', { groupId: 2, type: GroupType.ALL, buckets: [bucket([out(2)]), bucket([{ type: 'group', groupId: 1 }])] });
    t.br.groupMod('add', { groupId: 3, type: GroupType.FF, buckets: [bucket([out(2)], { watchGroup: 1 }), bucket([out(3)], { watchPort: 3 })] });
    t.br.addFlow(flow({ match: UDP, instructions: apply({ type: 'group', groupId: 2 }) }), 0);
    t.br.addFlow(flow({ priority: 40000, match: [...UDP, { field: 'udp_dst', value: 9n }], instructions: apply({ type: 'group', groupId: 3 }) }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 1]);
    expect(counts(send(t, 1, udpFrame(1, 2, { dport: 9 })))).toEqual([0, 1, 0]);
    t.br.groupMod('delete', { groupId: 1, type: GroupType.INDIRECT, buckets: [] });
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    expect(t.br.portStats(1).drops['group-empty']).toBe(1);
    expect(counts(send(t, 1, udpFrame(1, 2, { dport: 9 })))).toEqual([0, 0, 1]);   // watch group gone: next live bucket
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('a group in the action set is the one current when the set runs', () => {
    const t = makeBridge(3);
    t.br.groupMod('add', { groupId: 4, type: GroupType.INDIRECT, buckets: [bucket([out(2)])] });
    t.br.addFlow(flow({ match: UDP, instructions: { writeActions: [{ type: 'group', groupId: 4 }] } }), 0);
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 1, 0]);
    t.br.groupMod('modify', { groupId: 4, type: GroupType.INDIRECT, buckets: [bucket([out(3)])] });
    expect(counts(send(t, 1, udpFrame(1, 2)))).toEqual([0, 0, 1]);
  });
});
