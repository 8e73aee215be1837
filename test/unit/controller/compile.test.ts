// The pure stages of the controller: intent -> desired objects (golden dump-flows text, stable
// across input order), diff (empty for equal inputs, make-before-break order), spanning tree,
// LLDP probes, and intent validation with one-line errors.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { formatFlow, formatGroup } from '../../../src/flow/syntax.js';
import { compile } from '../../../src/controller/compile.js';
import type { CompileContext, SwitchView } from '../../../src/controller/compile.js';
import { diff, planSize } from '../../../src/controller/diff.js';
import {
  IntentError, addAttachment, createChannel, createNetwork, deleteChannel, deleteNetwork, parseIntent, patchChannel, putAttachment,
} from '../../../src/controller/intent.js';
import type { Intent } from '../../../src/controller/intent.js';
import { assignMeterIds } from '../../../src/controller/controller.js';
import { Topology, lldpProbe, probeOrigin } from '../../../src/controller/topology.js';
import { parseLldp } from '../../../src/packet/lldp.js';
import { readCaptureFile } from '../../../src/packet/capture.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const sw = (over: Partial<SwitchView> = {}): SwitchView => ({
  names: ['h1/br0', '0000000000000001'], ports: new Map([['vm1', 1], ['vm2', 2], ['vm3', 3], ['trunk', 10]]),
  trunks: [{ port: 10, blocked: false }], learned: [], bans: [], ...over,
});
const ctx = (i: Intent): CompileContext => ({ meterIds: assignMeterIds(i, {}), channelShares: new Map(), macAgingS: 300, banS: 5 });

function dump(i: Intent, v: SwitchView): string {
  const d = compile(i, v, ctx(i));
  const flows = [...d.flows.values()].sort((a, b) => a.tableId - b.tableId || b.priority - a.priority).map((f) => formatFlow(f).trim());
  const groups = [...d.groups.values()].map((g) => formatGroup(g));
  const meters = [...d.meters.values()].map((m) => `meter=${m.meterId} flags=${m.flags} ${m.bands.map((b) => `${b.kind}:rate=${b.rate},burst_size=${b.burstSize}`).join(' ')}`);
  return [...flows, ...groups, ...meters].join('\n') + '\n';
}

describe('compile', () => {
  it('matches the golden dump for the two-network intent', () => {
    const intent = parseIntent(parseYaml(readFileSync(path.join(HERE, 'golden/two-networks.intent.yaml'), 'utf8')));
    const expected = readFileSync(path.join(HERE, 'golden/two-networks.flows.txt'), 'utf8');
    expect(dump(intent, sw())).toBe(expected);
  });

  it('compiles the same objects whatever order the intent came in, and diff of equal states is empty', () => {
    const nets = [{ name: 'blue', vid: 100 }, { name: 'red', vid: 200 }, { name: 'green', vid: 300 }];
    const atts = [
      { switch: 'h1/br0', port: 'vm1', network: 'blue', channel: 'gold' },
      { switch: 'h1/br0', port: 'vm2', network: 'red' },
      { switch: '0000000000000001', port: 'vm3', network: 'green' },
    ];
    fc.assert(fc.property(fc.shuffledSubarray(nets, { minLength: 3 }), fc.shuffledSubarray(atts, { minLength: 3 }), (n, a) => {
      const i = parseIntent({ networks: n, channels: [{ name: 'gold', rate: '50mbit' }], attachments: a });
      const ref = parseIntent({ networks: nets, channels: [{ name: 'gold', rate: '50mbit' }], attachments: atts });
      const d1 = compile(i, sw(), ctx(i)), d2 = compile(ref, sw(), ctx(ref));
      expect(dump(i, sw())).toBe(dump(ref, sw()));
      const installed = { flows: [...d2.flows.values()], groups: [...d2.groups.values()], meters: [...d2.meters.values()] };
      expect(planSize(diff(d1, installed))).toBe(0);
    }), { numRuns: 50 });
  });

  it('never lets a port of one network output frames of another', () => {
    const i = parseIntent({ networks: [{ name: 'blue', vid: 100 }, { name: 'red', vid: 200 }], attachments: [
      { switch: 'h1/br0', port: 'vm1', network: 'blue' }, { switch: 'h1/br0', port: 'vm2', network: 'red' },
    ] });
    const d = compile(i, sw({ trunks: [] }), ctx(i));
    expect(d.groups.get(100)!.buckets.flatMap((b) => b.actions).filter((a) => a.type === 'output').map((a) => (a as { port: number }).port)).toEqual([1]);
    expect(d.groups.get(200)!.buckets.flatMap((b) => b.actions).filter((a) => a.type === 'output').map((a) => (a as { port: number }).port)).toEqual([2]);
    const egress = [...d.flows.values()].filter((f) => f.tableId === 4 && f.priority === 100);
    for (const f of egress) expect(f.match.some((m) => m.field === 'vlan_vid')).toBe(true);
  });

  it('puts nothing on a blocked trunk, and skips attachments of ports the switch lacks', () => {
    const i = parseIntent({ networks: [{ name: 'blue', vid: 100 }], attachments: [{ switch: 'h1/br0', port: 'nosuch', network: 'blue' }] });
    const d = compile(i, sw({ trunks: [{ port: 10, blocked: true }] }), ctx(i));
    expect([...d.flows.values()].some((f) => f.match.some((m) => m.field === 'in_port'))).toBe(false);
    expect(d.groups.size).toBe(0);
  });

  it('keeps one attachment of a port named two ways (dp_desc and datapath id): no port in two networks', () => {
    const i = parseIntent({ networks: [{ name: 'blue', vid: 100 }, { name: 'red', vid: 200 }], attachments: [
      { switch: 'h1/br0', port: 'vm1', network: 'blue' }, { switch: '0000000000000001', port: 'vm1', network: 'red' },
    ] });
    const d = compile(i, sw({ trunks: [] }), ctx(i));
    const egress = [...d.flows.values()].filter((f) => f.tableId === 4 && f.priority === 100);
    expect(egress).toHaveLength(1);
    const inGroups = [...d.groups.values()].filter((g) => g.buckets.some((b) => b.actions.some((a) => a.type === 'output' && a.port === 1)));
    expect(inGroups).toHaveLength(1);
  });

  it('gives a channel meter the part of the rate this switch polices (burst as configured)', () => {
    const i = parseIntent({ networks: [{ name: 'blue', vid: 100 }], channels: [{ name: 'gold', rate: '30mbit', burst: '64kb' }], attachments: [{ switch: 'h1/br0', port: 'vm1', network: 'blue', channel: 'gold' }] });
    const d = compile(i, sw(), { ...ctx(i), channelShares: new Map([['gold', 10_000_000]]) });
    expect([...d.meters.values()]).toEqual([{ meterId: 1, flags: 13, bands: [{ kind: 'drop', rate: 10_000, burstSize: 525 }] }]);
  });

  it('without a part, a channel meter has the whole rate, and a default burst of 10 ms of it', () => {
    const i = parseIntent({ networks: [{ name: 'blue', vid: 100 }], channels: [{ name: 'gold', rate: '30mbit' }], attachments: [{ switch: 'h1/br0', port: 'vm1', network: 'blue', channel: 'gold' }] });
    const d = compile(i, sw(), ctx(i));
    expect([...d.meters.values()]).toEqual([{ meterId: 1, flags: 13, bands: [{ kind: 'drop', rate: 30_000, burstSize: 300 }] }]);
  });
});

