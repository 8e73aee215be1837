// The datapath as the control side (daemon, OpenFlow agent, management API, metrics) sees it:
// asynchronous changes and queries, answered in the order they were made, and events out. Two
// implementations: InlineDatapath (the DatapathCore in this thread; tests, memory ports, and
// `datapath.threads: 0` / SLUICE_DATAPATH_THREADS=0) and WorkerDatapath (worker-datapath.ts: the
// core in a worker thread, so forwarding never waits for the control plane and back).
import type { Logger } from 'pino';
import pino from 'pino';
import type { PortConfig } from './config.js';
import { DatapathCore } from './datapath-core.js';
import type { DatapathEvents, DatapathStats, FdbEntry, GroupView, MeterCounters, PortAttach, PortDetail, PortLive, ChannelMemberView } from './datapath-core.js';
import type { Bridge, PortConfig as PortBits, PortStats } from '../datapath/bridge.js';
import type { AggregateStats, FlowFilter, FlowMod, FlowStats, TableStats } from '../datapath/pipeline.js';
import type { GroupCommand } from '../datapath/groups.js';
import type { FlowModResultCode } from '../datapath/results.js';
import type { PortStatusEvent } from '../datapath/ports/io-counters.js';
import type { Action, GroupSpec } from '../flow/types.js';
import type { VlanPortConfig } from '../vlan/port-mode.js';
import { ChannelRegistry } from '../qos/channel.js';
import type { ChannelCounters, ChannelSpec } from '../qos/channel.js';
import type { MeterBandSpec } from '../qos/meter.js';

export type { DatapathEvents, DatapathStats, FdbEntry, GroupView, MeterCounters, PortAttach, PortDetail, PortLive, ChannelMemberView };

export type PacketInListener = DatapathEvents['packetIn'];
export type FlowRemovedListener = DatapathEvents['flowRemoved'];
export type PortStatusListener = (name: string, ev: PortStatusEvent) => void;

export interface DatapathHandle {
  readonly mode: 'inline' | 'worker';
  readonly name: string;
  readonly datapathId: bigint;
  /** PACKET_IN and FLOW_REMOVED go here (the OpenFlow agent); null: frames for the controller count `no-controller`. */
  onPacketIn: PacketInListener | null;
  onFlowRemoved: FlowRemovedListener | null;
  /** A port's link changed (the datapath already acted on it). */
  onPortStatus: PortStatusListener | null;

  /** The ports, as of the last change made through this handle (synchronous: no round trip). */
  ports(): PortLive[];
  portByName(name: string): number | undefined;
  portName(ofport: number): string;

  /** Open the configured ports (all or nothing; PortOpenError names the port), then start the loop. */
  openAll(): Promise<void>;
  start(): Promise<void>;
  /** Stop the loop and close every port. */
  stop(): Promise<void>;
  openPort(p: PortConfig): Promise<void>;
  attachPort(a: PortAttach): Promise<void>;
  closePort(name: string): Promise<void>;
  /** Close a port opened with openPort that was never attached. */
  discardPort(name: string): Promise<void>;

  setChannel(name: string, spec: ChannelSpec, nowMs: number): Promise<void>;
  deleteChannel(name: string): Promise<void>;
  setPortVlan(ofport: number, vlan: VlanPortConfig | undefined): Promise<void>;
  setPortChannel(ofport: number, dir: 'ingress' | 'egress', channel: string | null): Promise<void>;
  setPortConfig(ofport: number, cfg: Partial<PortBits>): Promise<void>;
  flowMod(mod: FlowMod, nowMs: number): Promise<FlowModResultCode>;
  groupMod(cmd: GroupCommand, g: GroupSpec): Promise<FlowModResultCode>;
  setMeter(id: number, flags: number, bands: MeterBandSpec[], nowMs: number): Promise<void>;
  deleteMeter(id: number): Promise<void>;
  packetOut(frame: Uint8Array, inPort: number, actions: Action[], nowMs: number): Promise<FlowModResultCode>;
  /** Poll once soon (after changes that may release frames). */
  runPass(): void;
  /** Resolves once every change made before it is applied (OpenFlow BARRIER). */
  sync(): Promise<void>;

