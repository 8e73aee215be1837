// `sluice channel create|set|assign|unassign|list|delete`: bandwidth channels. They talk to the
// controller (its intent: one channel = one total rate over all its attachments), unless --socket or
// --bridge names a switch on this host: then they change that switch's own channels, live (tokens
// kept), as the switch's management socket does. The two never mix in one command.
import { memberRate } from './stats.js';
import { readdirSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import type { ChannelView as SwitchChannelView, PortView } from '../agent/daemon.js';
import { SOCKET_DIR } from '../agent/mgmt-server.js';
import type { ChannelView, ReconcileSummary } from '../controller/controller.js';
import type { Attachment } from '../controller/intent.js';
import { attachmentPath, controllerClient, parseSwitchPort, resolveControllerUrl, withControllerOptions } from './controller-client.js';
import type { ControllerArgs, ControllerClient } from './controller-client.js';
import { UsageError } from './errors.js';
import { reconciledText } from './net.js';
import { client, out, outJson, table, withClientOptions } from './switch-client.js';
import { fmtBytes, fmtCount, fmtRateText, fmtSizeText } from './format.js';
import type { ClientArgs } from './switch-client.js';

type Args = ClientArgs & ControllerArgs;
interface SetArgs extends Args { name: string; rate?: string; burst?: string; mode?: string; queue?: number; min?: string; split?: string }
interface AssignArgs extends Args { name: string; target: string }

/** True when the command is for this host's switch (--socket/--bridge), false for the controller. */
function isLocal(a: Args): boolean {
  const local = a.socket !== undefined || a.bridge !== undefined;
  if (local && (a.controller !== undefined || a['token-file'] !== undefined)) {
    throw new UsageError('give either --socket/--bridge (this host\'s switch) or --controller/--token-file (the controller), not both');
  }
  return local;
}

/** The controller's client; if it cannot be reached and a switch runs here, say how to reach that. */
function ctl(a: Args): ControllerClient {
  const c = controllerClient(a);
  let socks: string[] = [];
  try { socks = readdirSync(SOCKET_DIR).filter((f) => f.endsWith('.sock')); } catch { /* no switch here */ }
  if (!resolveControllerUrl(a).explicit && socks.length > 0) c.unreachableHint = `; for the channels of this host's switch add --bridge ${socks[0]!.replace(/\.sock$/, '')} or --socket PATH`;
  return c;
}

function switchOnly(a: SetArgs): void {
  if (a.mode !== undefined || a.queue !== undefined) throw new UsageError('--mode and --queue are options of a switch\'s own channels: add --bridge BR or --socket PATH');
}

function controllerOnly(a: SetArgs): void {
  if (a.min !== undefined || a.split !== undefined) throw new UsageError('--min and --split are options of the controller\'s channels (split over switches); a switch\'s own channel groups are set in its config');
}

/** The controller's channel fields given on the command line. */
function controllerBody(a: SetArgs): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const k of ['rate', 'burst', 'min', 'split'] as const) if (a[k] !== undefined) body[k] = a[k];
  return body;
}

function switchBody(a: SetArgs): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const k of ['rate', 'burst', 'mode', 'queue'] as const) if (a[k] !== undefined) body[k] = a[k];
  return body;
}

function printSwitchChannel(a: Args, r: { channel: SwitchChannelView }): void {
  if (a.json) outJson(r);
  else out(`channel ${r.channel.name}: ${r.channel.rate}${r.channel.burst ? ` burst ${r.channel.burst}` : ''} ${r.channel.mode}${r.channel.attached.length ? ` (on ${r.channel.attached.join(', ')})` : ''}`);
}

function printChannel(a: Args, r: { channel: ChannelView; reconciled: ReconcileSummary[] }, verb: string): void {
  if (a.json) outJson(r);
  else out(`channel ${r.channel.name} ${verb}: ${r.channel.rate}${r.channel.burst ? ` burst ${r.channel.burst}` : ''}${r.channel.min ? ` min ${r.channel.min} per switch` : ''}${r.channel.split === 'even' ? ', split evenly' : ''}, meter ${r.channel.meterId}, ${r.channel.attachments} attachment(s)${reconciledText(r.reconciled)}`);
}

