// Compares a replay's outputs with expected captures and counters (Snabb lwAFTR-style golden
// tests): frame by frame per port, each difference a readable line with decoded summaries.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCaptureFile } from '../packet/capture.js';
import { summarizeFrame } from '../packet/summary.js';
import type { ReplayResult } from './replay.js';

export interface Difference { port: string; frame: number; expected: string; got: string }

/** Expected capture for a port: DIR/<port>.pcap, else DIR/expect.<port>.pcap (the pcaps/ layout). */
export function expectedFile(dir: string, port: string): string | undefined {
  for (const name of [`${port}.pcap`, `expect.${port}.pcap`, `${port}.pcapng`, `expect.${port}.pcapng`]) {
    const f = join(dir, name);
    if (existsSync(f)) return f;
  }
  return undefined;
}

/**
 * Frame-by-frame comparison. A port with no expected file must have sent nothing. Frames are
 * compared by their bytes; timestamps are not compared (shaping tests state timing separately).
 */
export async function compareWithExpected(result: ReplayResult, dir: string): Promise<Difference[]> {
  const diffs: Difference[] = [];
  for (const [port, got] of result.outputs) {
    const file = expectedFile(dir, port);
    const expected = file ? (await readCaptureFile(file)).map((r) => r.data) : [];
    const n = Math.max(expected.length, got.length);
    for (let i = 0; i < n; i++) {
      const e = expected[i];
      const g = got[i]?.frame;
      if (e && g && e.equals(g)) continue;
      diffs.push({
        port,
        frame: i + 1,
        expected: e ? summarizeFrame(e) : '(no frame)',
        got: g ? summarizeFrame(g) : '(no frame)',
      });
      if (e && g && summarizeFrame(e) === summarizeFrame(g)) {
        const at = firstDifferentByte(e, g);
        diffs[diffs.length - 1].got += ` (bytes differ from offset ${at})`;
      }
    }
  }
  return diffs;
}

function firstDifferentByte(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

export interface CounterDifference { port: string; counter: string; expected: number; got: number }

/**
 * DIR/counters.json: `{ "<port>": { "in": n, "out": n, "drops": { "<reason>": n } } }`. Every
 * counter named there must match; drop reasons not named must be zero.
 */
export async function compareCounters(result: ReplayResult, dir: string): Promise<CounterDifference[] | undefined> {
  const file = join(dir, 'counters.json');
  if (!existsSync(file)) return undefined;
  let expected: Record<string, { in?: number; out?: number; drops?: Record<string, number> }>;
  try {
    expected = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw Object.assign(new Error(`${file}: not valid JSON (${(err as Error).message})`), { code: 'SW_ERR_EXPECT' });
  }
  const diffs: CounterDifference[] = [];
  for (const s of result.summary) {
    const e = expected[s.port];
    if (!e) continue;
    if (e.in !== undefined && e.in !== s.in) diffs.push({ port: s.port, counter: 'in', expected: e.in, got: s.in });
    if (e.out !== undefined && e.out !== s.out) diffs.push({ port: s.port, counter: 'out', expected: e.out, got: s.out });
    const reasons = new Set([...Object.keys(e.drops ?? {}), ...Object.keys(s.drops)]);
    for (const r of reasons) {
      const want = e.drops?.[r] ?? 0;
      const got = s.drops[r] ?? 0;
      if (want !== got) diffs.push({ port: s.port, counter: `drop ${r}`, expected: want, got });
    }
  }
  for (const port of Object.keys(expected)) {
    if (!result.summary.some((s) => s.port === port)) diffs.push({ port, counter: 'exists', expected: 1, got: 0 });
  }
  return diffs;
}