  dumpFlows(filter?: FlowFilter, nowMs?: number): Promise<FlowStats[]>;
  aggregate(filter?: FlowFilter): Promise<AggregateStats>;
  tableStats(): Promise<TableStats[]>;
  groups(): Promise<GroupView[]>;
  meterCounters(ids: number[]): Promise<Array<MeterCounters | null>>;
  portStats(): Promise<Array<{ ofport: number; stats: PortStats }>>;
  portDetails(): Promise<PortDetail[]>;
  channelCounters(): Promise<Array<{ name: string; shaping: boolean; counters: ChannelCounters; member?: ChannelMemberView }>>;
  stats(): Promise<DatapathStats>;
  fdb(): Promise<FdbEntry[]>;
  /**
   * The counters as they are now, read without asking the datapath (a worker's live in a
   * SharedArrayBuffer): per port (of the ports this handle knows), bridge drops, exec counters.
   * A port without counters (arena full) is left out; `complete` says whether any was.
   */
  countersNow(): CountersNow;
  /** True while changes wait in this thread for the datapath to take them (a worker's ring is full). */
  readonly backlogged: boolean;
  /** Run `cb` once nothing waits (now, if nothing does). */
  whenWritable(cb: () => void): void;
}

export interface CountersNow { ports: Array<{ ofport: number; stats: PortStats }>; drops: Record<string, number>; exec: Record<string, number>; complete: boolean }

const now = (): number => performance.timeOrigin + performance.now();

/** The DatapathCore in this thread: every change is applied before the call returns (the promise is already settled). */
export class InlineDatapath implements DatapathHandle {
  readonly mode = 'inline' as const;
  private packetInCb: PacketInListener | null = null;
  private flowRemovedCb: FlowRemovedListener | null = null;
  onPortStatus: PortStatusListener | null = null;

  constructor(readonly core: DatapathCore) {
    core.events = {
      packetIn: (data, totalLen, inPort, reason, tableId, cookie, tunnelId, tunSrc) => this.packetInCb?.(data, totalLen, inPort, reason, tableId, cookie, tunnelId, tunSrc),
      flowRemoved: (st, reason) => this.flowRemovedCb?.(st, reason),
      portStatus: (name, ev) => this.onPortStatus?.(name, ev),
    };
  }

  /** A bare Bridge (tests, tools) as a handle: no backends of its own, loop not started. */
  static wrap(bridge: Bridge, log: Logger = pino({ level: 'silent' })): InlineDatapath {
    return new InlineDatapath(new DatapathCore(bridge, new ChannelRegistry(), () => { throw new Error('this datapath opens no ports'); }, log));
  }

  get bridge(): Bridge { return this.core.bridge; }
  get name(): string { return this.core.name; }
  get datapathId(): bigint { return this.core.datapathId; }
  get onPacketIn(): PacketInListener | null { return this.packetInCb; }
  set onPacketIn(cb: PacketInListener | null) { this.packetInCb = cb; this.core.listen(cb !== null || this.flowRemovedCb !== null); }
  get onFlowRemoved(): FlowRemovedListener | null { return this.flowRemovedCb; }
  set onFlowRemoved(cb: FlowRemovedListener | null) { this.flowRemovedCb = cb; this.core.listen(cb !== null || this.packetInCb !== null); }

  ports(): PortLive[] { return this.core.ports(); }
  portByName(name: string): number | undefined { return this.core.bridge.portByName(name); }
  portName(ofport: number): string { return this.core.bridge.portName(ofport); }

  openAll(): Promise<void> { return this.core.openAll(); }
  async start(): Promise<void> { this.core.start(); }
  stop(): Promise<void> { return this.core.stop(); }
  openPort(p: PortConfig): Promise<void> { return this.core.openPort(p); }
  attachPort(a: PortAttach): Promise<void> { return settle(() => this.core.attachPort(a)); }
  closePort(name: string): Promise<void> { return this.core.closePort(name); }
  discardPort(name: string): Promise<void> { return this.core.discardPort(name); }

