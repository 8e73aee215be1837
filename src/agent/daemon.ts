// The `sluice switch` daemon: opens the ports of one bridge from the config, runs the live loop,
// and owns the RUNNING config. Every change (management API, SIGHUP reload) is validated as a whole
// new config by the same parser as the file, then applied as a difference; on error nothing changes.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { pickBridge } from './build.js';
import { ConfigError, cleanStaleTempFiles, loadConfigFile, parseConfig, saveConfig, toFileObject } from './config.js';
import { editConfigText } from './config-edit.js';
import type { BridgeConfig, ChannelConfig, PortConfig, SluiceConfig } from './config.js';
import { nowEpochMs } from './runner.js';
import type { Runner } from './runner.js';
import type { Bridge } from '../datapath/bridge.js';
import { DatapathCore, PortOpenError, defaultBackend } from './datapath-core.js';
export { defaultBackend };
import { InlineDatapath } from './datapath-handle.js';
import { WorkerDatapath } from './worker-datapath.js';
import type { DatapathHandle, PortDetail } from './datapath-handle.js';
import type { PortBackend } from '../datapath/port.js';
import type { TunnelInfo } from '../datapath/ports/vxlan.js';
import { IFF_RUNNING, IFF_UP } from '../datapath/native/index.js';
import { formatFlow, formatMatch, parseFlow, parseFlowFilter, FlowSyntaxError } from '../flow/syntax.js';
import type { FlowSpec } from '../flow/types.js';
import { FlowModResult, FLOW_MOD_RESULT_NAMES } from '../datapath/results.js';
import { formatMac } from '../packet/flow-key.js';
import type { ChannelRegistry } from '../qos/channel.js';
import { DeviceBusyError, DeviceClaims } from './device-claims.js';

export type ApiStatus = 400 | 404 | 405 | 409 | 413 | 500;
const API_CODES: Record<ApiStatus, string> = {
  400: 'SW_ERR_BAD_REQUEST', 404: 'SW_ERR_NOT_FOUND', 405: 'SW_ERR_METHOD', 409: 'SW_ERR_CONFLICT', 413: 'SW_ERR_TOO_LARGE', 500: 'SW_ERR_INTERNAL',
};
/** An error the management API returns as `{ error: code, message }` with an HTTP status. */
export class ApiError extends Error {
  readonly code: string;
  constructor(readonly status: ApiStatus, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = API_CODES[status];
  }
}

/** Startup failures the CLI reports on one line (exit 2). */
export class SwitchError extends Error {
  constructor(readonly code: 'SW_ERR_PORT_OPEN' | 'SW_ERR_SOCKET' | 'SW_ERR_METRICS' | 'SW_ERR_SAVE_TO' | 'SW_ERR_DEVICE_BUSY', message: string) { super(message); this.name = 'SwitchError'; }
}

export type LinkState = 'up' | 'down' | 'gone';
export interface PortView {
  name: string; ofport: number; type: string; device?: string; path?: string; host?: string; port?: number; role?: string;
  vlan?: { mode: string; vid?: number; vids?: number[] };
  channel?: string; egressChannel?: string;
  link: LinkState; reason?: string;
  /**
   * Device ports (tap, system): the device's administrative state (IFF_UP) and whether it has a
   * carrier (IFF_RUNNING: for a TAP, someone holds its fd; for a veth, the peer is up), read when
   * asked. Absent when the device cannot be seen (gone, or a TAP moved to another namespace).
   */
  admin?: 'up' | 'down'; carrier?: boolean;
  rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; drops: Record<string, number>;
  /** vxlan ports: endpoints, VNIs, remote VTEPs and the MACs learned behind them. */
  tunnel?: TunnelInfo;
}
export interface ChannelView {
  name: string; rate: string; burst?: string; mode: string; queue?: number; attached: string[];
  /** A channel group's member: its group, guarantee, ceiling, weight, and the share it has now (bit/s). */
  group?: string; min?: string; max?: string; weight?: number; shareBps?: number; demandBps?: number;
  passedPackets: number; passedBytes: number; droppedPackets: number; droppedBytes: number; queued: number;
}

export interface DaemonOptions {
  configPath: string;
  /** Where `config save` writes (`sluice switch --save-to`); default the config file itself. Fixed at start. */
  saveTo?: string;
  bridge?: string;
  log: Logger;
  /** Backend factory override (tests); default: tap/system/qemu-stream/memory by port type. */
  makeBackend?: (port: PortConfig) => PortBackend;
  /** Start the OpenFlow agent when configured (default true). */
  openflow?: boolean;
  /** The management socket (named in this switch's device claims). */
  socketPath?: string;
  /**
   * Claim tap/system devices (device-claims.ts) so that no other switch opens them; default: when
   * the real backends are used (no makeBackend). Claims live in devicesDir (default
   * /run/sluice/devices, or SLUICE_DEVICES_DIR).
   */
  claimDevices?: boolean;
  devicesDir?: string;
  /**
   * Datapath worker threads: 0 runs the datapath in this thread (InlineDatapath), 1 in a worker
   * (WorkerDatapath). Default: SLUICE_DATAPATH_THREADS, else the config's `datapath.threads`, else DEFAULT_DATAPATH_THREADS. Always 0 with
   * makeBackend or memory ports (their frames are injected and read by code in this thread).
   */
  datapathThreads?: number;
  /** The datapath worker died (a bug; forwarding stopped). The CLI stops the switch and exits 1. Default: logged only. */
  onDatapathFailure?: (err: Error) => void;
}

