// WorkerDatapath: the DatapathHandle of a datapath running in a worker thread (datapath-worker.ts).
// Calls are sequence-numbered records in a preallocated SharedArrayBuffer ring (shared-ring.ts,
// v8-serialized), taken by the worker in order between its poll passes, a bounded amount per pass,
// and settle in order; BARRIER is a call that settles after every earlier one. A message on the
// port only wakes an idle worker (the Pending flag: one doorbell until the worker looks). A full
// ring never drops: calls wait here in order (`backlogged`, the OpenFlow sessions pause their
// sockets) until the worker posts that it freed space. The port list is mirrored here (changed only through this
// handle, plus link events), so the OpenFlow agent validates port numbers without a round trip.
// PACKET_INs in flight are bounded (worker-protocol.ts SHARED), the excess counted.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { PortConfig, SluiceConfig } from './config.js';
import { derivedDatapathId } from './build.js';
import { PortOpenError } from './datapath-core.js';
import type { ChannelMemberView } from './datapath-core.js';
import type { CountersNow, DatapathHandle, DatapathStats, FdbEntry, FlowRemovedListener, GroupView, MeterCounters, PacketInListener, PortAttach, PortDetail, PortLive, PortStatusListener } from './datapath-handle.js';
import { CounterArena, PC, dropsRecord } from '../datapath/counters.js';
import { serialize } from 'node:v8';
import { SharedRing } from './shared-ring.js';
import { SHARED, type Call, type Reply, type ToControl, type WorkerInit } from './worker-protocol.js';
import type { PortConfig as PortBits, PortStats } from '../datapath/bridge.js';
import type { AggregateStats, FlowFilter, FlowMod, FlowStats, TableStats } from '../datapath/pipeline.js';
import type { GroupCommand } from '../datapath/groups.js';
import type { FlowModResultCode } from '../datapath/results.js';
import type { Action, GroupSpec } from '../flow/types.js';
import type { VlanPortConfig } from '../vlan/port-mode.js';
import type { ChannelCounters, ChannelSpec } from '../qos/channel.js';
import type { MeterBandSpec } from '../qos/meter.js';

/** PACKET_INs the worker may have posted and this thread not yet taken (Open vSwitch's pinsched queue bound is 100 per port). */
export const PACKET_IN_MAX = 1024;
/** Bytes of the control -> worker ring (a FLOW_MOD is ~350 bytes serialized: a 10k burst fits). */
export const RING_BYTES = 4 << 20;
/** Ports whose counters live in the shared arena (the rest, if ever, are read with a round trip). */
export const COUNTER_ARENA_PORTS = 1024;
const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const now = (): number => performance.timeOrigin + performance.now();
const defaultBits = (): PortBits => ({ down: false, noFlood: false, noForward: false, noRecv: false, noPacketIn: false });

