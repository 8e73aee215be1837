// The Bridge: ports (any PortBackend), the receive/transmit loop in batches, ingress policing and
// egress channels, and the public control API (flows, groups, meters, port config, stats, trace).
// Per frame: rx -> ingress limiter -> flow key -> executor (cache, tables, actions, NORMAL) -> tx.
// Standalone by default: table 0 starts with one priority-0 match-all entry, actions=NORMAL;
// with `defaultNormal: false` (fail-mode secure) it starts empty and nothing moves until a flow says so.
import { FlowKey, K, ParseError } from '../packet/flow-key.js';
import { extractFlowKey, extractL2Key } from '../packet/extract.js';
import { Batch, MAX_BURST } from '../packet/batch.js';
import type { Packet } from '../packet/packet.js';
import { PacketPool } from '../packet/pool.js';
import { completeChecksum } from '../packet/complete-checksum.js';
import { egressVlanEdit } from '../vlan/tag.js';
import { GsoSegmenter } from '../packet/gso.js';
import type { PortBackend } from './port.js';
import type { Limiter } from '../qos/limiter.js';
import { admitWire } from '../qos/limiter.js';
import { OFPP } from '../flow/types.js';
import type { Action, FlowSpec, GroupSpec } from '../flow/types.js';
import { Pipeline, flowStats } from './pipeline.js';
import type { AggregateStats, FlowFilter, FlowMod, FlowStats, TableStats } from './pipeline.js';
import type { GroupCommand } from './groups.js';
import { compileActions } from './actions.js';
import { Executor } from './executor.js';
import type { ExecHost } from './executor.js';
import { CounterArena, DROP, DROP_NAMES, EXEC_COUNTER_NAMES, PC, PortCounters, dropsRecord } from './counters.js';
import { FlowModResult } from './results.js';
import type { FlowModResultCode } from './results.js';
import type { FlowEntry } from './flow-table.js';
import type { NormalPortInfo } from './normal.js';
import type { VlanPortConfig } from '../vlan/port-mode.js';
import { validateVlanPortConfig } from '../vlan/port-mode.js';
import { newTrace } from './trace.js';
import type { TraceResult } from './trace.js';

export interface PortConfig { down: boolean; noFlood: boolean; noForward: boolean; noRecv: boolean; noPacketIn: boolean }

export interface BridgeOptions {
  name: string;
  macTableSize?: number;   // default 8192
  macAgingS?: number;      // default 300
  tableCount?: number;     // default 255 (tables are created lazily)
  pool?: PacketPool;       // default: 4096 packets
  datapathId?: bigint;
  flowCacheSize?: number;  // default 16384; 0 disables the cache
  /** Clock reading (ms) at creation: the default NORMAL entry's install time (dump-flows duration). */
  startMs?: number;
  /**
   * true (default): table 0 starts with `priority=0 actions=NORMAL`, a MAC-learning switch. false: the
   * tables start empty and every frame is a table miss (dropped) until flows are added — Open vSwitch's
   * fail-mode secure, where a controller-managed bridge must not forward while it boots.
   */
  defaultNormal?: boolean;
  /** 'megaflow' (default): cache key = words some flow matches on; 'exact': all flow-key words. */
  flowCacheMode?: 'megaflow' | 'exact';
  /**
   * Keep the counters (exec, bridge drops, per-port traffic and drops) in this shared arena so
   * another thread reads them without asking (worker datapath). Default: private arrays.
   */
  counterArena?: CounterArena;
}

export interface AddPortOptions {
  ofport: number;
  name: string;
  backend: PortBackend;
  vlan?: VlanPortConfig;
  ingress?: Limiter | null;
  egress?: Limiter | null;
}

export interface PortInfo {
  ofport: number;
  name: string;
  backend: PortBackend;
  vlan?: VlanPortConfig;
  config: PortConfig;
  ingress: Limiter | null;
  egress: Limiter | null;
  /** Operational link state (setPortLinkState); false: no flooding or NORMAL output to it, tx counted as port-down. */
  linkUp: boolean;
}

export interface PortStats {
  'rx-packets': number; 'rx-bytes': number; 'tx-packets': number; 'tx-bytes': number;
  drops: Record<string, number>;
}

/** One port's datapath state. Shape fixed at construction. */
class PortState {
  readonly tx = new Batch(MAX_BURST);
  config: PortConfig = { down: false, noFlood: false, noForward: false, noRecv: false, noPacketIn: false };
  dirty = false;
  /** Cached config bits for the hot path. */
  down = false; noFlood = false; noForward = false; noRecv = false; noPacketIn = false;
  /** Operational link state (Bridge.setPortLinkState). */
  linkUp = true;
  /** down || !linkUp: nothing is sent to the port (flood, NORMAL, output, group liveness). */
  noTx = false;
  constructor(
    readonly counters: PortCounters,
    readonly ofport: number,
    readonly name: string,
    readonly backend: PortBackend,
    public vlan: VlanPortConfig | undefined,
    public ingress: Limiter | null,
    public egress: Limiter | null,
  ) {}
}