/** Datapath threads when neither the options nor SLUICE_DATAPATH_THREADS say. */
export const DEFAULT_DATAPATH_THREADS = 1;

/** How many datapath worker threads this switch runs (0 or 1; see DaemonOptions.datapathThreads). */
export function datapathThreads(opts: DaemonOptions, config: SluiceConfig, bc: BridgeConfig): number {
  if (opts.makeBackend !== undefined || Object.values(bc.ports).some((p) => p.type === 'memory')) return 0;
  const env = process.env.SLUICE_DATAPATH_THREADS;
  const fromEnv = env !== undefined && env !== '' && Number.isInteger(Number(env)) ? Number(env) : undefined;
  const n = opts.datapathThreads ?? fromEnv ?? config.datapath?.threads ?? DEFAULT_DATAPATH_THREADS;
  return n > 0 ? 1 : 0;
}

/** Fields whose change means a different device (or how it is opened: offloads): the port is closed and reopened. */
function sameAttachment(a: PortConfig, b: PortConfig): boolean {
  return a.ofport === b.ofport && a.type === b.type && a.device === b.device && a.path === b.path && a.host === b.host && a.port === b.port && a.role === b.role && a.offloads === b.offloads;
}
const jsonEq = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const flowKey = (s: FlowSpec): string => `${s.tableId}/${s.priority}/${formatMatch(s.match)}`;
const portNameMap = (b: BridgeConfig): Map<string, number> => new Map(Object.values(b.ports).map((p) => [p.name, p.ofport]));
type FileObject = { bridges: Record<string, { ports?: Record<string, Record<string, unknown>>; flows?: string[] }>; channels?: Record<string, Record<string, unknown>> };

export class SwitchDaemon {
  readonly bridgeName: string;
  /** The datapath: in this thread (InlineDatapath) or in a worker thread (WorkerDatapath). */
  readonly dp: DatapathHandle;
  private config: SluiceConfig;
  private readonly makeBackend: (p: PortConfig) => PortBackend;
  private openflowAgent: { start(): unknown; stop(): unknown } | null = null;
  /** Serialises control operations (API calls and reloads never interleave). */
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Device claims (null: not claiming, or the claim directory is unusable here). */
  private claims: DeviceClaims | null = null;
  /** The user's document: the config file as loaded (start, reload) or as last saved. */
  private sourceText: string | null = null;

  private constructor(readonly opts: DaemonOptions, config: SluiceConfig, bridgeName: string, private readonly saveTarget: string | Error) {
    this.config = config;
    this.bridgeName = bridgeName;
    this.makeBackend = opts.makeBackend ?? defaultBackend;
    this.dp = datapathThreads(opts, config, config.bridges[bridgeName]) > 0
      ? new WorkerDatapath(config, bridgeName, opts.log.child({ component: 'datapath' }), opts.onDatapathFailure)
      : new InlineDatapath(DatapathCore.fromConfig(config, bridgeName, this.makeBackend, opts.log));
    const log = opts.log;
    this.dp.onPortStatus = (name, ev) => {
      if (ev.gone) log.warn({ port: name, reason: ev.reason }, 'port device is gone; the port stays listed until removed');
      else if (ev.up) log.info({ port: name, reason: ev.reason }, 'port link up');
      else log.warn({ port: name, reason: ev.reason }, 'port link down');
    };
    if (opts.claimDevices ?? opts.makeBackend === undefined) {
      this.claims = new DeviceClaims({ bridge: bridgeName, socket: opts.socketPath ?? '(no socket)', pid: process.pid }, opts.devicesDir);
    }
  }

  /**
   * Claim the device of a tap/system port before it opens. DeviceBusyError (another switch, or
   * another port of this one, has it) goes to the caller; a claim directory we cannot use (not
   * root, read-only /run) turns claims off with one warning rather than refusing to switch.
   */
  private claimDevice(p: PortConfig): void {
    const claims = this.claims;
    if (claims === null || (p.type !== 'tap' && p.type !== 'system') || p.device === undefined) return;
    try { claims.claim(p.device, p.name); } catch (e) {
      if (e instanceof DeviceBusyError) throw e;
      this.log.warn({ dir: claims.dir, err: (e as Error).message }, 'cannot keep device claims here: another switch could open the same devices');
      this.claims = null;
    }
  }

  get log(): Logger { return this.opts.log; }
  /** The in-thread datapath's parts (tests and tools that poke memory ports); not available with a worker datapath. */
  private get inline(): InlineDatapath {
    if (!(this.dp instanceof InlineDatapath)) throw new Error('the datapath runs in a worker thread: use the DatapathHandle (daemon.dp)');
    return this.dp;
  }
  get bridge(): Bridge { return this.inline.core.bridge; }
  get channels(): ChannelRegistry { return this.inline.core.channels; }
  get runner(): Runner { return this.inline.core.runner; }
  /** Names of the running config's channels. */
  channelNames(): string[] { return Object.keys(this.config.channels).sort(); }
  get configPath(): string { return this.opts.configPath; }
  /** The running config (what `config save` writes). */
  get runningConfig(): SluiceConfig { return this.config; }
  get bridgeConfig(): BridgeConfig { return this.config.bridges[this.bridgeName]; }

