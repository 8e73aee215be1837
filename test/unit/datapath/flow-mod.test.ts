// FLOW_MOD semantics on the Pipeline: priorities and tie rule, add/replace/overlap, modify(_strict),
// delete(_strict) with cookie masks and out_port/out_group, table ALL, timeouts, stats, meters.
import { describe, it, expect } from 'vitest';
import { Pipeline } from '../../../src/datapath/pipeline.js';
import { FlowModResult } from '../../../src/datapath/results.js';
import { FlowFlags, RemovedReason, GroupType } from '../../../src/flow/types.js';
import { FlowKey, K } from '../../../src/packet/flow-key.js';
import { flow, out, apply, IP, FakeLimiter } from './helpers.js';

const key = new FlowKey();
function ipKey(dst: number): Uint32Array { key.clear(); key.w[K.ETH_TYPE] = 0x800; key.w[K.IPV4_DST] = dst; return key.w; }
const dst = (v: number) => [...IP, { field: 'ipv4_dst' as const, value: BigInt(v) }];
const net = (v: number, m: number) => [...IP, { field: 'ipv4_dst' as const, value: BigInt(v), mask: BigInt(m) }];

describe('lookup', () => {
  it('highest priority wins across different masks; equal priority: earliest installed', () => {
    const p = new Pipeline(4);
    p.flowMod({ command: 'add', spec: flow({ priority: 10, match: IP, instructions: apply(out(1)) }) }, 0);
    p.flowMod({ command: 'add', spec: flow({ priority: 20, match: net(0x0a000000, 0xff000000), instructions: apply(out(2)) }) }, 0);
    p.flowMod({ command: 'add', spec: flow({ priority: 30, match: dst(0x0a000001), instructions: apply(out(3)) }) }, 0);
    const t = p.table(0);
    expect(t.lookup(ipKey(0x0a000001))!.priority).toBe(30);
    expect(t.lookup(ipKey(0x0a000002))!.priority).toBe(20);
    expect(t.lookup(ipKey(0x0b000002))!.priority).toBe(10);
    key.clear(); key.w[K.ETH_TYPE] = 0x86dd;
    expect(t.lookup(key.w)).toBeNull();
    // tie: two overlapping entries at priority 50, the first installed wins
    p.flowMod({ command: 'add', spec: flow({ priority: 50, match: net(0x0a000000, 0xffff0000), cookie: 1n }) }, 0);
    p.flowMod({ command: 'add', spec: flow({ priority: 50, match: net(0x0a000000, 0xff000000), cookie: 2n }) }, 0);
    expect(t.lookup(ipKey(0x0a000001))!.cookie).toBe(1n);
  });
});

