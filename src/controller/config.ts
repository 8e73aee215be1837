// The options of `sluice controller` as a file (controller.yaml; the command line overrides it),
// validated whole with zod into one-line errors naming the key; the listen-address syntaxes; and
// the default state directory (root: /var/lib/sluice/controller, else under $XDG_STATE_HOME).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { zodLine } from './intent.js';

/** A bad controller.yaml or listen address (the CLI prints the message on one line, exit 2). */
export class ControllerConfigError extends Error {
  readonly code = 'CONFIG_CONTROLLER';
  constructor(message: string) { super(message); this.name = 'ControllerConfigError'; }
}

export interface ControllerFileConfig {
  openflow?: string;
  api?: string;
  state?: string;
  /** Where the intent lives: the state file (default) or `etcd:URL[,URL...]` (several controllers). */
  store?: string;
  /** etcd store: lease TTL of the leader election, seconds (default 2). */
  leaseTtlS?: number;
  reconcileIntervalS?: number;
  lldpIntervalS?: number;
  /** Seconds between channel rate samples (meter stats), 0: none. */
  rateIntervalS?: number;
  /** Seconds between re-splits of channels spread over several switches, 0: never. */
  splitIntervalS?: number;
  macAgingS?: number;
  tls?: { cert: string; key: string; ca: string };
  /** Tunnel endpoints of switches that do not announce theirs (Open vSwitch): switch name -> VXLAN port and IPv4 address. */
  tunnels?: Record<string, { port: string; vtep: string }>;
}

export const DEFAULT_API_LISTEN = '127.0.0.1:6680';
export const DEFAULT_API_URL = 'http://127.0.0.1:6680';
export const TOKEN_FILE = 'api-token';

/** `/var/lib/sluice/controller` as root, else `$XDG_STATE_HOME/sluice/controller` (~/.local/state). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0) return '/var/lib/sluice/controller';
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME || homedir(), '.local', 'state');
  return path.join(base, 'sluice', 'controller');
}

/**
 * Ports the WHATWG fetch standard blocks: browsers and Node's fetch (the CLI's client) refuse to
 * connect to them, so the API must not listen on one.
 */
export const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110,
  111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601,
  636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080]);

/** "HOST:PORT" (IPv6 as "[::1]:6680") -> host and port; port 0 asks for any free port. */
export function parseListen(s: string, what = '--api'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(s);
  if (!m) throw new ControllerConfigError(`${what} ${JSON.stringify(s)}: write HOST:PORT (e.g. 127.0.0.1:6680 or [::1]:6680)`);
  const port = Number(m[3]);
  if (port > 65535) throw new ControllerConfigError(`${what} ${s}: port ${port} is out of range 0-65535`);
  if (FETCH_BAD_PORTS.has(port)) throw new ControllerConfigError(`${what} ${s}: port ${port} is one that fetch clients (browsers, the sluice CLI) refuse to connect to; choose another`);
  return { host: m[1] ?? m[2]!, port };
}

/** "ptcp:PORT[:IP]" or "pssl:PORT[:IP]", as ovs-vsctl writes a passive controller connection. */
export function checkOpenflowListen(s: string, what = '--openflow'): string {
  const m = /^p(tcp|ssl):(\d{1,5})(?::(\S+))?$/.exec(s);
  if (!m) throw new ControllerConfigError(`${what} ${JSON.stringify(s)}: write ptcp:PORT[:IP] or pssl:PORT[:IP] (e.g. ptcp:6653)`);
  if (Number(m[2]) > 65535) throw new ControllerConfigError(`${what} ${s}: port ${m[2]} is out of range 0-65535`);
  return s;
}

/** `file` (the state file in the state directory) or `etcd:URL[,URL...]`. */
export function checkStore(s: string, what = '--store'): string {
  if (s === 'file') return s;
  if (!s.startsWith('etcd:')) throw new ControllerConfigError(`${what} ${JSON.stringify(s)}: write file or etcd:URL[,URL...] (e.g. etcd:http://127.0.0.1:2379)`);
  const urls = s.slice(5).split(',');
  for (const u of urls) {
    if (!/^https?:\/\/(?:[^/\s:[\]]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?\/?$/.test(u)) {
      throw new ControllerConfigError(`${what} ${s}: ${JSON.stringify(u)} is not an etcd client URL http://HOST:PORT`);
    }
  }
  return s;
}

const seconds = (what: string) => z.number({ error: `${what} is a number of seconds` });
const fileSchema = z.strictObject({
  openflow: z.string().optional(),
  api: z.string().optional(),
  state: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  'lease-ttl': seconds('lease-ttl').int().min(1).optional(),
  'reconcile-interval': seconds('reconcile-interval').min(0).optional(),
  'lldp-interval': seconds('lldp-interval').positive().optional(),
  'rate-interval': seconds('rate-interval').min(0).optional(),
  'split-interval': seconds('split-interval').min(0).optional(),
  'mac-aging': seconds('mac-aging').int().min(1).optional(),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1) }).optional(),
  tunnels: z.record(z.string().min(1), z.strictObject({
    port: z.string().min(1).max(15),
    vtep: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, { error: 'vtep is the IPv4 address of the switch\'s tunnel endpoint' }),
  })).optional(),
});

/** Parse controller.yaml text; relative paths are taken from the file's directory. */
export function parseControllerConfig(text: string, where: string): ControllerFileConfig {
  let doc: unknown;
  try { doc = parseYaml(text); } catch (e) {
    throw new ControllerConfigError(`${where}: not YAML (${(e as Error).message.split('\n')[0]})`);
  }
  const r = fileSchema.safeParse(doc ?? {});
  if (!r.success) throw new ControllerConfigError(`${where}: ${zodLine(r.error)}`);
  const f = r.data;
  const base = path.dirname(path.resolve(where));
  const abs = (p: string): string => path.resolve(base, p);
  const out: ControllerFileConfig = {};
  if (f.openflow !== undefined) out.openflow = checkOpenflowListen(f.openflow, `${where}: openflow`);
  if (f.api !== undefined) { parseListen(f.api, `${where}: api`); out.api = f.api; }
  if (f.state !== undefined) out.state = abs(f.state);
  if (f.store !== undefined) out.store = checkStore(f.store, `${where}: store`);
  if (f['lease-ttl'] !== undefined) out.leaseTtlS = f['lease-ttl'];
  if (f['reconcile-interval'] !== undefined) out.reconcileIntervalS = f['reconcile-interval'];
  if (f['lldp-interval'] !== undefined) out.lldpIntervalS = f['lldp-interval'];
  if (f['rate-interval'] !== undefined) out.rateIntervalS = f['rate-interval'];
  if (f['split-interval'] !== undefined) out.splitIntervalS = f['split-interval'];
  if (f['mac-aging'] !== undefined) out.macAgingS = f['mac-aging'];
  if (f.tls) out.tls = { cert: abs(f.tls.cert), key: abs(f.tls.key), ca: abs(f.tls.ca) };
  if (f.tunnels) out.tunnels = f.tunnels;
  return out;
}

export function loadControllerConfig(file: string): ControllerFileConfig {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw new ControllerConfigError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseControllerConfig(text, file);
}