  /** Load the config, open every port (all or nothing), start the loop and the OpenFlow agent. */
  static async start(opts: DaemonOptions): Promise<SwitchDaemon> {
    const { config, text } = await loadConfigFile(opts.configPath);
    return SwitchDaemon.startWith(opts, config, text);
  }

  /** start() with the config already loaded from opts.configPath (serveSwitch reads it first to find the socket). */
  /** `sourceText`: the text `config` was parsed from (the document `config save` edits); read again when not given. */
  static async startWith(opts: DaemonOptions, config: SluiceConfig, sourceText?: string): Promise<SwitchDaemon> {
    const name = pickBridge(config, opts.bridge);
    // --save-to must be usable at start; a config file that cannot be saved over (a pipe, say)
    // only makes `config save` refuse.
    let saveTarget: string | Error;
    try { saveTarget = resolveSaveTarget(opts.saveTo ?? opts.configPath, opts.saveTo !== undefined ? '--save-to' : 'the config file'); } catch (e) {
      if (opts.saveTo !== undefined) throw e;
      saveTarget = e as Error;
    }
    // Temp files of saves a kill -9 interrupted: ours by name, their writer gone.
    const stale = typeof saveTarget === 'string' ? cleanStaleTempFiles(saveTarget) : [];
    const d = new SwitchDaemon(opts, config, name, saveTarget);
    if (sourceText !== undefined) d.sourceText = sourceText;
    else { try { d.sourceText = readFileSync(opts.configPath, 'utf8'); } catch { /* saves write the full form */ } }
    if (stale.length) d.log.info({ removed: stale }, 'removed temp files left by interrupted config saves');
    const unheld = d.claims?.sweep() ?? [];
    if (unheld.length) d.log.info({ removed: unheld }, 'removed device claim files no switch holds (left by killed switches)');
    // Every device is claimed before any opens (a busy one ends the start with nothing opened).
    const ports = Object.values(d.bridgeConfig.ports).sort((a, b) => a.ofport - b.ofport);
    for (const p of ports) {
      try { d.claimDevice(p); } catch (e) {
        d.claims?.releaseAll();
        await d.dp.stop().catch(() => undefined);
        throw new SwitchError('SW_ERR_DEVICE_BUSY', `Cannot open port "${p.name}" (${p.type} ${p.device ?? p.name}): ${(e as Error).message}`);
      }
    }
    try { await d.dp.openAll(); } catch (e) {
      d.claims?.releaseAll();
      await d.dp.stop().catch(() => undefined);
      if (e instanceof PortOpenError) throw new SwitchError('SW_ERR_PORT_OPEN', `Cannot open port "${e.port}" (${d.bridgeConfig.ports[e.port]?.type ?? '?'} ${e.device}): ${e.reason}`);
      throw e;
    }
    await d.dp.start();
    await d.startOpenFlow();
    d.log.info({ bridge: name, ports: Object.keys(d.bridgeConfig.ports).length, channels: Object.keys(d.config.channels).length, datapath: d.dp.mode }, 'switch running');
    const bc = d.bridgeConfig;
    if (bc.failMode === 'secure' && bc.flows.length === 0 && (bc.controllers.length === 0 || d.opts.openflow === false) && bc.listen === undefined) {
      d.log.warn({ bridge: name }, 'fail-mode secure with no controller and no flows: the bridge forwards nothing until flows are added');
    }
    return d;
  }

  private async startOpenFlow(): Promise<void> {
    const bc = this.bridgeConfig;
    if (this.opts.openflow === false || (bc.controllers.length === 0 && bc.listen === undefined)) return;
    const url = new URL('./openflow/agent.js', import.meta.url);
    const tsUrl = new URL('./openflow/agent.ts', import.meta.url);
    if (!existsSync(fileURLToPath(url)) && !existsSync(fileURLToPath(tsUrl))) {
      this.log.warn({ controllers: bc.controllers, listen: bc.listen }, 'OpenFlow is configured but this build has no OpenFlow agent; running standalone');
      return;
    }
    const mod = (await import(url.href)) as { OpenFlowAgent?: new (dp: DatapathHandle, o: Record<string, unknown>) => { start(): unknown; stop(): unknown } };
    if (typeof mod.OpenFlowAgent !== 'function') { this.log.warn('src/agent/openflow/agent has no OpenFlowAgent export; running standalone'); return; }
    this.openflowAgent = new mod.OpenFlowAgent(this.dp, {
      controllers: bc.controllers, listen: bc.listen, failMode: bc.failMode, log: this.log.child({ component: 'openflow' }),
      dpDesc: bc.description,
      // A controller finds this switch's VXLAN endpoint here (vtep=PORT@ADDRESS): vxlan ports whose VNI and remote flows set.
      hwDesc: ['Sluice software switch (Node.js)', ...Object.values(bc.ports).filter((p) => p.type === 'vxlan' && p.vni === 'flow' && p.local !== undefined && !p.local.includes(':')).map((p) => `vtep=${p.name}@${p.local}`)].join('; '),
    });
    await this.openflowAgent.start();
  }

