// `sluice flows add|del|dump`: OpenFlow flow entries of a running switch in ovs-ofctl syntax
// (add-flow / del-flows / dump-flows). Flows added here join the running config (`config save`).
import type { Argv, CommandModule } from 'yargs';
import { client, out, outJson, withClientOptions } from './switch-client.js';
import { parseFlowLine } from './format.js';
import type { ClientArgs } from './switch-client.js';

interface FlowArgs extends ClientArgs { flow?: string; filter?: string; strict?: boolean }

const add: CommandModule<ClientArgs, FlowArgs> = {
  command: 'add <flow>',
  describe: 'Add a flow: "priority=100,in_port=vm1,actions=output:vm2"',
  builder: (y) => y.positional('flow', { type: 'string', demandOption: true }) as Argv<FlowArgs>,
  handler: async (a) => {
    const r = await client(a).post<{ flow: string }>('/flows', { flow: a.flow });
    if (a.json) outJson(r); else out(`added: ${r.flow}`);
  },
};

const del: CommandModule<ClientArgs, FlowArgs> = {
  command: 'del [filter]',
  describe: 'Delete the flows matching a filter (all without one); --strict: exact match and priority',
  builder: (y) => y
    .positional('filter', { type: 'string', describe: 'e.g. "table=0,in_port=vm1"' })
    .option('strict', { type: 'boolean', default: false, describe: 'match and priority must be equal (del-flows --strict)' }) as Argv<FlowArgs>,
  handler: async (a) => {
    const r = await client(a).delete<{ deleted: number }>('/flows', { filter: a.filter ?? '', strict: a.strict === true });
    if (a.json) outJson(r); else out(`deleted ${r.deleted} flow${r.deleted === 1 ? '' : 's'}`);
  },
};

const dump: CommandModule<ClientArgs, FlowArgs> = {
  command: 'dump [filter]',
  aliases: ['show', 'list'],
  describe: 'Print flows in ovs-ofctl dump-flows style (--json: table, priority, match, actions, counters)',
  builder: (y) => y.positional('filter', { type: 'string' }) as Argv<FlowArgs>,
  handler: async (a) => {
    const q = a.filter ? `?filter=${encodeURIComponent(a.filter)}` : '';
    const r = await client(a).get<{ flows: string[] }>(`/flows${q}`);
    if (a.json) outJson({ flows: r.flows.map(parseFlowLine) }); else for (const f of r.flows) out(` ${f}`);
  },
};

export const flowsCommand: CommandModule<object, ClientArgs> = {
  command: 'flows <command>',
  describe: 'OpenFlow flows of a running switch: add, del, dump',
  builder: (y) => withClientOptions(y)
    .command(add).command(del).command(dump)
    .demandCommand(1, 'Name a flows command: add, del, dump.')
    .example('$0 flows add "priority=200,dl_type=0x0806,actions=NORMAL"', ''),
  handler: () => undefined,
};
