// The controller daemon's core: owns the intent and its store, the OpenFlow sessions of every
// switch, MAC learning, LLDP topology and the event hub. Every intent change is validated whole,
// made durable, then pushed by the reconciler to every connected switch; the northbound API and
// the CLI sit on top of this. It never touches a switch except over OpenFlow.
import { createServer as createTcpServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { OFPMF, OFPM_ALL, OFPP, OFPPR, OFPPS, OFPRR, OFP_NO_BUFFER } from '../openflow/index.js';
import type { FlowRemoved, MultipartReplyBody, OfpMessage, PacketIn, Port, PortStatus } from '../openflow/index.js';
import { formatMac } from '../packet/flow-key.js';
import { ETH_TYPE_LLDP } from '../packet/lldp.js';
import { parseRate, formatRate } from '../qos/units.js';
import { Category, categoryOf, isOurs } from './cookies.js';
import { PRIO, TABLE, banFlow, carriers, compile, flowKey, learnedFlows, learnedValid, meterFor } from './compile.js';
import type { Carriers, CompileContext, Desired, LearnedMac, MeterSpec, SwitchView, TunnelEndpoint } from './compile.js';
import { parseIpv4 } from '../packet/flow-key.js';
import { diff, planSize } from './diff.js';
import type { Change, Installed } from './diff.js';
import { formatFlow, formatGroup } from '../flow/syntax.js';
import { EventHub } from './events.js';
import { diffIntent, isEmptyDiff } from './intent.js';
import type { Channel, Intent, IntentDiff } from './intent.js';
import { changeMessage, readInstalled, sendChanges } from './reconciler.js';
import { MeterRates } from './meter-rates.js';
import type { MeterRate } from './meter-rates.js';
import { ChannelSplitter } from './split.js';
import type { SplitInput } from './split.js';
import type { ApplyReport } from './reconciler.js';
import type { FlowSpec } from '../flow/types.js';
import { SwitchSession } from './session.js';
import type { SwitchHello } from './session.js';
import { FileStateStore } from './store.js';
import type { ControllerState, LeaderElection, StateStore } from './store.js';
import { hostname } from 'node:os';
import { Topology, linkKey, lldpProbe, probeOrigin } from './topology.js';
import type { Endpoint } from './topology.js';

export interface ControllerOptions {
  /** State directory (intent, meter ids, generation, links; the API token lives here too). */
  stateDir: string;
  /** OpenFlow listener: "ptcp:PORT[:IP]" or "pssl:PORT[:IP]" (default ptcp:6653:127.0.0.1). */
  openflow?: string;
  /** TLS material for pssl: PEM file paths; the CA verifies switch certificates (mutual TLS). */
  tls?: { cert: string; key: string; ca: string };
  log: Logger;
  /** Periodic reconcile of every connected switch (default 30 s; 0 = only on events). */
  reconcileIntervalMs?: number;
  /** LLDP probe period on every port (default 2 s); a link unheard for 3 periods is gone. */
  lldpIntervalMs?: number;
  /** Idle timeout of learned MAC entries, seconds (default 300, as NORMAL's aging). */
  macAgingS?: number;
  /** Learning PACKET_INs a port may cause per second before its learning pauses (default 200). */
  learnRatePerPort?: number;
  /** How long a port's learning pauses when it exceeds the rate, seconds (default 5). */
  learnBanS?: number;
  /**
   * How often each channel's rate is measured (meter stats of the switches carrying it) and
   * published as a `channel-rate` sample (default 500 ms; 0: never). Switches are asked only while
   * someone follows the samples (GET /events?rates=true).
   */
  rateIntervalMs?: number;
  /**
   * How often channels spread over several switches are re-split by measured demand (default 100 ms;
   * 0: never, each keeps the part it was first given).
   */
  splitIntervalMs?: number;
  /** Another store (tests, EtcdStateStore for several controllers); default a FileStateStore in stateDir. */
  store?: StateStore;
  /**
   * Tunnel endpoints of switches that do not announce theirs (Open vSwitch): switch name (dp_desc
   * or datapath id) -> its VXLAN port (remote_ip=flow, key=flow) and underlay IPv4 address. Sluice
   * switches announce theirs in their description (`vtep=PORT@ADDRESS`).
   */
  tunnels?: Record<string, { port: string; vtep: string }>;
  /** Shared stores (etcd): lease TTL of the leader election, seconds (default 2). */
  leaseTtlS?: number;
  /** Shared stores: this controller's name in the election (default hostname/pid). */
  id?: string;
}

/** A channel as the operator sees it: its total and the share each switch gets. */
export interface ChannelView {
  name: string;
  rate: string;
  burst?: string;
  meterId: number;
  attachments: number;
  min?: string;
  split?: 'demand' | 'even';
  /**
   * Per switch carrying the channel: the rate of its meter there (the whole rate on a channel's only
   * switch; else its part, by demand or even) and, split by demand, what it offered when last measured.
   */
  shares: { switch: string; rate: string; connected: boolean; demand?: string }[];
}

/** What one re-split round did (`resplit()`), for benchmarks and logs. */
export interface SplitRound { channels: number; switches: number; meterMods: number; readMs: number; sendMs: number }

export interface ReconcileSummary {
  switch: string;
  dpid: string;
  ok: boolean;
  flowMods: number;
  groupMods: number;
  meterMods: number;
  errors: string[];
  /** Learned MACs adopted from what the switch held (a restarted controller keeps them). */
  adopted: number;
  ms: number;
  at: string;
}

/** What a change did: the intent diff and, per switch, what the reconcile sent. */
export interface ChangeResult {
  intent: Intent;
  diff: IntentDiff;
  applied: boolean;
  switches: ReconcileSummary[];
}

export interface PortInfo { name: string; number: number; up: boolean; role: 'access' | 'trunk' | 'blocked' | 'unused'; network?: string; peer?: string }
export interface SwitchInfo {
  name: string;
  dpid: string;
  connected: boolean;
  peer: string | null;
  /** The OpenFlow role the switch granted this controller (null: none, or not connected). */
  role: 'master' | 'slave' | null;
  ports: PortInfo[];
  learnedMacs: number;
  /** Its VXLAN tunnel port and endpoint address (connected switches that have one), or null. */
  tunnel: { port: string; vtep: string } | null;
  lastReconcile: ReconcileSummary | null;
}
export interface TopologyView {
  switches: { name: string; dpid: string; connected: boolean }[];
  links: { a: { switch: string; dpid: string; port: number; portName: string }; b: { switch: string; dpid: string; port: number; portName: string }; blocked: boolean }[];
}

interface SwitchEntry {
  sess: SwitchSession;
  hello: SwitchHello;
  name: string;
  ports: Map<number, Port>;
  learned: Map<string, LearnedMac>;
  /** Port -> ms when its learning ban ends. */
  bans: Map<number, number>;
  /** Port -> token bucket for learning PACKET_INs. */
  learnTokens: Map<number, { tokens: number; lastMs: number }>;
  queue: Promise<unknown>;
  lastReconcile: ReconcileSummary | null;
  /** Bumped on every port change (PORT_STATUS). */
  portsVersion: number;
  carry: { intent: Intent; topo: number; ports: number; value: Carriers } | null;
  /** What the switch holds as far as we know (after our last successful reconcile and learning since), or null. */
  installed: Desired | null;
  /** This switch's labelled metric children, bound once. */
  counters: { learnIns: Counter.Internal; lldpIns: Counter.Internal; flowMods: Counter.Internal };
}

/** One channel's sums over the switches read in one sampling round (reused round after round). */
interface RateAcc {
  name: string; unit: 'bit' | 'pkt'; limit: number; bytesIn: number; bytesPassed: number; packetsIn: number; packetsPassed: number; switches: number; intervalMs: number;
  /** Per switch read this round: its meter's part, what passed and what was offered (the channel's unit per second). */
  parts: { switch: string; limit: number; rate: number; offered: number }[];
}

const learnKey = (vid: number, mac: bigint): string => `${vid}/${mac.toString(16)}`;
/** The learned entry a learned-source or learned-destination flow belongs to, or null. */
function learnedFlowKey(f: { cookie: bigint; match: { field: string; value: bigint }[] }): string | null {
  const cat = isOurs(f.cookie) ? categoryOf(f.cookie) : 0;
  if (cat !== Category.LEARNED_SRC && cat !== Category.LEARNED_DST) return null;
  const vid = f.match.find((m) => m.field === 'vlan_vid')?.value;
  const mac = f.match.find((m) => m.field === (cat === Category.LEARNED_SRC ? 'eth_src' : 'eth_dst'))?.value;
  return vid === undefined || mac === undefined ? null : learnKey(Number(vid & 0xfffn), mac);
}
const macText = (mac: bigint): string => formatMac(Number(mac));
/** Parts of a channel are whole meter units: kbit/s (OFPMF_KBPS) or packets/s. */
const shareStep = (unit: 'bit' | 'pkt'): number => (unit === 'bit' ? 1000 : 1);

export class Controller {
  readonly events = new EventHub();
  readonly registry = new Registry();
  readonly log: Logger;
  private state!: ControllerState;
  private readonly store: StateStore;
  private changeQueue: Promise<unknown> = Promise.resolve();
  private readonly switchesByDpid = new Map<string, SwitchEntry>();
  /** Switches seen since start that are not connected now (for `sluice switches`). */
  private readonly absent = new Map<string, { name: string; ports: Port[]; lastReconcile: ReconcileSummary | null }>();
  private topo!: Topology;
  private server: Server | null = null;
  private timers: NodeJS.Timeout[] = [];
  private topoTimer: NodeJS.Timeout | null = null;
  /** Bumped whenever the links change (cached carriers depend on it). */
  private topoVersion = 0;
  /** Signs our LLDP probes (a new one each start: probes from before a restart are not ours). */
  private readonly probeKey = randomBytes(32);
  private stopping = false;
  private readonly metrics;
  /** The meter stats read last from each switch (channel rates are their deltas). */
  private readonly meterReadings = new MeterRates();
  /** Channel accumulators by meter id, rebuilt only when the intent changes. */
  private rateAccs: { intent: Intent; meterIds: Record<string, number>; byMeter: Map<number, RateAcc> } | null = null;
  private sampling = false;
  /** Channels over several switches: each switch's part, re-split from their meter stats. */
  private readonly splitter = new ChannelSplitter();
  private readonly splitReadings = new MeterRates();
  private splitting = false;
  /** When a follower last read the parts from the meters (performance.now()). */
  private partsReadAt = Number.NEGATIVE_INFINITY;
  /** Shared stores: the election; null with a state file (one controller, always the leader). */
  private election: LeaderElection | null = null;
  /** Only the leader programs switches, learns, probes links and saves them. */
  private leading = true;
  /** The generation id we claim MASTER with. */
  private gen = 0n;

  protected constructor(readonly opts: ControllerOptions) {
    this.log = opts.log;
    this.store = opts.store ?? new FileStateStore(opts.stateDir);
    const r = this.registry;
    this.metrics = {
      connected: new Gauge({ name: 'sluice_controller_switches_connected', help: 'Switches with an OpenFlow session', registers: [r] }),
      mods: new Counter({ name: 'sluice_controller_mods_sent_total', help: 'FLOW_MOD, GROUP_MOD and METER_MOD messages sent', labelNames: ['switch', 'type'], registers: [r] }),
      packetIns: new Counter({ name: 'sluice_controller_packet_ins_total', help: 'PACKET_IN messages received', labelNames: ['switch', 'kind'], registers: [r] }),
      learned: new Gauge({
        name: 'sluice_controller_learned_macs', help: 'MAC entries installed from learning', labelNames: ['switch'], registers: [r],
        collect: () => { for (const e of this.switchesByDpid.values()) this.metrics.learned.set({ switch: e.name }, e.learned.size); },
      }),
      reconciles: new Counter({ name: 'sluice_controller_reconciles_total', help: 'Reconciles run', labelNames: ['switch', 'result'], registers: [r] }),
      learnBans: new Counter({ name: 'sluice_controller_learn_bans_total', help: 'Ports whose learning was paused by the PACKET_IN rate limit', labelNames: ['switch'], registers: [r] }),
      resplitSeconds: new Histogram({
        name: 'sluice_controller_resplit_seconds', help: 'Time to send the METER_MODs of a channel re-split round, barriers included (rounds that changed something)',
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], registers: [r],
      }),
      leader: new Gauge({ name: 'sluice_controller_leader', help: '1 while this controller leads (OpenFlow MASTER), 0 while it follows (SLAVE)', registers: [r], collect: () => { this.metrics.leader.set(this.leading ? 1 : 0); } }),
    };
  }

  static async start(opts: ControllerOptions): Promise<Controller> {
    const c = new Controller(opts);
    try {
      await c.init();
    } catch (err) {
      // Let go of what was taken (the store's connections, the election, the listener).
      await c.stop().catch(() => undefined);
      throw err;
    }
    return c;
  }

  private async init(): Promise<void> {
    const loaded = await this.store.load();
    if (this.store.shared === true) {
      // Several controllers: the generation id is the election's; we follow until elected.
      this.state = loaded;
      this.topo = new Topology(this.state.links);
      this.leading = false;
      this.log.info({ store: this.store.where, networks: this.state.intent.networks.length, attachments: this.state.intent.attachments.length }, 'intent loaded');
      await this.store.watch?.(() => this.onStoreChanged(), (err) => this.log.error({ err: err.message }, 'watching the store failed'));
      const ttlS = this.opts.leaseTtlS ?? 2;
      const el = this.store.election!(this.opts.id ?? `${hostname()}/${process.pid}`, ttlS, this.log);
      this.election = el;
      el.on('elected', (gen) => this.onElected(gen));
      el.on('follower', (gen) => this.onFollower(gen));
      await el.start();
    } else {
      // A new generation id for the MASTER role: larger than any earlier instance used.
      const generation = (BigInt(loaded.generation) + 1n).toString();
      this.state = { ...loaded, generation };
      this.gen = BigInt(generation);
      await this.store.save(this.state);
      this.topo = new Topology(this.state.links);
      this.log.info({ store: this.store.where, networks: this.state.intent.networks.length, attachments: this.state.intent.attachments.length, generation }, 'intent loaded');
    }
    await this.listen(this.opts.openflow ?? 'ptcp:6653:127.0.0.1');
    const lldpMs = this.opts.lldpIntervalMs ?? 2000;
    this.every(lldpMs, () => this.probeLinks(lldpMs));
    const recMs = this.opts.reconcileIntervalMs ?? 30_000;
    if (recMs > 0) this.every(recMs, () => { this.reconcile().catch((err: Error) => this.log.error({ err: err.message }, 'periodic reconcile failed')); });
    const rateMs = this.opts.rateIntervalMs ?? 500;
    if (rateMs > 0) this.every(rateMs, () => this.sampleRates());
    const splitMs = this.opts.splitIntervalMs ?? 100;
    if (splitMs > 0) this.every(splitMs, () => { this.resplit().catch((err: Error) => this.log.error({ err: err.message }, 're-split failed')); });
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  get intent(): Intent { return this.state.intent; }
  get generation(): bigint { return this.gen; }
  /** Whether this controller leads (always, with a state file). */
  get isLeader(): boolean { return this.leading; }

  // ------------------------------------------------------------------------------------------
  // Several controllers (a shared store)

  /** What a new session claims: MASTER as the leader, SLAVE with the leader's generation id otherwise. */
  private claim(): { role: 'master' | 'slave'; generationId: bigint } | null {
    if (this.leading) return { role: 'master', generationId: this.gen };
    const g = this.election?.leaderGeneration ?? null;
    return g === null ? null : { role: 'slave', generationId: g };
  }

  /** Another controller changed the document: take it (the leader also reconciles the switches). */
  private onStoreChanged(): void {
    const run = async (): Promise<void> => {
      const before = this.state.intent;
      this.takeLoaded(await this.store.load());
      const d = diffIntent(before, this.state.intent);
      if (isEmptyDiff(d)) return;
      this.events.emitEvent({ type: 'intent-changed', diff: d });
      if (this.leading) for (const e of this.switchesByDpid.values()) this.reconcileSoon(e);
    };
    const p = this.changeQueue.then(run, run);
    this.changeQueue = p.catch((err: Error) => this.log.error({ err: err.message }, 'reading the changed intent failed'));
  }

  private takeLoaded(s: ControllerState): void {
    this.state = s;
    // Links are the leader's to hear and save; a follower takes them from the store.
    if (!this.leading) { this.topo = new Topology(s.links); this.topoVersion++; }
  }

  private onElected(gen: bigint): void {
    this.log.info({ generation: gen.toString() }, 'elected leader: taking the MASTER role');
    const run = async (): Promise<void> => {
      // The intent as the store has it now: every change any controller had acknowledged.
      this.takeLoaded(await this.store.load());
      if (!this.election?.isLeader) return;
      this.gen = gen;
      // What a follower saw of the parts may be a second old: take them from the meters instead.
      this.splitter.clear();
      this.leading = true;
      const entries = [...this.switchesByDpid.values()];
      await Promise.all(entries.map(async (e) => {
        try { await e.sess.claimRole('master', gen); } catch (err) {
          this.log.error({ switch: e.name, err: (err as Error).message }, 'MASTER role refused');
          e.sess.close('MASTER role refused');
        }
      }));
      if (!this.leading) return;
      this.events.emitEvent({ type: 'leader-elected', generation: gen.toString() });
      // Read back what each switch holds and send only the difference (nothing for unchanged intent).
      for (const e of entries) if (!e.sess.closed) this.reconcileSwitch(e, 'read').catch((err: Error) => this.log.error({ switch: e.name, err: err.message }, 'reconcile failed'));
    };
    const p = this.changeQueue.then(run, run);
    this.changeQueue = p.catch((err: Error) => this.log.error({ err: err.message }, 'taking the lead failed'));
  }

  private onFollower(leaderGen: bigint | null): void {
    if (this.leading) {
      this.log.warn({ leader: leaderGen?.toString() ?? 'unknown' }, 'not the leader any more: sending nothing to the switches');
      this.events.emitEvent({ type: 'leader-lost', leader: leaderGen?.toString() ?? null });
    } else this.log.info({ leader: leaderGen?.toString() ?? 'unknown' }, 'following');
    this.leading = false;
    // The leader splits channels now; should we lead again, we adopt what the meters hold then.
    this.splitter.clear();
    this.splitReadings.clear();
    if (leaderGen === null) return;
    for (const e of this.switchesByDpid.values()) {
      if (e.sess.role === 'slave') continue;
      e.sess.claimRole('slave', leaderGen).catch((err: Error) => this.log.info({ switch: e.name, err: err.message }, 'SLAVE role not granted'));
    }
  }

  /** Where the OpenFlow listener is bound (port 0 in the options picks a free one). */
  openflowAddress(): { address: string; port: number } {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new Error('the OpenFlow listener is not bound');
    return { address: a.address, port: a.port };
  }

  // ------------------------------------------------------------------------------------------
  // Intent changes

  /**
   * Apply `mutate` to the current intent (it throws IntentError to refuse). Changes are queued:
   * each sees the result of the one before. With `dryRun` nothing is stored or sent. Resolves once
   * the change is durable and every connected switch has answered a barrier after its reconcile.
   */
  change(mutate: (i: Intent) => Intent, opts: { dryRun?: boolean } = {}): Promise<ChangeResult> {
    if (this.store.shared === true) return this.changeShared(mutate, opts);
    const run = async (): Promise<ChangeResult> => {
      const before = this.state.intent;
      const after = mutate(before);
      const d = diffIntent(before, after);
      if (opts.dryRun || isEmptyDiff(d)) return { intent: opts.dryRun ? after : before, diff: d, applied: false, switches: [] };
      const meterIds = assignMeterIds(after, this.state.meterIds);
      const prev = this.state;
      // The state file is written and fsync'd while the switches are changed; the change is
      // acknowledged only once both are done. A change that is never acknowledged (the controller
      // dies first) may already be on some switches: the next instance reconciles them back to
      // what the file holds, so only acknowledged intent survives, and all of it does.
      const saved = this.store.save({ ...prev, intent: after, meterIds, links: this.topo.records() });
      this.state = { ...prev, intent: after, meterIds };
      const pushed = Promise.all([...this.switchesByDpid.values()].map((e) => this.reconcileSwitch(e, 'known')));
      try {
        await saved;
      } catch (err) {
        // Not durable: take the change back everywhere before refusing it.
        await pushed;
        this.state = { ...this.state, intent: prev.intent, meterIds: prev.meterIds };
        await Promise.all([...this.switchesByDpid.values()].map((e) => this.reconcileSwitch(e, 'known')));
        throw err;
      }
      const switches = await pushed;
      this.announce(d, after);
      return { intent: after, diff: d, applied: true, switches };
    };
    const p = this.changeQueue.then(run, run);
    this.changeQueue = p.catch(() => undefined);
    return p;
  }

  /** Tell the event stream about an applied change: the diff, and each channel whose rate or burst changed. */
  private announce(d: ReturnType<typeof diffIntent>, after: Intent): void {
    this.events.emitEvent({ type: 'intent-changed', diff: d });
    for (const name of d.channels.changed) {
      const c = after.channels.find((x) => x.name === name)!;
      this.events.emitEvent(c.burst === undefined ? { type: 'channel-changed', channel: name, rate: c.rate } : { type: 'channel-changed', channel: name, rate: c.rate, burst: c.burst });
    }
  }

  /**
   * A change with a shared store, on any controller: written to the store by compare-and-swap
   * (another controller's write in between: read it and apply `mutate` again on top), acknowledged
   * once the store committed it; the leader then reconciles (a follower's change reaches the
   * switches through the leader, which watches the store).
   */
  private changeShared(mutate: (i: Intent) => Intent, opts: { dryRun?: boolean }): Promise<ChangeResult> {
    const run = async (): Promise<ChangeResult> => {
      for (let attempt = 1; ; attempt++) {
        const before = this.state.intent;
        const after = mutate(before);
        const d = diffIntent(before, after);
        if (opts.dryRun || isEmptyDiff(d)) return { intent: opts.dryRun ? after : before, diff: d, applied: false, switches: [] };
        const next: ControllerState = { ...this.state, intent: after, meterIds: assignMeterIds(after, this.state.meterIds), links: this.leading ? this.topo.records() : this.state.links };
        try {
          await this.store.save(next);
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'stale-state' || attempt >= 10) throw err;
          this.takeLoaded(await this.store.load());
          continue;
        }
        this.state = next;
        const switches = this.leading ? await Promise.all([...this.switchesByDpid.values()].map((e) => this.reconcileSwitch(e, 'known'))) : [];
        this.announce(d, after);
        return { intent: after, diff: d, applied: true, switches };
      }
    };
    const p = this.changeQueue.then(run, run);
    this.changeQueue = p.catch(() => undefined);
    return p;
  }

  // ------------------------------------------------------------------------------------------
  // Channel rates

  /**
   * One sampling round: read every connected switch's meter stats (one OFPMP_METER multipart each,
   * in parallel), turn each meter's counters into rates over the switch's own interval (its meter
   * duration), sum them per channel and publish one `channel-rate` sample per channel measured.
   * Nothing is asked while nobody listens, and a round never overlaps the one before.
   */
  private sampleRates(): void {
    if (!this.events.hasSampleListeners) { this.meterReadings.clear(); return; }
    if (this.sampling || this.switchesByDpid.size === 0) return;
    const accs = this.rateAccumulators();
    if (accs.size === 0) return;
    this.sampling = true;
    const parts = this.currentParts();
    this.meterReadings.retain((dpid) => this.switchesByDpid.has(dpid));
    void this.readMeters(this.meterReadings, this.switchesByDpid, (id) => accs.has(id), (dpid, e, id, r) => {
      const acc = accs.get(id)!;
      acc.bytesIn += r.bytesIn; acc.bytesPassed += r.bytesPassed; acc.packetsIn += r.packetsIn; acc.packetsPassed += r.packetsPassed;
      acc.switches++;
      const bits = acc.unit === 'bit';
      acc.parts.push({ switch: e.name, limit: parts.get(acc.name)?.get(dpid) ?? acc.limit, rate: bits ? r.bytesPassed * 8 : r.packetsPassed, offered: bits ? r.bytesIn * 8 : r.packetsIn });
      if (r.intervalMs > acc.intervalMs) acc.intervalMs = r.intervalMs;
    }).then(() => {
      this.sampling = false;
      if (this.stopping) return;
      const at = new Date().toISOString();
      for (const a of accs.values()) {
        if (a.switches > 0) {
          const bits = a.unit === 'bit';
          this.events.emitSample({
            type: 'channel-rate', channel: a.name, unit: a.unit,
            rate: bits ? a.bytesPassed * 8 : a.packetsPassed, offered: bits ? a.bytesIn * 8 : a.packetsIn, limit: a.limit,
            bytesPerSec: a.bytesPassed, packetsPerSec: a.packetsPassed, switches: a.switches, intervalMs: Math.round(a.intervalMs), at,
            parts: a.parts.sort((x, y) => (x.switch < y.switch ? -1 : x.switch > y.switch ? 1 : 0)),
          });
        }
        a.parts = [];
        a.bytesIn = 0; a.bytesPassed = 0; a.packetsIn = 0; a.packetsPassed = 0; a.switches = 0; a.intervalMs = 0;
      }
    });
  }

  /**
   * Read the meter stats of `targets` (one OFPMP_METER multipart each, in parallel) into `readings`;
   * `each` gets the rates of every wanted meter that was read before. A switch that does not answer
   * is left out of this round.
   */
  private readMeters(readings: MeterRates, targets: ReadonlyMap<string, SwitchEntry>, wanted: (meterId: number) => boolean,
    each: (dpid: string, e: SwitchEntry, meterId: number, r: MeterRate) => void): Promise<void> {
    return Promise.all([...targets].map(([dpid, e]) => e.sess.multipart({ kind: 'meter', meterId: OFPM_ALL }).then(
      (bodies) => readings.take(dpid, bodies, performance.now(), wanted, (id, r) => each(dpid, e, id, r)),
      (err: Error) => { if (this.log.isLevelEnabled('debug')) this.log.debug({ switch: e.name, err: err.message }, 'meter stats not read'); },
    ))).then(() => undefined);
  }

  /** Accumulators by meter id for the channels of the current intent (rebuilt when it changes). */
  private rateAccumulators(): Map<number, RateAcc> {
    const r = this.rateAccs;
    if (r !== null && r.intent === this.state.intent && r.meterIds === this.state.meterIds) return r.byMeter;
    const byMeter = new Map<number, RateAcc>();
    for (const c of this.state.intent.channels) {
      const id = this.state.meterIds[c.name];
      if (id === undefined) continue;
      const rate = parseRate(c.rate);
      byMeter.set(id, { name: c.name, unit: rate.unit, limit: rate.perSec, bytesIn: 0, bytesPassed: 0, packetsIn: 0, packetsPassed: 0, switches: 0, intervalMs: 0, parts: [] });
    }
    this.rateAccs = { intent: this.state.intent, meterIds: this.state.meterIds, byMeter };
    return byMeter;
  }

  // ------------------------------------------------------------------------------------------
  // Channels over several switches

  /**
   * Channels whose attachments sit on two or more switches, with those switches (keys: datapath id
   * once known, else the name in the intent; sorted) and each one's weight (its attachments).
   */
  private spreadChannels(): Map<string, { channel: Channel; members: string[]; weights: Map<string, number> }> {
    const out = new Map<string, { channel: Channel; members: string[]; weights: Map<string, number> }>();
    const byName = new Map(this.state.intent.channels.map((c) => [c.name, c]));
    for (const a of this.state.intent.attachments) {
      if (a.channel === undefined) continue;
      let s = out.get(a.channel);
      if (s === undefined) { s = { channel: byName.get(a.channel)!, members: [], weights: new Map() }; out.set(a.channel, s); }
      const sw = this.switchKey(a.switch);
      s.weights.set(sw, (s.weights.get(sw) ?? 0) + 1);
    }
    for (const [name, s] of out) {
      if (s.weights.size < 2) out.delete(name);
      else s.members = [...s.weights.keys()].sort();
    }
    return out;
  }

  /** Channels over several switches: each switch's part now (by dpid), as its meter holds it. */
  private currentParts(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const [name, s] of this.spreadChannels()) {
      const rate = parseRate(s.channel.rate).perSec;
      const split = s.channel.split === 'even' ? undefined : this.splitter.sharesOf(name);
      out.set(name, new Map(s.members.map((sw) => [sw, split?.get(sw)?.share ?? rate / s.members.length])));
    }
    return out;
  }

  /** One switch named two ways in the intent (dp_desc, datapath id) is one switch. */
  private switchKey(name: string): string {
    const e = this.findSwitch(name);
    if (e !== null) return e.hello.dpidHex;
    if (this.absent.has(name.toLowerCase())) return name.toLowerCase();
    for (const [dpid, a] of this.absent) if (a.name === name) return dpid;
    return name;
  }

  /** The part of each spread channel that switch `e` polices (channels on it alone: absent, the whole rate). */
  private sharesFor(e: SwitchEntry): Map<string, number> {
    const out = new Map<string, number>();
    const me = e.hello.dpidHex;
    for (const [name, s] of this.spreadChannels()) {
      if (!s.weights.has(me)) continue;
      const rate = parseRate(s.channel.rate);
      out.set(name, s.channel.split === 'even' ? rate.perSec / s.members.length : this.splitter.shareOf(name, rate.perSec, shareStep(rate.unit), s.members, me));
    }
    return out;
  }

  /**
   * A switch read back (connect, restart, failover): the parts its meters hold for channels split by
   * demand are taken as they are, so a new controller sends nothing until demand moves them.
   */
  private adoptShares(e: SwitchEntry, meters: readonly MeterSpec[]): void {
    const me = e.hello.dpidHex;
    for (const [name, s] of this.spreadChannels()) {
      if (s.channel.split === 'even' || !s.weights.has(me)) continue;
      const part = this.partHeld(s.channel, meters.find((x) => x.meterId === this.state.meterIds[name]));
      const rate = parseRate(s.channel.rate);
      if (part !== null) this.splitter.adopt(name, rate.perSec, shareStep(rate.unit), s.members, me, part);
    }
  }

  /**
   * One re-split round: read the meter stats of every connected switch carrying a channel split by
   * demand (in parallel), water-fill each such channel's rate over its switches, and send METER_MOD
   * MODIFY where a part moved by more than 1 %: every decrease first, then (after their barriers) the
   * increases, so the sum never runs above the channel's rate. Only the leader does this; a round
   * never overlaps the one before (null: nothing to do, or a round still running).
   */
  async resplit(): Promise<SplitRound | null> {
    if (this.splitting || this.stopping || this.switchesByDpid.size === 0) return null;
    if (!this.leading) { await this.followParts(); return null; }
    const spread = this.spreadChannels();
    const byMeter = new Map<number, string>();
    const targets = new Map<string, SwitchEntry>();
    for (const [name, s] of spread) {
      if (s.channel.split === 'even') { spread.delete(name); continue; }
      byMeter.set(this.state.meterIds[name]!, name);
      for (const sw of s.members) { const e = this.switchesByDpid.get(sw); if (e !== undefined) targets.set(sw, e); }
    }
    this.splitter.retain(new Set(spread.keys()));
    this.splitReadings.retain((dpid) => targets.has(dpid));
    if (targets.size === 0) return null;
    this.splitting = true;
    try {
      const t0 = performance.now();
      const measured = new Map<string, Map<string, { offered: number; passed: number; intervalMs: number }>>();
      await this.readMeters(this.splitReadings, targets, (id) => byMeter.has(id), (dpid, _e, id, r) => {
        const name = byMeter.get(id)!;
        const bits = parseRate(spread.get(name)!.channel.rate).unit === 'bit';
        (measured.get(name) ?? measured.set(name, new Map()).get(name)!).set(dpid, bits ? { offered: r.bytesIn * 8, passed: r.bytesPassed * 8, intervalMs: r.intervalMs } : { offered: r.packetsIn, passed: r.packetsPassed, intervalMs: r.intervalMs });
      });
      const t1 = performance.now();
      if (!this.leading || this.stopping) return null;
      const down = new Map<SwitchEntry, Change[]>(), up = new Map<SwitchEntry, Change[]>();
      let mods = 0;
      for (const [name, s] of spread) {
        const rate = parseRate(s.channel.rate);
        const min = s.channel.min === undefined ? 0 : parseRate(s.channel.min).perSec;
        const m = measured.get(name);
        const step = shareStep(rate.unit);
        const inputs: SplitInput[] = s.members.map((sw) => {
          const r = m?.get(sw);
          // The bucket its meter has for its current part (as installed: burst in kbit or packets).
          const band = meterFor(0, s.channel.rate, s.channel.burst, this.splitter.shareOf(name, rate.perSec, step, s.members, sw)).bands[0]!;
          const depth = rate.unit === 'pkt' ? band.burstSize : band.burstSize * 1000;
          return { sw, weight: s.weights.get(sw)!, min, measured: r !== undefined, offered: r?.offered ?? 0, passed: r?.passed ?? 0, burstRate: r === undefined ? 0 : (depth * 1000) / r.intervalMs };
        });
        for (const c of this.splitter.round(name, rate.perSec, step, inputs)) {
          const e = this.switchesByDpid.get(c.sw);
          if (e === undefined) continue;
          const to = c.to < c.from ? down : up;
          (to.get(e) ?? to.set(e, []).get(e)!).push({ kind: 'meter', op: 'modify', meter: meterFor(this.state.meterIds[name]!, s.channel.rate, s.channel.burst, c.to) });
          mods++;
        }
      }
      await Promise.all([...down].map(([e, cs]) => this.sendMeterMods(e, cs)));
      await Promise.all([...up].map(([e, cs]) => this.sendMeterMods(e, cs)));
      const t2 = performance.now();
      if (mods > 0) this.metrics.resplitSeconds.observe((t2 - t1) / 1000);
      return { channels: spread.size, switches: targets.size, meterMods: mods, readMs: t1 - t0, sendMs: t2 - t1 };
    } finally {
      this.splitting = false;
    }
  }

  /**
   * A follower shows the parts the leader set: once a second it reads the meters (meter_config, a
   * read a SLAVE may make) of the switches carrying channels split by demand.
   */
  private async followParts(): Promise<void> {
    const now = performance.now();
    if (now - this.partsReadAt < 1000) return;
    this.partsReadAt = now;
    this.splitting = true;
    try {
      const spread = [...this.spreadChannels()].filter(([, s]) => s.channel.split !== 'even');
      const reads = new Map<string, Promise<MeterSpec[]>>();
      for (const [, s] of spread) {
        for (const sw of s.members) {
          const e = this.switchesByDpid.get(sw);
          if (e === undefined || reads.has(sw)) continue;
          reads.set(sw, e.sess.multipart({ kind: 'meter_config', meterId: OFPM_ALL }).then(
            (bodies) => bodies.flatMap((b) => (b.kind === 'meter_config' ? b.meters.map((m) => ({ meterId: m.meterId, flags: m.flags, bands: m.bands })) : [])),
            () => []));
        }
      }
      for (const [sw, p] of reads) {
        const meters = await p;
        for (const [name, s] of spread) {
          if (!s.weights.has(sw)) continue;
          const part = this.partHeld(s.channel, meters.find((m) => m.meterId === this.state.meterIds[name]));
          const rate = parseRate(s.channel.rate);
          if (part !== null) this.splitter.hold(name, rate.perSec, shareStep(rate.unit), s.members, sw, part);
        }
      }
    } finally {
      this.splitting = false;
    }
  }

  /** The part a switch's meter holds for a channel (its drop band's rate in the channel's unit), or null if it is not one of ours. */
  private partHeld(c: Channel, m: MeterSpec | undefined): number | null {
    const band = m?.bands[0];
    if (m === undefined || band === undefined || band.kind !== 'drop' || m.bands.length !== 1) return null;
    const unit = parseRate(c.rate).unit;
    if ((unit === 'pkt') !== ((m.flags & OFPMF.PKTPS) !== 0)) return null;
    return unit === 'pkt' ? band.rate : band.rate * 1000;
  }

  /** METER_MODs of a re-split, in the switch's queue (never inside a reconcile), then a barrier. */
  private sendMeterMods(e: SwitchEntry, changes: Change[]): Promise<void> {
    const run = async (): Promise<void> => {
      if (!this.leading || e.sess.closed) return;
      const r: ApplyReport = { flowMods: 0, groupMods: 0, meterMods: 0, errors: [] };
      await sendChanges(e.sess, changes, r);
      this.metrics.mods.inc({ switch: e.name, type: 'meter_mod' }, r.meterMods);
      if (r.errors.length > 0) { this.log.warn({ switch: e.name, errors: r.errors }, 're-split METER_MOD refused'); e.installed = null; return; }
      if (e.installed !== null) for (const c of changes) if (c.kind === 'meter') e.installed.meters.set(c.meter.meterId, c.meter);
    };
    const p = e.queue.then(run, run);
    e.queue = p.catch(() => undefined);
    return p.catch((err: Error) => this.log.warn({ switch: e.name, err: err.message }, 're-split METER_MOD not sent'));
  }

  // ------------------------------------------------------------------------------------------
  // Views

  channelViews(): ChannelView[] {
    const i = this.state.intent;
    const parts = this.currentParts();
    return i.channels.map((c) => {
      const atts = i.attachments.filter((a) => a.channel === c.name);
      const rate = parseRate(c.rate);
      const mine = parts.get(c.name);
      const sws = mine === undefined ? [...new Set(atts.map((a) => this.switchKey(a.switch)))] : [...mine.keys()];
      const shares = sws.map((sw) => {
        const v: ChannelView['shares'][number] = { switch: this.nameOf(sw), rate: formatRate({ unit: rate.unit, perSec: mine?.get(sw) ?? rate.perSec }), connected: this.switchesByDpid.has(sw) };
        const demand = c.split === 'even' ? 0 : this.splitter.sharesOf(c.name).get(sw)?.demand ?? 0;
        if (demand > 0) v.demand = formatRate({ unit: rate.unit, perSec: demand });
        return v;
      }).sort((a, b) => (a.switch < b.switch ? -1 : a.switch > b.switch ? 1 : 0));
      const v: ChannelView = { name: c.name, rate: c.rate, meterId: this.state.meterIds[c.name]!, attachments: atts.length, shares };
      if (c.burst !== undefined) v.burst = c.burst;
      if (c.min !== undefined) v.min = c.min;
      if (c.split !== undefined) v.split = c.split;
      return v;
    });
  }

  switches(): SwitchInfo[] {
    const out: SwitchInfo[] = [];
    for (const [dpid, e] of this.switchesByDpid) {
      out.push({
        name: e.name, dpid, connected: true, peer: e.sess.peer, role: e.sess.role, ports: this.portInfos(dpid, [...e.ports.values()]),
        learnedMacs: e.learned.size, tunnel: this.tunnelInfo(e), lastReconcile: e.lastReconcile,
      });
    }
    for (const [dpid, a] of this.absent) {
      if (this.switchesByDpid.has(dpid)) continue;
      out.push({ name: a.name, dpid, connected: false, peer: null, role: null, ports: this.portInfos(dpid, a.ports), learnedMacs: 0, tunnel: null, lastReconcile: a.lastReconcile });
    }
    return out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }

  private tunnelInfo(e: SwitchEntry): SwitchInfo['tunnel'] {
    const t = this.tunnelOf(e);
    if (t === null) return null;
    const v = t.vtep;
    return { port: e.ports.get(t.port)?.name ?? String(t.port), vtep: `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}` };
  }

  private portInfos(dpid: string, ports: Port[]): PortInfo[] {
    const names = this.namesOf(dpid);
    const trunks = new Map(this.topo.trunksOf(dpid).map((t) => [t.port, t]));
    return ports.filter((p) => p.portNo <= OFPP.MAX).sort((x, y) => x.portNo - y.portNo).map((p) => {
      const att = this.state.intent.attachments.find((a) => names.includes(a.switch) && a.port === p.name);
      const t = trunks.get(p.portNo);
      const info: PortInfo = { name: p.name, number: p.portNo, up: (p.state & OFPPS.LINK_DOWN) === 0, role: att ? 'access' : t ? (t.blocked ? 'blocked' : 'trunk') : 'unused' };
      if (att) info.network = att.network;
      if (t && !att) info.peer = `${this.nameOf(t.peer.dpid)}:${this.portName(t.peer)}`;
      return info;
    });
  }

  topology(): TopologyView {
    const blocked = this.topo.blocked();
    const side = (e: Endpoint): TopologyView['links'][number]['a'] => ({ switch: this.nameOf(e.dpid), dpid: e.dpid, port: e.port, portName: this.portName(e) });
    const dpids = new Set<string>([...this.switchesByDpid.keys(), ...this.absent.keys()]);
    for (const l of this.topo.list()) { dpids.add(l.a.dpid); dpids.add(l.b.dpid); }
    return {
      switches: [...dpids].sort().map((d) => ({ name: this.nameOf(d), dpid: d, connected: this.switchesByDpid.has(d) })),
      links: this.topo.list().map((l) => ({ a: side(l.a), b: side(l.b), blocked: blocked.has(linkKey(l.a, l.b)) })),
    };
  }

  private nameOf(dpid: string): string {
    return this.switchesByDpid.get(dpid)?.name ?? this.absent.get(dpid)?.name ?? dpid;
  }
  private namesOf(dpid: string): string[] {
    const n = this.nameOf(dpid);
    return n === dpid ? [dpid] : [n, dpid];
  }
  private portName(e: Endpoint): string {
    const ports = this.switchesByDpid.get(e.dpid)?.ports ?? new Map((this.absent.get(e.dpid)?.ports ?? []).map((p) => [p.portNo, p]));
    return ports.get(e.port)?.name ?? String(e.port);
  }

  /** A connected switch by dp_desc or datapath id. */
  private findSwitch(name: string): SwitchEntry | null {
    const byDpid = this.switchesByDpid.get(name.toLowerCase());
    if (byDpid) return byDpid;
    for (const e of this.switchesByDpid.values()) if (e.name === name) return e;
    return null;
  }

  // ------------------------------------------------------------------------------------------
  // Reconciliation

  /**
   * Reconcile one switch (by name or dpid) or all connected ones, reading back what each holds;
   * resolves with what each was sent.
   */
  async reconcile(name?: string): Promise<ReconcileSummary[]> {
    const targets = name === undefined ? [...this.switchesByDpid.values()] : [this.findSwitch(name)].filter((x): x is SwitchEntry => x !== null);
    if (name !== undefined && targets.length === 0) throw new UnknownSwitchError(name);
    if (!this.leading) {
      return targets.map((e) => ({ switch: e.name, dpid: e.hello.dpidHex, ok: false, flowMods: 0, groupMods: 0, meterMods: 0, errors: ['this controller follows (OpenFlow SLAVE): the leader reconciles'], adopted: 0, ms: 0, at: new Date().toISOString() }));
    }
    return Promise.all(targets.map((e) => this.reconcileSwitch(e, 'read')));
  }

  /**
   * `read`: compare with what the switch reports (connect, periodic, on demand). `known`: compare
   * with what we last made it hold (intent and topology changes: no round trip to read it back).
   */
  private reconcileSwitch(e: SwitchEntry, how: 'read' | 'known'): Promise<ReconcileSummary> {
    // A follower sends nothing; what it last saw stays in the switch's view.
    const run = (): Promise<ReconcileSummary> => (this.leading ? this.doReconcile(e, how) : Promise.resolve(e.lastReconcile ?? { switch: e.name, dpid: e.hello.dpidHex, ok: true, flowMods: 0, groupMods: 0, meterMods: 0, errors: [], adopted: 0, ms: 0, at: new Date().toISOString() }));
    const p = e.queue.then(run, run);
    e.queue = p.catch(() => undefined);
    return p;
  }

  private view(e: SwitchEntry): SwitchView {
    const now = Date.now();
    for (const [port, until] of e.bans) if (until <= now) e.bans.delete(port);
    return {
      names: this.namesOf(e.hello.dpidHex),
      ports: new Map([...e.ports.values()].map((p) => [p.name, p.portNo])),
      trunks: this.topo.trunksOf(e.hello.dpidHex),
      learned: [...e.learned.values()],
      bans: [...e.bans.keys()],
      tunnel: this.tunnelOf(e),
      remoteVteps: this.remoteVteps(e),
    };
  }

  /** A switch's tunnel port and address: announced in its hw_desc (`vtep=PORT@IPv4`), or configured (opts.tunnels). */
  private tunnelOf(e: SwitchEntry): TunnelEndpoint | null {
    const conf = this.namesOf(e.hello.dpidHex).map((n) => this.opts.tunnels?.[n]).find((t) => t !== undefined);
    const m = /\bvtep=([A-Za-z0-9_.-]+)@(\d{1,3}(?:\.\d{1,3}){3})\b/.exec(e.hello.desc.hwDesc);
    const spec = conf ?? (m ? { port: m[1]!, vtep: m[2]! } : undefined);
    if (spec === undefined) return null;
    const port = [...e.ports.values()].find((p) => p.name === spec.port)?.portNo;
    if (port === undefined) return null;
    try { return { port, vtep: parseIpv4(spec.vtep) }; } catch { return null; }
  }

  /** Per network with a vni: the VTEPs of the other connected switches with an attachment to it (ascending). */
  private remoteVteps(self: SwitchEntry): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const n of this.state.intent.networks) {
      if (n.vni === undefined) continue;
      const vteps = new Set<number>();
      for (const other of this.switchesByDpid.values()) {
        if (other === self) continue;
        const t = this.tunnelOf(other);
        if (t === null) continue;
        const names = this.namesOf(other.hello.dpidHex);
        if (this.state.intent.attachments.some((a) => a.network === n.name && names.includes(a.switch))) vteps.add(t.vtep);
      }
      out.set(n.name, [...vteps].sort((a, b) => a - b));
    }
    return out;
  }

  /** A switch with a tunnel came or went: the others' flood groups list VTEPs, reconcile them. */
  private vtepsChanged(e: SwitchEntry): void {
    if (this.tunnelOf(e) === null) return;
    for (const other of this.switchesByDpid.values()) if (other !== e) this.reconcileSoon(other);
  }

  /** Which ports carry which VLANs on a switch; recomputed only when intent, links or ports change. */
  private carriersOf(e: SwitchEntry): Carriers {
    const c = e.carry;
    if (c && c.intent === this.state.intent && c.topo === this.topoVersion && c.ports === e.portsVersion) return c.value;
    const value = carriers(this.state.intent, { names: this.namesOf(e.hello.dpidHex), ports: new Map([...e.ports.values()].map((p) => [p.name, p.portNo])), trunks: this.topo.trunksOf(e.hello.dpidHex), tunnel: this.tunnelOf(e) });
    e.carry = { intent: this.state.intent, topo: this.topoVersion, ports: e.portsVersion, value };
    return value;
  }

  private compileContext(e: SwitchEntry): CompileContext {
    return { meterIds: this.state.meterIds, channelShares: this.sharesFor(e), macAgingS: this.opts.macAgingS ?? 300, banS: this.opts.learnBanS ?? 5 };
  }

  private async doReconcile(e: SwitchEntry, how: 'read' | 'known'): Promise<ReconcileSummary> {
    const t0 = performance.now();
    const dpid = e.hello.dpidHex;
    const summary: ReconcileSummary = { switch: e.name, dpid, ok: false, flowMods: 0, groupMods: 0, meterMods: 0, errors: [], adopted: 0, ms: 0, at: new Date().toISOString() };
    try {
      const knownBefore = new Set(e.learned.keys());
      let installed: Installed;
      if (how === 'read' || e.installed === null) {
        installed = await readInstalled(e.sess);
        for (const k of this.adopt(e, installed.flows)) { knownBefore.add(k); summary.adopted++; }
        this.adoptShares(e, installed.meters);
      } else {
        installed = { flows: [...e.installed.flows.values()], groups: [...e.installed.groups.values()], meters: [...e.installed.meters.values()] };
      }
      this.pruneLearned(e);
      const conflicts = this.carriersOf(e).conflicts;
      if (conflicts.length > 0) this.log.warn({ switch: e.name, ignored: conflicts }, 'a port is attached twice (by dp_desc and by datapath id): the first attachment wins');
      const want = compile(this.state.intent, this.view(e), this.compileContext(e));
      const plan = diff(want, installed);
      // MACs learned while the switch was being read were installed by learning itself, in order.
      plan.make = plan.make.filter((c) => !(c.kind === 'flow' && c.op === 'add' && learnedFlowKey(c.flow) !== null && !knownBefore.has(learnedFlowKey(c.flow)!)));
      e.installed = null;   // unknown while changes are in flight
      if (this.log.isLevelEnabled('debug')) for (const c of [...plan.make, ...plan.break]) this.log.debug({ switch: e.name, change: describeChange(c) }, 'reconcile change');
      const r: ApplyReport = { flowMods: 0, groupMods: 0, meterMods: 0, errors: [] };
      await sendChanges(e.sess, plan.make, r);
      // Break only once make is in force; and never a learned entry learning put back meanwhile.
      if (r.errors.length === 0) {
        await sendChanges(e.sess, plan.break.filter((c) => !(c.kind === 'flow' && e.learned.has(learnedFlowKey(c.flow) ?? ''))), r);
      }
      Object.assign(summary, { flowMods: r.flowMods, groupMods: r.groupMods, meterMods: r.meterMods, errors: r.errors });
      e.counters.flowMods.inc(r.flowMods);
      this.metrics.mods.inc({ switch: e.name, type: 'group_mod' }, r.groupMods);
      this.metrics.mods.inc({ switch: e.name, type: 'meter_mod' }, r.meterMods);
      summary.ok = summary.errors.length === 0;
      if (summary.ok) {
        // The switch now holds `want`, with the learned entries and bans as they are now (learning
        // and aging went on while the changes were in flight).
        for (const [k, f] of want.flows) if (learnedFlowKey(f) !== null || (isOurs(f.cookie) && categoryOf(f.cookie) === Category.LEARN_BAN)) want.flows.delete(k);
        const now = this.view(e);
        for (const l of now.learned) for (const f of learnedFlows(l, this.opts.macAgingS ?? 300)) want.flows.set(flowKey(f), f);
        for (const port of now.bans) { const f = banFlow(port, this.opts.learnBanS ?? 5); want.flows.set(flowKey(f), f); }
        e.installed = want;
      }
    } catch (err) {
      summary.errors.push((err as Error).message);
    }
    summary.ms = Math.round((performance.now() - t0) * 100) / 100;
    e.lastReconcile = summary;
    this.metrics.reconciles.inc({ switch: e.name, result: summary.ok ? 'ok' : 'error' });
    const log = summary.ok ? this.log.info.bind(this.log) : this.log.warn.bind(this.log);
    if (!summary.ok || summary.flowMods + summary.groupMods + summary.meterMods > 0 || summary.adopted > 0) {
      log({ switch: e.name, dpid, flowMods: summary.flowMods, groupMods: summary.groupMods, meterMods: summary.meterMods, adopted: summary.adopted, errors: summary.errors, ms: summary.ms }, 'reconciled');
    }
    this.events.emitEvent({ type: 'reconcile-done', switch: e.name, flowMods: summary.flowMods, groupMods: summary.groupMods, meterMods: summary.meterMods, errors: summary.errors.length, ms: summary.ms });
    return summary;
  }

  /**
   * Learned entries the switch holds that we do not know (an earlier controller instance learned
   * them): keep them while their port still carries their VLAN, so a restart keeps unicast unicast.
   */
  private adopt(e: SwitchEntry, flows: readonly FlowSpec[]): string[] {
    const carry = this.carriersOf(e);
    const adopted: string[] = [];
    for (const f of flows) {
      if (f.tableId !== TABLE.ETH_SRC || f.priority !== PRIO.LEARNED || !isOurs(f.cookie) || categoryOf(f.cookie) !== Category.LEARNED_SRC) continue;
      const port = f.match.find((m) => m.field === 'in_port')?.value;
      const vid = f.match.find((m) => m.field === 'vlan_vid')?.value;
      const mac = f.match.find((m) => m.field === 'eth_src')?.value;
      const vtep = f.match.find((m) => m.field === 'tun_ipv4_src')?.value;
      if (port === undefined || vid === undefined || mac === undefined) continue;
      const l: LearnedMac = { vid: Number(vid & 0xfffn), mac, port: Number(port) };
      if (vtep !== undefined) l.vtep = Number(vtep);
      const k = learnKey(l.vid, l.mac);
      if (e.learned.has(k) || !learnedValid(carry, l)) continue;
      e.learned.set(k, l);
      adopted.push(k);
    }
    return adopted;
  }

  /** Forget learned entries whose port no longer carries their VLAN (an intent or topology change). */
  private pruneLearned(e: SwitchEntry): void {
    const carry = this.carriersOf(e);
    for (const [k, l] of e.learned) if (!learnedValid(carry, l)) e.learned.delete(k);
  }

  // ------------------------------------------------------------------------------------------
  // Switch sessions

  private async listen(target: string): Promise<void> {
    const m = /^(ptcp|pssl):(\d+)(?::(.+))?$/.exec(target);
    if (!m) throw new TypeError(`OpenFlow listener "${target}" is not ptcp:PORT[:IP] or pssl:PORT[:IP]`);
    const [, kind, portText, host = '127.0.0.1'] = m;
    const onConn = (sock: Socket): void => {
      this.accept(sock).catch((err: Error) => { this.log.error({ err: err.message }, 'switch session failed'); sock.destroy(); });
    };
    if (kind === 'pssl') {
      const t = this.opts.tls;
      if (!t) throw new TypeError('pssl: needs --cert, --key and --ca');
      this.server = createTlsServer({
        cert: readFileSync(t.cert), key: readFileSync(t.key), ca: readFileSync(t.ca),
        requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
      }, onConn);
    } else {
      this.server = createTcpServer(onConn);
    }
    const server = this.server;
    server.on('tlsClientError', (err: Error) => this.log.warn({ err: err.message }, 'switch TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(portText), host.replace(/^\[|\]$/g, ''), () => { server.off('error', reject); resolve(); });
    });
    this.log.info({ openflow: `${kind}:${this.openflowAddress().port}:${host}` }, 'listening for switches');
  }

  private async accept(sock: Socket): Promise<void> {
    if (this.stopping) { sock.destroy(); return; }
    const sess = new SwitchSession(sock, { log: this.log.child({ peer: `${sock.remoteAddress}:${sock.remotePort}` }), generationId: this.generation, claim: () => this.claim() });
    let hello: SwitchHello;
    try {
      hello = await sess.start();
    } catch (err) {
      this.log.warn({ peer: sess.peer, err: (err as Error).message }, 'switch handshake failed');
      sess.close('handshake failed');
      return;
    }
    const dpid = hello.dpidHex;
    const old = this.switchesByDpid.get(dpid);
    if (old) { old.sess.removeAllListeners('close'); old.sess.close('replaced by a new connection'); }
    const name = hello.desc.dpDesc.trim() || dpid;
    const e: SwitchEntry = {
      sess, hello, name, ports: new Map(hello.ports.map((p) => [p.portNo, p])), learned: new Map(), bans: new Map(),
      learnTokens: new Map(), queue: Promise.resolve(), lastReconcile: this.absent.get(dpid)?.lastReconcile ?? null, portsVersion: 0, carry: null, installed: null,
      counters: { learnIns: this.metrics.packetIns.labels(name, 'learn'), lldpIns: this.metrics.packetIns.labels(name, 'lldp'), flowMods: this.metrics.mods.labels(name, 'flow_mod') },
    };
    this.switchesByDpid.set(dpid, e);
    this.absent.delete(dpid);
    this.metrics.connected.set(this.switchesByDpid.size);
    this.log.info({ switch: name, dpid, peer: sess.peer, ports: hello.ports.length }, 'switch connected');
    this.events.emitEvent({ type: 'switch-up', switch: name, dpid });
    sess.on('packet_in', (m) => this.onPacketIn(e, m));
    sess.on('flow_removed', (m) => this.onFlowRemoved(e, m));
    sess.on('port_status', (m) => this.onPortStatus(e, m));
    sess.on('switch_error', (m) => this.log.warn({ switch: name, xid: m.xid, type: m.errType, code: m.code }, 'switch reported an error'));
    sess.on('close', (why) => {
      if (this.switchesByDpid.get(dpid) !== e) return;
      this.switchesByDpid.delete(dpid);
      this.absent.set(dpid, { name, ports: [...e.ports.values()], lastReconcile: e.lastReconcile });
      this.metrics.connected.set(this.switchesByDpid.size);
      this.log.warn({ switch: name, dpid, why }, 'switch disconnected');
      this.events.emitEvent({ type: 'switch-down', switch: name, dpid, reason: why });
      this.vtepsChanged(e);
    });
    // Elected while this switch's handshake was under way: claim MASTER now.
    if (this.leading && sess.role !== 'master') {
      try { await sess.claimRole('master', this.gen); } catch (err) {
        this.log.error({ switch: name, err: (err as Error).message }, 'MASTER role refused');
        sess.close('MASTER role refused');
        return;
      }
    }
    this.probe(e);
    this.vtepsChanged(e);
    await this.reconcileSwitch(e, 'read');
  }

  // ------------------------------------------------------------------------------------------
  // MAC learning

  private onPacketIn(e: SwitchEntry, m: PacketIn): void {
    const inPort = m.match.find((x) => x.field === 'in_port');
    const port = inPort && inPort.field === 'in_port' ? Number(inPort.value) : -1;
    const d = m.data;
    if (port < 0 || d.length < 14 || !this.leading) return;
    const etherType = d.readUInt16BE(12);
    // Our probes come untagged from table 0; learning comes from table 1's miss. Nothing else counts.
    if (m.tableId === TABLE.CLASSIFY) { if (etherType === ETH_TYPE_LLDP) { e.counters.lldpIns.inc(); this.onLldp(e, port, d); } return; }
    if (m.tableId !== TABLE.ETH_SRC) return;
    e.counters.learnIns.inc();
    if (etherType !== 0x8100 || d.length < 18) return;      // the pipeline tags every frame before learning
    const vid = d.readUInt16BE(14) & 0xfff;
    const mac = (BigInt(d.readUInt16BE(6)) << 32n) | BigInt(d.readUInt32BE(8));
    if ((d[6]! & 1) === 1) return;                            // a multicast source is never learned
    if (!this.admitLearning(e, port)) return;
    const l: LearnedMac = { vid, mac, port };
    const tunSrc = m.match.find((x) => x.field === 'tun_ipv4_src');
    if (tunSrc !== undefined && tunSrc.field === 'tun_ipv4_src' && port === this.carriersOf(e).tunnel?.port) l.vtep = Number(tunSrc.value);
    if (!learnedValid(this.carriersOf(e), l)) return;
    const k = learnKey(vid, mac);
    const prev = e.learned.get(k);
    const moved = prev !== undefined && (prev.port !== port || prev.vtep !== l.vtep);
    const network = this.carriersOf(e).networkOf.get(vid) ?? String(vid);
    const [src, dst] = learnedFlows(l, this.opts.macAgingS ?? 300);
    if (moved) {
      // A move: the destination entry is replaced in place, then the old source entry goes.
      e.sess.send(changeMessage({ kind: 'flow', op: 'add', flow: dst }));
      e.sess.send(changeMessage({ kind: 'flow', op: 'add', flow: src }));
      e.sess.send(changeMessage({ kind: 'flow', op: 'delete', flow: learnedFlows(prev, 1)[0] }));
      this.events.emitEvent({ type: 'mac-moved', switch: e.name, network, mac: macText(mac), port: this.portName({ dpid: e.hello.dpidHex, port }), from: this.portName({ dpid: e.hello.dpidHex, port: prev.port }) });
    } else {
      e.sess.send(changeMessage({ kind: 'flow', op: 'add', flow: dst }));
      e.sess.send(changeMessage({ kind: 'flow', op: 'add', flow: src }));
      if (!prev) this.events.emitEvent({ type: 'mac-learned', switch: e.name, network, mac: macText(mac), port: this.portName({ dpid: e.hello.dpidHex, port }) });
    }
    e.counters.flowMods.inc(moved ? 3 : 2);
    if (e.installed) {
      if (moved) e.installed.flows.delete(flowKey(learnedFlows(prev, 1)[0]));
      e.installed.flows.set(flowKey(src), src);
      e.installed.flows.set(flowKey(dst), dst);
    }
    e.learned.set(k, l);
  }

  /** Per-port token bucket on learning; a port over its rate has its learning paused for a while. */
  private admitLearning(e: SwitchEntry, port: number): boolean {
    const rate = this.opts.learnRatePerPort ?? 200;
    const now = Date.now();
    const b = e.learnTokens.get(port) ?? { tokens: rate, lastMs: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.lastMs) * rate) / 1000);
    b.lastMs = now;
    e.learnTokens.set(port, b);
    if (b.tokens >= 1) { b.tokens -= 1; return true; }
    if ((e.bans.get(port) ?? 0) <= now) {
      const banS = this.opts.learnBanS ?? 5;
      e.bans.set(port, now + banS * 1000);
      const ban = banFlow(port, banS);
      e.sess.send(changeMessage({ kind: 'flow', op: 'add', flow: ban }));
      e.installed?.flows.set(flowKey(ban), ban);
      this.metrics.learnBans.inc({ switch: e.name });
      this.log.warn({ switch: e.name, port, ratePerS: rate, banS }, 'learning paused on a port: too many new MACs');
    }
    return false;
  }

  private onFlowRemoved(e: SwitchEntry, m: FlowRemoved): void {
    if (!this.leading) return;
    if (!isOurs(m.cookie) || categoryOf(m.cookie) !== Category.LEARNED_SRC || m.reason !== OFPRR.IDLE_TIMEOUT) return;
    const get = (f: string): bigint | undefined => { const x = m.match.find((o) => o.field === f); return x && x.field !== 'raw' ? (x.value as bigint) : undefined; };
    const port = get('in_port'), vid = get('vlan_vid'), mac = get('eth_src');
    if (port === undefined || vid === undefined || mac === undefined) return;
    const k = learnKey(Number(vid & 0xfffn), mac);
    const l = e.learned.get(k);
    if (!l || l.port !== Number(port)) return;
    e.learned.delete(k);
    const [src, dst] = learnedFlows(l, 1);
    e.sess.send(changeMessage({ kind: 'flow', op: 'delete', flow: dst }));
    e.installed?.flows.delete(flowKey(src));
    e.installed?.flows.delete(flowKey(dst));
    const network = this.carriersOf(e).networkOf.get(l.vid) ?? String(l.vid);
    this.events.emitEvent({ type: 'mac-aged', switch: e.name, network, mac: macText(mac), port: this.portName({ dpid: e.hello.dpidHex, port: l.port }) });
  }

  private onPortStatus(e: SwitchEntry, m: PortStatus): void {
    const p = m.desc;
    const reason = m.reason === OFPPR.ADD ? 'add' : m.reason === OFPPR.DELETE ? 'delete' : 'modify';
    const had = e.ports.get(p.portNo);
    e.portsVersion++;
    const up = (p.state & OFPPS.LINK_DOWN) === 0;
    if (reason === 'delete') e.ports.delete(p.portNo);
    else e.ports.set(p.portNo, p);
    // A trunk whose port went away or down is no trunk any more (it may come back cabled to a host).
    if ((reason === 'delete' || !up) && this.topo.dropPort({ dpid: e.hello.dpidHex, port: p.portNo }).length > 0) this.topologyChanged();
    this.events.emitEvent({ type: 'port-status', switch: e.name, port: p.name, portNo: p.portNo, reason, up });
    // A port that appears, disappears or is renamed can change what this switch should hold.
    if (reason !== 'modify' || had?.name !== p.name) this.reconcileSoon(e);
  }

  /** Reconcile against the known state, in the background (failures are in the summary and the log). */
  private reconcileSoon(e: SwitchEntry): void {
    this.reconcileSwitch(e, 'known').catch((err: Error) => this.log.error({ switch: e.name, err: err.message }, 'reconcile failed'));
  }

  // ------------------------------------------------------------------------------------------
  // LLDP

  /** Probe every port that is not a VM's: tenants never see our LLDP, nor can they fake a trunk. */
  private probe(e: SwitchEntry): void {
    if (!this.leading) return;
    const access = this.carriersOf(e).access;
    for (const p of e.ports.values()) {
      if (p.portNo > OFPP.MAX || (p.state & OFPPS.LINK_DOWN) !== 0 || access.has(p.portNo)) continue;
      const frame = lldpProbe(e.hello.dpidHex, p.portNo, p.hwAddr, this.probeKey);
      const out: OfpMessage = { type: 'packet_out', xid: 0, bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions: [{ type: 'output', port: p.portNo, maxLen: 0 }], data: frame };
      e.sess.send(out);
    }
  }

  private probeLinks(periodMs: number): void {
    if (!this.leading) return;
    for (const e of this.switchesByDpid.values()) this.probe(e);
    const gone = this.topo.expire(Date.now() - 3 * periodMs - 500, (d) => this.switchesByDpid.has(d));
    for (const l of gone) this.events.emitEvent({ type: 'link-down', a: `${this.nameOf(l.a.dpid)}:${this.portName(l.a)}`, b: `${this.nameOf(l.b.dpid)}:${this.portName(l.b)}` });
    if (gone.length > 0) this.topologyChanged();
  }

  private onLldp(e: SwitchEntry, port: number, frame: Buffer): void {
    const from = probeOrigin(frame, this.probeKey);
    if (!from || this.carriersOf(e).access.has(port)) return;
    const at: Endpoint = { dpid: e.hello.dpidHex, port };
    if (this.topo.heard(from, at, Date.now())) {
      this.log.info({ a: `${this.nameOf(from.dpid)}:${this.portName(from)}`, b: `${e.name}:${this.portName(at)}` }, 'link discovered');
      this.events.emitEvent({ type: 'link-up', a: `${this.nameOf(from.dpid)}:${this.portName(from)}`, b: `${e.name}:${this.portName(at)}` });
      this.topologyChanged();
    }
  }

  /** Links changed: save them and reconcile every switch (once, shortly after a burst of changes). */
  private topologyChanged(): void {
    this.topoVersion++;
    if (this.topoTimer) return;
    this.topoTimer = setTimeout(() => {
      this.topoTimer = null;
      // Saved in line with intent changes, so neither ever writes over the other.
      const save = async (): Promise<void> => {
        if (!this.leading) return;
        this.state = { ...this.state, links: this.topo.records() };
        try {
          await this.store.save(this.state);
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'stale-state') throw err;
          // Another controller changed the intent meanwhile: keep theirs, with our links.
          this.takeLoaded(await this.store.load());
          this.state = { ...this.state, links: this.topo.records() };
          await this.store.save(this.state);
        }
      };
      const p = this.changeQueue.then(save, save);
      this.changeQueue = p.catch((err: Error) => this.log.error({ err: err.message }, 'saving links failed'));
      const blocked = this.topology().links.filter((l) => l.blocked);
      if (blocked.length > 0) this.log.info({ blocked: blocked.map((l) => `${l.a.switch}:${l.a.portName}-${l.b.switch}:${l.b.portName}`) }, 'links blocked to break a loop');
      for (const e of this.switchesByDpid.values()) this.reconcileSoon(e);
    }, 100);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // Give the lead away at once (the others need not wait for our lease to expire).
    this.leading = false;
    await this.election?.stop();
    for (const t of this.timers) clearInterval(t);
    if (this.topoTimer) clearTimeout(this.topoTimer);
    await this.changeQueue.catch(() => undefined);
    for (const e of this.switchesByDpid.values()) { e.sess.removeAllListeners('close'); e.sess.close('controller stopping'); }
    this.switchesByDpid.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.store.close?.();
  }
}