  /** Run `fn` after every earlier control operation (one at a time). */
  private serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  // ------------------------------------------------------------------ config as a whole

  /** Validate `file` (a config in file form) with the config parser; ApiError 400 when invalid. */
  private candidate(mutate: (file: FileObject, bridge: FileObject['bridges'][string]) => void, what: string): SluiceConfig {
    const file = toFileObject(this.config) as unknown as FileObject;
    mutate(file, file.bridges[this.bridgeName]);
    try { return parseConfig(stringify(file), what); } catch (e) {
      if (e instanceof ConfigError) throw new ApiError(400, e.message.replace(`bridges.${this.bridgeName}.`, ''));
      throw e;
    }
  }

  /**
   * Apply `next` as a difference to the running switch. New devices are opened first; if one fails
   * nothing changes. Returns a list of what changed (for logs and the API).
   */
  private async apply(next: SluiceConfig): Promise<string[]> {
    const nb = next.bridges[this.bridgeName];
    if (!nb) throw new ApiError(400, `the new config has no bridge "${this.bridgeName}" (restart to run another bridge)`);
    const ob = this.bridgeConfig;
    const changes: string[] = [];
    const removed: PortConfig[] = [], added: PortConfig[] = [], kept: Array<[PortConfig, PortConfig]> = [];
    for (const op of Object.values(ob.ports)) {
      const np = nb.ports[op.name];
      if (np && sameAttachment(op, np)) kept.push([op, np]); else removed.push(op);
    }
    for (const np of Object.values(nb.ports)) {
      const op = ob.ports[np.name];
      if (!op || !sameAttachment(op, np)) added.push(np);
    }
    // An ofport freed by a removed port may be reused by an added one (removals go first below).
    // 1. Claim and open new devices; on failure close them and change nothing. A device a removed
    // port held (a port re-attached under a new name or ofport) passes to its new port.
    const fresh: string[] = [];
    const claimed: PortConfig[] = [], handedOver = new Map<string, PortConfig>();
    for (const p of added) {
      try {
        const from = p.device !== undefined ? removed.find((r) => r.device === p.device && (r.type === 'tap' || r.type === 'system')) : undefined;
        if (from && this.claims?.relabel(p.device!, from.name, p.name)) handedOver.set(p.device!, from);
        else { this.claimDevice(p); claimed.push(p); }
        await this.dp.openPort(p);
      } catch (e) {
        for (const o of fresh) await this.dp.discardPort(o).catch(() => undefined);
        for (const c of claimed) this.claims?.release(c.device!, c.name);
        for (const [dev, r] of handedOver) this.claims?.relabel(dev, added.find((a) => a.device === dev)!.name, r.name);
        const msg = e instanceof PortOpenError ? e.reason : (e as Error).message;
        throw new ApiError(409, `Cannot open port "${p.name}" (${p.type}${p.device ? ` ${p.device}` : ''}): ${msg}`);
      }
      fresh.push(p.name);
    }
    const nowMs = nowEpochMs();
    // 2. Channels created or reconfigured in place (tokens kept).
    for (const c of Object.values(next.channels)) {
      const old = this.config.channels[c.name];
      if (old && jsonEq(old, c)) continue;
      await this.dp.setChannel(c.name, { rate: c.rate, burst: c.burst, mode: c.mode, queue: c.queue, members: c.members }, nowMs);
      changes.push(old ? `channel ${c.name} reconfigured` : `channel ${c.name} created`);
    }
    // 3. Ports removed (or re-attached).
    for (const p of removed) {
      await this.closePort(p.name, p.device === undefined || !handedOver.has(p.device));
      changes.push(`port ${p.name} removed`);
    }
    // 4. Ports kept: VLAN and channels.
    for (const [op, np] of kept) {
      if (!jsonEq(op.vlan, np.vlan)) { await this.dp.setPortVlan(np.ofport, np.vlan); changes.push(`port ${np.name} vlan`); }
      if (op.channel !== np.channel) { await this.dp.setPortChannel(np.ofport, 'ingress', np.channel ?? null); changes.push(`port ${np.name} channel`); }
      if (op.egressChannel !== np.egressChannel) { await this.dp.setPortChannel(np.ofport, 'egress', np.egressChannel ?? null); changes.push(`port ${np.name} egress-channel`); }
    }
    // 5. Ports added.
    for (const p of added) {
      await this.dp.attachPort({ ofport: p.ofport, name: p.name, vlan: p.vlan, channel: p.channel, egressChannel: p.egressChannel });
      changes.push(`port ${p.name} added`);
    }
    // 6. Channels no longer defined (nothing attached: the parser checked every reference).
    for (const name of Object.keys(this.config.channels)) {
      if (next.channels[name]) continue;
      await this.dp.deleteChannel(name);
      changes.push(`channel ${name} deleted`);
    }
    // 7. Static flows: delete the config flows that went away or changed, add the new ones.
    const oldFlows = new Map(ob.flowSpecs.map((s, i) => [flowKey(s), { s, text: formatFlow(s), raw: ob.flows[i] }]));
    const newFlows = new Map(nb.flowSpecs.map((s) => [flowKey(s), { s, text: formatFlow(s) }]));
    for (const [k, o] of oldFlows) {
      const n = newFlows.get(k);
      if (n && n.text === o.text) continue;
      if (!n) { await this.dp.flowMod({ command: 'delete_strict', spec: o.s }, nowMs); changes.push(`flow deleted: ${o.raw}`); }
    }
    for (const [k, n] of newFlows) {
      const o = oldFlows.get(k);
      if (o && o.text === n.text) continue;
      const r = await this.dp.flowMod({ command: 'add', spec: n.s }, nowMs);
      if (r !== FlowModResult.Ok) this.log.warn({ flow: n.text, result: FLOW_MOD_RESULT_NAMES[r] }, 'config flow refused by the pipeline');
      else changes.push(`flow ${o ? 'replaced' : 'added'}: ${n.text.trim()}`);
    }
    // 8. Settings that need a restart.
    const restart = (['failMode', 'macTableSize', 'macAging', 'controllers', 'listen', 'datapathId'] as const).filter((k) => !jsonEq(ob[k], nb[k]));
    if (!jsonEq(this.config.datapath, next.datapath)) (restart as string[]).push('datapath');
    if (restart.length) this.log.warn({ settings: restart }, 'bridge settings changed in the config take effect at the next restart');
    this.config = next;
    this.dp.runPass();
    return changes;
  }