const rateOptions = <T>(y: Argv<T>): Argv<T> => y
  .option('rate', { type: 'string', describe: 'e.g. 200mbit, 10kpps' })
  .option('burst', { type: 'string', describe: 'e.g. 64kb, 100pkt (default: 10 ms of the rate)' })
  .option('mode', { choices: ['police', 'shape'], describe: 'switch-local: drop the excess (police) or queue it (shape)' })
  .option('queue', { type: 'number', describe: 'switch-local: shaping queue limit, packets' })
  .option('min', { type: 'string', describe: 'controller: the part each switch carrying the channel keeps at least, e.g. 10mbit' })
  .option('split', { choices: ['demand', 'even'], describe: 'controller: split a channel over its switches by measured demand (default) or evenly' }) as Argv<T>;

const create: CommandModule<Args, SetArgs> = {
  command: 'create <name>',
  describe: 'Create a channel (rate in bit/kbit/mbit/gbit or pps/kpps)',
  builder: (y) => rateOptions(y.positional('name', { type: 'string', demandOption: true })) as Argv<SetArgs>,
  handler: async (a) => {
    if (a.rate === undefined) throw new UsageError('channel create needs --rate (e.g. 50mbit)');
    if (isLocal(a)) {
      controllerOnly(a);
      // The switch refuses a name it already has (409), so two creates cannot both succeed.
      printSwitchChannel(a, await client(a).post<{ channel: SwitchChannelView }>('/channels', { name: a.name, ...switchBody(a) }));
      return;
    }
    switchOnly(a);
    printChannel(a, await ctl(a).post('/v1/channels', { name: a.name, ...controllerBody(a) }), 'created');
  },
};

const set: CommandModule<Args, SetArgs> = {
  command: 'set <name>',
  describe: 'Change an existing channel\'s rate, burst, min or split (live: the next frame sees it); `create` makes new ones',
  builder: (y) => rateOptions(y.positional('name', { type: 'string', demandOption: true })) as Argv<SetArgs>,
  handler: async (a) => {
    if (isLocal(a)) {
      controllerOnly(a);
      const body = switchBody(a);
      if (Object.keys(body).length === 0) throw new UsageError('channel set needs --rate (and/or --burst, --mode, --queue)');
      // PATCH changes only: an unknown name is refused (404) with the switch's channel names.
      printSwitchChannel(a, await client(a).patch<{ channel: SwitchChannelView }>(`/channels/${encodeURIComponent(a.name)}`, body));
      return;
    }
    switchOnly(a);
    const body = controllerBody(a);
    if (Object.keys(body).length === 0) throw new UsageError('channel set needs --rate, --burst, --min or --split');
    printChannel(a, await ctl(a).patch(`/v1/channels/${encodeURIComponent(a.name)}`, body), 'changed');
  },
};

async function assignTo(a: Args, channel: string | null, target: string): Promise<void> {
  if (isLocal(a)) {
    if (target.includes(':')) throw new UsageError(`"${target}": on a switch, name the port alone (SWITCH:PORT is for the controller)`);
    const r = await client(a).patch<{ port: PortView }>(`/ports/${encodeURIComponent(target)}`, { channel });
    if (a.json) outJson(r); else out(`port ${r.port.name}: channel ${r.port.channel ?? '-'}`);
    return;
  }
  const t = parseSwitchPort(target);
  const r = await ctl(a).put<{ attachment: Attachment; reconciled: ReconcileSummary[] }>(`${attachmentPath(t.switch, t.port)}/channel`, { channel });
  if (a.json) outJson(r); else out(`${t.switch}:${t.port}: channel ${r.attachment.channel ?? '-'}${reconciledText(r.reconciled)}`);
}