describe('diff', () => {
  const i1 = parseIntent({ networks: [{ name: 'blue', vid: 100 }], channels: [{ name: 'gold', rate: '10mbit' }, { name: 'silver', rate: '5mbit' }], attachments: [{ switch: 'h1/br0', port: 'vm1', network: 'blue', channel: 'gold' }] });
  const i2 = { ...i1, attachments: [{ switch: 'h1/br0', port: 'vm1', network: 'blue', channel: 'silver' }] };

  it('moves an attachment to another channel make-before-break: new meter, then the flow, then the old meter goes', () => {
    const meterIds = assignMeterIds(i1, {});
    const c = { meterIds, channelShares: new Map(), macAgingS: 300, banS: 5 };
    const have = compile(i1, sw(), c), want = compile(i2, sw(), c);
    const plan = diff(want, { flows: [...have.flows.values()], groups: [...have.groups.values()], meters: [...have.meters.values()] });
    expect(plan.make.map((x) => `${x.kind}:${x.op}`)).toEqual(['meter:add', 'flow:add']);
    expect(plan.break.map((x) => `${x.kind}:${x.op}`)).toEqual(['meter:delete']);
    expect((plan.make[0] as { meter: { meterId: number } }).meter.meterId).toBe(meterIds.silver);
  });

  it('deletes flows that are not ours, and only what differs', () => {
    const d = compile(i1, sw(), ctx(i1));
    const foreign = { tableId: 0, priority: 0, match: [], instructions: { applyActions: [{ type: 'output' as const, port: 0xfffffffa }] }, cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 };
    const flows = [...d.flows.values()].filter((f) => !(f.tableId === 0 && f.priority === 0));
    const plan = diff(d, { flows: [...flows, foreign], groups: [...d.groups.values()], meters: [...d.meters.values()] });
    expect(plan.make.map((x) => x.kind === 'flow' && formatFlow(x.flow).trim())).toEqual(['cookie=0x51ce010000000000, table=0, priority=0 actions=drop']);
    expect(plan.break).toEqual([]);   // the desired table-miss took the foreign entry's place
  });
});

