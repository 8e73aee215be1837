// The controller daemon's core: owns the intent and its store, the OpenFlow sessions of every
// switch, and the event hub. Every intent change is validated whole, made durable, then pushed to
// the switches it concerns by the reconciler; the northbound API and the CLI sit on top of this.
import type { Logger } from 'pino';
import { EventHub } from './events.js';
import { IntentError, diffIntent, isEmptyDiff } from './intent.js';
import type { Intent, IntentDiff } from './intent.js';
import { FileStateStore } from './store.js';
import type { ControllerState, LinkRecord, StateStore } from './store.js';
import { parseRate, formatRate } from '../qos/units.js';

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
  /** LLDP probe period on every port (default 2 s); a link unseen for 3 periods is gone. */
  lldpIntervalMs?: number;
  /** Idle timeout of learned MAC entries, seconds (default 300, as NORMAL's aging). */
  macAgingS?: number;
  /** Another store (tests, etcd later); default a FileStateStore in stateDir. */
  store?: StateStore;
}

/** A channel as the operator sees it: its total and the share each switch gets. */
export interface ChannelView {
  name: string;
  rate: string;
  burst?: string;
  meterId: number;
  attachments: number;
  /** Per switch carrying the channel: the rate of its meter there (evenly split). */
  shares: { switch: string; rate: string; connected: boolean }[];
}

/** A switch as the northbound API shows it (`GET /v1/switches`); null = not known yet. */
export interface SwitchInfo {
  /** The name attachments use (its dp_desc), or its dpid when it has none. */
  name: string;
  /** Datapath id, 16 hex digits, once it connected. */
  dpid: string | null;
  connected: boolean;
  /** Our OpenFlow role on it. */
  role: 'master' | 'slave' | 'equal' | null;
  /** Peer address of its OpenFlow connection. */
  address: string | null;
  /** Ports it reported and ports the intent attaches. */
  ports: { name: string; portNo: number | null; up: boolean | null; network: string | null; channel: string | null }[];
  lastReconcile: (ReconcileSummary & { at: string }) | null;
}

/** What `GET /v1/topology` shows: the switches and the trunk links LLDP found between them. */
export interface TopologyView {
  switches: { name: string; dpid: string | null; connected: boolean }[];
  links: LinkRecord[];
}

/** What a change did: the intent diff and, per switch it touched, what the reconcile sent. */
export interface ChangeResult {
  intent: Intent;
  diff: IntentDiff;
  applied: boolean;
  switches: ReconcileSummary[];
}

export interface ReconcileSummary {
  switch: string;
  dpid: string;
  ok: boolean;
  flowMods: number;
  groupMods: number;
  meterMods: number;
  errors: string[];
  ms: number;
}

export class Controller {
  readonly events = new EventHub();
  readonly log: Logger;
  private state!: ControllerState;
  private readonly store: StateStore;
  /** Intent changes run one at a time, in arrival order. */
  private changeQueue: Promise<unknown> = Promise.resolve();

  protected constructor(readonly opts: ControllerOptions) {
    this.log = opts.log;
    this.store = opts.store ?? new FileStateStore(opts.stateDir);
  }

  static async start(opts: ControllerOptions): Promise<Controller> {
    const c = new Controller(opts);
    await c.init();
    return c;
  }

  protected async init(): Promise<void> {
    this.state = await this.store.load();
    this.log.info({ store: this.store.where, networks: this.state.intent.networks.length, attachments: this.state.intent.attachments.length }, 'intent loaded');
  }

  get intent(): Intent { return this.state.intent; }

