// `sluice channel set|list|del`: bandwidth channels of a running switch. `set` creates a channel
// or reconfigures it in place (atomic, tokens kept), so attached ports see the change at once.
import type { Argv, CommandModule } from 'yargs';
import type { ChannelView } from '../agent/daemon.js';
import { UsageError } from './errors.js';
import { client, human, out, outJson, table, withClientOptions } from './switch-client.js';
import type { ClientArgs } from './switch-client.js';

interface SetArgs extends ClientArgs { name: string; rate?: string; burst?: string; mode?: string; queue?: number }

const set: CommandModule<ClientArgs, SetArgs> = {
  command: 'set <name>',
  describe: 'Create or change a channel (rate in bit/kbit/mbit/gbit or pps/kpps)',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true })
    .option('rate', { type: 'string', describe: 'e.g. 200mbit, 10kpps' })
    .option('burst', { type: 'string', describe: 'e.g. 64kb, 100pkt (default: 10 ms of the rate)' })
    .option('mode', { choices: ['police', 'shape'], describe: 'drop the excess (police) or queue it (shape)' })
    .option('queue', { type: 'number', describe: 'shaping queue limit, packets' }) as Argv<SetArgs>,
  handler: async (a) => {
    const body: Record<string, unknown> = {};
    for (const k of ['rate', 'burst', 'mode', 'queue'] as const) if (a[k] !== undefined) body[k] = a[k];
    if (Object.keys(body).length === 0) throw new UsageError('channel set needs --rate (and/or --burst, --mode, --queue)');
    const r = await client(a).put<{ channel: ChannelView }>(`/channels/${encodeURIComponent(a.name)}`, body);
    if (a.json) outJson(r);
    else out(`channel ${r.channel.name}: ${r.channel.rate}${r.channel.burst ? ` burst ${r.channel.burst}` : ''} ${r.channel.mode}${r.channel.attached.length ? ` (on ${r.channel.attached.join(', ')})` : ''}`);
  },
};

const list: CommandModule<ClientArgs, ClientArgs> = {
  command: 'list',
  aliases: ['ls', 'show'],
  describe: 'List channels, their attachments and counters',
  handler: async (a) => {
    const r = await client(a).get<{ channels: ChannelView[] }>('/channels');
    if (a.json) { outJson(r); return; }
    out(table(['channel', 'rate', 'burst', 'mode', 'attached to', 'passed', 'dropped', 'queued'],
      r.channels.map((c) => [c.name, c.rate, c.burst ?? 'default', c.mode, c.attached.join(', ') || '-',
        `${c.passedPackets} pkts / ${human(c.passedBytes)}B`, `${c.droppedPackets} pkts / ${human(c.droppedBytes)}B`, c.queued])));
  },
};

const del: CommandModule<ClientArgs, ClientArgs & { name: string }> = {
  command: 'del <name>',
  aliases: ['rm'],
  describe: 'Delete a channel (refused while a port uses it)',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true }) as Argv<ClientArgs & { name: string }>,
  handler: async (a) => {
    const r = await client(a).delete(`/channels/${encodeURIComponent(a.name)}`);
    if (a.json) outJson(r); else out(`channel ${a.name} deleted`);
  },
};

export const channelCommand: CommandModule<object, ClientArgs> = {
  command: 'channel <command>',
  describe: 'Bandwidth channels of a running switch: set, list, del',
  builder: (y) => withClientOptions(y)
    .command(set).command(list).command(del)
    .demandCommand(1, 'Name a channel command: set, list, del.')
    .example('$0 channel set gold --rate 200mbit --burst 64kb', '')
    .example('$0 channel set gold --rate 5mbit', 'takes effect on the next frame'),
  handler: () => undefined,
};
