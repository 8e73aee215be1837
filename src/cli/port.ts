// `sluice port add|del|list|set`: attach, detach, list and re-channel ports of a running switch.
// VLAN modes on the command line: access:100, trunk, trunk:100,200, native-untagged:10:10,20,
// native-tagged:10:10,20.
import type { Argv, CommandModule } from 'yargs';
import type { PortView } from '../agent/daemon.js';
import { UsageError } from './errors.js';
import { client, dropsText, out, outJson, table, withClientOptions } from './switch-client.js';
import { fmtCount } from './format.js';
import type { ClientArgs } from './switch-client.js';

/** Parse --vlan MODE[:VID][:VIDS]. */
export function parseVlanArg(s: string): { mode: string; vid?: number; vids?: number[] } {
  const parts = s.split(':');
  const mode = parts[0];
  const num = (t: string): number => {
    if (!/^\d+$/.test(t)) throw new UsageError(`--vlan ${s}: "${t}" is not a VLAN id`);
    return Number(t);
  };
  const list = (t: string): number[] => t.split(',').filter((x) => x !== '').map(num);
  switch (mode) {
    case 'access':
      if (parts.length !== 2) throw new UsageError(`--vlan ${s}: write access:VID (e.g. access:100)`);
      return { mode, vid: num(parts[1]) };
    case 'trunk':
      if (parts.length > 2) throw new UsageError(`--vlan ${s}: write trunk or trunk:VIDS (e.g. trunk:100,200)`);
      return parts.length === 2 ? { mode, vids: list(parts[1]) } : { mode };
    case 'native-untagged': case 'native-tagged':
      if (parts.length < 2 || parts.length > 3) throw new UsageError(`--vlan ${s}: write ${mode}:NATIVE[:VIDS] (e.g. ${mode}:10:10,20)`);
      return parts.length === 3 ? { mode, vid: num(parts[1]), vids: list(parts[2]) } : { mode, vid: num(parts[1]) };
    default:
      throw new UsageError(`--vlan ${s}: mode "${mode}" is not access, trunk, native-tagged or native-untagged`);
  }
}

export function vlanText(v: PortView['vlan']): string {
  if (!v) return 'trunk (all)';
  if (v.mode === 'access') return `access ${v.vid}`;
  const vids = v.vids ? v.vids.join(',') : 'all';
  return v.mode === 'trunk' ? `trunk ${vids}` : `${v.mode} ${v.vid} (${vids})`;
}

interface AddArgs extends ClientArgs { name: string; ofport?: number; type?: string; device?: string; path?: string; vlan?: string; channel?: string; 'egress-channel'?: string }
interface SetArgs extends ClientArgs { name: string; channel?: string; 'egress-channel'?: string; 'no-channel'?: boolean; vlan?: string }

const add: CommandModule<ClientArgs, AddArgs> = {
  command: 'add <name>',
  describe: 'Attach a port (same fields as the config file)',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true })
    .option('ofport', { type: 'number', describe: 'OpenFlow port number' })
    .option('type', { choices: ['tap', 'system', 'qemu-stream'], describe: 'backend' })
    .option('device', { type: 'string', describe: 'kernel device (default: the port name)' })
    .option('path', { type: 'string', describe: 'qemu-stream: Unix socket path' })
    .option('vlan', { type: 'string', describe: 'access:100 | trunk[:100,200] | native-untagged:10:10,20' })
    .option('channel', { type: 'string', describe: 'ingress channel (what the port sends)' })
    .option('egress-channel', { type: 'string', describe: 'egress channel (what the port receives)' }) as Argv<AddArgs>,
  handler: async (a) => {
    if (a.ofport === undefined) throw new UsageError('port add needs --ofport N');
    if (!a.type) throw new UsageError('port add needs --type tap|system|qemu-stream');
    const body: Record<string, unknown> = { name: a.name, ofport: a.ofport, type: a.type };
    if (a.device) body.device = a.device;
    if (a.path) body.path = a.path;
    if (a.vlan) body.vlan = parseVlanArg(a.vlan);
    if (a.channel) body.channel = a.channel;
    if (a['egress-channel']) body.egressChannel = a['egress-channel'];
    const r = await client(a).post<{ port: PortView }>('/ports', body);
    if (a.json) outJson(r); else out(`port ${r.port.name} added as ofport ${r.port.ofport} (${r.port.type}${r.port.device ? ` ${r.port.device}` : ''}, link ${r.port.link})`);
  },
};

