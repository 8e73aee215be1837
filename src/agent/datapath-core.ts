// The datapath of one running switch as a plain object: the Bridge, its channels and meters, the
// port backends and the live loop (runner.ts). Every method is synchronous or returns a promise
// only where a device is opened or closed, and every argument and result is structured-cloneable,
// so the same object runs in the main thread (InlineDatapath) or in a worker thread
// (datapath-worker.ts, driven by WorkerDatapath). Events (PACKET_IN, FLOW_REMOVED, port link
// changes) go to a sink the host sets. Cold path except where marked.
import type { Logger } from 'pino';
import { buildSwitch } from './build.js';
import type { PortConfig, SluiceConfig } from './config.js';
import { Runner, nowEpochMs } from './runner.js';
import type { RunnerStats } from './runner.js';
import type { Bridge, PortConfig as PortBits, PortStats } from '../datapath/bridge.js';
import type { PortBackend } from '../datapath/port.js';
import type { CounterArena } from '../datapath/counters.js';
import { TapPort } from '../datapath/ports/tap.js';
import { SystemPort } from '../datapath/ports/system.js';
import { QemuStreamPort } from '../datapath/ports/qemu-stream.js';
import { VxlanPort } from '../datapath/ports/vxlan.js';
import type { TunnelInfo } from '../datapath/ports/vxlan.js';
import { MemoryPort } from '../datapath/ports/memory.js';
import type { PortStatusEvent } from '../datapath/ports/io-counters.js';
import type { AggregateStats, FlowFilter, FlowMod, FlowStats, TableStats } from '../datapath/pipeline.js';
import type { GroupCommand } from '../datapath/groups.js';
import type { FlowModResultCode } from '../datapath/results.js';
import type { Action, GroupSpec } from '../flow/types.js';
import type { VlanPortConfig } from '../vlan/port-mode.js';
import { ChannelRegistry } from '../qos/channel.js';
import { GroupMember, deleteChannelGroup, setChannelGroup } from '../qos/channel-group.js';
import type { Channel } from '../qos/channel.js';
import type { ChannelCounters, ChannelSpec } from '../qos/channel.js';
import { Meter } from '../qos/meter.js';
import type { MeterBandSpec } from '../qos/meter.js';

/** What the control side learns from the datapath without asking. */
export interface DatapathEvents {
  /** A frame for the controller: `data` holds the first bytes (at most maxLen), `totalLen` the whole frame's length. */
  packetIn(data: Uint8Array, totalLen: number, inPort: number, reason: number, tableId: number, cookie: bigint, tunnelId: number, tunSrc: number): void;
  flowRemoved(st: FlowStats, reason: number): void;
  /** A port's link changed (the datapath has already stopped sending to a dead link). */
  portStatus(name: string, ev: PortStatusEvent): void;
}

/** One port as the control side sees it (what OpenFlow port_desc needs). */
export interface PortLive { ofport: number; name: string; config: PortBits; linkUp: boolean; /** The device went away (as far as this side knows). */ gone?: boolean }

/** A port's live state and counters (GET /ports, metrics, port stats). */
export interface PortDetail extends PortLive {
  stats: PortStats;
  /** Link as the backend reports it (onStatus). */
  up: boolean; gone: boolean; reason?: string;
  /** Device flags (IFF_UP, IFF_RUNNING) for tap/system ports whose device is visible; null otherwise. */
  flags: number | null;
  adminError: string | null;
  /** The backend's own I/O counters (syscalls, kernel drops), when it keeps them. */
  io?: Record<string, number>;
  /** A tunnel port's endpoints and learned remote MACs. */
  tunnel?: TunnelInfo;
}

export interface GroupView { spec: GroupSpec; packetCount: number; byteCount: number; durationS: number; buckets: Array<{ packetCount: number; byteCount: number }> }
/** A meter's counters and when they were read (epoch ms, the datapath's clock: a meter's duration ends there). */
export interface MeterCounters { flowCount: number; packetInCount: number; byteInCount: number; packetBandCount: number[]; byteBandCount: number[]; readMs: number }
export interface DatapathStats { drops: Record<string, number>; exec: Record<string, number>; flowCacheEntries: number; runner: RunnerStats }
/** A channel group member's state: its group, min/max/weight, and the share the last re-split gave it (bytes/s). */
export interface ChannelMemberView { group: string; minBps: number; maxBps: number; weight: number; shareBps: number; demandBps: number; borrowedBytes: number }
export interface FdbEntry { port: string; ofport: number; vid: number; mac: number; ageS: number }
/** A port to attach: its config-file form plus the channels by name. */
export interface PortAttach { name: string; ofport: number; vlan?: VlanPortConfig; channel?: string; egressChannel?: string }

