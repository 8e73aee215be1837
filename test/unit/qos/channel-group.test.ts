// Channel groups on an injected clock: the water-filling split (mins first, the rest by weight,
// caps), and members policing or shaping real offered loads of 1500-byte frames in 0.1 ms steps:
// every member gets its min while it wants it, idle capacity goes to the busy ones by weight, a
// member coming back has its min at once, the total never exceeds the group's rate, and the
// weighted shares are fair (Jain's index).
import { describe, expect, it } from 'vitest';
import { ChannelGroup, GroupMember, RESPLIT_MS, setChannelGroup } from '../../../src/qos/channel-group.js';
import { shareRates } from '../../../src/qos/share-rates.js';
import { ChannelRegistry } from '../../../src/qos/channel.js';
import { Batch } from '../../../src/packet/batch.js';
import { PacketPool } from '../../../src/packet/pool.js';

const MBIT = 1e6 / 8;   // bytes/s in a Mbit/s

describe('shareRates (water-filling with mins and weights)', () => {
  const inf = Infinity;
  it.each([
    ['all busy: mins, then the rest 1:1:2', 300, [[inf, 50, 300, 1], [inf, 50, 300, 1], [inf, 50, 300, 2]], [87.5, 87.5, 125]],
    ['one idle: its min is lent out', 300, [[inf, 50, 300, 1], [inf, 50, 300, 1], [0, 50, 300, 2]], [150, 150, 0]],
    ['a small demand is met, the rest shared', 300, [[20, 50, 300, 1], [inf, 50, 300, 1], [inf, 50, 300, 2]], [20, 110, 170]],
    ['a ceiling caps a member, its part goes round', 300, [[inf, 50, 70, 1], [inf, 50, 300, 1], [inf, 50, 300, 2]], [70, 93.3333, 136.6667]],
    ['mins above the total are scaled down together', 100, [[inf, 100, 300, 1], [inf, 100, 300, 1]], [50, 50]],
    ['nobody wants anything', 300, [[0, 50, 300, 1], [0, 50, 300, 1]], [0, 0]],
  ] as const)('%s', (_what, total, ms, want) => {
    const out = shareRates(total, ms.map(([demand, min, max, weight]) => ({ demand, min, max, weight })));
    expect([...out].map((x) => Math.round(x * 1e4) / 1e4)).toEqual(want.map((x) => Math.round(x * 1e4) / 1e4));
    expect(out.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total + 1e-6);
  });
});

/** Offered load per member (Mbit/s) as a function of time (ms). */
type Load = (tMs: number) => number;

interface Run { passed: number[][]; total: number[]; windowMs: number }

/**
 * Drive a group for `ms` milliseconds in 0.1 ms steps: each member offers 1500-byte frames at its
 * load; policing admits them, shaping queues and drains every step. Returns passed bytes per
 * member per window.
 */
function drive(mode: 'police' | 'shape', loads: Load[], ms: number, windowMs = 100): Run {
  const reg = new ChannelRegistry();
  const g = setChannelGroup(reg, 'uplink', {
    rate: '300mbit', mode, queue: 200,
    members: { a: { min: '50mbit', weight: 1 }, b: { min: '50mbit', weight: 1 }, c: { min: '50mbit', weight: 2 } },
  }, 0);
  const members = g.members;
  const pool = new PacketPool(4096, 2048);
  const out = new Batch(64);
  const credit = loads.map(() => 0);
  const windows = Math.floor(ms / windowMs);
  const passed = loads.map(() => new Array<number>(windows).fill(0));
  const total = new Array<number>(windows).fill(0);
  const before = members.map(() => 0);
  for (let step = 0; step * 0.1 < ms; step++) {
    const t = step * 0.1;
    const w = Math.floor(t / windowMs);
    for (let i = 0; i < members.length; i++) before[i] = members[i].passedBytes;
    for (let i = 0; i < members.length; i++) {
      credit[i] += (loads[i](t) * MBIT) * 0.0001;
      while (credit[i] >= 1500) {
        credit[i] -= 1500;
        if (mode === 'police') members[i].admit(1500, t);
        else {
          const p = pool.alloc()!;
          p.len = 1500;
          if (!members[i].enqueue(p, t)) pool.release(p);
        }
      }
    }
    if (mode === 'shape') {
      for (let k = 0; k < members.length; k++) {
        const m = members[(step + k) % members.length];   // no member always first
        out.count = 0;
        m.drain(t, out);
        for (let j = 0; j < out.count; j++) pool.release(out.pkts[j]);
      }
    }
    if (w < windows) for (let i = 0; i < members.length; i++) { const d = members[i].passedBytes - before[i]; passed[i][w] += d; total[w] += d; }
  }
  return { passed, total, windowMs };
}

