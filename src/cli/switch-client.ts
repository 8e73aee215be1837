// Shared bits of the CLI command groups that talk to a running `sluice switch` (port, fdb, stats,
// channel, flows, config): the --socket/--bridge/--json options, the client, and output helpers
// (cli-table3 tables by default, JSON with --json).
import type { Argv } from 'yargs';
import Table from 'cli-table3';
import { MgmtClient, resolveSocket } from '../agent/mgmt-client.js';
import { fmtCount } from './format.js';

export interface ClientArgs { socket?: string; bridge?: string; json?: boolean }

/** Options every client command accepts (put on the group so subcommands inherit them). */
export function withClientOptions<T>(y: Argv<T>): Argv<T & ClientArgs> {
  return y
    .option('socket', { type: 'string', describe: 'management socket of the switch (default: /run/sluice/<bridge>.sock or the only one)' })
    .option('bridge', { alias: 'b', type: 'string', describe: 'bridge whose switch to talk to' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' }) as Argv<T & ClientArgs>;
}

export function client(args: ClientArgs): MgmtClient {
  return new MgmtClient(resolveSocket({ socket: args.socket, bridge: args.bridge }));
}

export function table(head: string[], rows: Array<Array<string | number>>): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => (typeof c === 'number' ? String(c) : c)));
  return t.toString();
}

export function out(text: string): void { process.stdout.write(text.endsWith('\n') ? text : `${text}\n`); }
export function outJson(data: unknown): void { out(JSON.stringify(data, null, 2)); }

export function dropsText(drops: Record<string, number>): string {
  const parts = Object.entries(drops).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${fmtCount(n)}`);
  return parts.length ? parts.join(', ') : '-';
}