  setChannel(name: string, spec: ChannelSpec, nowMs: number): Promise<void> { return settle(() => this.core.setChannel(name, spec, nowMs)); }
  deleteChannel(name: string): Promise<void> { return settle(() => this.core.deleteChannel(name)); }
  setPortVlan(ofport: number, vlan: VlanPortConfig | undefined): Promise<void> { return settle(() => this.core.setPortVlan(ofport, vlan)); }
  setPortChannel(ofport: number, dir: 'ingress' | 'egress', channel: string | null): Promise<void> { return settle(() => this.core.setPortChannel(ofport, dir, channel)); }
  setPortConfig(ofport: number, cfg: Partial<PortBits>): Promise<void> { return settle(() => this.core.setPortConfig(ofport, cfg)); }
  flowMod(mod: FlowMod, nowMs: number): Promise<FlowModResultCode> { return settle(() => this.core.flowMod(mod, nowMs)); }
  groupMod(cmd: GroupCommand, g: GroupSpec): Promise<FlowModResultCode> { return settle(() => this.core.groupMod(cmd, g)); }
  setMeter(id: number, flags: number, bands: MeterBandSpec[], nowMs: number): Promise<void> { return settle(() => this.core.setMeter(id, flags, bands, nowMs)); }
  deleteMeter(id: number): Promise<void> { return settle(() => this.core.deleteMeter(id)); }
  packetOut(frame: Uint8Array, inPort: number, actions: Action[], nowMs: number): Promise<FlowModResultCode> { return settle(() => this.core.packetOut(frame, inPort, actions, nowMs)); }
  runPass(): void { this.core.runPass(); }
  sync(): Promise<void> { return Promise.resolve(); }

  dumpFlows(filter?: FlowFilter, nowMs: number = now()): Promise<FlowStats[]> { return settle(() => this.core.dumpFlows(filter, nowMs)); }
  aggregate(filter?: FlowFilter): Promise<AggregateStats> { return settle(() => this.core.aggregate(filter)); }
  tableStats(): Promise<TableStats[]> { return settle(() => this.core.tableStats()); }
  groups(): Promise<GroupView[]> { return settle(() => this.core.groups()); }
  meterCounters(ids: number[]): Promise<Array<MeterCounters | null>> { return settle(() => this.core.meterCounters(ids)); }
  portStats(): Promise<Array<{ ofport: number; stats: PortStats }>> { return settle(() => this.core.portStats()); }
  portDetails(): Promise<PortDetail[]> { return settle(() => this.core.portDetails()); }
  channelCounters(): Promise<Array<{ name: string; shaping: boolean; counters: ChannelCounters; member?: ChannelMemberView }>> { return settle(() => this.core.channelCounters()); }
  stats(): Promise<DatapathStats> { return settle(() => this.core.stats()); }
  fdb(): Promise<FdbEntry[]> { return settle(() => this.core.fdb()); }
  readonly backlogged = false;
  whenWritable(cb: () => void): void { cb(); }
  countersNow(): CountersNow {
    const s = this.core.bridge.stats();
    return { ports: this.core.portStats(), drops: s.drops, exec: s.exec, complete: true };
  }
}

/** Run `fn` now (so the change is applied before the caller goes on) and settle a promise with its outcome. */
function settle<T>(fn: () => T): Promise<T> {
  try { return Promise.resolve(fn()); } catch (e) { return Promise.reject(e); }
}

/** True for a DatapathHandle (as opposed to a bare Bridge). */
export function isDatapathHandle(x: unknown): x is DatapathHandle {
  return typeof x === 'object' && x !== null && 'mode' in x && ((x as { mode: unknown }).mode === 'inline' || (x as { mode: unknown }).mode === 'worker');
}