  /** Close a port; its device claim goes too unless `releaseClaim` is false (handed to a new port). */
  private async closePort(name: string, releaseClaim = true): Promise<void> {
    const device = this.bridgeConfig.ports[name]?.device;
    await this.dp.closePort(name);
    if (releaseClaim && device !== undefined) this.claims?.release(device, name);
  }

  /** SIGHUP: re-read the config file and apply the difference; a bad file changes nothing. */
  reload(): Promise<string[]> {
    return this.serial(async () => {
      let next: SluiceConfig, text: string;
      try {
        ({ config: next, text } = await loadConfigFile(this.configPath));
      } catch (e) {
        if (e instanceof ConfigError) throw new ApiError(400, e.message);
        throw e;
      }
      if (!next.bridges[this.bridgeName]) throw new ApiError(400, `${this.configPath}: no bridge "${this.bridgeName}" in the new config; nothing changed`);
      const changes = await this.apply(next);
      this.sourceText = text;
      this.log.info({ changes }, changes.length ? 'config reloaded' : 'config reloaded: no change');
      return changes;
    });
  }

  // ------------------------------------------------------------------ ports

  /** `details`: the datapath's port details when already fetched (one round trip for GET /stats). */
  async listPorts(details?: PortDetail[]): Promise<PortView[]> {
    const bc = this.bridgeConfig;
    return (details ?? await this.dp.portDetails()).map((pi) => {
      const pc = bc.ports[pi.name];
      const s = pi.stats;
      const v: PortView = {
        name: pi.name, ofport: pi.ofport, type: pc?.type ?? 'unknown',
        link: pi.gone ? 'gone' : !pi.up ? 'down' : 'up',
        rxPackets: s['rx-packets'], rxBytes: s['rx-bytes'], txPackets: s['tx-packets'], txBytes: s['tx-bytes'], drops: s.drops,
      };
      if (pc) {
        for (const k of ['device', 'path', 'host', 'port', 'role', 'channel', 'egressChannel'] as const) if (pc[k] !== undefined) (v as unknown as Record<string, unknown>)[k] = pc[k];
        if (pc.vlan) v.vlan = { ...pc.vlan };
      }
      if (pi.reason && v.link !== 'up') v.reason = pi.reason;
      if (pi.config.down && v.link === 'up') v.link = 'down';
      if (pi.tunnel !== undefined) v.tunnel = pi.tunnel;
      const flags = pi.flags;
      if (flags !== null) {
        v.admin = (flags & IFF_UP) !== 0 ? 'up' : 'down';
        v.carrier = (flags & IFF_RUNNING) !== 0;
        // Why a device port is down, in the words of `ip link` (the table shows the reason).
        if (v.link === 'down' && !v.reason) v.reason = v.admin === 'down' ? 'admin down' : 'no carrier';
        if (v.admin === 'down' && pi.adminError) v.reason = `admin down: ${pi.adminError}`;
      }
      return v;
    });
  }

  private mustPort(name: string): PortConfig {
    const p = this.bridgeConfig.ports[name];
    if (!p) throw new ApiError(404, `no port "${name}" on bridge ${this.bridgeName} (ports: ${Object.keys(this.bridgeConfig.ports).join(', ') || 'none'})`);
    return p;
  }

  /** POST /ports: the same fields as a port in the config file (kebab- or camelCase). */
  addPort(body: unknown): Promise<PortView> {
    return this.serial(async () => {
      const b = asObject(body);
      const name = b.name;
      if (typeof name !== 'string' || name === '') throw new ApiError(400, 'a port needs a name');
      if (this.bridgeConfig.ports[name]) throw new ApiError(409, `port "${name}" already exists on bridge ${this.bridgeName}`);
      for (const [other, bc] of Object.entries(this.config.bridges)) if (bc.ports[name]) throw new ApiError(409, `port "${name}" already exists on bridge ${other}`);
      const { name: _n, egressChannel, ...rest } = b;
      const port: Record<string, unknown> = { ...rest };
      if (egressChannel !== undefined) port['egress-channel'] = egressChannel;
      const used = Object.values(this.bridgeConfig.ports).find((p) => p.ofport === port.ofport);
      if (used) throw new ApiError(409, `ofport ${String(port.ofport)} is already used by port ${used.name}`);
      const next = this.candidate((_f, br) => { (br.ports ??= {})[name] = port; }, `port ${name}`);
      await this.apply(next);
      this.log.info({ port: name, ofport: next.bridges[this.bridgeName].ports[name].ofport }, 'port added');
      return (await this.listPorts()).find((p) => p.name === name)!;
    });
  }