describe('intent', () => {
  const base = parseIntent({ networks: [{ name: 'blue', vid: 100 }], channels: [{ name: 'gold', rate: '10mbit' }], attachments: [{ switch: 'h1/br0', port: 'vm1', network: 'blue' }] });
  const err = (f: () => unknown): IntentError => { try { f(); } catch (e) { return e as IntentError; } throw new Error('no error'); };

  it.each([
    ['a duplicate vid', () => createNetwork(base, { name: 'red', vid: 100 }), 409, 'duplicate-vid', 'vid 100 of network "red" is already used by network "blue"'],
    ['a vid out of range', () => createNetwork(base, { name: 'red', vid: 4095 }), 400, 'bad-request', 'network.vid: Too big: expected number to be <=4094'],
    ['an unknown network', () => putAttachment(base, 'h1/br0', 'vm2', { network: 'nosuch' }), 404, 'unknown-network', 'attachment h1/br0:vm2: network "nosuch" does not exist'],
    ['a port attached twice', () => addAttachment(base, 'h1/br0', 'vm1', { network: 'blue' }), 409, 'port-attached', 'port h1/br0:vm1 is already attached to network "blue"'],
    ['a network still in use', () => deleteNetwork(base, 'blue'), 409, 'network-in-use', 'network "blue" still has 1 attachment(s), e.g. h1/br0:vm1: detach them first'],
    ['a bad rate', () => createChannel(base, { name: 'x', rate: 'fast' }), 400, 'bad-request', 'channel.rate: "fast" is not a rate: use bit, kbit, mbit, gbit, pps or kpps (e.g. 50mbit)'],
    ['an unknown channel', () => patchChannel(base, 'nosuch', { rate: '1mbit' }), 404, 'unknown-channel', 'channel "nosuch" does not exist (known: gold)'],
    ['an unknown field', () => createNetwork(base, { name: 'red', vid: 200, colour: 'red' }), 400, 'bad-request', 'network: Unrecognized key: "colour"'],
  ])('refuses %s with one line', (_what, f, status, code, message) => {
    const e = err(f);
    expect(e).toBeInstanceOf(IntentError);
    expect([e.status, e.code, e.message]).toEqual([status, code, message]);
  });

  it('changes are pure: a refused change leaves the intent as it was', () => {
    const copy = structuredClone(base);
    err(() => deleteChannel(base, 'nosuch'));
    err(() => parseIntent({ ...base, networks: [...base.networks, { name: 'blue', vid: 7 }] }));
    expect(base).toEqual(copy);
  });

  it('keeps meter ids of channels that stay and gives new ones the lowest free id', () => {
    expect(assignMeterIds(parseIntent({ channels: [{ name: 'a', rate: '1mbit' }, { name: 'b', rate: '1mbit' }, { name: 'c', rate: '1mbit' }] }), { b: 1, gone: 2 })).toEqual({ a: 2, b: 1, c: 3 });
  });
});

describe('topology', () => {
  const A = '000000000000000a', B = '000000000000000b', C = '000000000000000c';

  it('finds a link from probes and blocks one link of a loop, the same one whatever order they were heard in', () => {
    const links: [string, number, string, number][] = [[A, 1, B, 1], [B, 2, C, 1], [C, 2, A, 2]];
    const blockedOf = (order: number[]): string[] => {
      const t = new Topology();
      for (const k of order) { const [d1, p1, d2, p2] = links[k]!; t.heard({ dpid: d1, port: p1 }, { dpid: d2, port: p2 }, 1); }
      return [...t.blocked()];
    };
    const b = blockedOf([0, 1, 2]);
    expect(b).toHaveLength(1);
    expect(blockedOf([2, 1, 0])).toEqual(b);
    expect(blockedOf([1, 2, 0])).toEqual(b);
  });

  it('expires links unheard while both ends are connected, keeps them while one is away', () => {
    const t = new Topology();
    t.heard({ dpid: A, port: 1 }, { dpid: B, port: 1 }, 1000);
    expect(t.expire(2000, (d) => d !== B)).toEqual([]);
    expect(t.expire(2000, () => true)).toHaveLength(1);
  });

  it('reads back its own probe and ignores other LLDP, and probes it did not sign', () => {
    const key = Buffer.alloc(32, 7), other = Buffer.alloc(32, 8);
    const f = lldpProbe(A, 7, '02:00:00:00:00:01', key);
    expect(probeOrigin(f, key)).toEqual({ dpid: A, port: 7 });
    expect(probeOrigin(f.subarray(0, 20), key)).toBeNull();
    expect(probeOrigin(f, other)).toBeNull();                                       // forged by someone without the key
    expect(probeOrigin(lldpProbe(A, 8, '02:00:00:00:00:01', other), key)).toBeNull();
  });

  it('parses a real LLDP capture (tcpdump test suite) without throwing on any prefix', async (t) => {
    const file = path.resolve(HERE, '../../../../shared/vectors/captures/lldp-app-priority.pcap');
    let recs;
    try { recs = await readCaptureFile(file); } catch { t.skip(); return; }   // a user's clone has no shared/
    const frame = Buffer.from(recs[0]!.data);
    const l = parseLldp(frame, 0, frame.length)!;
    expect(l.chassisSubtype).toBe(4);
    expect(l.chassisId).toEqual(Buffer.from([0, 0, 0, 2, 0, 2]));
    expect(l.portSubtype).toBe(5);
    expect(l.portId.toString()).toBe('leaf0b-eth10');
    expect(l.ttlS).toBe(120);
    for (let n = 0; n < frame.length; n++) expect(() => parseLldp(frame, 0, n)).not.toThrow();
    expect(probeOrigin(frame, Buffer.alloc(32))).toBeNull();
  });
});