/** The default backend of a configured port. TAP devices Sluice creates vanish when it closes them. */
export function defaultBackend(p: PortConfig): PortBackend {
  switch (p.type) {
    case 'tap': return new TapPort(p.device ?? p.name, { offloads: p.offloads });
    case 'system': return new SystemPort(p.device ?? p.name, { offloads: p.offloads });
    case 'qemu-stream': return new QemuStreamPort(p.path !== undefined ? { path: p.path } : { host: p.host ?? '127.0.0.1', port: p.port ?? 0 }, p.role ?? 'connect');
    case 'memory': return new MemoryPort(p.name);
    case 'vxlan': return new VxlanPort(p.name, { local: p.local!, remote: p.remote ?? [], vni: p.vni, networks: p.networks, dstPort: p.dstPort, underlayMtu: p.underlayMtu, bfd: p.bfd });
  }
}

interface LiveStatus { up: boolean; gone: boolean; reason?: string }
type Backendish = PortBackend & { tunnelInfo?: () => TunnelInfo } & { onStatus?: ((ev: PortStatusEvent) => void) | null; up?: boolean; deviceFlags?: () => number | null; adminError?: string | null; counters?: { snapshot(): Record<string, number> } };

const NO_EVENTS: DatapathEvents = { packetIn() { /* none */ }, flowRemoved() { /* none */ }, portStatus() { /* none */ } };

export class DatapathCore {
  readonly bridge: Bridge;
  readonly channels: ChannelRegistry;
  readonly runner: Runner;
  events: DatapathEvents = NO_EVENTS;
  /** Backends by port name: of the ports on the bridge. */
  private readonly backends = new Map<string, Backendish>();
  /** Opened by openPort, not attached yet (a port re-attached under its name has one of each for a moment). */
  private readonly pending = new Map<string, Backendish>();
  private readonly status = new Map<string, LiveStatus>();
  private readonly meters = new Map<number, Meter>();

  constructor(bridge: Bridge, channels: ChannelRegistry, private readonly makeBackend: (p: PortConfig) => PortBackend, private readonly log: Logger) {
    this.bridge = bridge;
    this.channels = channels;
    this.runner = new Runner(this.bridge, log.child({ component: 'runner' }));
  }

  /** The datapath of `bridgeName` in `config`, its backends made (not opened) by makeBackend. */
  static fromConfig(config: SluiceConfig, bridgeName: string, makeBackend: (p: PortConfig) => PortBackend, log: Logger, counterArena?: CounterArena): DatapathCore {
    const made = new Map<string, Backendish>();
    const built = buildSwitch(config, bridgeName, (name, p) => { const b = makeBackend(p) as Backendish; made.set(name, b); return b; }, nowEpochMs(), counterArena);
    const core = new DatapathCore(built.bridge, built.channels, makeBackend, log);
    for (const [n, b] of made) core.backends.set(n, b);
    return core;
  }

  /**
   * Route the bridge's PACKET_IN and FLOW_REMOVED to `events` (on) or nowhere (off: the bridge then
   * counts frames for the controller as it does with no controller at all).
   */
  listen(on: boolean): void {
    if (!on) { this.bridge.onPacketIn = null; this.bridge.onFlowRemoved = null; return; }
    this.bridge.onPacketIn = (pkt, reason, tableId, cookie, maxLen) => {
      const len = maxLen === 0xffff || maxLen >= pkt.len ? pkt.len : maxLen;
      this.events.packetIn(pkt.buf.subarray(pkt.off, pkt.off + len), pkt.len, pkt.inPort, reason, tableId, cookie, pkt.tunnelId, pkt.tunIpv4Src);
    };
    this.bridge.onFlowRemoved = (st, reason) => this.events.flowRemoved(st, reason);
  }

  get name(): string { return this.bridge.name; }
  get datapathId(): bigint { return this.bridge.datapathId; }

  // ------------------------------------------------------------------ lifecycle

  /** Open the backends the config built, in ofport order; on a failure close those opened and throw "port: message". */
  async openAll(): Promise<void> {
    const opened: string[] = [];
    for (const p of this.bridge.ports()) {
      const be = this.backends.get(p.name)!;
      try { await be.open(); } catch (e) {
        for (const o of opened) await this.backends.get(o)!.close().catch(() => undefined);
        throw new PortOpenError(p.name, be.name, (e as Error).message);
      }
      opened.push(p.name);
      this.watch(p.name, be);
    }
  }