  removePort(name: string): Promise<void> {
    return this.serial(async () => {
      this.mustPort(name);
      const next = this.candidate((_f, br) => { delete br.ports![name]; }, `removing port ${name}`);
      await this.apply(next);
      this.log.info({ port: name }, 'port removed');
    });
  }

  /** PATCH /ports/:name: { channel, egressChannel, vlan } (null removes a channel or the VLAN mode). */
  patchPort(name: string, body: unknown): Promise<PortView> {
    return this.serial(async () => {
      this.mustPort(name);
      const b = asObject(body);
      const allowed = new Set(['channel', 'egressChannel', 'egress-channel', 'vlan']);
      for (const k of Object.keys(b)) if (!allowed.has(k)) throw new ApiError(400, `cannot change "${k}" of a running port (changeable: channel, egressChannel, vlan; remove and add the port for the rest)`);
      const next = this.candidate((_f, br) => {
        const p = br.ports![name];
        const set = (key: string, v: unknown): void => { if (v === null) delete p[key]; else if (v !== undefined) p[key] = v; };
        set('channel', b.channel);
        set('egress-channel', 'egressChannel' in b ? b.egressChannel : b['egress-channel']);
        set('vlan', b.vlan);
      }, `port ${name}`);
      const changes = await this.apply(next);
      this.log.info({ port: name, changes }, 'port changed');
      return (await this.listPorts()).find((p) => p.name === name)!;
    });
  }

  // ------------------------------------------------------------------ channels

  async listChannels(counters?: Awaited<ReturnType<DatapathHandle['channelCounters']>>): Promise<ChannelView[]> {
    const ports = Object.values(this.bridgeConfig.ports);
    return (counters ?? await this.dp.channelCounters()).map((ch) => {
      const c: ChannelConfig | undefined = this.config.channels[ch.name];
      const n = ch.counters;
      const v: ChannelView = {
        name: ch.name, rate: c?.rate ?? '', mode: c?.mode ?? (ch.shaping ? 'shape' : 'police'),
        attached: ports.flatMap((p) => [...(p.channel === ch.name ? [`${p.name} (ingress)`] : []), ...(p.egressChannel === ch.name ? [`${p.name} (egress)`] : [])]),
        passedPackets: n['passed-packets'], passedBytes: n['passed-bytes'], droppedPackets: n['dropped-packets'], droppedBytes: n['dropped-bytes'], queued: n.queued,
      };
      if (c?.burst !== undefined) v.burst = c.burst;
      if (c?.queue !== undefined) v.queue = c.queue;
      const m = ch.member;
      if (m !== undefined) {
        const spec = this.config.channels[m.group]?.members?.[ch.name];
        v.group = m.group; v.rate = spec?.max ?? this.config.channels[m.group]?.rate ?? ''; v.mode = this.config.channels[m.group]?.mode ?? v.mode;
        if (spec !== undefined) { v.min = spec.min; if (spec.max !== undefined) v.max = spec.max; }
        v.weight = m.weight; v.shareBps = Math.round(m.shareBps * 8); v.demandBps = Math.round(m.demandBps * 8);
      }
      return v;
    });
  }

  /** A bridge with OpenFlow controllers configured has its channels set there, not on its socket: 409. */
  private refuseIfManaged(channel: string): void {
    const ctl = this.bridgeConfig.controllers;
    if (ctl.length > 0) throw new ApiError(409, `bridge ${this.bridgeName} is managed by the controller at ${ctl.join(', ')}: change channel "${channel}" there (sluice channel ... --controller URL), not on the switch`);
  }

  /** PUT /channels/:name { rate, burst?, mode?, queue? }: create, or reconfigure in place (tokens kept). */
  setChannel(name: string, body: unknown): Promise<ChannelView> {
    return this.serial(async () => {
      this.refuseIfManaged(name);
      const b = asObject(body);
      for (const k of Object.keys(b)) if (!['rate', 'burst', 'mode', 'queue'].includes(k)) throw new ApiError(400, `unknown channel field "${k}" (rate, burst, mode, queue)`);
      const old = this.config.channels[name];
      if (b.rate === undefined && !old) throw new ApiError(400, `channel "${name}" does not exist yet: give its rate`);
      const next = this.candidate((f) => {
        const c: Record<string, unknown> = old ? { rate: old.rate, mode: old.mode } : {};
        if (old?.burst !== undefined) c.burst = old.burst;
        if (old?.queue !== undefined) c.queue = old.queue;
        // A new rate without a burst gets the default burst of the new rate (like reconfigure()).
        if (b.rate !== undefined && b.burst === undefined) delete c.burst;
        for (const k of ['rate', 'burst', 'mode', 'queue'] as const) if (b[k] !== undefined) c[k] = b[k];
        if (b.mode === 'police') delete c.queue;
        (f.channels ??= {})[name] = c;
      }, `channel ${name}`);
      await this.apply(next);
      this.log.info({ channel: name, rate: next.channels[name].rate, burst: next.channels[name].burst, mode: next.channels[name].mode }, old ? 'channel reconfigured' : 'channel created');
      return (await this.listChannels()).find((c) => c.name === name)!;
    });
  }