const DIRECT_PORTS = 4096;
// Flow-key word indices used per frame, as module constants (TurboFan folds these; K.X from the
// imported object is a load per access). Checked against K at load.
const W_VLAN_VID = 8;
if (K.VLAN_VID !== W_VLAN_VID) throw new Error('bridge.ts: VLAN_VID word out of step with K');
const W_IN_PORT = 0, W_METADATA_HI = 1, W_METADATA_LO = 2, W_TUNNEL_ID_HI = 36, W_TUNNEL_ID_LO = 37, W_TUN_IPV4_SRC = 38, W_TUN_IPV4_DST = 39;
if (K.IN_PORT !== W_IN_PORT || K.METADATA_HI !== W_METADATA_HI || K.METADATA_LO !== W_METADATA_LO || K.TUNNEL_ID_HI !== W_TUNNEL_ID_HI ||
  K.TUNNEL_ID_LO !== W_TUNNEL_ID_LO || K.TUN_IPV4_SRC !== W_TUN_IPV4_SRC || K.TUN_IPV4_DST !== W_TUN_IPV4_DST) throw new Error('bridge.ts: flow-key word indices out of step with K');
const EXPIRE_EVERY_MS = 1000;

export class Bridge implements ExecHost {
  readonly name: string;
  readonly datapathId: bigint;
  readonly pool: PacketPool;
  readonly pipeline: Pipeline;
  readonly exec: Executor;
  /** Bridge-wide drop counters (every port drop is also counted here), by DROP code. */
  readonly drops: Float64Array;
  private readonly arena: CounterArena | null;
  onPacketIn: ((pkt: Packet, reason: number, tableId: number, cookie: bigint, maxLen: number) => void) | null = null;
  onFlowRemoved: ((entry: FlowStats, reason: number) => void) | null = null;

  private list: PortState[] = [];
  private readonly direct: (PortState | null)[] = new Array<PortState | null>(DIRECT_PORTS).fill(null);
  private readonly far = new Map<number, PortState>();
  private readonly byName = new Map<string, PortState>();
  private readonly rx = new Batch(MAX_BURST);
  private readonly rxKey: FlowKey;
  /** Software GSO for egresses without offloads (flushSegmenting), and the batch it works from. */
  private readonly gso = new GsoSegmenter();
  private readonly gsoHeld = new Batch(MAX_BURST);
  private dirty: PortState[] = [];
  private dirtyCount = 0;
  private lastExpireMs = Number.NaN;
  private lastNowMs = 0;

  constructor(opts: BridgeOptions) {
    if (typeof opts?.name !== 'string' || opts.name === '') throw new TypeError('Bridge needs a name');
    this.name = opts.name;
    this.datapathId = opts.datapathId ?? 0n;
    this.pool = opts.pool ?? new PacketPool(4096);
    this.pipeline = new Pipeline(opts.tableCount ?? 255);
    const macAgingS = opts.macAgingS ?? 300;
    const cacheSize = opts.flowCacheSize ?? 16384;
    this.exec = new Executor(this.pipeline, this, this.pool, { macTableSize: opts.macTableSize ?? 8192, agingMs: macAgingS * 1000 }, cacheSize > 0 ? cacheSize : 16);
    this.exec.cacheEnabled = cacheSize > 0;
    this.exec.megaflow = opts.flowCacheMode !== 'exact';
    this.rxKey = this.exec.rxKey;
    // Counters in a shared arena are the same typed-array stores on the hot path; chosen here, once.
    this.arena = opts.counterArena ?? null;
    this.drops = this.arena?.drops ?? new Float64Array(DROP_NAMES.length);
    if (this.arena !== null) (this.exec as { counters: Float64Array }).counters = this.arena.exec;
    this.pipeline.onRemoved = (e, reason) => { if (this.onFlowRemoved !== null) this.onFlowRemoved(flowStats(e, this.lastNowMs), reason); };
    if (opts.defaultNormal !== false) {
      this.pipeline.flowMod({ command: 'add', spec: { tableId: 0, priority: 0, match: [], instructions: { applyActions: [{ type: 'output', port: OFPP.NORMAL }] }, cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 } }, opts.startMs ?? 0);
    }
  }

  // ------------------------------------------------------------------ ports

  private port(ofport: number): PortState | null {
    if (ofport >= 0 && ofport < DIRECT_PORTS) return this.direct[ofport];
    return this.far.get(ofport) ?? null;
  }