const mbps = (bytes: number, windowMs: number): number => (bytes * 8) / (windowMs / 1000) / 1e6;
const jain = (xs: number[]): number => (xs.reduce((a, b) => a + b, 0) ** 2) / (xs.length * xs.reduce((a, b) => a + b * b, 0));

describe.each(['police', 'shape'] as const)('a channel group, %s', (mode) => {
  it('three busy members: each at least its min, the rest by weight 1:1:2, total within the rate, fair (Jain >= 0.99)', () => {
    const r = drive(mode, [() => 300, () => 300, () => 300], 2000);
    for (let w = 2; w < r.total.length; w++) {          // steady state (after 200 ms)
      const got = r.passed.map((p) => mbps(p[w]!, r.windowMs));
      for (const x of got) expect(x).toBeGreaterThanOrEqual(50 * 0.98);
      expect(mbps(r.total[w]!, r.windowMs)).toBeLessThanOrEqual(300 * 1.02);
      expect(mbps(r.total[w]!, r.windowMs)).toBeGreaterThanOrEqual(300 * 0.95);   // work-conserving
      // the exact split is 87.5 / 87.5 / 125 (mins, then 150 by weight 1:1:2): each share over its
      // due is the same for a fair scheduler (Jain's index of the normalised shares)
      expect(got[2]! / got[0]!).toBeGreaterThan(125 / 87.5 * 0.95);
      expect(jain([got[0]! / 87.5, got[1]! / 87.5, got[2]! / 125])).toBeGreaterThanOrEqual(0.99);
    }
  });

  it('an idle member lends its share; back, it has its min within a re-split, and the others give way', () => {
    // c is idle for the first second, then sends 300 Mbit/s
    const r = drive(mode, [() => 300, () => 300, (t) => (t < 1000 ? 0 : 300)], 2000, 10);
    const at = (w: number): number[] => r.passed.map((p) => mbps(p[w]!, r.windowMs));
    // while c is idle (after warm-up): a and b share 300 evenly
    for (let w = 20; w < 100; w++) {
      const [a, b] = at(w);
      expect(a! + b!).toBeGreaterThanOrEqual(300 * 0.95);
      expect(Math.abs(a! - b!)).toBeLessThanOrEqual(300 * 0.05);
    }
    // c comes back at 1000 ms: in the 10 ms windows from the second one on, it has at least its min
    for (let w = 101; w < 200; w++) expect(at(w)[2]).toBeGreaterThanOrEqual(50 * 0.98);
    // and within 100 ms the split is back to 87.5 / 87.5 / 125 (10 ms windows, averaged over 50 ms)
    const avg = (lo: number, hi: number, i: number): number => { let s = 0; for (let w = lo; w < hi; w++) s += at(w)[i]!; return s / (hi - lo); };
    expect(avg(110, 160, 2)).toBeGreaterThan(125 * 0.9);
    expect(avg(110, 160, 0)).toBeLessThan(87.5 * 1.1);
  });

  it('the group passes at most its rate (2 %) over every 1 s window, however the load changes', () => {
    const r = drive(mode, [(t) => (Math.floor(t / 137) % 2 ? 400 : 20), (t) => (Math.floor(t / 71) % 3 ? 10 : 500), () => 250], 5000, 1000);
    for (let w = 0; w < r.total.length; w++) expect(mbps(r.total[w]!, r.windowMs)).toBeLessThanOrEqual(300 * 1.02);
  });
});