describe('add', () => {
  it('replaces an identical match+priority entry, keeping counters unless RESET_COUNTS', () => {
    const p = new Pipeline(2);
    p.flowMod({ command: 'add', spec: flow({ match: IP, instructions: apply(out(1)) }) }, 0);
    const e = p.table(0).entries[0];
    e.packetCount = 5; e.byteCount = 500;
    expect(p.flowMod({ command: 'add', spec: flow({ match: IP, instructions: apply(out(2)) }) }, 1000)).toBe(FlowModResult.Ok);
    expect(p.table(0).count).toBe(1);
    const e2 = p.table(0).entries[0];
    expect(e2.program.outPorts).toEqual([2]);
    expect([e2.packetCount, e2.byteCount, e2.createdMs]).toEqual([5, 500, 1000]);
    p.flowMod({ command: 'add', spec: flow({ match: IP, flags: FlowFlags.RESET_COUNTS, instructions: apply(out(3)) }) }, 0);
    expect(p.table(0).entries[0].packetCount).toBe(0);
  });
  it('CHECK_OVERLAP refuses an overlapping entry at the same priority only', () => {
    const p = new Pipeline(2);
    p.flowMod({ command: 'add', spec: flow({ match: net(0x0a000000, 0xff000000) }) }, 0);
    expect(p.flowMod({ command: 'add', spec: flow({ match: dst(0x0a000001), flags: FlowFlags.CHECK_OVERLAP }) }, 0)).toBe(FlowModResult.Overlap);
    expect(p.flowMod({ command: 'add', spec: flow({ priority: 101, match: dst(0x0a000001), flags: FlowFlags.CHECK_OVERLAP }) }, 0)).toBe(FlowModResult.Ok);
    expect(p.flowMod({ command: 'add', spec: flow({ match: dst(0x0b000001), flags: FlowFlags.CHECK_OVERLAP }) }, 0)).toBe(FlowModResult.Ok);
  });
  it('returns codes for bad input instead of throwing', () => {
    const p = new Pipeline(4);
    const bump = p.generation;
    expect(p.flowMod({ command: 'add', spec: flow({ tableId: 9 }) }, 0)).toBe(FlowModResult.BadTableId);
    expect(p.flowMod({ command: 'add', spec: flow({ match: [{ field: 'ipv4_dst', value: 1n }] }) }, 0)).toBe(FlowModResult.BadMatch);
    expect(p.flowMod({ command: 'add', spec: flow({ tableId: 2, instructions: { gotoTable: 1 } }) }, 0)).toBe(FlowModResult.BadTableId);
    expect(p.flowMod({ command: 'add', spec: flow({ instructions: apply({ type: 'group', groupId: 7 }) }) }, 0)).toBe(FlowModResult.UnknownGroup);
    expect(p.flowMod({ command: 'add', spec: flow({ instructions: { meter: 3 } }) }, 0)).toBe(FlowModResult.UnknownMeter);
    expect(p.flowMod({ command: 'add', spec: flow({ instructions: apply(out(0)) }) }, 0)).toBe(FlowModResult.BadOutPort);
    expect(p.flowMod({ command: 'add', spec: flow({ instructions: apply(out(0xfffffff9)) }) }, 0)).toBe(FlowModResult.BadOutPort);
    expect(p.flowMod({ command: 'add', spec: flow({ instructions: apply({ type: 'copy_ttl_in' }) }) }, 0)).toBe(FlowModResult.Unsupported);
    expect(p.flowMod({ command: 'add', spec: flow({ priority: 70000 }) }, 0)).toBe(FlowModResult.BadPriority);
    expect(p.flowMod({ command: 'add', spec: flow({ idleTimeoutS: -1 }) }, 0)).toBe(FlowModResult.BadTimeout);
    expect(p.flowMod({ command: 'add', spec: flow({ instructions: { writeActions: [out(1), out(2)] } }) }, 0)).toBe(FlowModResult.BadAction);
    expect(p.generation).toBe(bump);
    expect(p.table(0).count).toBe(0);
  });
});

function three(): Pipeline {
  const p = new Pipeline(4);
  p.flowMod({ command: 'add', spec: flow({ priority: 10, match: dst(1), cookie: 0x11n, instructions: apply(out(1)) }) }, 0);
  p.flowMod({ command: 'add', spec: flow({ priority: 20, match: dst(2), cookie: 0x12n, instructions: apply(out(2)) }) }, 0);
  p.flowMod({ command: 'add', spec: flow({ tableId: 1, priority: 10, match: dst(1), cookie: 0x21n, instructions: apply(out(3)) }) }, 0);
  return p;
}
const cookies = (p: Pipeline) => p.select().map((e) => e.cookie);

