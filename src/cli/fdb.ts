// `sluice fdb show`: the MAC learning table of a running switch (like ovs-appctl fdb/show).
import type { CommandModule } from 'yargs';
import { client, out, outJson, table, withClientOptions } from './switch-client.js';
import type { ClientArgs } from './switch-client.js';

interface FdbEntry { port: string; ofport: number; vlan: number; mac: string; ageS: number }

const show: CommandModule<ClientArgs, ClientArgs> = {
  command: 'show',
  aliases: ['list'],
  describe: 'Show learned MAC addresses: port, VLAN, MAC, age',
  handler: async (a) => {
    const r = await client(a).get<{ fdb: FdbEntry[] }>('/fdb');
    if (a.json) { outJson(r); return; }
    out(table(['port', 'ofport', 'vlan', 'mac', 'age (s)'], r.fdb.map((e) => [e.port || '?', e.ofport, e.vlan, e.mac, Math.floor(e.ageS)])));
  },
};

export const fdbCommand: CommandModule<object, ClientArgs> = {
  command: 'fdb <command>',
  describe: 'MAC learning table of a running switch',
  builder: (y) => withClientOptions(y).command(show).demandCommand(1, 'Name an fdb command: show.'),
  handler: () => undefined,
};