const assign: CommandModule<Args, AssignArgs> = {
  command: 'assign <name> <target>',
  describe: 'Move an attachment (SWITCH:PORT; on a switch: PORT) to a channel, live',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true })
    .positional('target', { type: 'string', demandOption: true, describe: 'SWITCH:PORT (controller) or PORT (--socket/--bridge)' }) as Argv<AssignArgs>,
  handler: (a) => assignTo(a, a.name, a.target),
};

const unassign: CommandModule<Args, Args & { target: string }> = {
  command: 'unassign <target>',
  describe: 'Take an attachment (SWITCH:PORT; on a switch: PORT) off its channel',
  builder: (y) => y.positional('target', { type: 'string', demandOption: true }) as Argv<Args & { target: string }>,
  handler: (a) => assignTo(a, null, a.target),
};

const list: CommandModule<Args, Args> = {
  command: 'list',
  aliases: ['ls', 'show'],
  describe: 'List channels: the controller\'s with their per-switch shares, or a switch\'s with counters',
  handler: async (a) => {
    if (isLocal(a)) {
      const r = await client(a).get<{ channels: SwitchChannelView[] }>('/channels');
      if (a.json) { outJson(r); return; }
      out(table(['channel', 'rate', 'burst', 'mode', 'attached to', 'passed', 'dropped', 'queued'],
        r.channels.map((c) => [c.group !== undefined ? `${c.name} (${c.group})` : c.name, c.group !== undefined ? memberRate(c) : fmtRateText(c.rate), c.burst ? fmtSizeText(c.burst) : 'default', c.mode, c.attached.join(', ') || '-',
          `${fmtCount(c.passedPackets)} pkts / ${fmtBytes(c.passedBytes)}`, `${fmtCount(c.droppedPackets)} pkts / ${fmtBytes(c.droppedBytes)}`, fmtCount(c.queued)])));
      return;
    }
    const r = await ctl(a).get<{ channels: ChannelView[] }>('/v1/channels');
    if (a.json) { outJson(r); return; }
    out(table(['channel', 'rate', 'burst', 'meter', 'attachments', 'share per switch'],
      r.channels.map((c) => [c.name, fmtRateText(c.rate), c.burst ? fmtSizeText(c.burst) : 'default', c.meterId, c.attachments,
        c.shares.map((s) => `${s.switch} ${fmtRateText(s.rate)}${s.demand !== undefined ? ` (offered ${fmtRateText(s.demand)})` : ''}${s.connected ? '' : ' (not connected)'}`).join('\n') || '-'])));
  },
};

const del: CommandModule<Args, Args & { name: string }> = {
  command: 'delete <name>',
  aliases: ['del', 'rm'],
  describe: 'Delete a channel (refused while an attachment or port uses it)',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true }) as Argv<Args & { name: string }>,
  handler: async (a) => {
    const r = isLocal(a)
      ? await client(a).delete(`/channels/${encodeURIComponent(a.name)}`)
      : await ctl(a).delete<{ deleted: string; reconciled: ReconcileSummary[] }>(`/v1/channels/${encodeURIComponent(a.name)}`);
    if (a.json) outJson(r); else out(`channel ${a.name} deleted${reconciledText((r as { reconciled?: ReconcileSummary[] }).reconciled)}`);
  },
};

export const channelCommand: CommandModule<object, Args> = {
  command: 'channel <command>',
  describe: 'Bandwidth channels: the controller\'s, or with --socket/--bridge this host\'s switch\'s',
  builder: (y) => withControllerOptions(withClientOptions(y))
    .command(create).command(set).command(assign).command(unassign).command(list).command(del)
    .demandCommand(1, 'Name a channel command: create, set, assign, unassign, list, delete.')
    .example('$0 channel create gold --rate 50mbit --burst 64kb', 'the controller\'s channel (all its attachments share 50 Mbit/s)')
    .example('$0 channel assign gold host1/br0:vm1', 'move an attachment onto it, live')
    .example('$0 channel set gold --rate 5mbit --bridge br0', 'this host\'s switch\'s own channel'),
  handler: () => undefined,
};