  addPort(p: AddPortOptions): void {
    if (!Number.isInteger(p.ofport) || p.ofport < 1 || p.ofport > OFPP.MAX) throw new RangeError(`Cannot add port "${p.name}": ofport ${p.ofport} is out of range 1-${OFPP.MAX}`);
    if (this.port(p.ofport) !== null) throw new RangeError(`Cannot add port "${p.name}": ofport ${p.ofport} is already in use`);
    if (this.byName.has(p.name)) throw new RangeError(`Cannot add port "${p.name}": the name is already in use`);
    if (p.vlan !== undefined) validateVlanPortConfig(p.vlan);
    const ps = new PortState(this.arena?.claim(p.ofport) ?? new PortCounters(), p.ofport, p.name, p.backend, p.vlan, p.ingress ?? null, p.egress ?? null);
    if (p.ofport < DIRECT_PORTS) this.direct[p.ofport] = ps; else this.far.set(p.ofport, ps);
    this.byName.set(p.name, ps);
    if ('countDrop' in p.backend) p.backend.countDrop = (code: number, n: number): void => { ps.counters.drops[code] += n; this.drops[code] += n; };
    this.list = [...this.list, ps].sort((a, b) => a.ofport - b.ofport);
    this.dirty = new Array<PortState>(this.list.length);
    this.syncNormal(ps);
    this.pipeline.bump();
  }

  removePort(ofport: number): void {
    const ps = this.port(ofport);
    if (ps === null) return;
    this.flush(ps, this.lastNowMs);
    if (ps.egress !== null) this.recycleQueued(ps.egress);
    if (ofport < DIRECT_PORTS) this.direct[ofport] = null; else this.far.delete(ofport);
    this.byName.delete(ps.name);
    this.arena?.release(ofport);
    this.list = this.list.filter((x) => x !== ps);
    this.dirtyCount = 0;
    this.dirty = new Array<PortState>(this.list.length);
    this.exec.normal.removePort(ofport);
    this.pipeline.bump();
  }

  private normalInfo(ps: PortState): NormalPortInfo {
    return { ofport: ps.ofport, vlan: ps.vlan ?? { mode: 'trunk' }, canFlood: !ps.noTx && !ps.noFlood, canForward: !ps.noTx && !ps.noForward, tunnel: ps.backend.tunnel === true };
  }
  private syncNormal(ps: PortState): void { this.exec.normal.setPort(this.normalInfo(ps)); }

  normalPorts(): NormalPortInfo[] { return this.list.map((ps) => this.normalInfo(ps)); }

  /** Swap a port's channel (atomic: the next frame sees it). Packets queued in a replaced shaper are sent as they are. */
  setPortLimiter(ofport: number, dir: 'ingress' | 'egress', l: Limiter | null): void {
    const ps = this.mustPort(ofport);
    if (dir === 'ingress') { ps.ingress = l; return; }
    const old = ps.egress;
    ps.egress = l;
    if (old !== null && old !== l) {
      if (old.flush !== undefined) for (const p of old.flush()) this.enqueueTx(ps, p, this.lastNowMs);
      this.flush(ps, this.lastNowMs);
    }
  }

  setPortVlan(ofport: number, vlan: VlanPortConfig | undefined): void {
    const ps = this.mustPort(ofport);
    if (vlan !== undefined) validateVlanPortConfig(vlan);
    ps.vlan = vlan;
    this.exec.normal.flushPort(ofport);
    this.syncNormal(ps);
    this.pipeline.bump();
  }