  start(): void { this.runner.start(); }

  async stop(): Promise<void> {
    this.runner.stop();
    for (const name of [...this.backends.keys()]) await this.closePort(name);
    for (const name of [...this.pending.keys()]) await this.discardPort(name);
  }

  /** Create and open the backend of a port that is not attached yet (the port's config as in the file). */
  async openPort(p: PortConfig): Promise<void> {
    const be = this.makeBackend(p) as Backendish;
    try { await be.open(); } catch (e) { throw new PortOpenError(p.name, be.name, (e as Error).message); }
    this.pending.set(p.name, be);
  }

  /** Close a port opened with openPort and never attached (a change that failed half way). */
  async discardPort(name: string): Promise<void> {
    const be = this.pending.get(name);
    this.pending.delete(name);
    if (be) await be.close().catch((err: unknown) => this.log.warn({ err, port: name }, 'closing the port failed'));
  }

  /** Attach a port opened with openPort to the bridge and the loop. */
  attachPort(a: PortAttach): void {
    const be = this.pending.get(a.name);
    if (be === undefined) throw new Error(`port ${a.name} was not opened`);
    this.pending.delete(a.name);
    this.backends.set(a.name, be);
    this.bridge.addPort({ ofport: a.ofport, name: a.name, backend: be, vlan: a.vlan, ingress: this.limiter(a.channel), egress: this.limiter(a.egressChannel) });
    this.watch(a.name, be);
    this.runner.attach(be);
  }

  /** Detach and close a port on the bridge. */
  async closePort(name: string): Promise<void> {
    const ofport = this.bridge.portByName(name);
    const be = this.backends.get(name);
    if (be) this.runner.detach(be);
    if (ofport !== undefined) this.bridge.removePort(ofport);
    this.backends.delete(name);
    this.status.delete(name);
    if (be) {
      if ('onStatus' in be) be.onStatus = null;
      await be.close().catch((err: unknown) => this.log.warn({ err, port: name }, 'closing the port failed'));
    }
  }

  private limiter(channel: string | undefined | null): Channelish { return channel ? this.channels.get(channel) ?? null : null; }

  private watch(name: string, be: Backendish): void {
    const st: LiveStatus = { up: true, gone: false };
    this.status.set(name, st);
    if (typeof be.up === 'boolean') st.up = be.up;
    // A tunnel port with BFD starts down until a session is up (a device port's link follows its events).
    if (be.tunnel === true && be.up === false) { const ofport = this.bridge.portByName(name); if (ofport !== undefined) this.bridge.setPortLinkState(ofport, false); }
    if (!('onStatus' in be)) return;
    be.onStatus = (ev) => {
      st.up = ev.up; st.gone = ev.gone; st.reason = ev.reason;
      // The datapath stops flooding to a dead link and forgets the MACs behind it at once,
      // instead of sending into it until the MAC entries age out.
      const ofport = this.bridge.portByName(name);
      if (ofport !== undefined) this.bridge.setPortLinkState(ofport, ev.up && !ev.gone);
      this.events.portStatus(name, { up: ev.up, gone: ev.gone, reason: ev.reason });
    };
  }

  // ------------------------------------------------------------------ changes

  /** Create or reconfigure a channel, or a channel group when the spec has members (tokens kept). */
  setChannel(name: string, spec: ChannelSpec, nowMs: number): void {
    if (spec.members !== undefined) setChannelGroup(this.channels, name, { rate: spec.rate, burst: spec.burst, mode: spec.mode, queue: spec.queue, members: spec.members }, nowMs);
    else this.channels.set(name, spec, nowMs);
  }
  deleteChannel(name: string): void {
    if (this.channels.groups.has(name)) {
      for (const m of deleteChannelGroup(this.channels, name)) for (const pkt of m.flush()) this.bridge.pool.release(pkt);
      return;
    }
    const ch = this.channels.delete(name);
    if (ch) for (const pkt of ch.flush()) this.bridge.pool.release(pkt);
  }
  setPortVlan(ofport: number, vlan: VlanPortConfig | undefined): void { this.bridge.setPortVlan(ofport, vlan); }
  setPortChannel(ofport: number, dir: 'ingress' | 'egress', channel: string | null): void { this.bridge.setPortLimiter(ofport, dir, this.limiter(channel)); }
  setPortConfig(ofport: number, cfg: Partial<PortBits>): void { this.bridge.setPortConfig(ofport, cfg); }
  flowMod(mod: FlowMod, nowMs: number): FlowModResultCode { return this.bridge.flowMod(mod, nowMs); }
  groupMod(cmd: GroupCommand, g: GroupSpec): FlowModResultCode { return this.bridge.groupMod(cmd, g); }
  /** METER_MOD add or modify (validated by the caller; a modify keeps tokens and counters). */
  setMeter(id: number, flags: number, bands: MeterBandSpec[], nowMs: number): void {
    const m = this.meters.get(id);
    if (m === undefined) { const meter = new Meter(id, flags, bands, nowMs); this.meters.set(id, meter); this.bridge.setMeter(id, meter); return; }
    m.reconfigure(flags, bands, nowMs);
    this.bridge.setMeter(id, m);
  }
  deleteMeter(id: number): void { this.meters.delete(id); this.bridge.deleteMeter(id); }
  packetOut(frame: Uint8Array, inPort: number, actions: Action[], nowMs: number): FlowModResultCode { return this.bridge.packetOut(frame, inPort, actions, nowMs); }
  /** One poll pass now (after changes that may release frames). */
  runPass(): void { this.runner.runPass(); }