  deleteChannel(name: string): Promise<void> {
    return this.serial(async () => {
      this.refuseIfManaged(name);
      if (!this.config.channels[name]) throw new ApiError(404, `no channel "${name}" (channels: ${Object.keys(this.config.channels).join(', ') || 'none'})`);
      const users: string[] = [];
      for (const bc of Object.values(this.config.bridges)) for (const p of Object.values(bc.ports)) if (p.channel === name || p.egressChannel === name) users.push(p.name);
      if (users.length) throw new ApiError(409, `channel "${name}" is attached to ${users.join(', ')}; detach it first (sluice port set PORT --no-channel)`);
      const next = this.candidate((f) => { delete f.channels![name]; }, `channel ${name}`);
      await this.apply(next);
      this.log.info({ channel: name }, 'channel deleted');
    });
  }

  // ------------------------------------------------------------------ flows

  async dumpFlows(filterText?: string): Promise<string[]> {
    const filter = filterText ? this.parseFilter(filterText) : undefined;
    return (await this.dp.dumpFlows(filter ? { match: filter.match, tableId: filter.tableId, cookie: filter.cookie, cookieMask: filter.cookieMask, outPort: filter.outPort, outGroup: filter.outGroup } : undefined, nowEpochMs()))
      .map((f) => formatFlow(f.spec, { durationS: f.durationS, packets: f.packetCount, bytes: f.byteCount, idleAgeS: f.idleAgeS }).trim());
  }

  private parseFilter(text: string): ReturnType<typeof parseFlowFilter> {
    try { return parseFlowFilter(text, { portNames: portNameMap(this.bridgeConfig) }); } catch (e) {
      if (e instanceof FlowSyntaxError) throw new ApiError(400, e.message);
      throw e;
    }
  }

  /** POST /flows: add (replacing an entry with the same table, priority and match); kept in the running config. */
  addFlow(text: unknown): Promise<string> {
    return this.serial(async () => {
      if (typeof text !== 'string' || text.trim() === '') throw new ApiError(400, 'give the flow as { "flow": "priority=..,match,actions=.." }');
      let spec: FlowSpec;
      try { spec = parseFlow(text, { portNames: portNameMap(this.bridgeConfig) }); } catch (e) {
        if (e instanceof FlowSyntaxError) throw new ApiError(400, e.message);
        throw e;
      }
      const r = await this.dp.flowMod({ command: 'add', spec }, nowEpochMs());
      if (r !== FlowModResult.Ok) throw new ApiError(400, `flow "${text}" was refused by the pipeline (${FLOW_MOD_RESULT_NAMES[r]})`);
      const bc = this.bridgeConfig, key = flowKey(spec);
      const keep = bc.flowSpecs.map((s, i) => [s, bc.flows[i]] as const).filter(([s]) => flowKey(s) !== key);
      bc.flows = [...keep.map(([, t]) => t), text.trim()];
      bc.flowSpecs = [...keep.map(([s]) => s), spec];
      this.log.info({ flow: text }, 'flow added');
      this.dp.runPass();
      return formatFlow(spec).trim();
    });
  }

  /** DELETE /flows: ovs-ofctl del-flows semantics; returns how many entries went. */
  deleteFlows(filterText: unknown, strict: boolean): Promise<number> {
    return this.serial(async () => {
      if (filterText !== undefined && typeof filterText !== 'string') throw new ApiError(400, 'filter must be a string');
      const f = this.parseFilter(filterText ?? '');
      if (strict && f.priority === undefined) f.priority = 0x8000;
      const before = (await this.dp.dumpFlows()).length;
      const r = await this.dp.flowMod({
        command: strict ? 'delete_strict' : 'delete', tableId: f.tableId ?? 0xff, cookieMask: f.cookieMask, outPort: f.outPort, outGroup: f.outGroup,
        spec: { tableId: f.tableId ?? 0xff, priority: f.priority ?? 0, match: f.match, instructions: {}, cookie: f.cookie ?? 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 },
      }, nowEpochMs());
      if (r !== FlowModResult.Ok) throw new ApiError(400, `delete refused by the pipeline (${FLOW_MOD_RESULT_NAMES[r]})`);
      const after = await this.dp.dumpFlows();
      const removed = before - after.length;
      // Keep only the config flows that are still installed.
      const live = new Set(after.map((e) => flowKey(e.spec)));
      const bc = this.bridgeConfig;
      const keep = bc.flowSpecs.map((s, i) => [s, bc.flows[i]] as const).filter(([s]) => live.has(flowKey(s)));
      bc.flows = keep.map(([, t]) => t);
      bc.flowSpecs = keep.map(([s]) => s);
      this.log.info({ filter: filterText ?? '', strict, removed }, 'flows deleted');
      return removed;
    });
  }

  // ------------------------------------------------------------------ stats, fdb, save

