// Golden scenarios (Snabb lwAFTR style): every pcaps/<case>/ replays through the real datapath and
// must produce exactly expect.<port>.pcap on every port and the counters in counters.json.
import { describe, it, expect } from 'vitest';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/agent/config.js';
import { replay, type ReplayFlowCache } from '../../src/replay/replay.js';
import { compareWithExpected, compareCounters } from '../../src/replay/expect.js';
import { caseInputs } from '../../src/cli/replay.js';

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