/** Start the worker: the compiled .js next to this file, or (running from the TypeScript sources) the .ts through tsx. */
function spawn(init: WorkerInit): Worker {
  const js = new URL('./datapath-worker.js', import.meta.url);
  const transferList = [init.port];
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: init, transferList });
  const ts = new URL('./datapath-worker.ts', import.meta.url);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); })`;
  return new Worker(boot, { eval: true, workerData: init, transferList });
}

export class WorkerDatapath implements DatapathHandle {
  readonly mode = 'worker' as const;
  readonly name: string;
  readonly datapathId: bigint;
  onPortStatus: PortStatusListener | null = null;
  private packetInCb: PacketInListener | null = null;
  private flowRemovedCb: FlowRemovedListener | null = null;
  private readonly worker: Worker;
  /** This thread's end of the control channel. */
  private readonly port: MessagePort;
  private readonly shared = new Int32Array(new SharedArrayBuffer(SHARED.LENGTH * 4));
  /** The bridge's counters, written in place by the worker (counters.ts CounterArena): read here without a message. */
  private readonly arena = new CounterArena(COUNTER_ARENA_PORTS);
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly ring: SharedRing;
  /** Serialized calls that did not fit in the ring, in order (written once the worker frees space). */
  private overflow: Uint8Array[] = [];
  private overflowHead = 0;
  private readonly writable: Array<() => void> = [];
  private nextId = 1;
  private mirror: PortLive[];
  private dead: Error | null = null;
  private readonly ready: Promise<void>;

  /** `onFatal`: the worker died while running (a bug): the switch no longer forwards; the daemon's owner decides (the CLI exits 1). */
  /** `ringBytes`: size of the call ring (tests make it small to exercise a full ring). */
  constructor(config: SluiceConfig, bridgeName: string, private readonly log: Logger, private readonly onFatal?: (err: Error) => void, ringBytes = RING_BYTES) {
    this.ring = new SharedRing(ringBytes);
    const bc = config.bridges[bridgeName];
    this.name = bridgeName;
    this.datapathId = bc.datapathId !== undefined ? BigInt(`0x${bc.datapathId}`) : derivedDatapathId(bridgeName);
    this.mirror = Object.values(bc.ports).sort((a, b) => a.ofport - b.ofport).map((p) => ({ ofport: p.ofport, name: p.name, config: defaultBits(), linkUp: true }));
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = spawn({ config, bridge: bridgeName, logLevel: log.level, shared: this.shared.buffer as SharedArrayBuffer, counters: this.arena.buffer, ring: this.ring.buffer, packetInMax: PACKET_IN_MAX, port: port2 });
    let started!: () => void;
    this.ready = new Promise<void>((r) => { started = r; });
    port1.on('message', (m: ToControl) => { if (m.t === 'ready') started(); else this.onMessage(m); });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the datapath worker exited (code ${code})`)));
  }

  /** PACKET_INs dropped because the control thread was behind (counter). */
  get packetInDropped(): number { return Atomics.load(this.shared, SHARED.PacketInDropped); }

  private fail(err: Error): void {
    if (this.dead !== null) return;
    this.dead = err;
    if (Atomics.load(this.shared, SHARED.Stopped) !== 1) {
      this.log.error({ err: err.message }, 'datapath worker failed; forwarding stopped');
      this.onFatal?.(err);
    }
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onMessage(m: ToControl): void {
    switch (m.t) {
      case 'replies': for (const r of m.r) this.settle(r); return;
      case 'space': this.flushOverflow(); return;
      case 'pin':
        Atomics.sub(this.shared, SHARED.PacketInInFlight, 1);
        this.packetInCb?.(m.data, m.totalLen, m.inPort, m.reason, m.tableId, m.cookie, m.tunnelId, m.tunSrc);
        return;
      case 'frem': this.flowRemovedCb?.(m.st, m.reason); return;
      case 'port': {
        const p = this.mirror.find((x) => x.name === m.name);
        if (p) { p.linkUp = m.ev.up && !m.ev.gone; p.gone = m.ev.gone; }
        this.onPortStatus?.(m.name, m.ev);
        return;
      }
      case 'log': this.relog(m.line); return;
      default:
    }
  }

  /** A worker log line through this thread's logger (the worker has no destination of its own). */
  private relog(line: string): void {
    let rec: Record<string, unknown>;
    try { rec = JSON.parse(line) as Record<string, unknown>; } catch { return; }
    const { level, msg, ...rest } = rec;
    const lvl = LEVELS[level as number] ?? 'info';
    this.log[lvl]({ ...rest, thread: 'datapath' }, typeof msg === 'string' ? msg : '');
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (p === undefined) return;
    this.pending.delete(r.id);
    if (r.e === undefined) { p.resolve(r.v); return; }
    if (r.e.name === 'PortOpenError') p.reject(new PortOpenError(r.e.port ?? '?', r.e.device ?? '?', r.e.reason ?? r.e.message));
    else { const e = new Error(r.e.message); e.name = r.e.name; p.reject(e); }
  }

  /** Queue a call (sent with the others of this turn); resolves with its result, in call order. */
  private call<T>(m: string, a: unknown[]): Promise<T> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => { this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }); });
    this.push({ id, m, a });
    return p;
  }

  /** A call nobody waits for (errors are logged by the worker). */
  private notify(m: string, a: unknown[]): void {
    if (this.dead === null) this.push({ id: 0, m, a });
  }

  /** True while calls wait here for room in the ring (callers that can, hold further input: whenWritable). */
  get backlogged(): boolean { return this.overflowHead < this.overflow.length; }

  /** Run `cb` once the ring has taken every waiting call (now, if none waits). */
  whenWritable(cb: () => void): void {
    if (!this.backlogged) cb(); else this.writable.push(cb);
  }

  private push(c: Call): void {
    const rec = serialize(c);
    if (this.backlogged || !this.ring.tryWrite(rec)) {
      this.overflow.push(rec);
      this.flushOverflow();
      return;
    }
    this.doorbell();
  }

  /** Wake the worker if it has not been told yet (it clears Pending before it reads the ring). */
  private doorbell(): void {
    if (Atomics.exchange(this.shared, SHARED.Pending, 1) === 0) this.port.postMessage(0);
  }

  /**
   * Write waiting calls while the ring takes them. When it is full, RingWaiting asks the worker to
   * post 'space' once it has freed some; the write is tried once more after raising the flag, in case
   * the worker freed space before it could see the flag (no lost wake-up).
   */
  private flushOverflow(): void {
    if (this.dead !== null) return;
    for (;;) {
      const before = this.overflowHead;
      while (this.overflowHead < this.overflow.length && this.ring.tryWrite(this.overflow[this.overflowHead])) this.overflowHead++;
      if (this.overflowHead > before) this.doorbell();
      if (!this.backlogged) break;
      Atomics.store(this.shared, SHARED.RingWaiting, 1);
      if (!this.ring.tryWrite(this.overflow[this.overflowHead])) return;
      this.overflowHead++;
      this.doorbell();
    }
    this.overflow = []; this.overflowHead = 0;
    // Not from inside the call that made room (a session's turn): each waiting input resumes on its own.
    for (const cb of this.writable.splice(0)) queueMicrotask(cb);
  }

  get onPacketIn(): PacketInListener | null { return this.packetInCb; }
  set onPacketIn(cb: PacketInListener | null) { this.packetInCb = cb; this.notify('listen', [cb !== null || this.flowRemovedCb !== null]); }
  get onFlowRemoved(): FlowRemovedListener | null { return this.flowRemovedCb; }
  set onFlowRemoved(cb: FlowRemovedListener | null) { this.flowRemovedCb = cb; this.notify('listen', [cb !== null || this.packetInCb !== null]); }

  ports(): PortLive[] { return this.mirror.map((p) => ({ ...p, config: { ...p.config } })); }
  portByName(name: string): number | undefined { return this.mirror.find((p) => p.name === name)?.ofport; }
  portName(ofport: number): string { return this.mirror.find((p) => p.ofport === ofport)?.name ?? ''; }

  async openAll(): Promise<void> { await this.ready; return this.call('openAll', []); }
  start(): Promise<void> { return this.call('start', []); }
  async stop(): Promise<void> {
    if (this.dead === null) await this.call('stop', []).catch(() => undefined);
    this.dead ??= new Error('the datapath is stopped');
    this.port.close();
    await this.worker.terminate();
  }
  openPort(p: PortConfig): Promise<void> { return this.call('openPort', [p]); }
  attachPort(a: PortAttach): Promise<void> {
    this.mirror = [...this.mirror.filter((p) => p.name !== a.name), { ofport: a.ofport, name: a.name, config: defaultBits(), linkUp: true }].sort((x, y) => x.ofport - y.ofport);
    return this.call('attachPort', [a]);
  }
  closePort(name: string): Promise<void> {
    this.mirror = this.mirror.filter((p) => p.name !== name);
    return this.call('closePort', [name]);
  }
  discardPort(name: string): Promise<void> { return this.call('discardPort', [name]); }

  setChannel(name: string, spec: ChannelSpec, nowMs: number): Promise<void> { return this.call('setChannel', [name, spec, nowMs]); }
  deleteChannel(name: string): Promise<void> { return this.call('deleteChannel', [name]); }
  setPortVlan(ofport: number, vlan: VlanPortConfig | undefined): Promise<void> { return this.call('setPortVlan', [ofport, vlan]); }
  setPortChannel(ofport: number, dir: 'ingress' | 'egress', channel: string | null): Promise<void> { return this.call('setPortChannel', [ofport, dir, channel]); }
  setPortConfig(ofport: number, cfg: Partial<PortBits>): Promise<void> {
    const p = this.mirror.find((x) => x.ofport === ofport);
    if (p) for (const [k, v] of Object.entries(cfg)) if (v !== undefined) p.config[k as keyof PortBits] = v;
    return this.call('setPortConfig', [ofport, cfg]);
  }
  flowMod(mod: FlowMod, nowMs: number): Promise<FlowModResultCode> { return this.call('flowMod', [mod, nowMs]); }
  groupMod(cmd: GroupCommand, g: GroupSpec): Promise<FlowModResultCode> { return this.call('groupMod', [cmd, g]); }
  setMeter(id: number, flags: number, bands: MeterBandSpec[], nowMs: number): Promise<void> { return this.call('setMeter', [id, flags, bands, nowMs]); }
  deleteMeter(id: number): Promise<void> { return this.call('deleteMeter', [id]); }
  packetOut(frame: Uint8Array, inPort: number, actions: Action[], nowMs: number): Promise<FlowModResultCode> {
    // A copy of just the frame: cloning a view would copy the whole buffer it sits in (a socket chunk).
    return this.call('packetOut', [new Uint8Array(frame), inPort, actions, nowMs]);
  }
  runPass(): void { this.notify('runPass', []); }
  sync(): Promise<void> { return this.call('sync', []); }

  dumpFlows(filter?: FlowFilter, nowMs: number = now()): Promise<FlowStats[]> { return this.call('dumpFlows', [filter, nowMs]); }
  aggregate(filter?: FlowFilter): Promise<AggregateStats> { return this.call('aggregate', [filter]); }
  tableStats(): Promise<TableStats[]> { return this.call('tableStats', []); }
  groups(): Promise<GroupView[]> { return this.call('groups', []); }
  meterCounters(ids: number[]): Promise<Array<MeterCounters | null>> { return this.call('meterCounters', [ids]); }
  portStats(): Promise<Array<{ ofport: number; stats: PortStats }>> {
    const c = this.countersNow();
    return c.complete ? Promise.resolve(c.ports) : this.call('portStats', []);
  }
  portDetails(): Promise<PortDetail[]> { return this.call('portDetails', []); }
  channelCounters(): Promise<Array<{ name: string; shaping: boolean; counters: ChannelCounters; member?: ChannelMemberView }>> { return this.call('channelCounters', []); }
  async stats(): Promise<DatapathStats> {
    const s = await this.call<DatapathStats>('stats', []);
    s.exec['packet-in-dropped'] = this.packetInDropped;
    return s;
  }
  countersNow(): CountersNow {
    const ports: CountersNow['ports'] = [];
    let complete = true;
    for (const p of this.mirror) {
      const pc = this.arena.port(p.ofport);
      if (pc === null) { complete = false; continue; }
      const t = pc.traffic;
      ports.push({ ofport: p.ofport, stats: { 'rx-packets': t[PC.RxPackets], 'rx-bytes': t[PC.RxBytes], 'tx-packets': t[PC.TxPackets], 'tx-bytes': t[PC.TxBytes], drops: dropsRecord(pc.drops) } });
    }
    const exec = this.arena.execRecord();
    exec['packet-in-dropped'] = this.packetInDropped;
    return { ports, drops: dropsRecord(this.arena.drops), exec, complete };
  }
  fdb(): Promise<FdbEntry[]> { return this.call('fdb', []); }
}