  /**
   * Ports, channels and counters for a metrics scrape: the port counters and drops are read where
   * the datapath keeps them (a worker's shared arena), with link states from the ports as this
   * thread knows them, so a scrape does not ask the datapath, except for the channels' counters
   * when channels exist (and the ports', should a port have no shared counters).
   */
  async countersSnapshot(): Promise<{ ports: PortView[]; channels: ChannelView[]; drops: Record<string, number>; exec: Record<string, number> }> {
    const c = this.dp.countersNow();
    let details: PortDetail[] | undefined;
    if (c.complete) {
      const stats = new Map(c.ports.map((p) => [p.ofport, p.stats]));
      details = this.dp.ports().map((p) => ({ ...p, stats: stats.get(p.ofport)!, up: p.linkUp, gone: p.gone ?? false, flags: null, adminError: null }));
    }
    const channels = Object.keys(this.config.channels).length > 0 ? await this.listChannels() : [];
    return { ports: await this.listPorts(details), channels, drops: c.drops, exec: c.exec };
  }

  /** Tunnel ports with their endpoints, learned MACs and BFD sessions (one datapath read; none without vxlan ports). */
  async tunnels(): Promise<Array<{ port: string; tunnel: TunnelInfo }>> {
    if (!Object.values(this.bridgeConfig.ports).some((p) => p.type === 'vxlan')) return [];
    return (await this.dp.portDetails()).flatMap((d) => (d.tunnel !== undefined ? [{ port: d.name, tunnel: d.tunnel }] : []));
  }

  async fdb(): Promise<Array<{ port: string; ofport: number; vlan: number; mac: string; ageS: number }>> {
    return (await this.dp.fdb()).map((e) => ({ port: e.port, ofport: e.ofport, vlan: e.vid, mac: formatMac(e.mac), ageS: e.ageS }))
      .sort((a, b) => a.ofport - b.ofport || a.vlan - b.vlan || (a.mac < b.mac ? -1 : 1));
  }

  async stats(): Promise<{ bridge: string; ports: Array<PortView & { io?: Record<string, number> }>; channels: ChannelView[]; drops: Record<string, number>; exec: Record<string, number>; flowCacheEntries: number; runner: Runner['stats'] }> {
    // Issued together: one message to a worker datapath and one answer.
    const [list, counters, s] = await Promise.all([this.dp.portDetails(), this.dp.channelCounters(), this.dp.stats()]);
    const details = new Map(list.map((d) => [d.name, d]));
    const ports = (await this.listPorts(list)).map((p) => {
      const io = details.get(p.name)?.io;
      return io !== undefined ? { ...p, io } : p;
    });
    return { bridge: this.bridgeName, ports, channels: await this.listChannels(counters), drops: s.drops, exec: s.exec, flowCacheEntries: s.flowCacheEntries, runner: s.runner };
  }

  /**
   * POST /config/save: the running config, atomically, to the file fixed at start (the config file,
   * or --save-to; symbolic links resolved then). Never a path a client names.
   */
  saveConfig(): Promise<string> {
    return this.serial(async () => {
      if (typeof this.saveTarget !== 'string') throw new ApiError(409, `cannot save: ${this.saveTarget.message}; start the switch with --save-to FILE`);
      const to = this.saveTarget;
      // The user's document with only the changes made (comments, style, implicit defaults kept).
      let edited: string | undefined;
      if (this.sourceText !== null) {
        edited = editConfigText(this.sourceText, this.configPath, this.config) ?? undefined;
        if (edited === undefined) this.log.warn({ path: to }, 'the config file could not be edited in place; writing the full form');
      }
      try { this.sourceText = await saveConfig(to, this.config, edited); } catch (e) {
        if (e instanceof ConfigError) {
          this.log.error({ path: to, reason: e.message }, 'saving the running config failed');
          throw new ApiError(500, e.message);
        }
        throw e;
      }
      this.log.info({ path: to }, 'running config saved');
      return to;
    });
  }

  /** Stop everything: OpenFlow, the loop, then every port (TAP devices Sluice created disappear). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.queue.catch(() => undefined);
    if (this.openflowAgent) await Promise.resolve(this.openflowAgent.stop()).catch((err: unknown) => this.log.warn({ err }, 'stopping the OpenFlow agent failed'));
    await this.dp.stop();
    this.claims?.releaseAll();
    this.log.info({ bridge: this.bridgeName }, 'switch stopped');
  }
}

/**
 * The file `config save` writes, checked at start: an existing file is followed through symbolic
 * links and must be a regular file; a new one (--save-to) needs an existing directory. SwitchError
 * SW_ERR_SAVE_TO otherwise.
 */
function resolveSaveTarget(path: string, what: string): string {
  const abs = resolve(path);
  let real: string;
  try { real = realpathSync(abs); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SwitchError('SW_ERR_SAVE_TO', `${what} ${abs}: ${(e as Error).message}`);
    let dir: ReturnType<typeof statSync> | undefined;
    try { dir = statSync(dirname(abs)); } catch { /* below */ }
    if (!dir?.isDirectory()) throw new SwitchError('SW_ERR_SAVE_TO', `${what} ${abs}: directory ${dirname(abs)} does not exist`);
    return abs;
  }
  if (!statSync(real).isFile()) throw new SwitchError('SW_ERR_SAVE_TO', `${what} ${abs} is not a regular file`);
  return real;
}

function asObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'expected a JSON object');
  return body as Record<string, unknown>;
}