const del: CommandModule<ClientArgs, ClientArgs & { name: string }> = {
  command: 'del <name>',
  aliases: ['rm', 'remove'],
  describe: 'Detach a port (a TAP device Sluice created is deleted)',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true }) as Argv<ClientArgs & { name: string }>,
  handler: async (a) => {
    const r = await client(a).delete(`/ports/${encodeURIComponent(a.name)}`);
    if (a.json) outJson(r); else out(`port ${a.name} removed`);
  },
};

/** A tunnel port in the device column: local -> remotes (down ones marked), VNIs. */
function tunnelText(t: NonNullable<PortView['tunnel']>): string {
  const remotes = t.remote === 'flow' ? 'flow' : t.endpoints.filter((e) => t.remote.includes(e.vtep)).map((e) => (e.up ? e.vtep : `${e.vtep} (down)`)).join(',');
  const vnis = t.networks ? t.networks.map((n) => `${n.vni}=${n.vid}`).join(',') : String(t.vni);
  return `${t.local} -> ${remotes || '-'} vni ${vnis}`;
}

const list: CommandModule<ClientArgs, ClientArgs> = {
  command: 'list',
  aliases: ['ls', 'show'],
  describe: 'List ports with link state, VLAN, channels and counters',
  handler: async (a) => {
    const r = await client(a).get<{ ports: PortView[] }>('/ports');
    if (a.json) { outJson(r); return; }
    out(table(['port', 'ofport', 'type', 'device', 'admin', 'link', 'vlan', 'channel', 'egress', 'rx pkts', 'tx pkts', 'drops'],
      r.ports.map((p) => [p.name, p.ofport, p.type, p.device ?? p.path ?? (p.host ? `${p.host}:${p.port}` : p.tunnel ? tunnelText(p.tunnel) : '-'),
        p.admin === undefined ? '-' : `${p.admin}${p.carrier === false ? ', no carrier' : ''}`,
        p.link + (p.reason && p.link !== 'up' ? ` (${p.reason})` : ''), vlanText(p.vlan), p.channel ?? '-', p.egressChannel ?? '-',
        fmtCount(p.rxPackets), fmtCount(p.txPackets), dropsText(p.drops)])));
  },
};

const set: CommandModule<ClientArgs, SetArgs> = {
  command: 'set <name>',
  describe: 'Change a running port: channel, egress channel, VLAN mode',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true })
    .option('channel', { type: 'string', describe: 'ingress channel' })
    .option('egress-channel', { type: 'string', describe: 'egress channel' })
    .option('no-channel', { type: 'boolean', describe: 'detach both channels' })
    .option('vlan', { type: 'string', describe: 'access:100 | trunk[:100,200] | native-untagged:10:10,20' }) as Argv<SetArgs>,
  handler: async (a) => {
    const body: Record<string, unknown> = {};
    // yargs turns --no-channel into channel=false
    const noChannel = a['no-channel'] === true || (a.channel as unknown) === false;
    if (noChannel) {
      if (typeof a.channel === 'string' || a['egress-channel']) throw new UsageError('--no-channel cannot be combined with --channel/--egress-channel');
      body.channel = null; body.egressChannel = null;
    }
    if (typeof a.channel === 'string') body.channel = a.channel;
    if (a['egress-channel']) body.egressChannel = a['egress-channel'];
    if (a.vlan) body.vlan = parseVlanArg(a.vlan);
    if (Object.keys(body).length === 0) throw new UsageError('port set needs --channel C, --egress-channel C, --no-channel or --vlan');
    const r = await client(a).patch<{ port: PortView }>(`/ports/${encodeURIComponent(a.name)}`, body);
    if (a.json) outJson(r); else out(`port ${r.port.name}: channel ${r.port.channel ?? '-'}, egress-channel ${r.port.egressChannel ?? '-'}, vlan ${vlanText(r.port.vlan)}`);
  },
};

export const portCommand: CommandModule<object, ClientArgs> = {
  command: 'port <command>',
  describe: 'Ports of a running switch: add, del, list, set',
  builder: (y) => withClientOptions(y)
    .command(add).command(del).command(list).command(set)
    .demandCommand(1, 'Name a port command: add, del, list, set.')
    .example('$0 port add vm1 --ofport 5 --type tap --vlan access:100 --channel gold', '')
    .example('$0 port set vm1 --channel silver', ''),
  handler: () => undefined,
};