  /** PORT_MOD config bits. Unspecified bits keep their values. */
  setPortConfig(ofport: number, cfg: Partial<PortConfig>): void {
    const ps = this.mustPort(ofport);
    ps.config = { ...ps.config, ...Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) };
    ps.down = ps.config.down; ps.noFlood = ps.config.noFlood; ps.noForward = ps.config.noForward;
    ps.noRecv = ps.config.noRecv; ps.noPacketIn = ps.config.noPacketIn;
    ps.noTx = ps.down || !ps.linkUp;
    if (ps.down) this.exec.normal.flushPort(ofport);
    this.syncNormal(ps);
    this.pipeline.bump();
  }

  /**
   * Operational link state (carrier), separate from the administrative `down` config bit. A port
   * whose link is down gets nothing: it leaves FLOOD/ALL and NORMAL's output sets (its learned MACs
   * are flushed), group buckets watching it are not live, and frames sent to it count `port-down`.
   */
  setPortLinkState(ofport: number, up: boolean): void {
    const ps = this.mustPort(ofport);
    if (ps.linkUp === up) return;
    ps.linkUp = up;
    ps.noTx = ps.down || !up;
    if (!up) {
      this.exec.normal.flushPort(ofport);
      // frames already queued for it this poll are not sent
      const tx = ps.tx, n = tx.count;
      if (n > 0) {
        for (let i = 0; i < n; i++) this.pool.release(tx.pkts[i]);
        tx.count = 0;
        ps.counters.drops[DROP.PortDown] += n; this.drops[DROP.PortDown] += n;
      }
    }
    this.syncNormal(ps);
    this.pipeline.bump();
  }

  ports(): PortInfo[] {
    return this.list.map((ps) => ({ ofport: ps.ofport, name: ps.name, backend: ps.backend, vlan: ps.vlan, config: { ...ps.config }, ingress: ps.ingress, egress: ps.egress, linkUp: ps.linkUp }));
  }
  portByName(name: string): number | undefined { return this.byName.get(name)?.ofport; }
  portName(ofport: number): string { return this.port(ofport)?.name ?? ''; }

  private mustPort(ofport: number): PortState {
    const ps = this.port(ofport);
    if (ps === null) throw new RangeError(`No port ${ofport} on bridge "${this.name}"`);
    return ps;
  }

  // ------------------------------------------------------------------ ExecHost (hot path)

  portLive(ofport: number): boolean { const ps = this.port(ofport); return ps !== null && !ps.noTx; }

  floodPorts(inPort: number, all: boolean, out: Int32Array): number {
    const list = this.list;
    let n = 0;
    for (let i = 0; i < list.length && n < out.length; i++) {
      const ps = list[i];
      if (ps.ofport === inPort || ps.noTx || (!all && ps.noFlood)) continue;
      out[n++] = ps.ofport;
    }
    return n;
  }

  countDrop(ofport: number, code: number): void {
    this.drops[code]++;
    const ps = this.port(ofport);
    if (ps !== null) ps.counters.drops[code]++;
  }

  packetIn(pkt: Packet, reason: number, tableId: number, cookie: bigint, maxLen: number): boolean {
    const cb = this.onPacketIn;
    if (cb === null) return false;
    const ps = this.port(pkt.inPort);
    if (ps !== null && ps.noPacketIn) { this.countDrop(pkt.inPort, DROP.NoPacketIn); return true; }
    // A super-frame goes up as the frames a wire would carry: OpenFlow lengths are 16-bit, and a
    // controller's PACKET_OUT must not hand a 64 KiB frame to a port without offloads.
    if (pkt.gsoType !== 0 && this.packetInSegments(pkt, cb, reason, tableId, cookie, maxLen)) return true;
    // The controller gets complete checksums too (and a PACKET_OUT of these bytes stays correct).
    if (pkt.csumPartial && completeChecksum(pkt.buf, pkt.off, pkt.len) === 0) pkt.csumPartial = false;
    cb(pkt, reason, tableId, cookie, maxLen);
    return true;
  }

  /**
   * PACKET_IN of a GSO super-frame, one per segment (pool packets, recycled once the callback has
   * copied them); false when it is a single segment (the caller sends it as it is, offload fields
   * cleared). One that cannot be cut counts gso-failed on its ingress port.
   */
  private packetInSegments(pkt: Packet, cb: NonNullable<Bridge['onPacketIn']>, reason: number, tableId: number, cookie: bigint, maxLen: number): boolean {
    const seg = this.gso, pool = this.pool;
    const k = seg.begin(pkt);
    if (k === 0) { this.countDrop(pkt.inPort, DROP.GsoFailed); return true; }
    if (k === 1) { const partial = pkt.csumPartial; pkt.clearOffload(); pkt.csumPartial = partial; return false; }
    for (let j = 0; j < k; j++) {
      const q = pool.allocFor(seg.nextLen());
      if (q === null) { this.drops[DROP.PoolExhausted] += k - j; return true; }
      if (!seg.next(q)) { pool.release(q); return true; }
      cb(q, reason, tableId, cookie, maxLen);
      pool.release(q);
    }
    return true;
  }

  txQueue(pkt: Packet, ofport: number, nowMs: number): void {
    // The common case (a live port without an egress channel) is kept this small so V8 can inline
    // it into the standalone loop next to the L2 parse and the tag edit (it counts inlined bytecode
    // per function); everything else, limiters included, is txQueueChecked. Anything every frame
    // must meet before its tx batch belongs in both, or in flush().
    const ps = this.port(ofport);
    if (ps === null || ps.noTx || ps.noForward || ps.egress !== null) { this.txQueueChecked(pkt, ofport, nowMs); return; }
    this.enqueueTx(ps, pkt, nowMs);
  }

  /** txQueue() in full: unknown/down/no-forward ports, then the egress channel (police or shape). */
  private txQueueChecked(pkt: Packet, ofport: number, nowMs: number): void {
    const ps = this.port(ofport);
    if (ps === null) { this.drops[DROP.UnknownPort]++; this.pool.release(pkt); return; }
    if (ps.noTx) { this.countDrop(ofport, DROP.PortDown); this.pool.release(pkt); return; }
    if (ps.noForward) { this.countDrop(ofport, DROP.NoForward); this.pool.release(pkt); return; }
    const lim = ps.egress;
    if (lim !== null) {
      if (lim.shaping) {
        if (!lim.enqueue(pkt, nowMs)) { this.countDrop(ofport, DROP.ShaperQueueFull); this.pool.release(pkt); }
        return;
      }
      if (!admitWire(lim, pkt, nowMs)) { this.countDrop(ofport, DROP.EgressPoliced); this.pool.release(pkt); return; }
    }
    this.enqueueTx(ps, pkt, nowMs);
  }

  private enqueueTx(ps: PortState, pkt: Packet, nowMs: number): void {
    const tx = ps.tx;
    if (tx.count >= tx.pkts.length) this.flush(ps, nowMs);
    tx.pkts[tx.count++] = pkt;
    if (!ps.dirty) { ps.dirty = true; this.dirty[this.dirtyCount++] = ps; }
  }

  /**
   * Transmit a port's queued batch; recycle all. For a backend without offloads, GSO super-frames
   * are cut first (flushSegmenting) and partial checksums completed (a frame that cannot be is
   * dropped as csum-incomplete); a backend with offloads takes both as they are. What the backend
   * refuses counts as tx-too-big (over the device MTU) or tx-full (everything else).
   */
  private flush(ps: PortState, nowMs: number): void {
    const tx = ps.tx;
    const n = tx.count;
    if (n === 0) return;
    if (!ps.linkUp) {   // link went down with frames queued (e.g. a shaper releasing): port-down, not tx-full
      for (let i = 0; i < n; i++) this.pool.release(tx.pkts[i]);
      tx.count = 0;
      ps.counters.drops[DROP.PortDown] += n; this.drops[DROP.PortDown] += n;
      return;
    }
    const offloads = ps.backend.offloads === true;
    if (!offloads) {
      const pkts = tx.pkts;
      for (let i = 0; i < n; i++) if (pkts[i].gsoType !== 0) { this.flushSegmenting(ps, nowMs); return; }
    }
    this.transmit(ps, nowMs, offloads);
  }

  /**
   * flush() for a batch holding GSO super-frames bound to a port without offloads: each is cut
   * into segments from the pool (gso.ts) that are sent in its place, a batch at a time; one that
   * cannot be cut is dropped as gso-failed, segments the pool cannot supply as pool-exhausted.
   */
  private flushSegmenting(ps: PortState, nowMs: number): void {
    const tx = ps.tx, held = this.gsoHeld, seg = this.gso, pool = this.pool;
    const n = tx.count;
    for (let i = 0; i < n; i++) held.pkts[i] = tx.pkts[i];
    held.count = n;
    tx.count = 0;
    for (let i = 0; i < n; i++) {
      const p = held.pkts[i];
      if (p.gsoType === 0) { this.pushSegment(ps, p, nowMs); continue; }
      const k = seg.begin(p);
      if (k === 0) { this.countDrop(ps.ofport, DROP.GsoFailed); pool.release(p); continue; }
      if (k === 1) {   // no longer than one segment: send it as it is, checksum completed by transmit()
        const partial = p.csumPartial;
        p.clearOffload(); p.csumPartial = partial;
        this.pushSegment(ps, p, nowMs);
        continue;
      }
      for (let j = 0; j < k; j++) {
        const q = pool.allocFor(seg.nextLen());
        if (q === null) { ps.counters.drops[DROP.PoolExhausted] += k - j; this.drops[DROP.PoolExhausted] += k - j; break; }
        if (!seg.next(q)) { pool.release(q); this.countDrop(ps.ofport, DROP.GsoFailed); break; }   // cannot happen: allocFor fits nextLen
        this.pushSegment(ps, q, nowMs);
      }
      pool.release(p);
    }
    held.clear();
    if (tx.count > 0) this.transmit(ps, nowMs, false);
  }

  /** Append a frame to the port's batch being flushed, transmitting it first when full. */
  private pushSegment(ps: PortState, p: Packet, nowMs: number): void {
    const tx = ps.tx;
    if (tx.count >= tx.pkts.length) this.transmit(ps, nowMs, false);
    tx.pkts[tx.count++] = p;
  }

  /** Send the port's batch as it is (partial checksums completed unless `offloads`), count, recycle. */
  private transmit(ps: PortState, nowMs: number, offloads: boolean): void {
    const tx = ps.tx;
    let n = tx.count;
    const pkts = tx.pkts;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const p = pkts[i];
      p.tsMs = nowMs;
      if (p.csumPartial && !offloads) {
        if (completeChecksum(p.buf, p.off, p.len) !== 0) { this.pool.release(p); continue; }
        p.csumPartial = false;
      }
      if (kept !== i) pkts[kept] = p;   // close the gap of a dropped frame (no store otherwise)
      kept++;
    }
    if (kept < n) {
      ps.counters.drops[DROP.CsumIncomplete] += n - kept; this.drops[DROP.CsumIncomplete] += n - kept;
      tx.count = n = kept;
      if (n === 0) return;
    }
    const sent = ps.backend.send(tx);
    const c = ps.counters.traffic;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const p = pkts[i];
      if (i < sent) bytes += p.len;
      this.pool.release(p);
    }
    c[PC.TxPackets] += sent; c[PC.TxBytes] += bytes;
    if (sent < n) {
      let big = ps.backend.lastSendTooBig ?? 0;
      if (big > n - sent) big = n - sent;
      if (big > 0) { ps.counters.drops[DROP.TxTooBig] += big; this.drops[DROP.TxTooBig] += big; }
      let full = n - sent - big - (ps.backend.lastSendCounted ?? 0);
      if (full < 0) full = 0;
      ps.counters.drops[DROP.TxFull] += full; this.drops[DROP.TxFull] += full;
    }
    tx.count = 0;
  }

  private flushDirty(nowMs: number): void {
    const d = this.dirty;
    for (let i = 0; i < this.dirtyCount; i++) { const ps = d[i]; ps.dirty = false; this.flush(ps, nowMs); }
    this.dirtyCount = 0;
  }

  // ------------------------------------------------------------------ the loop

  /** One receive path step for one packet (ownership taken). */
  private receive(ps: PortState, pkt: Packet, nowMs: number): void {
    const len = pkt.len;
    const c = ps.counters.traffic;
    c[PC.RxPackets]++; c[PC.RxBytes] += len;
    pkt.inPort = ps.ofport;
    if (ps.noRecv) { this.dropRx(ps, pkt, DROP.NoRecv); return; }
    if (ps.down) { this.dropRx(ps, pkt, DROP.PortDown); return; }
    if (len < 14) { this.dropRx(ps, pkt, DROP.TooShort); return; }
    // ingress is always policing: a shaping limiter at ingress is used through admit() too
    const lim = ps.ingress;
    if (lim !== null && !admitWire(lim, pkt, nowMs)) { this.dropRx(ps, pkt, DROP.IngressPoliced); return; }
    const key = this.rxKey, w = key.w;
    w[W_IN_PORT] = ps.ofport; w[W_METADATA_HI] = 0; w[W_METADATA_LO] = 0;
    const tid = pkt.tunnelId;
    w[W_TUNNEL_ID_HI] = tid > 0xffffffff ? Math.floor(tid / 0x1_0000_0000) : 0; w[W_TUNNEL_ID_LO] = tid >>> 0;
    w[W_TUN_IPV4_SRC] = pkt.tunIpv4Src; w[W_TUN_IPV4_DST] = pkt.tunIpv4Dst;
    const exec = this.exec;
    const err = extractFlowKey(pkt.buf, pkt.off, len, key);
    if (err !== ParseError.None) {
      if (err === ParseError.TooShort) { this.dropRx(ps, pkt, DROP.TooShort); return; }
      if (err === ParseError.TruncatedVlan) { this.dropRx(ps, pkt, DROP.Malformed); return; }
      // truncated/bad L3/L4: classify on what was parsed (OVS does the same)
    }
    exec.process(pkt, key, nowMs);
  }

  /**
   * receive() for a whole batch of a standalone bridge (table 0 = the NORMAL entry only, checked once
   * per batch): the same counters and drops, with rx counters and the flow-table/cache bookkeeping
   * done once per batch (Executor.accountStandalone) and only the L2 words parsed per frame.
   */
  private receiveStandalone(ps: PortState, rx: Batch, e: FlowEntry, nowMs: number): void {
    const pkts = rx.pkts, n = rx.count, key = this.rxKey, exec = this.exec, lim = ps.ingress, inPort = ps.ofport;
    const normal = exec.normal, d = exec.decision, dPorts = d.ports, dTagged = d.tagged;
    const w = key.w;
    w[W_IN_PORT] = inPort;
    let rxBytes = 0, count = 0, bytes = 0;
    for (let j = 0; j < n; j++) {
      const pkt = pkts[j], len = pkt.len;
      rxBytes += len;
      pkt.inPort = inPort;
      if (len < 14) { this.dropRx(ps, pkt, DROP.TooShort); continue; }
      if (lim !== null && !admitWire(lim, pkt, nowMs)) { this.dropRx(ps, pkt, DROP.IngressPoliced); continue; }
      const e2 = extractL2Key(pkt.buf, pkt.off, len, key);
      if (e2 !== ParseError.None) { this.dropRx(ps, pkt, e2 === ParseError.TooShort ? DROP.TooShort : DROP.Malformed); continue; }
      count++; bytes += len;
      // NORMAL reads nothing beyond L2 (extractL2Key). One output (a learned unicast) leaves here:
      // the egress tag edit, then the port's tx batch; drops and floods go to the executor. V8
      // inlines extractL2Key, egressVlanEdit and txQueue's common case here; a push's 12-byte MAC
      // move stays a call (datapath README, "The hot path, once").
      normal.decide(inPort, key, nowMs, d);
      if (d.count === 1 && d.dropReason === 0) {
        const port = dPorts[0];
        if (egressVlanEdit(pkt, w[W_VLAN_VID] !== 0, dTagged[0], d.vid, d.pcp)) this.txQueue(pkt, port, nowMs);
        else { this.countDrop(port, DROP.ActionFailed); this.pool.release(pkt); }
        continue;
      }
      exec.normalDropOrFlood(pkt, nowMs);
    }
    const c = ps.counters.traffic;
    c[PC.RxPackets] += n; c[PC.RxBytes] += rxBytes;
    if (count > 0) exec.accountStandalone(e, key, count, bytes, nowMs);
  }

  private dropRx(ps: PortState, pkt: Packet, code: number): void {
    ps.counters.drops[code]++;
    this.drops[code]++;
    this.pool.release(pkt);
  }

  /**
   * One pass: receive a batch from every port and run it through the pipeline, transmit per-port
   * batches, release shaped packets that are due, and expire flows and MAC entries about once a
   * second of `nowMs`. Returns the number of frames received.
   */
  poll(nowMs: number): number {
    this.lastNowMs = nowMs;
    let total = 0;
    const list = this.list, rx = this.rx, pool = this.pool;
    for (let i = 0; i < list.length; i++) {
      const ps = list[i];
      rx.count = 0;
      const n = ps.backend.recv(rx, pool);
      if (n === 0) continue;
      total += n;
      const fast = ps.noRecv || ps.down ? null : this.exec.standaloneEntry();
      if (fast !== null) this.receiveStandalone(ps, rx, fast, nowMs);
      else for (let j = 0; j < rx.count; j++) this.receive(ps, rx.pkts[j], nowMs);
      rx.count = 0;
      this.flushDirty(nowMs);
    }
    this.drainShapers(nowMs);
    if (!(nowMs - this.lastExpireMs < EXPIRE_EVERY_MS)) this.expire(nowMs);
    return total;
  }

  private drainShapers(nowMs: number): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const ps = list[i], lim = ps.egress;
      if (lim === null) continue;
      // drain even a policing limiter: packets queued before a switch to police still leave
      while (lim.drain(nowMs, ps.tx) > 0) this.flush(ps, nowMs);
      this.flush(ps, nowMs);
    }
  }

  /** Earliest pending shaper release, or Infinity. */
  nextEventMs(nowMs: number): number {
    let t = Infinity;
    for (const ps of this.list) if (ps.egress !== null) { const r = ps.egress.nextReleaseMs(nowMs); if (r < t) t = r; }
    return t;
  }

  /** Flow timeouts (FLOW_REMOVED via onFlowRemoved for SEND_FLOW_REM flows) and MAC aging. */
  expire(nowMs: number): void {
    this.lastExpireMs = nowMs;
    this.lastNowMs = nowMs;
    this.pipeline.expire(nowMs);
    this.exec.normal.expire(nowMs);
  }

  private recycleQueued(lim: Limiter): void {
    if (lim.flush !== undefined) for (const p of lim.flush()) this.pool.release(p);
  }

  // ------------------------------------------------------------------ OpenFlow control

  flowMod(mod: FlowMod, nowMs: number): FlowModResultCode { this.lastNowMs = nowMs; return this.pipeline.flowMod(mod, nowMs); }
  addFlow(spec: FlowSpec, nowMs: number): FlowModResultCode { return this.flowMod({ command: 'add', spec }, nowMs); }
  dumpFlows(filter?: FlowFilter, nowMs: number = this.lastNowMs): FlowStats[] { return this.pipeline.dumpFlows(filter, nowMs); }
  aggregate(filter?: FlowFilter): AggregateStats { return this.pipeline.aggregate(filter); }
  tableStats(): TableStats[] { return this.pipeline.tableStats(); }

  groupMod(cmd: GroupCommand, g: GroupSpec): FlowModResultCode {
    try { return this.pipeline.groupMod(cmd, g, this.lastNowMs); } catch { return FlowModResult.BadGroupType; }
  }
  groups(): Array<{ spec: GroupSpec; packetCount: number; byteCount: number; durationS: number; buckets: Array<{ packetCount: number; byteCount: number }> }> {
    return [...this.pipeline.groups.groups.values()].sort((a, b) => a.groupId - b.groupId).map((g) => ({
      spec: g.spec, packetCount: g.packetCount, byteCount: g.byteCount, durationS: Math.max(0, (this.lastNowMs - g.createdMs) / 1000),
      buckets: g.buckets.map((b) => ({ packetCount: b.packetCount, byteCount: b.byteCount })),
    }));
  }

  setMeter(id: number, limiter: Limiter): void { this.pipeline.setMeter(id, limiter); }
  deleteMeter(id: number): number { return this.pipeline.deleteMeter(id); }
  meterFlowCount(id: number): number { return this.pipeline.meterFlowCount(id); }

  /** PACKET_OUT. Returns a FlowModResult code for invalid actions (nothing sent). */
  packetOut(frame: Uint8Array, inPort: number, actions: Action[], nowMs: number): FlowModResultCode {
    this.lastNowMs = nowMs;
    const list = compileActions(actions, { groupExists: (g) => this.pipeline.groups.groups.has(g), allowTable: true }, [], []);
    if (typeof list === 'number') return list;
    const pkt = this.pool.alloc();
    if (pkt === null) { this.drops[DROP.PoolExhausted]++; return FlowModResult.Ok; }
    if (!pkt.load(frame, 0, frame.length)) { this.pool.release(pkt); this.drops[DROP.Malformed]++; return FlowModResult.BadAction; }
    pkt.inPort = inPort >>> 0;
    pkt.tsMs = nowMs;
    this.exec.packetOut(pkt, list, nowMs);
    this.flushDirty(nowMs);
    return FlowModResult.Ok;
  }

  /** ofproto/trace: what would happen to `frame` arriving on `inPort`, with no side effects. */
  trace(frame: Uint8Array, inPort: number, nowMs: number): TraceResult {
    const tr = newTrace(inPort, frame.length);
    const ps = this.port(inPort);
    if (ps === null) { tr.drops.push('unknown-port'); tr.events.push({ kind: 'drop', reason: 'unknown-port' }); return tr; }
    if (frame.length < 14) { tr.drops.push('too-short'); tr.events.push({ kind: 'drop', reason: 'too-short' }); return tr; }
    if (ps.noRecv || ps.down) { const r = ps.noRecv ? 'no-recv' : 'port-down'; tr.drops.push(r); tr.events.push({ kind: 'drop', reason: r }); return tr; }
    const pkt = this.pool.alloc();
    if (pkt === null) { tr.drops.push('pool-exhausted'); return tr; }
    pkt.load(frame, 0, frame.length);
    pkt.inPort = inPort;
    if (ps.ingress !== null) tr.events.push({ kind: 'action', text: `ingress ${ps.ingress.describe?.() ?? 'channel'}: policing (not evaluated in trace)` });
    this.exec.trace(pkt, nowMs, tr);
    for (const o of tr.outputs) {
      const eg = this.port(o.port)?.egress ?? null;
      if (eg !== null) tr.events.push({ kind: 'action', text: `egress of port ${o.port}${o.name ? `(${o.name})` : ''}: ${eg.describe?.() ?? 'channel'}: ${eg.shaping ? 'shaping' : 'policing'} (not evaluated in trace)` });
    }
    if (tr.parseError === 'truncated-vlan' || tr.parseError === 'too-short') {
      tr.outputs.length = 0; tr.events.length = 0;
      const r = tr.parseError === 'too-short' ? 'too-short' : 'malformed';
      tr.drops = [r]; tr.events.push({ kind: 'drop', reason: r });
    }
    return tr;
  }

  // ------------------------------------------------------------------ stats

  portStats(ofport: number): PortStats {
    const ps = this.mustPort(ofport), t = ps.counters.traffic;
    return { 'rx-packets': t[PC.RxPackets], 'rx-bytes': t[PC.RxBytes], 'tx-packets': t[PC.TxPackets], 'tx-bytes': t[PC.TxBytes], drops: dropsRecord(ps.counters.drops) };
  }
  /** Bridge-wide non-zero drops and execution counters (cache hits/misses, copies, packet-ins). */
  stats(): { drops: Record<string, number>; exec: Record<string, number>; flowCacheEntries: number } {
    const exec: Record<string, number> = {};
    EXEC_COUNTER_NAMES.forEach((n, i) => { exec[n] = this.exec.counters[i]; });
    return { drops: dropsRecord(this.drops), exec, flowCacheEntries: this.exec.cache.size(this.pipeline.generation) };
  }
  fdb(): Array<{ vid: number; mac: number; ofport: number; ageS: number }> { return this.exec.normal.fdb(); }
}