describe('the split does not depend on the order or the coarseness of the loop', () => {
  // The switch serves ports one after another, each batch with its frames' own arrival times
  // (policing) or drains shapers in a fixed order: a member served later in a pass, or a pass every
  // 40 ms on a busy machine, must not lose its share.
  const spec = { rate: '150mbit', members: { a: { min: '25mbit', weight: 1 }, b: { min: '25mbit', weight: 1 }, c: { min: '25mbit', weight: 2 } } };
  it.each([1, 10, 20, 40])('police, a pass every %i ms serving a, b, c in turn: 43.75 / 43.75 / 62.5 within 3 %', (P) => {
    const g = setChannelGroup(new ChannelRegistry(), 'u', spec, 0);
    const gap = (1514 / (110 * MBIT)) * 1000;
    const next = [0, 0.3 * gap, 0.6 * gap];
    const T = 3000;
    for (let t = P; t <= T; t += P) {
      for (let i = 0; i < 3; i++) { const m = g.members[i]!; while (next[i]! <= t) { m.admit(1514, next[i]!); next[i]! += gap; } }
    }
    const got = g.members.map((m) => (m.passedBytes * 8) / (T / 1000) / 1e6);
    [43.75, 43.75, 62.5].forEach((want, i) => expect(Math.abs(got[i]! - want) / want).toBeLessThan(0.03));
  });
  it.each([1, 20, 40])('shape, drained every %i ms in order a, b, c: the shares keep 1 : 1 : 2 of the borrowed part, mins and all', (P) => {
    const g = setChannelGroup(new ChannelRegistry(), 'u', { ...spec, mode: 'shape', queue: 4096 }, 0);
    const pool = new PacketPool(16_384, 2048);
    const out = new Batch(64);
    const gap = (1514 / (110 * MBIT)) * 1000;
    const next = [0, 0.3 * gap, 0.6 * gap];
    const T = 2000;
    for (let t = P; t <= T; t += P) {
      for (let i = 0; i < 3; i++) { const m = g.members[i]!; while (next[i]! <= t) { const p = pool.alloc()!; p.len = 1514; if (!m.enqueue(p, next[i]!)) pool.release(p); next[i]! += gap; } }
      for (const m of g.members) { for (;;) { out.count = 0; if (m.drain(t, out) === 0) break; for (let j = 0; j < out.count; j++) pool.release(out.pkts[j]!); } }
    }
    const [a, b, c] = g.members.map((m) => m.passedBytes);
    expect(Math.abs(a! - b!) / a!).toBeLessThan(0.03);
    expect(c! / a!).toBeGreaterThan((62.5 / 43.75) * 0.97);
    expect(c! / a!).toBeLessThan((62.5 / 43.75) * 1.03);
  });
});

describe('shaping on an epoch-ms clock (replay runs on capture time)', () => {
  // A backlog must drain in a bounded number of release events: nextReleaseMs is never `now` while
  // drain(now) releases nothing (one ulp of 1.7e12 ms is 0.24 us; a shorter wait used to round to
  // now, and replay asked again a million times per input frame).
  it.each([
    ['a group member', (): { enqueue: (p: never, t: number) => boolean; drain: (t: number, b: Batch) => number; nextReleaseMs: (t: number) => number } =>
      setChannelGroup(new ChannelRegistry(), 'g', { rate: '1728kbit', mode: 'shape', queue: 4096, members: { a: { min: '288kbit' }, b: { min: '288kbit', weight: 2 } } }, Number.NaN).members[1]!],
    ['a plain channel', () => new ChannelRegistry().set('s', { rate: '720kbit', burst: '3028b', mode: 'shape', queue: 4096 })],
  ] as const)('%s: 3000 frames of 60 bytes leave in a few events each', (_what, make) => {
    const lim = make();
    const pool = new PacketPool(4096, 128);
    const out = new Batch(32);
    const T0 = 1_700_000_000_000;
    let now = T0, events = 0, sent = 0;
    for (let i = 0; i < 3000; i++) { const p = pool.alloc()!; p.len = 60; lim.enqueue(p as never, T0 + i * 0.37); }
    while (sent < 3000 && events < 100_000) {
      out.count = 0;
      sent += lim.drain(now, out);
      for (let j = 0; j < out.count; j++) pool.release(out.pkts[j]!);
      const next = lim.nextReleaseMs(now);
      if (next === Infinity) break;
      now = Math.max(now, next);
      events++;
    }
    expect(sent).toBe(3000);
    expect(events).toBeLessThan(3 * 3000);
  });
});

