// The switch daemon's configuration file (sluice.yaml): YAML read with `yaml`, checked with zod,
// cross-checked (ofports, port names, channels, VLAN modes, flow strings), and returned as typed
// camelCase objects. Every error is a ConfigError with ONE line naming file, key path and why.
// saveConfig writes back atomically (temp file, fsync, rename): the user's own document with only
// the changes made in it (config-edit.ts), or the full kebab-case form when there is none.
import { readFile, open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseDocument, stringify, LineCounter } from 'yaml';
import { z } from 'zod';
import { parseFlow, FlowSyntaxError } from '../flow/syntax.js';
import type { FlowSpec } from '../flow/types.js';
import { resolveChannelSpec, MAX_QUEUE } from '../qos/channel.js';
import { parseTunnelAddr } from '../vlan/vxlan-encap.js';
import { resolveGroupSpec } from '../qos/channel-group.js';

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_IO';
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  constructor(message: string, code: ConfigErrorCode = 'CONFIG_INVALID') { super(message); this.name = 'ConfigError'; this.code = code; }
}

export type PortType = 'tap' | 'system' | 'qemu-stream' | 'memory' | 'vxlan';
export type VlanMode = 'access' | 'trunk' | 'native-tagged' | 'native-untagged';
export interface VlanConfig { mode: VlanMode; vid?: number; vids?: number[] }
export interface PortConfig {
  name: string;
  ofport: number;
  type: PortType;
  /** tap/system: kernel device (defaults to the port name). */
  device?: string;
  /** tap/system: vnet headers, TSO/GSO super-frames and checksum offload (absent: tap on, system by device features; ports/README). */
  offloads?: boolean;
  /** qemu-stream: Unix socket path, or host + port for TCP; role (default connect). */
  path?: string;
  host?: string;
  port?: number;
  role?: 'connect' | 'listen';
  /** vxlan: this host's underlay address, remote VTEPs (or 'flow'), the VNI (or 'flow'), UDP port. */
  local?: string;
  remote?: string[] | 'flow';
  vni?: number | 'flow';
  /** vxlan: several networks on one port, VNI <-> VLAN tag, each with its own remotes if given. */
  networks?: Array<{ vni: number; vid: number; remote?: string[] }>;
  dstPort?: number;
  underlayMtu?: number;
  /** vxlan: BFD to every remote (present = enabled), intervals in ms. */
  bfd?: { minTxMs: number; minRxMs: number; multiplier: number };
  /** Absent: a trunk carrying every VLAN. */
  vlan?: VlanConfig;
  /** Channel policing what the port sends into the switch. */
  channel?: string;
  /** Channel limiting what the switch delivers to the port. */
  egressChannel?: string;
}
export interface BridgeConfig {
  name: string;
  datapathId?: string;           // 16 lowercase hex digits
  /** OpenFlow dp_desc: how controllers name this switch (default "<hostname>/<bridge>"). */
  description?: string;
  failMode: 'standalone' | 'secure';
  macTableSize: number;
  macAging: number;              // seconds
  controllers: string[];
  listen?: string;
  ports: Record<string, PortConfig>;
  /** Flow strings as written, and parsed (same order). */
  flows: string[];
  flowSpecs: FlowSpec[];
}
export interface ChannelConfig {
  name: string; rate: string; burst?: string; mode: 'police' | 'shape'; queue?: number;
  /** A channel group: its members are channels (by these names) sharing `rate` (qos/channel-group.ts). */
  members?: Record<string, { min: string; max?: string; weight?: number }>;
}
/** How the switch runs its datapath (`datapath:`); absent keys take their defaults. */
export interface DatapathConfig { threads?: number }
export interface SluiceConfig { bridges: Record<string, BridgeConfig>; channels: Record<string, ChannelConfig>; datapath?: DatapathConfig }

export const DEFAULT_MAC_TABLE_SIZE = 8192;
export const DEFAULT_MAC_AGING_S = 300;
const MAX_OFPORT = 65279;          // 0xfeff: keeps port numbers usable from OpenFlow 1.0 tools too