describe('modify', () => {
  it('non-strict changes instructions of every covered entry, keeps counters and cookie', () => {
    const p = three();
    p.table(0).entries[0].packetCount = 7;
    expect(p.flowMod({ command: 'modify', spec: flow({ match: IP, cookie: 0x99n, instructions: apply(out(9)) }) }, 0)).toBe(FlowModResult.Ok);
    expect(p.table(0).entries.map((e) => e.program.outPorts[0])).toEqual([9, 9]);
    expect(p.table(0).entries.map((e) => e.cookie)).toEqual([0x12n, 0x11n]);
    expect(p.table(0).entries[0].packetCount).toBe(7);
    expect(p.table(1).entries[0].program.outPorts[0]).toBe(3);
  });
  it('strict needs the same match and priority; cookie mask filters; no match adds nothing', () => {
    const p = three();
    p.flowMod({ command: 'modify_strict', spec: flow({ priority: 99, match: dst(1), instructions: apply(out(8)) }) }, 0);
    expect(p.table(0).entries.map((e) => e.program.outPorts[0])).toEqual([2, 1]);
    p.flowMod({ command: 'modify_strict', spec: flow({ priority: 10, match: dst(1), instructions: apply(out(8)) }) }, 0);
    expect(p.table(0).entries.map((e) => e.program.outPorts[0])).toEqual([2, 8]);
    p.flowMod({ command: 'modify', tableId: 0xff, cookieMask: 0xf0n, spec: flow({ cookie: 0x20n, instructions: apply(out(7)) }) }, 0);
    expect(p.table(1).entries[0].program.outPorts[0]).toBe(7);
    expect(p.table(0).entries.map((e) => e.program.outPorts[0])).toEqual([2, 8]);
    p.flowMod({ command: 'modify', spec: flow({ match: dst(5), instructions: apply(out(7)) }) }, 0);
    expect(p.select().length).toBe(3);
  });
  it('RESET_COUNTS on modify clears counters', () => {
    const p = three();
    p.table(0).entries[0].packetCount = 7;
    p.flowMod({ command: 'modify', spec: flow({ match: dst(2), flags: FlowFlags.RESET_COUNTS, instructions: apply(out(9)) }) }, 0);
    expect(p.table(0).entries[0].packetCount).toBe(0);
  });
});

describe('delete', () => {
  it('non-strict deletes covered entries in one table; table ALL in every table', () => {
    const p = three();
    p.flowMod({ command: 'delete', spec: flow({ match: dst(1) }) }, 0);
    expect(cookies(p)).toEqual([0x12n, 0x21n]);
    p.flowMod({ command: 'delete', tableId: 0xff, spec: flow({ match: [] }) }, 0);
    expect(cookies(p)).toEqual([]);
  });
  it('strict deletes exactly one; cookie mask and out_port filter', () => {
    const p = three();
    p.flowMod({ command: 'delete_strict', spec: flow({ priority: 11, match: dst(1) }) }, 0);
    expect(cookies(p).length).toBe(3);
    p.flowMod({ command: 'delete', tableId: 0xff, cookieMask: 0xffn, spec: flow({ cookie: 0x21n }) }, 0);
    expect(cookies(p)).toEqual([0x12n, 0x11n]);
    p.flowMod({ command: 'delete', tableId: 0xff, outPort: 2, spec: flow({}) }, 0);
    expect(cookies(p)).toEqual([0x11n]);
  });
  it('reports SEND_FLOW_REM entries with reason DELETE', () => {
    const p = new Pipeline(2);
    const removed: Array<[bigint, number]> = [];
    p.onRemoved = (e, r) => removed.push([e.cookie, r]);
    p.flowMod({ command: 'add', spec: flow({ match: dst(1), cookie: 1n, flags: FlowFlags.SEND_FLOW_REM }) }, 0);
    p.flowMod({ command: 'add', spec: flow({ match: dst(2), cookie: 2n }) }, 0);
    p.flowMod({ command: 'delete', spec: flow({}) }, 0);
    expect(removed).toEqual([[1n, RemovedReason.DELETE]]);
  });
});