describe('channel group config and registry', () => {
  it('members are channels of the registry, the group is not; reconfigure keeps members and tokens', () => {
    const reg = new ChannelRegistry();
    const g = setChannelGroup(reg, 'uplink', { rate: '300mbit', members: { a: { min: '50mbit' }, b: { min: '100mbit', max: '200mbit', weight: 3 } } }, 0);
    expect(reg.get('a')).toBeInstanceOf(GroupMember);
    expect(reg.get('uplink')).toBeUndefined();
    expect(() => reg.set('uplink', { rate: '1mbit' })).toThrow(/channel group/);
    expect(() => reg.get('a')!.reconfigure({ rate: '1mbit' })).toThrow(/member of group "uplink"/);
    const again = setChannelGroup(reg, 'uplink', { rate: '400mbit', members: { a: { min: '60mbit' }, b: { min: '100mbit', max: '300mbit', weight: 3 } } }, 5);
    expect(again).toBe(g);
    expect(g.rateBps).toBe(400 * MBIT);
    expect((reg.get('a') as GroupMember).minBps).toBe(60 * MBIT);
    expect(() => setChannelGroup(reg, 'uplink', { rate: '400mbit', members: { a: { min: '60mbit' } } }, 6)).toThrow(/cannot be added or removed live/);
  });

  it.each([
    [{ rate: '100mbit', members: { a: { min: '60mbit' }, b: { min: '60mbit' } } }, /mins add up to 120Mbit, more than the group's rate 100mbit/i],
    [{ rate: '100mbit', members: { a: { min: '10mbit', max: '5mbit' } } }, /max 5mbit is below its min 10mbit/],
    [{ rate: '100mbit', members: { a: { min: '10mbit', max: '200mbit' } } }, /above the group's rate/],
    [{ rate: '100mbit', members: { a: { min: '10mbit', weight: 0 } } }, /weight 0 must be a positive number/],
    [{ rate: '1000pps', members: { a: { min: '10mbit' } } }, /must be in bits/],
    [{ rate: '100mbit', members: {} }, /needs members/],
  ])('refuses a bad group: %j', (spec, msg) => {
    expect(() => new ChannelGroup('g', spec as never, 0)).toThrow(msg);
  });

  it('re-splits every RESPLIT_MS on the frame clock', () => {
    const reg = new ChannelRegistry();
    const g = setChannelGroup(reg, 'g', { rate: '100mbit', members: { a: { min: '10mbit' }, b: { min: '10mbit' } } }, 0);
    const n0 = g.resplits;
    const a = g.members[0]!;
    for (let t = 0; t <= 10 * RESPLIT_MS; t += 1) a.admit(1500, t);
    expect(g.resplits - n0).toBeGreaterThanOrEqual(9);
    expect(g.resplits - n0).toBeLessThanOrEqual(11);
  });
});

describe('sluice trace names the channels a frame meets', () => {
  it('an ingress group member and an egress channel are described with their group, share and rate', async () => {
    const { makeBridge, udpFrame, flow, apply, out } = await import('../datapath/helpers.js');
    const reg = new ChannelRegistry();
    setChannelGroup(reg, 'uplink', { rate: '300mbit', members: { a: { min: '50mbit', weight: 2 }, b: { min: '50mbit' } } }, 0);
    const slow = reg.set('slow', { rate: '10mbit', mode: 'shape' });
    const t = makeBridge(2);
    t.br.setPortLimiter(1, 'ingress', reg.get('a')!);
    t.br.setPortLimiter(2, 'egress', slow);
    t.br.flowMod({ command: 'add', spec: flow({ match: [], instructions: apply(out(2)) }) }, 0);
    const text = t.br.trace(udpFrame(1, 2), 1, 0).events.filter((e) => e.kind === 'action').map((e) => (e as { text: string }).text).join('\n');
    expect(text).toMatch(/ingress channel a \(member of group uplink, police: min 50\.0Mbit, max 300\.0Mbit, weight 2, share now \d+\.\dMbit\)/);
    expect(text).toMatch(/egress of port 2\(p2\): channel slow \(10mbit, shape, 0 queued\): shaping/);
  });
});