/** One change in ovs-ofctl words, for debug logs. */
function describeChange(c: Change): string {
  switch (c.kind) {
    case 'flow': return `${c.op}-flow ${formatFlow(c.flow).trim()}`;
    case 'group': return `${c.op}-group ${formatGroup(c.group)}`;
    case 'meter': return `${c.op}-meter meter=${c.meter.meterId} flags=${c.meter.flags} ${c.meter.bands.map((b) => `${b.kind}:rate=${b.rate},burst_size=${b.burstSize}`).join(' ')}`;
  }
}

export class UnknownSwitchError extends Error {
  readonly code = 'unknown-switch';
  constructor(readonly switchName: string) {
    super(`switch "${switchName}" is not connected`);
    this.name = 'UnknownSwitchError';
  }
}

/** Meter ids: kept for channels that stay, the lowest free id for new ones, dropped for deleted. */
export function assignMeterIds(i: Intent, prev: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  const used = new Set<number>();
  for (const c of i.channels) {
    const id = prev[c.name];
    if (id !== undefined) { out[c.name] = id; used.add(id); }
  }
  let next = 1;
  for (const c of i.channels) {
    if (out[c.name] !== undefined) continue;
    while (used.has(next)) next++;
    out[c.name] = next;
    used.add(next);
  }
  return out;
}