describe('timeouts and stats', () => {
  it('hard and idle timeouts on a fake clock; idle refreshed by a hit', () => {
    const p = new Pipeline(2);
    p.flowMod({ command: 'add', spec: flow({ match: dst(1), cookie: 1n, idleTimeoutS: 10 }) }, 0);
    p.flowMod({ command: 'add', spec: flow({ match: dst(2), cookie: 2n, hardTimeoutS: 5 }) }, 0);
    expect(p.expire(4999)).toEqual([]);
    expect(p.expire(5000).map((x) => [x.entry.cookie, x.reason])).toEqual([[2n, RemovedReason.HARD_TIMEOUT]]);
    p.table(0).entries[0].lastHitMs = 8000;   // what a hit does
    expect(p.expire(17999)).toEqual([]);
    expect(p.expire(18000).map((x) => [x.entry.cookie, x.reason])).toEqual([[1n, RemovedReason.IDLE_TIMEOUT]]);
  });
  it('dump and aggregate with filters', () => {
    const p = three();
    p.table(0).entries[0].packetCount = 3; p.table(0).entries[0].byteCount = 300;
    p.table(1).entries[0].packetCount = 1; p.table(1).entries[0].byteCount = 64;
    expect(p.aggregate()).toEqual({ packetCount: 4, byteCount: 364, flowCount: 3 });
    expect(p.aggregate({ tableId: 1 })).toEqual({ packetCount: 1, byteCount: 64, flowCount: 1 });
    const d = p.dumpFlows({ match: dst(2) }, 2500);
    expect(d.map((s) => [s.cookie, s.packetCount, s.durationS])).toEqual([[0x12n, 3, 2.5]]);
  });
});

describe('meters and groups in flows', () => {
  it('deleting a meter removes its flows with METER_DELETE', () => {
    const p = new Pipeline(2);
    const removed: number[] = [];
    p.onRemoved = (_e, r) => removed.push(r);
    p.setMeter(1, new FakeLimiter());
    expect(p.flowMod({ command: 'add', spec: flow({ match: dst(1), flags: FlowFlags.SEND_FLOW_REM, instructions: { meter: 1, applyActions: [out(1)] } }) }, 0)).toBe(FlowModResult.Ok);
    expect(p.meterFlowCount(1)).toBe(1);
    expect(p.deleteMeter(1)).toBe(1);
    expect(removed).toEqual([RemovedReason.METER_DELETE]);
    expect(p.select().length).toBe(0);
  });
  it('group mods validate and deleting a group removes flows using it', () => {
    const p = new Pipeline(2);
    expect(p.groupMod('add', { groupId: 1, type: GroupType.INDIRECT, buckets: [] }, 0)).toBe(FlowModResult.BadGroupType);
    expect(p.groupMod('add', { groupId: 1, type: GroupType.INDIRECT, buckets: [{ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [out(1)] }] }, 0)).toBe(FlowModResult.Ok);
    expect(p.groupMod('add', { groupId: 1, type: GroupType.ALL, buckets: [] }, 0)).toBe(FlowModResult.GroupExists);
    expect(p.groupMod('modify', { groupId: 2, type: GroupType.ALL, buckets: [] }, 0)).toBe(FlowModResult.UnknownGroup);
    expect(p.groupMod('add', { groupId: 2, type: GroupType.ALL, buckets: [{ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [{ type: 'group', groupId: 1 }] }] }, 0)).toBe(FlowModResult.Ok);
    expect(p.groupMod('modify', { groupId: 1, type: GroupType.ALL, buckets: [{ weight: 0, watchPort: 0xffffffff, watchGroup: 0xffffffff, actions: [{ type: 'group', groupId: 2 }] }] }, 0)).toBe(FlowModResult.GroupLoop);
    p.flowMod({ command: 'add', spec: flow({ match: dst(1), instructions: apply({ type: 'group', groupId: 1 }) }) }, 0);
    p.flowMod({ command: 'add', spec: flow({ match: dst(2), instructions: apply(out(3)) }) }, 0);
    p.groupMod('delete', { groupId: 1, type: GroupType.ALL, buckets: [] }, 0);
    expect(p.select().map((e) => e.program.outPorts)).toEqual([[3]]);
  });
});
