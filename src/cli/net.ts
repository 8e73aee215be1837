// `sluice net create|list|delete`: the networks of the controller's intent (name, VLAN id, optional
// VXLAN VNI). Talks to `sluice controller` (see controller-client.ts for how it is found).
import type { Argv, CommandModule } from 'yargs';
import type { Attachment, Network } from '../controller/intent.js';
import type { ReconcileSummary } from '../controller/controller.js';
import { controllerClient, withControllerOptions } from './controller-client.js';
import type { ControllerArgs } from './controller-client.js';
import { UsageError } from './errors.js';
import { out, outJson, table } from './switch-client.js';

/** "; pushed to N switch(es)" with what failed, or nothing when no switch was touched. */
export function reconciledText(r: ReconcileSummary[] | undefined): string {
  if (!r || r.length === 0) return '';
  const bad = r.filter((s) => !s.ok);
  const mods = r.reduce((n, s) => n + s.flowMods + s.groupMods + s.meterMods, 0);
  return `; pushed to ${r.length} switch(es), ${mods} change(s)${bad.length ? `, FAILED on ${bad.map((s) => `${s.switch} (${s.errors[0] ?? 'error'})`).join(', ')}` : ''}`;
}

interface CreateArgs extends ControllerArgs { name: string; vid?: number; vni?: number }

const create: CommandModule<ControllerArgs, CreateArgs> = {
  command: 'create <name>',
  describe: 'Create a network: a VLAN id on every switch, a VNI across hosts',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true })
    .option('vid', { type: 'number', describe: 'VLAN id on the switches (1-4094)' })
    .option('vni', { type: 'number', describe: 'VXLAN network id across hosts (1-16777215)' }) as Argv<CreateArgs>,
  handler: async (a) => {
    if (a.vid === undefined || !Number.isInteger(a.vid)) throw new UsageError('net create needs --vid N (a VLAN id, 1-4094)');
    if (a.vni !== undefined && !Number.isInteger(a.vni)) throw new UsageError('--vni needs a whole number (1-16777215)');
    const body: Record<string, unknown> = { name: a.name, vid: a.vid };
    if (a.vni !== undefined) body.vni = a.vni;
    const r = await controllerClient(a).post<{ network: Network; reconciled: ReconcileSummary[] }>('/v1/networks', body);
    if (a.json) outJson(r);
    else out(`network ${r.network.name} created: vid ${r.network.vid}${r.network.vni !== undefined ? `, vni ${r.network.vni}` : ''}${reconciledText(r.reconciled)}`);
  },
};

const list: CommandModule<ControllerArgs, ControllerArgs> = {
  command: 'list',
  aliases: ['ls', 'show'],
  describe: 'List networks with their attachments',
  handler: async (a) => {
    const c = controllerClient(a);
    const [n, at] = await Promise.all([c.get<{ networks: Network[] }>('/v1/networks'), c.get<{ attachments: Attachment[] }>('/v1/attachments')]);
    if (a.json) { outJson(n); return; }
    out(table(['network', 'vid', 'vni', 'attachments'], n.networks.map((x) => {
      const atts = at.attachments.filter((y) => y.network === x.name);
      return [x.name, x.vid, x.vni ?? '-', atts.length === 0 ? '-' : atts.map((y) => `${y.switch}:${y.port}`).join(', ')];
    })));
  },
};

const del: CommandModule<ControllerArgs, ControllerArgs & { name: string }> = {
  command: 'delete <name>',
  aliases: ['del', 'rm'],
  describe: 'Delete a network (refused while ports are attached to it)',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true }) as Argv<ControllerArgs & { name: string }>,
  handler: async (a) => {
    const r = await controllerClient(a).delete<{ deleted: string; reconciled: ReconcileSummary[] }>(`/v1/networks/${encodeURIComponent(a.name)}`);
    if (a.json) outJson(r); else out(`network ${a.name} deleted${reconciledText(r.reconciled)}`);
  },
};

export const netCommand: CommandModule<object, ControllerArgs> = {
  command: 'net <command>',
  describe: 'Networks of the controller: create, list, delete',
  builder: (y) => withControllerOptions(y)
    .command(create).command(list).command(del)
    .demandCommand(1, 'Name a net command: create, list, delete.')
    .example('$0 net create blue --vid 100 --vni 5001', ''),
  handler: () => undefined,
};