// ---------------------------------------------------------------------------------------------
// Structural schema (as users write it: kebab-case)

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_MSG = 'names are 1-64 letters, digits, "_", "-" or "."';
const int = (what: string, lo: number, hi: number) => z.number({ error: `${what} must be a number` }).superRefine((v, ctx) => {
  if (!Number.isInteger(v) || v < lo || v > hi) ctx.addIssue({ code: 'custom', message: `${what} ${v} is out of range ${lo}-${hi}` });
});
const vlanId = int('VLAN id', 1, 4094);
const vni = int('VNI', 0, 0xff_ffff);
const str = (what: string) => z.string({ error: `${what} must be a string` });

const vlanSchema = z.strictObject({
  mode: z.enum(['access', 'trunk', 'native-tagged', 'native-untagged']),
  vid: vlanId.optional(),
  vids: z.array(vlanId, { error: 'vids must be a list of VLAN ids' }).optional(),
});
const bfdSchema = z.strictObject({
  enable: z.boolean({ error: 'bfd.enable must be true or false' }),
  'min-tx': int('bfd.min-tx (ms)', 1, 4_294_967).optional(),
  'min-rx': int('bfd.min-rx (ms)', 1, 4_294_967).optional(),
  multiplier: int('bfd.multiplier', 1, 255).optional(),
});
const portSchema = z.strictObject({
  ofport: int('ofport', 1, MAX_OFPORT),
  type: z.enum(['tap', 'system', 'qemu-stream', 'memory', 'vxlan']),
  device: str('device').min(1).max(15, { error: 'device names are at most 15 characters (IFNAMSIZ)' }).optional(),
  offloads: z.boolean({ error: 'offloads must be true or false' }).optional(),
  path: str('path').min(1).optional(),
  host: str('host').min(1).optional(),
  port: int('TCP port', 1, 65535).optional(),
  role: z.enum(['connect', 'listen']).optional(),
  local: str('local').min(1).optional(),
  remote: z.union([str('remote').min(1), z.array(str('remote').min(1))], { error: 'remote is an address, a list of addresses, or flow' }).optional(),
  vni: z.union([z.literal('flow'), vni], { error: 'vni is a number 0-16777215 or flow' }).optional(),
  networks: z.array(z.strictObject({ vni, vid: vlanId, remote: z.array(str('remote').min(1)).optional() }), { error: 'networks must be a list of { vni, vid[, remote] }' }).min(1).optional(),
  'dst-port': int('dst-port', 1, 65535).optional(),
  'underlay-mtu': int('underlay-mtu', 576, 65535).optional(),
  bfd: bfdSchema.optional(),
  vlan: vlanSchema.optional(),
  channel: str('channel').optional(),
  'egress-channel': str('egress-channel').optional(),
});
const bridgeSchema = z.strictObject({
  'datapath-id': z.string({ error: 'datapath-id must be a quoted string of 16 hex digits (e.g. "0000000000000001")' })
    .regex(/^[0-9a-fA-F]{16}$/, { error: 'datapath-id must be 16 hex digits (e.g. "0000000000000001")' }).optional(),
  description: str('description').min(1).max(255).optional(),
  'fail-mode': z.enum(['standalone', 'secure']).optional(),
  'mac-table-size': int('mac-table-size', 1, 1_000_000).optional(),
  'mac-aging': int('mac-aging', 1, 1_000_000).optional(),
  controllers: z.array(str('controller').regex(/^(tcp:[^:\s]+(:\d{1,5})?|tcp:\[[0-9a-fA-F:.]+\](:\d{1,5})?|unix:\S+)$/, {
    error: 'controllers are "tcp:HOST[:PORT]" or "unix:PATH" (e.g. tcp:127.0.0.1:6653)',
  })).optional(),
  listen: str('listen').regex(/^(ptcp:\d{1,5}(:[0-9A-Za-z.:[\]-]+)?|punix:\S+)$/, { error: 'listen is "ptcp:PORT[:IP]" or "punix:PATH" (e.g. ptcp:6634:127.0.0.1)' }).optional(),
  ports: z.record(str('port name').regex(NAME, { error: NAME_MSG }), portSchema).optional(),
  flows: z.array(str('a flow')).optional(),
});
const channelSchema = z.strictObject({
  rate: z.union([z.string(), z.number()], { error: 'rate must be a string like 50mbit' }),
  burst: z.union([z.string(), z.number()], { error: 'burst must be a string like 64kb' }).optional(),
  mode: z.enum(['police', 'shape']).optional(),
  queue: int('queue', 1, MAX_QUEUE).optional(),
  members: z.record(str('member name').regex(NAME, { error: NAME_MSG }), z.strictObject({
    min: z.union([z.string(), z.number()], { error: 'min must be a rate like 50mbit' }),
    max: z.union([z.string(), z.number()], { error: 'max must be a rate like 200mbit' }).optional(),
    weight: z.number({ error: 'weight must be a number' }).positive({ error: 'weight must be above 0' }).optional(),
  })).optional(),
});
const datapathSchema = z.strictObject({
  threads: int('datapath.threads', 0, 1).optional(),
});
const fileSchema = z.strictObject({
  datapath: datapathSchema.optional(),
  bridges: z.record(str('bridge name').regex(NAME, { error: NAME_MSG }), bridgeSchema, { error: 'bridges must be a mapping of bridge name to bridge' }),
  channels: z.record(str('channel name').regex(NAME, { error: NAME_MSG }), channelSchema).optional(),
});
type RawFile = z.infer<typeof fileSchema>;

