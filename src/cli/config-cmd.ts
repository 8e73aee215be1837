// `sluice config save|reload`: write the running state of a switch back to its config file
// (atomically; the file is the switch's choice, never the client's), or make it re-read the file
// (like SIGHUP, but the answer says what changed).
import type { Argv, CommandModule } from 'yargs';
import { client, out, outJson, withClientOptions } from './switch-client.js';
import type { ClientArgs } from './switch-client.js';
import { UsageError } from './errors.js';

const save: CommandModule<ClientArgs, ClientArgs & { to?: string }> = {
  command: 'save',
  describe: 'Write the running config (ports, channels, flows) to the file the switch was started with (-c, or its --save-to)',
  // --to is gone: the switch (root) must never write a path its client names. Kept hidden to say so.
  builder: (y) => y.option('to', { type: 'string', hidden: true }) as Argv<ClientArgs & { to?: string }>,
  handler: async (a) => {
    if (a.to !== undefined) throw new UsageError('config save writes only the file the switch was started with; start it with --save-to FILE to save elsewhere, or copy the saved file');
    const r = await client(a).post<{ saved: string }>('/config/save', {});
    if (a.json) outJson(r); else out(`running config saved to ${r.saved}`);
  },
};

const reload: CommandModule<ClientArgs, ClientArgs> = {
  command: 'reload',
  describe: 'Re-read the config file and apply the difference (a bad file changes nothing)',
  handler: async (a) => {
    const r = await client(a).post<{ changes: string[] }>('/config/reload');
    if (a.json) outJson(r); else out(r.changes.length ? r.changes.join('\n') : 'no change');
  },
};

export const configCommand: CommandModule<object, ClientArgs> = {
  command: 'config <command>',
  describe: 'Running config of a switch: save, reload',
  builder: (y) => withClientOptions(y).command(save).command(reload).demandCommand(1, 'Name a config command: save, reload.'),
  handler: () => undefined,
};
