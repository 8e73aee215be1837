// Golden scenarios (Snabb lwAFTR style): every pcaps/<case>/ replays through the real datapath and
// must produce exactly expect.<port>.pcap on every port and the counters in counters.json.
import { describe, it, expect, beforeAll } from 'vitest';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/agent/config.js';
import { replay, type ReplayFlowCache } from '../../src/replay/replay.js';
import { compareWithExpected, compareCounters } from '../../src/replay/expect.js';
import { caseInputs } from '../../src/cli/replay.js';
import { readCaptureFile, tsMsOf } from '../../src/packet/capture.js';

const PCAPS = fileURLToPath(new URL('../../pcaps/', import.meta.url));
const cases = existsSync(PCAPS) ? readdirSync(PCAPS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : [];

describe('golden scenarios in pcaps/', () => {
  it('has the scenarios the foundation promises', () => {
    for (const c of ['l2-learning', 'vlan-isolation', 'native-vlan', 'mac-aging-move', 'channel-policing', 'channel-shaping', 'malformed']) {
      expect(cases).toContain(c);
    }
  });

  it.each(cases)('%s: every port sends exactly the expected frames, counters match', async (name) => {
    const dir = join(PCAPS, name);
    expect(existsSync(join(dir, 'README.md')), `${name} needs a README.md saying what it shows`).toBe(true);
    expect(existsSync(join(dir, 'counters.json')), `${name} needs counters.json`).toBe(true);
    const inputs = caseInputs(dir);
    expect(inputs.length).toBeGreaterThan(0);
    const result = await replay(await loadConfig(join(dir, 'topo.yaml')), inputs);
    const diffs = await compareWithExpected(result, dir);
    expect(diffs.map((d) => `${d.port} #${d.frame}: expected ${d.expected} | got ${d.got}`)).toEqual([]);
    const counterDiffs = await compareCounters(result, dir);
    expect(counterDiffs).toEqual([]);
    // A scenario that sends nothing anywhere would prove nothing.
    expect(result.summary.reduce((n, s) => n + s.out, 0)).toBeGreaterThan(0);
  });

  // The flow cache is an optimisation: every case must give byte-identical outputs and the same
  // counters with it in megaflow mode (the default, and the standalone fast path), in exact-key mode
  // (the generic interpreter) and off (no cache probes at all).
  const modes: ReplayFlowCache[] = ['megaflow', 'exact', 'off'];
  it.each(cases.flatMap((c) => modes.map((m) => [c, m] as const)))('%s with the flow cache %s: the same frames and counters', async (name, mode) => {
    const dir = join(PCAPS, name);
    const result = await replay(await loadConfig(join(dir, 'topo.yaml')), caseInputs(dir), { flowCache: mode });
    const diffs = await compareWithExpected(result, dir);
    expect(diffs.map((d) => `${d.port} #${d.frame}: expected ${d.expected} | got ${d.got}`)).toEqual([]);
    expect(await compareCounters(result, dir)).toEqual([]);
    const exec = result.built.bridge.stats().exec;
    if (mode === 'off') expect(exec['cache-hits'] ?? 0).toBe(0);
  });

  it('channel-shaping: queued frames leave at the channel rate on the capture clock', async () => {
    const dir = join(PCAPS, 'channel-shaping');
    const result = await replay(await loadConfig(join(dir, 'topo.yaml')), caseInputs(dir));
    const sent = result.outputs.get('vm2')!;
    const t0 = result.startMs;
    // 1000-byte frames at 10,000 bytes/s: two within the 2000-byte burst, then one per 100 ms.
    expect(sent.map((f) => Math.round(f.tsMs - t0))).toEqual([0, 0, 100, 200, 300, 400, 500]);
  });
});

// Channel groups (src/qos/README.md, "Channel groups") measured on the capture clock: three
// senders share a group of 1728 kbit/s = 216,000 bytes/s, min 36,000 bytes/s each (600 frames/s of
// 60 bytes), weights 1:1:2; c is silent from 400 to 800 ms (tools/make-pcaps.ts, 7).
describe.each(['police', 'shape'] as const)('channel-group-%s on the capture clock', (mode) => {
  const RATE = 216_000 / 1000, MIN = 36_000 / 1000;          // bytes per ms
  const IDLE_MS = 100, RESPLIT_MS = 10;                      // documented: silent 100 ms = idle; re-split every 10 ms
  const FLOOR = 2 * 1514;                                    // a member's bucket: the group's burst time at its rate, at least this
  const BURST = Math.max(RATE * 10, FLOOR);                  // the group's default burst: max(rate x 10 ms, 2 x 1514 bytes)
  /** The documented split (mins, then the rest by weight) for the members that want more, bytes/ms. */
  const due = (active: readonly boolean[]): number[] => {
    const w = [1, 1, 2], rest = RATE - active.filter(Boolean).length * MIN;
    const wsum = w.reduce((s, x, i) => s + (active[i] ? x : 0), 0);
    return w.map((x, i) => (active[i] ? MIN + (rest * x) / wsum : 0));
  };
  interface Sample { t: number; len: number }
  let offered: Sample[][] = [], passed: Sample[][] = [];
  let cLast = 0, cBack = 0, endMs = 0;
  const bytes = (xs: Sample[], from: number, to: number): number => { let s = 0; for (const x of xs) if (x.t >= from && x.t < to) s += x.len; return s; };

  beforeAll(async () => {
    const dir = join(PCAPS, `channel-group-${mode}`);
    const result = await replay(await loadConfig(join(dir, 'topo.yaml')), caseInputs(dir));
    const t0 = result.startMs;
    offered = [];
    for (const p of ['sa', 'sb', 'sc']) offered.push((await readCaptureFile(join(dir, `in.${p}.pcap`))).map((r) => ({ t: tsMsOf(r) - t0, len: r.data.length })));
    passed = [[], [], []];
    if (mode === 'police') {
      // one trunk: the member is the VLAN (10, 20, 30); count the frame as it was policed, untagged
      for (const f of result.outputs.get('trunk')!) passed[(f.frame.readUInt16BE(14) & 0xfff) / 10 - 1]!.push({ t: f.tsMs - t0, len: f.frame.length - 4 });
    } else {
      ['ra', 'rb', 'rc'].forEach((p, i) => { for (const f of result.outputs.get(p)!) passed[i]!.push({ t: f.tsMs - t0, len: f.frame.length }); });
    }
    // c's silence: its last frame before the gap, and its first after
    const c = offered[2]!;
    const gap = c.findIndex((x, k) => k > 0 && x.t - c[k - 1]!.t > IDLE_MS);
    cLast = c[gap - 1]!.t; cBack = c[gap]!.t;
    endMs = Math.max(...offered.map((o) => o[o.length - 1]!.t));
  });

  it(`${mode}: a member offering at least its min in every 10 ms of a 100 ms window passes >= 98 % of its min in it (windows every 10 ms)`, () => {
    let checked = 0, worst = Infinity;
    for (let s = 0; s + 100 <= endMs; s += 10) {
      for (let i = 0; i < 3; i++) {
        let wants = true;
        for (let k = s; k < s + 100; k += 10) if (bytes(offered[i]!, k, k + 10) < MIN * 10) wants = false;
        if (!wants) continue;
        checked++;
        worst = Math.min(worst, bytes(passed[i]!, s, s + 100) / (MIN * 100));
      }
    }
    expect(checked).toBeGreaterThan(200);
    expect(worst).toBeGreaterThanOrEqual(0.98);
  });

  it(`${mode}: once c has been silent for IDLE_MS (100 ms: it wants nothing), a and b pass the group's rate within 2 % from the next re-split (10 ms) on, in every 50 ms until c returns`, () => {
    expect(cBack - cLast).toBeGreaterThan(IDLE_MS + RESPLIT_MS + 100);
    const from = cLast + IDLE_MS + RESPLIT_MS;
    let worst = Infinity;
    let windows = 0;
    for (let s = from; s + 50 <= cBack; s += 50, windows++) worst = Math.min(worst, (bytes(passed[0]!, s, s + 50) + bytes(passed[1]!, s, s + 50)) / (RATE * 50));
    expect(windows).toBeGreaterThanOrEqual(4);
    expect(worst).toBeGreaterThanOrEqual(0.98);
    // and they split it evenly (weights 1:1)
    expect(Math.abs(bytes(passed[0]!, from, cBack) - bytes(passed[1]!, from, cBack)) / bytes(passed[0]!, from, cBack)).toBeLessThan(0.02);
  });

  it(`${mode}: in steady state (100 ms windows from 100 ms after each change) Jain's index of the shares over their documented due is >= 0.99`, () => {
    const phases: Array<[number, number, boolean[]]> = [
      [100, cLast, [true, true, true]],
      [cLast + IDLE_MS + RESPLIT_MS + 100, cBack, [true, true, false]],
      [cBack + 100, endMs, [true, true, true]],
    ];
    const jain = (xs: number[]): number => (xs.reduce((a, b) => a + b, 0) ** 2) / (xs.length * xs.reduce((a, b) => a + b * b, 0));
    let windows = 0;
    for (const [from, to, active] of phases) {
      const d = due(active);
      for (let s = from; s + 100 <= to; s += 100) {
        const xs = [0, 1, 2].filter((i) => active[i]).map((i) => bytes(passed[i]!, s, s + 100) / (d[i]! * 100));
        expect(jain(xs), `window at ${Math.round(s)} ms: ${xs.map((x) => x.toFixed(3)).join(' / ')}`).toBeGreaterThanOrEqual(0.99);
        windows++;
      }
    }
    expect(windows).toBeGreaterThanOrEqual(5);
  });

  it(`${mode}: over every window the group passes at most its rate plus the members' buckets (each the group's burst time at its rate, at least 2 x 1514 bytes) plus a returning member's min for one re-split`, () => {
    const all = passed.flat().sort((x, y) => x.t - y.t);
    const slack = 3 * Math.max(FLOOR, BURST) + MIN * RESPLIT_MS;
    for (const W of [10, 100, 1000]) {
      let j = 0, sum = 0;
      for (let k = 0; k < all.length; k++) {             // windows [t_k, t_k + W) starting at every frame
        while (j < all.length && all[j]!.t < all[k]!.t + W) sum += all[j++]!.len;
        expect(sum, `${W} ms from ${all[k]!.t.toFixed(2)} ms`).toBeLessThanOrEqual(RATE * W + slack);
        sum -= all[k]!.len;
      }
    }
    // over the whole run (1 s or more) within 2 % of the rate
    const span = all[all.length - 1]!.t - all[0]!.t;
    expect(all.reduce((s, x) => s + x.len, 0)).toBeLessThanOrEqual(RATE * span * 1.02 + slack);
  });
});