const KNOWN_KEYS = [...Object.keys(fileSchema.shape), ...Object.keys(bridgeSchema.shape), ...Object.keys(portSchema.shape),
  ...Object.keys(vlanSchema.shape), ...Object.keys(bfdSchema.shape), ...Object.keys(channelSchema.shape), ...Object.keys(datapathSchema.shape)];

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]; d[0] = i;
    for (let j = 1; j <= b.length; j++) { const t = d[j]; d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1)); prev = t; }
  }
  return d[b.length];
}
function suggest(word: string, options: readonly string[]): string {
  let best = '', bd = Infinity;
  for (const o of options) { const d = distance(word.toLowerCase().replace(/_/g, '-'), o); if (d < bd) { bd = d; best = o; } }
  return bd <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function issueText(file: string, issues: readonly z.core.$ZodIssue[]): string {
  const iss = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  const input = (iss as { input?: unknown }).input;
  switch (iss.code) {
    case 'unrecognized_keys': {
      const key = iss.keys[0];
      return `${file}: ${pathText([...iss.path, key])}: unknown key${suggest(key, KNOWN_KEYS)}`;
    }
    case 'invalid_value':
      return `${file}: ${pathText(iss.path)}: ${show(input)} is not one of ${iss.values.map(String).join(', ')}`;
    case 'invalid_type':
      if (input === undefined) return `${file}: ${pathText(iss.path)}: missing (required)`;
      if (iss.message.startsWith('Invalid input')) return `${file}: ${pathText(iss.path)}: expected ${iss.expected === 'record' || iss.expected === 'object' ? 'a mapping' : iss.expected === 'array' ? 'a list' : `a ${iss.expected}`}, got ${show(input)}`;
      return `${file}: ${pathText(iss.path)}: ${iss.message}`;
    case 'invalid_key':
      return `${file}: ${pathText(iss.path)}: bad name: ${iss.issues[0]?.message ?? iss.message}`;
    default:
      return `${file}: ${pathText(iss.path)}: ${iss.message}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Parse and check config text; `fileName` is used in messages. Throws ConfigError. */
export function parseConfig(text: string, fileName: string): SluiceConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.pos?.[0] !== undefined ? lines.linePos(e.pos[0]).line : undefined;
    const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${fileName}: ${line !== undefined ? `line ${line}: ` : ''}YAML syntax error: ${msg}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) throw new ConfigError(`${fileName}: the file is empty: it needs at least "bridges:"`);
  const r = fileSchema.safeParse(data, { reportInput: true });
  if (!r.success) throw new ConfigError(issueText(fileName, r.error.issues));
  return check(r.data, fileName);
}

/** Read and parse a config file. Throws ConfigError (CONFIG_IO when unreadable). */
export async function loadConfig(path: string): Promise<SluiceConfig> {
  return (await loadConfigFile(path)).config;
}

/** loadConfig, and the text it parsed (the user's document, which `config save` edits). */
export async function loadConfigFile(path: string): Promise<{ config: SluiceConfig; text: string }> {
  let text: string;
  try { text = await readFile(path, 'utf8'); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new ConfigError(`${path}: cannot read config: ${why}${err.code ? ` (${err.code})` : ''}`, 'CONFIG_IO');
  }
  return { config: parseConfig(text, path), text };
}

function check(raw: RawFile, file: string): SluiceConfig {
  const fail = (path: string, why: string): never => { throw new ConfigError(`${file}: ${path}: ${why}`); };
  const channels: Record<string, ChannelConfig> = {};
  /** Group member name -> its group. */
  const memberOf = new Map<string, string>();
  for (const [name, c] of Object.entries(raw.channels ?? {})) {
    const cfg: ChannelConfig = { name, rate: String(c.rate), mode: c.mode ?? 'police' };
    if (c.burst !== undefined) cfg.burst = String(c.burst);
    if (c.queue !== undefined) cfg.queue = c.queue;
    try { resolveChannelSpec(cfg); } catch (e) {
      const m = (e as Error).message;
      const key = /^"[^"]*" is not a size|^size|^burst/.test(m) ? 'burst' : /queue/.test(m) ? 'queue' : 'rate';
      fail(`channels.${name}.${key}`, m);
    }
    if (cfg.mode === 'police' && cfg.queue !== undefined) fail(`channels.${name}.queue`, 'queue is only for mode: shape');
    if (c.members !== undefined) {
      cfg.members = Object.fromEntries(Object.entries(c.members).map(([m, v]) => [m, { min: String(v.min), ...(v.max !== undefined ? { max: String(v.max) } : {}), ...(v.weight !== undefined ? { weight: v.weight } : {}) }]));
      try { resolveGroupSpec(name, { rate: cfg.rate, burst: cfg.burst, mode: cfg.mode, queue: cfg.queue, members: cfg.members }); } catch (e) { fail(`channels.${name}.members`, (e as Error).message); }
      for (const m of Object.keys(cfg.members)) {
        if (raw.channels?.[m] !== undefined) fail(`channels.${name}.members.${m}`, `"${m}" is also a channel of its own: member names are channel names`);
        if (memberOf.has(m)) fail(`channels.${name}.members.${m}`, `"${m}" is already a member of group ${memberOf.get(m)}`);
        memberOf.set(m, name);
      }
    }
    channels[name] = cfg;
  }
  // Ports attach to a group's members (channels by their own names), never to the group itself.
  const attachable = new Set<string>([...Object.keys(channels).filter((n) => channels[n]!.members === undefined), ...memberOf.keys()]);
  const channelNames = [...attachable].sort();
  const seenPorts = new Map<string, string>();
  /** local address + UDP port of every vxlan port: one socket each, so one port each. */
  const tunnels = new Map<string, string>();
  const bridges: Record<string, BridgeConfig> = {};
  for (const [bname, b] of Object.entries(raw.bridges)) {
    const at = `bridges.${bname}`;
    const ports: Record<string, PortConfig> = {};
    const byOfport = new Map<number, string>();
    for (const [pname, p] of Object.entries(b.ports ?? {})) {
      const pat = `${at}.ports.${pname}`;
      const other = seenPorts.get(pname);
      if (other) fail(pat, `port name "${pname}" is already used on bridge ${other} (port names are unique across the config)`);
      seenPorts.set(pname, bname);
      const dup = byOfport.get(p.ofport);
      if (dup) fail(`${pat}.ofport`, `ofport ${p.ofport} is already used by port ${dup}`);
      byOfport.set(p.ofport, pname);
      const port: PortConfig = { name: pname, ofport: p.ofport, type: p.type };
      const only = (key: 'device' | 'path' | 'host' | 'port' | 'role' | 'local' | 'remote' | 'vni' | 'networks' | 'dst-port' | 'underlay-mtu' | 'bfd', types: string): void => {
        if (p[key] !== undefined) fail(`${pat}.${key}`, `${key} is only for ${types} ports (this one is ${p.type})`);
      };
      if (p.type !== 'vxlan') for (const k of ['local', 'remote', 'vni', 'networks', 'dst-port', 'underlay-mtu', 'bfd'] as const) only(k, 'vxlan');
      if (p.type === 'tap' || p.type === 'system') {
        only('path', 'qemu-stream'); only('host', 'qemu-stream'); only('port', 'qemu-stream'); only('role', 'qemu-stream');
        port.device = p.device ?? pname;
        if (p.offloads !== undefined) port.offloads = p.offloads;
        if (port.device.length > 15) fail(`${pat}.device`, `device name "${port.device}" is over 15 characters (IFNAMSIZ); set device:`);
      } else if (p.type === 'qemu-stream') {
        only('device', 'tap and system');
        if (p.offloads !== undefined) fail(`${pat}.offloads`, `offloads is only for tap and system ports (this one is ${p.type})`);
        if (p.path !== undefined && (p.host !== undefined || p.port !== undefined)) fail(pat, 'give either path (Unix socket) or host + port (TCP), not both');
        if (p.path === undefined && (p.host === undefined || p.port === undefined)) fail(pat, 'a qemu-stream port needs path (Unix socket) or host and port (TCP)');
        if (p.path !== undefined) port.path = p.path; else { port.host = p.host; port.port = p.port; }
        port.role = p.role ?? 'connect';
      } else {
        only('device', 'tap and system'); only('path', 'qemu-stream'); only('host', 'qemu-stream'); only('port', 'qemu-stream'); only('role', 'qemu-stream');
        if (p.offloads !== undefined) fail(`${pat}.offloads`, `offloads is only for tap and system ports (this one is ${p.type})`);
        if (p.type === 'vxlan') checkVxlan(p, port, pat, fail, tunnels);
      }
      if (p.vlan) port.vlan = checkVlan(p.vlan, `${pat}.vlan`, fail);
      for (const key of ['channel', 'egress-channel'] as const) {
        const ch = p[key];
        if (ch === undefined) continue;
        if (channels[ch]?.members !== undefined) fail(`${pat}.${key}`, `"${ch}" is a channel group: attach the port to one of its members (${Object.keys(channels[ch]!.members!).join(', ')})`);
        if (!attachable.has(ch)) fail(`${pat}.${key}`, `unknown channel "${ch}" (defined: ${channelNames.length ? channelNames.join(', ') : 'none'})`);
        if (key === 'channel') port.channel = ch; else port.egressChannel = ch;
      }
      ports[pname] = port;
    }
    const portNames = new Map<string, number>(Object.values(ports).map((p) => [p.name, p.ofport]));
    const flows = b.flows ?? [];
    const flowSpecs = flows.map((f, i) => {
      try { return parseFlow(f, { portNames }); } catch (e) {
        if (e instanceof FlowSyntaxError) fail(`${at}.flows.${i}`, e.message);
        throw e;
      }
    });
    const bridge: BridgeConfig = {
      name: bname,
      failMode: b['fail-mode'] ?? 'standalone',
      macTableSize: b['mac-table-size'] ?? DEFAULT_MAC_TABLE_SIZE,
      macAging: b['mac-aging'] ?? DEFAULT_MAC_AGING_S,
      controllers: b.controllers ?? [],
      ports,
      flows,
      flowSpecs,
    };
    if (b['datapath-id'] !== undefined) bridge.datapathId = b['datapath-id'].toLowerCase();
    if (b.description !== undefined) bridge.description = b.description;
    if (b.listen !== undefined) bridge.listen = b.listen;
    for (const c of bridge.controllers) checkHostPort(c, `${at}.controllers`, fail);
    if (bridge.listen) checkHostPort(bridge.listen, `${at}.listen`, fail);
    bridges[bname] = bridge;
  }
  const out: SluiceConfig = { bridges, channels };
  if (raw.datapath !== undefined) out.datapath = { ...raw.datapath };
  return out;
}

function checkHostPort(s: string, path: string, fail: (p: string, w: string) => never): void {
  const m = /^p?tcp:(?:\[[^\]]*\]|[^:]+)?:?(\d+)?/.exec(s);
  const port = s.startsWith('ptcp:') ? Number(s.split(':')[1]) : m?.[1] !== undefined ? Number(m[1]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) fail(path, `"${s}": TCP port ${port} is out of range 1-65535`);
}

function checkVlan(v: { mode: VlanMode; vid?: number; vids?: number[] }, at: string, fail: (p: string, w: string) => never): VlanConfig {
  const out: VlanConfig = { mode: v.mode };
  if (v.mode === 'access') {
    if (v.vid === undefined) fail(`${at}.vid`, 'an access port needs vid');
    if (v.vids !== undefined) fail(`${at}.vids`, 'an access port carries one VLAN: use vid, not vids');
    out.vid = v.vid;
    return out;
  }
  if (v.mode === 'trunk' && v.vid !== undefined) fail(`${at}.vid`, 'a trunk has no native VLAN: use vids (or mode: native-tagged / native-untagged)');
  if (v.mode !== 'trunk') {
    if (v.vid === undefined) fail(`${at}.vid`, `a ${v.mode} port needs vid (its native VLAN)`);
    out.vid = v.vid;
  }
  if (v.vids !== undefined) {
    if (v.vids.length === 0) fail(`${at}.vids`, 'vids must not be empty (omit it to carry all VLANs)');
    const seen = new Set<number>();
    for (const id of v.vids) { if (seen.has(id)) fail(`${at}.vids`, `VLAN ${id} is listed twice`); seen.add(id); }
    // The native VLAN is always carried: make that explicit for consumers.
    if (out.vid !== undefined) seen.add(out.vid);
    out.vids = [...seen].sort((a, b) => a - b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Saving

/** The config in its file form (kebab-case keys); what saveConfig writes. */
export function toFileObject(cfg: SluiceConfig): Record<string, unknown> {
  const bridges: Record<string, unknown> = {};
  for (const b of Object.values(cfg.bridges)) {
    const o: Record<string, unknown> = {};
    if (b.datapathId !== undefined) o['datapath-id'] = b.datapathId;
    if (b.description !== undefined) o.description = b.description;
    o['fail-mode'] = b.failMode;
    o['mac-table-size'] = b.macTableSize;
    o['mac-aging'] = b.macAging;
    if (b.controllers.length) o.controllers = [...b.controllers];
    if (b.listen !== undefined) o.listen = b.listen;
    const ports: Record<string, unknown> = {};
    for (const p of Object.values(b.ports)) {
      const po: Record<string, unknown> = { ofport: p.ofport, type: p.type };
      for (const k of ['device', 'offloads', 'path', 'host', 'port', 'role', 'local', 'vni'] as const) if (p[k] !== undefined) po[k] = p[k];
      if (p.remote !== undefined) po.remote = p.remote === 'flow' ? 'flow' : [...p.remote];
      if (p.networks !== undefined) po.networks = p.networks.map((n) => ({ ...n, ...(n.remote ? { remote: [...n.remote] } : {}) }));
      if (p.dstPort !== undefined) po['dst-port'] = p.dstPort;
      if (p.underlayMtu !== undefined) po['underlay-mtu'] = p.underlayMtu;
      if (p.bfd !== undefined) po.bfd = { enable: true, 'min-tx': p.bfd.minTxMs, 'min-rx': p.bfd.minRxMs, multiplier: p.bfd.multiplier };
      if (p.vlan) {
        const v: Record<string, unknown> = { mode: p.vlan.mode };
        if (p.vlan.vid !== undefined) v.vid = p.vlan.vid;
        if (p.vlan.vids !== undefined) v.vids = [...p.vlan.vids];
        po.vlan = v;
      }
      if (p.channel !== undefined) po.channel = p.channel;
      if (p.egressChannel !== undefined) po['egress-channel'] = p.egressChannel;
      ports[p.name] = po;
    }
    o.ports = ports;
    if (b.flows.length) o.flows = [...b.flows];
    bridges[b.name] = o;
  }
  const out: Record<string, unknown> = {};
  if (cfg.datapath !== undefined) out.datapath = { ...cfg.datapath };
  out.bridges = bridges;
  const channels = Object.values(cfg.channels);
  if (channels.length) {
    const co: Record<string, unknown> = {};
    for (const c of channels) {
      const x: Record<string, unknown> = { rate: c.rate };
      if (c.burst !== undefined) x.burst = c.burst;
      x.mode = c.mode;
      if (c.queue !== undefined) x.queue = c.queue;
      if (c.members !== undefined) x.members = Object.fromEntries(Object.entries(c.members).map(([m, v]) => [m, { ...v }]));
      co[c.name] = x;
    }
    out.channels = co;
  }
  return out;
}

/** Temp files saveConfig writes beside `path`: `<name>.tmp-<pid>-<8 hex>`. */
function tempFilePattern(path: string): RegExp {
  const name = basename(path).replace(/[.*+?^$|()[\]{}\\]/g, (c) => `\\${c}`);
  return new RegExp(`^${name}\\.tmp-(\\d+)-[0-9a-f]{8}$`);
}
/** A save takes milliseconds: a temp file older than this is left over, whoever holds its pid now. */
const STALE_TEMP_MS = 10 * 60_000;

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Remove temp files of saves of `path` that were interrupted (kill -9, power loss): regular files
 * named by our pattern whose writer is gone (or that are older than any save). Anything else in the
 * directory is left alone. Returns the paths removed.
 */
export function cleanStaleTempFiles(path: string, nowMs = Date.now()): string[] {
  const dir = dirname(path), re = tempFilePattern(path), removed: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return removed; }
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const full = join(dir, name);
    try {
      const st = lstatSync(full);
      if (!st.isFile()) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid && processAlive(pid) && nowMs - st.mtimeMs < STALE_TEMP_MS) continue;
      unlinkSync(full);
      removed.push(full);
    } catch { /* raced away, or not ours to remove */ }
  }
  return removed;
}

/**
 * Write `cfg` as YAML atomically and durably: a new temp file in the same directory (O_EXCL, the
 * mode and owner of the file it replaces), fsync, rename over `path`, fsync the directory. A crash
 * leaves the old file or the new one, and at worst a temp file that cleanStaleTempFiles removes.
 */
export async function saveConfig(path: string, cfg: SluiceConfig, edited?: string): Promise<string> {
  // `edited`: the user's document with the changes made in it (config-edit.ts); else the full form.
  const text = edited ?? `# Sluice switch configuration (written by sluice)\n${stringify(toFileObject(cfg), { lineWidth: 0 })}`;
  parseConfig(text, path);                         // never write what we could not load back
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fh: FileHandle | undefined;
  try {
    const old = await stat(path).catch(() => undefined);
    fh = await open(tmp, 'wx', old?.mode !== undefined ? old.mode & 0o7777 : 0o644);
    if (old) {
      await fh.chmod(old.mode & 0o7777);           // the umask applied at open
      if (process.getuid?.() === 0) await fh.chown(old.uid, old.gid);
    }
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
    await syncDir(dirname(path));
    return text;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new ConfigError(`${path}: cannot write config: ${(e as Error).message}`, 'CONFIG_IO');
  }
}

/** fsync a directory so a rename in it survives a crash (some filesystems refuse: then best effort). */
async function syncDir(dir: string): Promise<void> {
  let dh: FileHandle | undefined;
  try {
    dh = await open(dir, 'r');
    await dh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EACCES') throw e;
  } finally {
    await dh?.close().catch(() => undefined);
  }
}

/** A vxlan port's keys (cross-checked: addresses, families, one port per local address and UDP port). */
function checkVxlan(p: z.infer<typeof portSchema>, port: PortConfig, pat: string, fail: (path: string, msg: string) => never, tunnels: Map<string, string>): void {
  if (p.local === undefined) fail(`${pat}.local`, 'a vxlan port needs local: the underlay address of this host');
  let family = 4;
  try { family = parseTunnelAddr(p.local).family; } catch (e) { fail(`${pat}.local`, (e as Error).message); }
  const remotes = (list: string[], at: string): string[] => {
    const seen = new Set<string>();          // canonical text: a VTEP listed twice would get every flooded frame twice
    return list.map((r, i) => {
      let f = 0, text = '';
      try { ({ family: f, text } = parseTunnelAddr(r)); } catch (e) { fail(`${at}[${i}]`, (e as Error).message); }
      if (f !== family) fail(`${at}[${i}]`, `remote ${r} is IPv${f} but local ${p.local} is IPv${family}`);
      if (seen.has(text)) fail(`${at}[${i}]`, `remote ${r} is listed twice`);
      seen.add(text);
      return r;
    });
  };
  if (p.remote === undefined) fail(`${pat}.remote`, 'a vxlan port needs remote: an address, a list, or flow');
  if (p.remote === 'flow') {
    if (family !== 4) fail(`${pat}.remote`, 'remote: flow needs an IPv4 underlay (tun_dst is IPv4)');
    port.remote = 'flow';
  } else {
    port.remote = remotes(Array.isArray(p.remote) ? p.remote : [p.remote], `${pat}.remote`);
  }
  if (p.networks !== undefined) {
    if (p.vni !== undefined) fail(`${pat}.vni`, 'give vni (one network) or networks (several), not both');
    if (p.vlan !== undefined) fail(`${pat}.vlan`, 'a vxlan port with networks is a trunk of their VLANs: drop vlan');
    const vids = new Set<number>(), vnis = new Set<number>();
    port.networks = p.networks.map((n, i) => {
      if (vids.has(n.vid)) fail(`${pat}.networks[${i}].vid`, `VLAN ${n.vid} is mapped twice`);
      if (vnis.has(n.vni)) fail(`${pat}.networks[${i}].vni`, `VNI ${n.vni} is mapped twice`);
      vids.add(n.vid); vnis.add(n.vni);
      return n.remote !== undefined ? { vni: n.vni, vid: n.vid, remote: remotes(n.remote, `${pat}.networks[${i}].remote`) } : { vni: n.vni, vid: n.vid };
    });
  } else if (p.vni === undefined) {
    fail(`${pat}.vni`, 'a vxlan port needs vni (a number or flow) or networks');
  } else {
    port.vni = p.vni;
  }
  port.local = p.local;
  port.dstPort = p['dst-port'] ?? 4789;
  if (p['underlay-mtu'] !== undefined) port.underlayMtu = p['underlay-mtu'];
  if (p.bfd?.enable) {
    if (port.remote === 'flow') fail(`${pat}.bfd`, 'BFD runs to configured remotes: it needs a remote list, not flow');
    port.bfd = { minTxMs: p.bfd['min-tx'] ?? 100, minRxMs: p.bfd['min-rx'] ?? 1000, multiplier: p.bfd.multiplier ?? 3 };
  }
  // the address as parsed, not as spelled: fd00::1 and fd00:0::1 (or FD00::1) are one address
  const key = `${parseTunnelAddr(p.local).text}|${port.dstPort}`;
  const other = tunnels.get(key);
  if (other !== undefined) fail(pat, `vxlan ports ${other} and ${port.name} both use ${p.local} UDP port ${port.dstPort}: carry several VNIs on one port with networks`);
  tunnels.set(key, port.name);
}