  /**
   * Apply `mutate` to the current intent (it throws IntentError to refuse). Changes are queued:
   * each sees the result of the one before. With `dryRun` nothing is stored or sent.
   */
  change(mutate: (i: Intent) => Intent, opts: { dryRun?: boolean } = {}): Promise<ChangeResult> {
    const run = async (): Promise<ChangeResult> => {
      const before = this.state.intent;
      const after = mutate(before);
      const diff = diffIntent(before, after);
      if (opts.dryRun || isEmptyDiff(diff)) return { intent: opts.dryRun ? after : before, diff, applied: false, switches: [] };
      const next: ControllerState = { ...this.state, intent: after, meterIds: assignMeterIds(after, this.state.meterIds) };
      await this.store.save(next);                  // durable before anything is acknowledged or sent
      this.state = next;
      this.events.emitEvent({ type: 'intent-changed', diff });
      for (const name of diff.channels.changed) {
        const c = after.channels.find((x) => x.name === name)!;
        this.events.emitEvent(c.burst === undefined ? { type: 'channel-changed', channel: name, rate: c.rate } : { type: 'channel-changed', channel: name, rate: c.rate, burst: c.burst });
      }
      const switches = await this.pushIntent();
      return { intent: after, diff, applied: true, switches };
    };
    const p = this.changeQueue.then(run, run);
    this.changeQueue = p.catch(() => undefined);
    return p;
  }

  /** Channels with their meter ids and per-switch shares. */
  channelViews(): ChannelView[] {
    const i = this.state.intent;
    return i.channels.map((c) => {
      const atts = i.attachments.filter((a) => a.channel === c.name);
      const sws = [...new Set(atts.map((a) => a.switch))].sort();
      const rate = parseRate(c.rate);
      const share = sws.length > 0 ? formatRate({ unit: rate.unit, perSec: rate.perSec / sws.length }) : c.rate;
      const v: ChannelView = {
        name: c.name, rate: c.rate, meterId: this.state.meterIds[c.name]!, attachments: atts.length,
        shares: sws.map((s) => ({ switch: s, rate: share, connected: this.isConnected(s) })),
      };
      if (c.burst !== undefined) v.burst = c.burst;
      return v;
    });
  }

  // --- Northbound views (added with the API, branch `api`): minimal versions derived from the
  // intent alone, so the API and CLI work before the OpenFlow side exists; the lead's session
  // code replaces their bodies with live data, keeping these signatures.

  /** Every switch the controller knows: connected ones and those the intent names. */
  switches(): SwitchInfo[] {
    const i = this.state.intent;
    const names = [...new Set(i.attachments.map((a) => a.switch))].sort();
    return names.map((name) => ({
      name, dpid: null, connected: this.isConnected(name), role: null, address: null,
      ports: i.attachments.filter((a) => a.switch === name).map((a) => ({ name: a.port, portNo: null, up: null, network: a.network, channel: a.channel ?? null })),
      lastReconcile: null,
    }));
  }

  /** Switches and the trunk links between them (LLDP). */
  topology(): TopologyView {
    return { switches: this.switches().map((s) => ({ name: s.name, dpid: s.dpid, connected: s.connected })), links: this.state.links };
  }

  /**
   * Reconcile now: one switch (by name or dpid) or every connected one. Throws IntentError 404 for
   * a switch nobody knows and 409 for one that is not connected.
   */
  async reconcile(switchName?: string): Promise<ReconcileSummary[]> {
    if (switchName !== undefined) {
      const sw = this.switches().find((s) => s.name === switchName || s.dpid === switchName);
      if (!sw) throw new IntentError(404, 'unknown-switch', `switch "${switchName}" is not known (no attachment names it and it never connected)`);
      if (!sw.connected) throw new IntentError(409, 'switch-not-connected', `switch "${switchName}" is not connected`);
      return (await this.pushIntent()).filter((r) => r.switch === sw.name);
    }
    return this.pushIntent();
  }

  /** Push the current intent to every connected switch (overridden once sessions exist). */
  protected async pushIntent(): Promise<ReconcileSummary[]> { return []; }

  protected isConnected(_name: string): boolean { return false; }

  async stop(): Promise<void> {
    await this.changeQueue.catch(() => undefined);
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

export { IntentError };
