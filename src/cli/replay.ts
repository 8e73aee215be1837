// `sluice replay`: run the real datapath over pcap/pcapng captures on their own clock, write what
// each port sent, and (with --expect) diff it frame by frame against expected captures.
import { readdirSync, existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CommandModule } from 'yargs';
import Table from 'cli-table3';
import { loadConfig } from '../agent/config.js';
import { replay, writeOutputs, type ReplayInput, type ReplayResult } from '../replay/replay.js';
import { compareWithExpected, compareCounters } from '../replay/expect.js';
import { UsageError } from './errors.js';

interface ReplayArgs {
  config?: string;
  in?: string[];
  out?: string;
  expect?: string;
  case?: string[];
  bridge?: string;
  json?: boolean;
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay',
  describe: 'Run the datapath over pcap/pcapng captures (no root needed)',
  builder: (y) => y
    .option('config', { alias: 'c', type: 'string', describe: 'switch config (YAML)' })
    .option('in', { type: 'string', array: true, describe: 'PORT=FILE: frames entering PORT (repeatable)' })
    .option('out', { alias: 'o', type: 'string', describe: 'write DIR/<port>.pcap for every port' })
    .option('expect', { alias: 'e', type: 'string', describe: 'compare with DIR/<port>.pcap (or expect.<port>.pcap) and DIR/counters.json; exit 1 on a difference' })
    .option('case', { type: 'string', array: true, describe: 'golden case folder(s): topo.yaml, in.<port>.pcap, expect.<port>.pcap, counters.json' })
    .option('bridge', { alias: 'b', type: 'string', describe: 'bridge to run when the config has several' })
    .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
    .example('$0 replay -c topo.yaml --in vm1=a.pcap --in vm2=b.pcapng --out out/', '')
    .example('$0 replay --case pcaps/vlan-isolation', 'run a golden case and check it'),
  handler: async (args) => {
    let failed = false;
    if (args.case && args.case.length > 0) {
      if (args.config || (args.in && args.in.length > 0)) throw new UsageError('--case takes its config and inputs from the case folder; drop -c/--in');
      for (const dir of args.case) {
        const ok = await runCase(dir, args);
        failed ||= !ok;
      }
    } else {
      if (!args.config) throw new UsageError('replay needs -c CONFIG (or --case DIR)');
      if (!args.in || args.in.length === 0) throw new UsageError('replay needs at least one --in PORT=FILE');
      if (!args.out && !args.expect) throw new UsageError('replay needs --out DIR (and/or --expect DIR)');
      const config = await loadConfig(args.config);
      const result = await replay(config, args.in.map(parseInput), { bridge: args.bridge });
      failed = !(await report(result, args, args.expect));
    }
    if (failed) process.exitCode = 1;
  },
};

function parseInput(spec: string): ReplayInput {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--in ${spec}: expected PORT=FILE (e.g. --in vm1=capture.pcap)`);
  return { port: spec.slice(0, eq), file: spec.slice(eq + 1) };
}

/** Inputs of a case folder: in.<port>.pcap / in.<port>.pcapng. */
export function caseInputs(dir: string): ReplayInput[] {
  return readdirSync(dir)
    .map((f) => /^in\.(.+)\.pcap(?:ng)?$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ port: m[1], file: join(dir, m[0]) }));
}

async function runCase(dir: string, args: ReplayArgs): Promise<boolean> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--case ${dir}: no such folder`);
  const topo = join(dir, 'topo.yaml');
  if (!existsSync(topo)) throw new UsageError(`--case ${dir}: no topo.yaml in the folder`);
  const config = await loadConfig(topo);
  const result = await replay(config, caseInputs(dir), { bridge: args.bridge });
  if (!args.json) process.stdout.write(`case ${basename(dir)}\n`);
  const out = args.out ? join(args.out, basename(dir)) : undefined;
  return report(result, { ...args, out }, dir);
}

/** Print the summary (and differences); true when the expectation holds or none was given. */
async function report(result: ReplayResult, args: ReplayArgs, expectDir: string | undefined): Promise<boolean> {
  if (args.out) await writeOutputs(result, args.out);
  const diffs = expectDir ? await compareWithExpected(result, expectDir) : [];
  const counterDiffs = expectDir ? (await compareCounters(result, expectDir)) ?? [] : [];
  const ok = diffs.length === 0 && counterDiffs.length === 0;
  if (args.json) {
    process.stdout.write(JSON.stringify({ ports: result.summary, differences: diffs, counterDifferences: counterDiffs, ok }, null, 2) + '\n');
    return ok;
  }
  const table = new Table({ head: ['port', 'ofport', 'in', 'out', 'dropped (by reason)'], style: { head: [], border: [], compact: true } });
  for (const s of result.summary) {
    const drops = Object.entries(s.drops).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
    table.push([s.port, s.ofport, s.in, s.out, drops || '-']);
  }
  process.stdout.write(table.toString() + '\n');
  for (const d of diffs) process.stdout.write(`DIFF ${d.port} frame ${d.frame}: expected ${d.expected}\n     ${' '.repeat(d.port.length + String(d.frame).length + 7)}got      ${d.got}\n`);
  for (const d of counterDiffs) process.stdout.write(`DIFF ${d.port} ${d.counter}: expected ${d.expected}, got ${d.got}\n`);
  if (expectDir) process.stdout.write(ok ? 'expectation met: every port sent exactly the expected frames\n' : `expectation NOT met: ${diffs.length} frame and ${counterDiffs.length} counter difference(s)\n`);
  return ok;
}