  // ------------------------------------------------------------------ queries

  ports(): PortLive[] { return this.bridge.ports().map((p) => ({ ofport: p.ofport, name: p.name, config: p.config, linkUp: p.linkUp, gone: this.status.get(p.name)?.gone ?? false })); }
  dumpFlows(filter: FlowFilter | undefined, nowMs: number): FlowStats[] { return this.bridge.dumpFlows(filter, nowMs); }
  aggregate(filter: FlowFilter | undefined): AggregateStats { return this.bridge.aggregate(filter); }
  tableStats(): TableStats[] { return this.bridge.tableStats(); }
  groups(): GroupView[] { return this.bridge.groups(); }
  meterCounters(ids: number[]): Array<MeterCounters | null> {
    const readMs = nowEpochMs();
    return ids.map((id) => {
      const m = this.meters.get(id);
      if (m === undefined) return null;
      return { flowCount: this.bridge.meterFlowCount(id), packetInCount: m.packetInCount, byteInCount: m.byteInCount, packetBandCount: [...m.packetBandCount], byteBandCount: [...m.byteBandCount], readMs };
    });
  }
  portStats(): Array<{ ofport: number; stats: PortStats }> { return this.bridge.ports().map((p) => ({ ofport: p.ofport, stats: this.bridge.portStats(p.ofport) })); }
  portDetails(): PortDetail[] {
    return this.bridge.ports().map((p) => {
      const be = this.backends.get(p.name);
      const st = this.status.get(p.name);
      const flags = typeof be?.deviceFlags === 'function' ? be.deviceFlags() : null;
      const d: PortDetail = {
        ofport: p.ofport, name: p.name, config: p.config, linkUp: p.linkUp, stats: this.bridge.portStats(p.ofport),
        up: st?.up ?? true, gone: st?.gone ?? false, flags, adminError: be?.adminError ?? null,
      };
      if (st?.reason !== undefined) d.reason = st.reason;
      if (be?.counters && typeof be.counters.snapshot === 'function') d.io = be.counters.snapshot();
      if (typeof be?.tunnelInfo === 'function') d.tunnel = be.tunnelInfo();
      return d;
    });
  }
  channelCounters(): Array<{ name: string; shaping: boolean; counters: ChannelCounters; member?: ChannelMemberView }> {
    return this.channels.list().map((c) => (c instanceof GroupMember
      ? { name: c.name, shaping: c.shaping, counters: c.counters(), member: { group: c.group.name, minBps: c.minBps, maxBps: c.maxBps, weight: c.weight, shareBps: c.shareBps, demandBps: c.demandBps, borrowedBytes: c.borrowedBytes } }
      : { name: c.name, shaping: c.shaping, counters: c.counters() }));
  }
  stats(): DatapathStats { return { ...this.bridge.stats(), runner: { ...this.runner.stats } }; }
  fdb(): FdbEntry[] { return this.bridge.fdb().map((e) => ({ port: this.bridge.portName(e.ofport), ofport: e.ofport, vid: e.vid, mac: e.mac, ageS: e.ageS })); }
}

type Channelish = Channel | null;

/** A port that would not open: the daemon turns it into SW_ERR_PORT_OPEN or a 409 naming the port. */
export class PortOpenError extends Error {
  constructor(readonly port: string, readonly device: string, readonly reason: string) {
    super(`${port} (${device}): ${reason}`);
    this.name = 'PortOpenError';
  }
}
