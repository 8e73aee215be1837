// `sluice attach NETWORK SWITCH:PORT [--channel C]` and `sluice detach SWITCH:PORT`: put a switch
// port on a network of the controller's intent, or take it off. SWITCH may hold '/' (host1/br0);
// the port is what follows the last ':'.
import type { Argv, CommandModule } from 'yargs';
import type { Attachment } from '../controller/intent.js';
import type { ReconcileSummary } from '../controller/controller.js';
import { attachmentPath, controllerClient, parseSwitchPort, withControllerOptions } from './controller-client.js';
import type { ControllerArgs } from './controller-client.js';
import { reconciledText } from './net.js';
import { out, outJson } from './switch-client.js';

interface AttachArgs extends ControllerArgs { network: string; target: string; channel?: string; replace?: boolean }

export const attachCommand: CommandModule<object, AttachArgs> = {
  command: 'attach <network> <target>',
  describe: 'Attach a switch port to a network (controller); TARGET is SWITCH:PORT',
  builder: (y) => withControllerOptions(y)
    .positional('network', { type: 'string', demandOption: true })
    .positional('target', { type: 'string', demandOption: true, describe: 'SWITCH:PORT, e.g. host1/br0:vm1' })
    .option('channel', { type: 'string', describe: 'bandwidth channel of the attachment' })
    .option('replace', { type: 'boolean', default: false, describe: 'move an attached port instead of refusing' })
    .example('$0 attach blue host1/br0:vm1 --channel gold', '') as Argv<AttachArgs>,
  handler: async (a) => {
    const t = parseSwitchPort(a.target);
    const body: Record<string, unknown> = { network: a.network };
    if (a.channel !== undefined) body.channel = a.channel;
    const r = await controllerClient(a).put<{ attachment: Attachment; reconciled: ReconcileSummary[] }>(attachmentPath(t.switch, t.port), body, a.replace ? {} : { 'if-none-match': '*' });
    if (a.json) outJson(r);
    else out(`${t.switch}:${t.port} attached to ${r.attachment.network}${r.attachment.channel ? ` (channel ${r.attachment.channel})` : ''}${reconciledText(r.reconciled)}`);
  },
};

export const detachCommand: CommandModule<object, ControllerArgs & { target: string }> = {
  command: 'detach <target>',
  describe: 'Take a switch port off its network (controller); TARGET is SWITCH:PORT',
  builder: (y) => withControllerOptions(y)
    .positional('target', { type: 'string', demandOption: true, describe: 'SWITCH:PORT' }) as Argv<ControllerArgs & { target: string }>,
  handler: async (a) => {
    const t = parseSwitchPort(a.target);
    const r = await controllerClient(a).delete<{ deleted: string; reconciled: ReconcileSummary[] }>(attachmentPath(t.switch, t.port));
    if (a.json) outJson(r); else out(`${t.switch}:${t.port} detached${reconciledText(r.reconciled)}`);
  },
};
