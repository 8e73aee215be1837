// `sluice apply -f intent.yaml [--dry-run]`: replace the controller's whole intent with a document
// (YAML or JSON: networks, channels, attachments), atomically; --dry-run shows what would change.
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { parse as parseYaml } from 'yaml';
import type { IntentDiff } from '../controller/intent.js';
import type { ReconcileSummary } from '../controller/controller.js';
import { controllerClient, withControllerOptions } from './controller-client.js';
import type { ControllerArgs } from './controller-client.js';
import { UsageError } from './errors.js';
import { reconciledText } from './net.js';
import { out, outJson } from './switch-client.js';

interface ApplyArgs extends ControllerArgs { file?: string; 'dry-run'?: boolean }
interface ApplyReply { dryRun: boolean; applied: boolean; diff: IntentDiff; reconciled: ReconcileSummary[] }

/** Read an intent document: JSON when it parses as JSON, else YAML; "-" is standard input. */
export function readIntentFile(file: string): unknown {
  let text: string;
  try { text = readFileSync(file === '-' ? 0 : file, 'utf8'); } catch (e) {
    throw new UsageError(`-f ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try { return JSON.parse(text); } catch { /* not JSON: YAML */ }
  try { return parseYaml(text) ?? {}; } catch (e) {
    throw new UsageError(`-f ${file}: neither JSON nor YAML (${(e as Error).message.split('\n')[0]})`);
  }
}

/** The diff as lines: "+ network blue", "- attachment host1/br0:vm1", "~ channel gold". */
export function diffLines(d: IntentDiff): string[] {
  const lines: string[] = [];
  for (const kind of ['networks', 'channels', 'attachments'] as const) {
    const one = kind.slice(0, -1);
    for (const n of d[kind].added) lines.push(`+ ${one} ${n}`);
    for (const n of d[kind].changed) lines.push(`~ ${one} ${n}`);
    for (const n of d[kind].removed) lines.push(`- ${one} ${n}`);
  }
  return lines;
}

export const applyCommand: CommandModule<object, ApplyArgs> = {
  command: 'apply',
  describe: 'Replace the controller\'s whole intent with a YAML or JSON document (atomic)',
  builder: (y) => withControllerOptions(y)
    .option('file', { alias: 'f', type: 'string', describe: 'intent document (YAML or JSON; - for standard input)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'show what would change, change nothing' })
    .example('$0 apply -f intent.yaml --dry-run', '') as Argv<ApplyArgs>,
  handler: async (a) => {
    if (!a.file) throw new UsageError('apply needs -f FILE (an intent document: networks, channels, attachments)');
    const doc = readIntentFile(a.file);
    const r = await controllerClient(a).post<ApplyReply>(`/v1/apply${a['dry-run'] ? '?dry-run=true' : ''}`, doc);
    if (a.json) { outJson(r); return; }
    const lines = diffLines(r.diff);
    if (lines.length === 0) { out('no change: the controller already holds this intent'); return; }
    out(lines.join('\n'));
    out(r.dryRun ? `dry run: ${lines.length} change(s) not applied` : `applied ${lines.length} change(s)${reconciledText(r.reconciled)}`);
  },
};
