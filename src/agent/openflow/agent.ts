// The switch's OpenFlow 1.3 agent: a passive listener (ptcp:) and active controller connections
// (tcp:, reconnect with backoff), roles and async masks across sessions, fail-mode, and the
// translation of every switch-side message into datapath calls (flows, groups, meters, ports,
// packet-out; DatapathHandle, in this thread or a worker) plus the asynchronous PACKET_IN /
// FLOW_REMOVED / PORT_STATUS. See README.md.
import { createServer, connect as netConnect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import pino from 'pino';
import type { Logger } from 'pino';
import {
  OFPBRC, OFPC, OFPC_FRAG, OFPCR, OFPET, OFPFC, OFPFF, OFPFMFC, OFPGC, OFPG_ALL, OFPG_MAX, OFPMC, OFPMMFC, OFPM_ALL, OFPM_MAX,
  OFPG_ANY, OFPP, OFPPC, OFPPMFC, OFPPR, OFPQOFC, OFPRR, OFPRRFC, OFPSCFC, OFPTMFC, OFPTT_ALL, OFPTT_MAX, OFP_NO_BUFFER,
  OFPMPF_REQ_MORE, OfpError, checkMatch, encodeMessage, encodingLength,
} from '../../openflow/index.js';
import type { FlowMod, GroupMod, MeterMod, MultipartRequest, OfpMessage, PacketOut, PortMod, Port, RoleRequest } from '../../openflow/messages.js';
import type { Bridge, PortConfig } from '../../datapath/bridge.js';
import { InlineDatapath, isDatapathHandle } from '../datapath-handle.js';
import type { DatapathHandle } from '../datapath-handle.js';
import type { FlowStats } from '../../datapath/pipeline.js';
import type { FlowModCommand } from '../../datapath/pipeline.js';
import type { GroupSpec, MatchSpec } from '../../flow/types.js';
import { OFPP as DP_OFPP } from '../../flow/types.js';
import { Meter, MeterBandType, MeterConfigError } from '../../qos/meter.js';
import type { MeterBandSpec } from '../../qos/meter.js';
import type { ChannelRegistry } from '../../qos/channel.js';
import { MULTIPART_MAX_BYTES, MULTIPART_MAX_PARTS, MULTIPART_MAX_PENDING, OfSession } from './session.js';
import type { SessionHost, SessionInfo } from './session.js';
import { OFPPC_NO_FLOOD, buildReply, portDesc, splitReply } from './stats.js';
import type { MeterEntry } from './stats.js';
import {
  actionsToSpec, bucketsToSpec, flowStatsToOf, instructionsToSpec, matchToSpec, specToMatch, splitDuration,
} from '../../flow/openflow.js';
import { resultToError } from './result-error.js';

export interface OpenFlowAgentOptions {
  /** Active connections, "tcp:HOST[:PORT]" (port 6653 by default). */
  controllers?: string[];
  /** Passive listener, "ptcp:PORT[:IP]"; binds 127.0.0.1 when no IP is given (Open vSwitch binds all). PORT 0 = any free port. */
  listen?: string;
  failMode: 'standalone' | 'secure';
  log?: Logger;
  /** Send ECHO_REQUEST after this many idle seconds (default 5). */
  echoIntervalS?: number;
  /** Close a connection silent for this many seconds (default 15). */
  deadAfterS?: number;
  /** Clock for the datapath (flow timeouts, durations), epoch ms. Default performance.timeOrigin + performance.now(). */
  now?: () => number;
  /** Reserved: named channels (meters are kept by the agent; see README). */
  channels?: ChannelRegistry;
  /** Reconnect backoff of active connections in ms (default 1000 -> 8000, with jitter). */
  reconnectMs?: { min: number; max: number };
  /** Write one pcap per connection (synthesized TCP) into this directory when it closes. */
  captureDir?: string;
  /** How often port changes are checked for PORT_STATUS (default 1000 ms). */
  portPollMs?: number;
  /** OFPT_DESC sw_desc. */
  swDesc?: string;
  /** OFPT_DESC dp_desc: how controllers name this switch (default "<hostname>/<bridge>"). */
  dpDesc?: string;
  /** OpenFlow hw_desc (default "Sluice software switch (Node.js)"). */
  hwDesc?: string;
}

interface ActiveTarget { spec: string; host: string; port: number; path?: string; attempts: number; timer: NodeJS.Timeout | null; session: OfSession | null; socket: Socket | null }

const CONFIG_FLAGS_MASK = OFPC_FRAG.MASK;
const PORT_CONFIG_MASK = OFPPC.PORT_DOWN | OFPPC.NO_RECV | OFPPC.NO_FWD | OFPPC.NO_PACKET_IN | OFPPC_NO_FLOOD;
const FLOW_FLAGS_MASK = OFPFF.SEND_FLOW_REM | OFPFF.CHECK_OVERLAP | OFPFF.RESET_COUNTS | OFPFF.NO_PKT_COUNTS | OFPFF.NO_BYT_COUNTS;
const FLOW_COMMANDS: FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];
/** Cookie of the NORMAL flow standalone fail mode installs ("fail-open"; OVS hides its flow instead). */
export const FAIL_OPEN_COOKIE = 0x51ce_fa11_0be7_0000n;
/**
 * Messages that do not admit a controller, as Open vSwitch's rconn.c is_admitted_msg(): what a
 * controller sends while deciding whether to take the switch. Anything else (flow_mod, barrier,
 * desc or flow stats, role_request, ...) admits it.
 */
const NOT_ADMITTING: ReadonlySet<OfpMessage['type']> = new Set(['hello', 'error', 'echo_request', 'echo_reply', 'features_request', 'get_config_request', 'set_config', 'queue_get_config_request', 'get_async_request']);
const NOT_ADMITTING_MULTIPART: ReadonlySet<string> = new Set(['group', 'group_desc', 'group_features', 'table_features']);
const admits = (m: OfpMessage): boolean => !NOT_ADMITTING.has(m.type) && !(m.type === 'multipart_request' && NOT_ADMITTING_MULTIPART.has(m.body.kind));
const defaultNow = (): number => performance.timeOrigin + performance.now();

/** Parse "tcp:HOST[:PORT]" or "unix:PATH" (then `path` is set, host '' and port 0). */
export function parseActive(spec: string): { host: string; port: number; path?: string } {
  if (spec.startsWith('unix:')) {
    if (spec.length === 5) throw new RangeError(`Controller "${spec}" has an empty socket path (e.g. unix:/run/sluice/ctl.sock)`);
    return { host: '', port: 0, path: spec.slice(5) };
  }
  const m = /^tcp:(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) throw new RangeError(`Controller "${spec}" is not "tcp:HOST[:PORT]" or "unix:PATH" (e.g. tcp:127.0.0.1:6653)`);
  const port = m[2] === undefined ? 6653 : Number(m[2]);
  if (port < 1 || port > 65535) throw new RangeError(`Controller "${spec}": port ${port} is out of range 1-65535`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
/** Parse "ptcp:PORT[:IP]" (IP defaults to 127.0.0.1) or "punix:PATH" (then `path` is set). */
export function parsePassive(spec: string): { host: string; port: number; path?: string } {
  if (spec.startsWith('punix:')) {
    if (spec.length === 6) throw new RangeError(`Listen "${spec}" has an empty socket path (e.g. punix:/run/sluice/br0.mgmt)`);
    return { host: '', port: 0, path: spec.slice(6) };
  }
  const m = /^ptcp:(\d{1,5})(?::(.+))?$/.exec(spec);
  if (!m) throw new RangeError(`Listen "${spec}" is not "ptcp:PORT[:IP]" or "punix:PATH" (e.g. ptcp:6634:127.0.0.1)`);
  const port = Number(m[1]);
  if (port > 65535) throw new RangeError(`Listen "${spec}": port ${port} is out of range 0-65535`);
  return { host: (m[2] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

export class OpenFlowAgent implements SessionHost {
  readonly log: Logger;
  readonly echoIntervalMs: number;
  readonly deadAfterMs: number;
  readonly failMode: 'standalone' | 'secure';
  private readonly now: () => number;
  private readonly sessionsById = new Map<number, OfSession>();
  private readonly targets: ActiveTarget[];
  private readonly meters = new Map<number, MeterEntry>();
  private readonly portSeen = new Map<number, { desc: Port; createdMs: number }>();
  private server: Server | null = null;
  private nextId = 1;
  private generationId: bigint | null = null;
  private running = false;
  private portTimer: NodeJS.Timeout | null = null;
  private readonly captureWrites: Promise<void>[] = [];
  private prevPacketIn: DatapathHandle['onPacketIn'] = null;
  private prevFlowRemoved: DatapathHandle['onFlowRemoved'] = null;
  /** The datapath this agent programs (a bare Bridge is wrapped in an InlineDatapath). */
  readonly dp: DatapathHandle;
  /** Counters: packet-ins sent (messages), packet-ins with no eligible connection. */
  packetInsSent = 0;
  packetInsUnsent = 0;

  constructor(datapath: Bridge | DatapathHandle, readonly opts: OpenFlowAgentOptions) {
    this.dp = isDatapathHandle(datapath) ? datapath : InlineDatapath.wrap(datapath);
    const bridge = this.dp;
    if (opts.failMode !== 'standalone' && opts.failMode !== 'secure') throw new RangeError(`fail-mode "${String(opts.failMode)}" is not standalone or secure`);
    this.failMode = opts.failMode;
    this.log = (opts.log ?? pino({ level: 'silent' })).child({ dpid: `0x${bridge.datapathId.toString(16).padStart(16, '0')}` });
    this.echoIntervalMs = (opts.echoIntervalS ?? 5) * 1000;
    this.deadAfterMs = (opts.deadAfterS ?? 15) * 1000;
    if (!(this.echoIntervalMs > 0) || !(this.deadAfterMs > this.echoIntervalMs)) throw new RangeError('echoIntervalS must be > 0 and deadAfterS greater than echoIntervalS');
    this.now = opts.now ?? defaultNow;
    this.targets = (opts.controllers ?? []).map((spec) => ({ spec, ...parseActive(spec), attempts: 0, timer: null, session: null, socket: null }));
    if (opts.listen !== undefined) parsePassive(opts.listen);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Listen and start connecting; resolves once the listener is bound. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.prevPacketIn = this.dp.onPacketIn;
    this.prevFlowRemoved = this.dp.onFlowRemoved;
    this.dp.onPacketIn = (data, totalLen, inPort, reason, tableId, cookie, tunnelId, tunSrc) => this.packetIn(data, totalLen, inPort, reason, tableId, cookie, tunnelId, tunSrc);
    this.dp.onFlowRemoved = (st, reason) => this.flowRemoved(st, reason);
    const t0 = this.now();
    for (const p of this.dp.ports()) this.portSeen.set(p.ofport, { desc: portDesc(p), createdMs: t0 });
    this.portTimer = setInterval(() => this.checkPorts(), this.opts.portPollMs ?? 1000);
    this.portTimer.unref();
    if (this.opts.captureDir !== undefined) mkdirSync(this.opts.captureDir, { recursive: true });
    if (this.opts.listen !== undefined) {
      const { host, port, path } = parsePassive(this.opts.listen);
      const server = createServer((sock) => this.attach(sock, 'passive', undefined));
      this.server = server;
      if (path !== undefined) removeStaleSocket(path);   // as Open vSwitch's punix: does
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const up = (): void => { server.off('error', reject); resolve(); };
        if (path !== undefined) server.listen(path, up); else server.listen(port, host, up);
      });
      server.on('error', (err) => this.log.error({ err: err.message }, 'OpenFlow listener error'));
      this.log.info({ listen: path !== undefined ? `unix:${path}` : `${host}:${this.listeningPort}` }, 'OpenFlow listener up');
    }
    if (this.targets.length > 0 && this.failMode === 'standalone') this.enterFailOpen(false);
    for (const t of this.targets) this.connectTarget(t);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.portTimer !== null) { clearInterval(this.portTimer); this.portTimer = null; }
    if (this.failOpenTimer !== null) { clearTimeout(this.failOpenTimer); this.failOpenTimer = null; }
    for (const t of this.targets) { if (t.timer !== null) clearTimeout(t.timer); t.timer = null; t.socket?.destroy(); }
    for (const s of [...this.sessionsById.values()]) { s.close('agent stopped'); s.socket.destroy(); }
    if (this.server !== null) {
      const srv = this.server;
      this.server = null;
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
    this.dp.onPacketIn = this.prevPacketIn;
    this.dp.onFlowRemoved = this.prevFlowRemoved;
    await Promise.all(this.captureWrites);
  }

  /** Port the passive listener is bound to (useful with ptcp:0), or 0. */
  get listeningPort(): number {
    const a = this.server?.address();
    return a !== null && a !== undefined && typeof a === 'object' ? a.port : 0;
  }

  sessions(): SessionInfo[] { return [...this.sessionsById.values()].map((s) => s.info()); }

  /** Meters installed through METER_MOD, by id. */
  meter(id: number): Meter | undefined { return this.meters.get(id)?.meter; }

  // ------------------------------------------------------------------ connections

  wallMs(): number { return Date.now(); }

  private attach(sock: Socket, kind: 'passive' | 'active', target: ActiveTarget | undefined): OfSession {
    const s = new OfSession(this.nextId++, sock, kind, this, target?.spec, this.opts.captureDir !== undefined);
    this.sessionsById.set(s.id, s);
    if (target !== undefined) target.session = s;
    return s;
  }

  private connectTarget(t: ActiveTarget): void {
    if (!this.running) return;
    t.timer = null;
    const sock = t.path !== undefined ? netConnect({ path: t.path }) : netConnect({ host: t.host, port: t.port });
    t.socket = sock;
    let attached = false;
    sock.once('connect', () => { attached = true; this.attach(sock, 'active', t); });
    sock.once('error', (err) => { if (!attached) this.log.debug({ controller: t.spec, err: err.message }, 'controller connect failed'); });
    sock.once('close', () => {
      t.socket = null;
      t.session = null;
      if (!this.running) return;
      const base = this.opts.reconnectMs?.min ?? 1000, cap = this.opts.reconnectMs?.max ?? 8000;
      const delay = Math.min(cap, base * 2 ** Math.min(t.attempts, 10));
      t.attempts++;
      const jittered = delay * (0.75 + Math.random() * 0.5);
      t.timer = setTimeout(() => this.connectTarget(t), Math.min(cap, jittered));
      t.timer.unref();
    });
  }

  holdInput(resume: () => void): boolean {
    if (!this.dp.backlogged) return false;
    this.dp.whenWritable(resume);
    return true;
  }

  established(s: OfSession): void {
    if (s.kind === 'active') {
      const t = this.targets.find((x) => x.session === s);
      if (t !== undefined) t.attempts = 0;
      if (this.failOpenTimer !== null) { clearTimeout(this.failOpenTimer); this.failOpenTimer = null; }
      this.log.info({ controller: s.target }, 'connected to controller');
    }
  }

  closed(s: OfSession): void {
    this.sessionsById.delete(s.id);
    if (s.capture !== null && this.opts.captureDir !== undefined) {
      this.captureWrites.push(s.capture.pcap.writeFile(join(this.opts.captureDir, `of-conn-${s.id}.pcap`)).catch((e: Error) => this.log.warn({ err: e.message }, 'capture write failed')));
    }
    if (s.kind === 'active' && this.running && this.failMode === 'standalone' && !this.controllerUp() && !this.failOpenActive && this.failOpenTimer === null) {
      // Open vSwitch: fail open after 3 probe intervals with every controller down (ECHO every
      // echoIntervalMs is our probe), so that a controller can reconnect without a flush.
      this.failOpenTimer = setTimeout(() => {
        this.failOpenTimer = null;
        if (this.running && !this.controllerUp()) this.enterFailOpen(true);
      }, this.failOpenAfterMs);
      this.failOpenTimer.unref();
    }
  }

  private controllerUp(): boolean {
    for (const s of this.sessionsById.values()) if (s.kind === 'active' && s.state !== 'closed') return true;
    return false;
  }

  /** Fail-open (standalone) state: the NORMAL flow we installed is in table 0. */
  failOpenActive = false;
  private failOpenTimer: NodeJS.Timeout | null = null;
  /** Seconds with every controller down before standalone fails open (3 x the echo interval, as Open vSwitch). */
  get failOpenAfterMs(): number { return 3 * this.echoIntervalMs; }

  /**
   * Standalone fail mode, as Open vSwitch's fail-open.c: flush every flow (all tables; groups and
   * meters stay) and install one match-all NORMAL flow in table 0, marked with FAIL_OPEN_COOKIE,
   * so the bridge is an ordinary MAC-learning switch. At start (`flush` false) the bridge's default
   * table-0 NORMAL entry is adopted instead, and nothing else is touched. Left by recoverFailOpen()
   * when a controller is admitted.
   */
  private enterFailOpen(flush: boolean): void {
    const nowMs = this.now();
    // Not awaited: changes reach the datapath in the order they are made, before any later request's.
    if (flush) {
      void this.dp.flowMod({
        command: 'delete', spec: { tableId: 0, priority: 0, match: [], instructions: {}, cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 },
        cookieMask: 0n, outPort: OFPP.ANY, outGroup: OFPG_ANY, tableId: OFPTT_ALL,
      }, nowMs);
    }
    void this.dp.flowMod({ command: 'add', spec: { tableId: 0, priority: 0, match: [], instructions: { applyActions: [{ type: 'output', port: DP_OFPP.NORMAL }] }, cookie: FAIL_OPEN_COOKIE, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 } }, nowMs);
    this.failOpenActive = true;
    if (flush) this.log.warn({ afterMs: this.failOpenAfterMs }, 'fail-mode standalone: no controller, flows flushed, table 0 is NORMAL (fail-open)');
  }

  /** A controller was admitted: remove our NORMAL flow (only if it is still ours); the controller's flows stay. */
  private recoverFailOpen(s: OfSession): void {
    this.failOpenActive = false;
    void this.dp.flowMod({
      command: 'delete_strict', spec: { tableId: 0, priority: 0, match: [], instructions: {}, cookie: FAIL_OPEN_COOKIE, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 },
      cookieMask: 0xffff_ffff_ffff_ffffn, outPort: OFPP.ANY, outGroup: OFPG_ANY, tableId: 0,
    }, this.now());
    this.log.info({ controller: s.target }, 'controller admitted: no longer in fail-open mode');
  }

  // ------------------------------------------------------------------ async messages

  private roleIndex(s: OfSession): 0 | 1 { return s.role === OFPCR.ROLE_SLAVE ? 1 : 0; }

  private broadcast(buf: Buffer, wants: (s: OfSession) => boolean): number {
    let n = 0;
    for (const s of this.sessionsById.values()) if (s.isOpen && wants(s)) { s.sendAsync(buf); n++; }
    return n;
  }

  /** The datapath's reason is the spec's (§5.4: NO_MATCH from a table-miss entry, else ACTION). */
  /** The match carries the pipeline fields the frame has: in_port, and from a tunnel tunnel_id and tun_src (as Open vSwitch sends them). */
  private packetIn(frame: Uint8Array, totalLen: number, inPort: number, reason: number, tableId: number, cookie: bigint, tunnelId = 0, tunSrc = 0): void {
    const data = Buffer.from(frame);
    const match: MatchSpec = [{ field: 'in_port', value: BigInt(inPort >>> 0) }];
    if (tunSrc !== 0) match.push({ field: 'tunnel_id', value: BigInt(tunnelId) }, { field: 'tun_ipv4_src', value: BigInt(tunSrc >>> 0) });
    const buf = encodeMessage({
      type: 'packet_in', xid: 0, bufferId: OFP_NO_BUFFER, totalLen, reason, tableId, cookie, match, data,
    });
    const bit = 1 << reason;
    const n = this.broadcast(buf, (s) => (s.async.packetInMask[this.roleIndex(s)] & bit) !== 0);
    if (n > 0) this.packetInsSent++; else this.packetInsUnsent++;
  }

  private flowRemoved(st: FlowStats, reason: number): void {
    const r = reason > OFPRR.GROUP_DELETE ? OFPRR.DELETE : reason;   // METER_DELETE is OpenFlow 1.4's
    const [durationSec, durationNsec] = splitDuration(st.durationS);
    const buf = encodeMessage({
      type: 'flow_removed', xid: 0, cookie: st.cookie, priority: st.priority, reason: r, tableId: st.tableId,
      durationSec, durationNsec, idleTimeout: st.idleTimeoutS, hardTimeout: st.hardTimeoutS,
      packetCount: BigInt(st.packetCount), byteCount: BigInt(st.byteCount), match: specToMatch(st.match),
    });
    const bit = 1 << r;
    this.broadcast(buf, (s) => (s.async.flowRemovedMask[this.roleIndex(s)] & bit) !== 0);
  }

  /** Diff the bridge's ports against the last look and send PORT_STATUS for each change. */
  checkPorts(): void {
    const seen = new Set<number>();
    const nowMs = this.now();
    for (const p of this.dp.ports()) {
      seen.add(p.ofport);
      const d = portDesc(p);
      const old = this.portSeen.get(p.ofport);
      if (old === undefined) { this.portSeen.set(p.ofport, { desc: d, createdMs: nowMs }); this.portStatus(OFPPR.ADD, d); continue; }
      if (old.desc.config !== d.config || old.desc.state !== d.state || old.desc.name !== d.name) { old.desc = d; this.portStatus(OFPPR.MODIFY, d); }
    }
    for (const [no, old] of [...this.portSeen]) if (!seen.has(no)) { this.portSeen.delete(no); this.portStatus(OFPPR.DELETE, old.desc); }
  }

  private portStatus(reason: number, desc: Port): void {
    const buf = encodeMessage({ type: 'port_status', xid: 0, reason, desc });
    this.broadcast(buf, (s) => (s.async.portStatusMask[this.roleIndex(s)] & (1 << reason)) !== 0);
  }

  // ------------------------------------------------------------------ requests

  handle(s: OfSession, m: OfpMessage): void | Promise<OfpMessage[] | void> {
    if (this.failOpenActive && s.kind === 'active' && admits(m)) this.recoverFailOpen(s);
    switch (m.type) {
      case 'echo_request': s.sendMsg({ type: 'echo_reply', xid: m.xid, data: m.data }); return;
      case 'echo_reply': return;
      case 'hello': return;   // a second HELLO is harmless
      case 'error':
        s.errorsReceived++;
        if (s.log.isLevelEnabled('debug')) s.log.debug({ xid: m.xid, errType: m.errType, code: m.code }, 'peer sent OFPT_ERROR');
        return;
      case 'features_request':
        s.sendMsg({
          type: 'features_reply', xid: m.xid, datapathId: this.dp.datapathId, nBuffers: 0, nTables: OFPTT_MAX, auxiliaryId: 0,
          capabilities: OFPC.FLOW_STATS | OFPC.TABLE_STATS | OFPC.PORT_STATS | OFPC.GROUP_STATS, reserved: 0,
        });
        return;
      case 'get_config_request': s.sendMsg({ type: 'get_config_reply', xid: m.xid, flags: s.configFlags, missSendLen: s.missSendLen }); return;
      case 'set_config':
        if ((m.flags & ~CONFIG_FLAGS_MASK) !== 0 || (m.flags & CONFIG_FLAGS_MASK) === OFPC_FRAG.MASK) throw new OfpError(OFPET.SWITCH_CONFIG_FAILED, OFPSCFC.BAD_FLAGS, `Bad config flags 0x${m.flags.toString(16)}`);
        s.configFlags = m.flags; s.missSendLen = m.missSendLen;
        return;
      case 'barrier_request':
        // Changes reach the datapath in request order and sync() resolves after all of them;
        // the session writes replies in request order (errors of earlier requests first).
        return this.dp.sync().then(() => [{ type: 'barrier_reply', xid: m.xid }]);
      case 'role_request': this.roleRequest(s, m); return;
      case 'get_async_request': s.sendMsg({ type: 'get_async_reply', xid: m.xid, ...cloneAsync(s.async) }); return;
      case 'set_async': s.async = cloneAsync(m); return;
      case 'experimenter': throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_EXPERIMENTER, `Experimenter 0x${m.experimenter.toString(16)} is not supported`);
      case 'queue_get_config_request': {
        if (m.port !== OFPP.ANY && (m.port > OFPP.MAX || !this.dp.ports().some((p) => p.ofport === m.port))) throw new OfpError(OFPET.QUEUE_OP_FAILED, OFPQOFC.BAD_PORT, `No port ${m.port}`);
        s.sendMsg({ type: 'queue_get_config_reply', xid: m.xid, port: m.port, queues: [] });
        return;
      }
      case 'multipart_request': {
        const req = assembleMultipart(s, m);
        if (req === null) return;   // more parts to come
        if (req.body.kind === 'table_features' && req.body.tables.length > 0 && s.isSlave) throw isSlave();
        return buildReply({ dp: this.dp, meters: this.meters, nowMs: this.now(), portCreatedMs: (no) => this.portSeen.get(no)?.createdMs ?? this.now(), swDesc: this.opts.swDesc ?? 'sluice 0.1.0', hwDesc: this.opts.hwDesc, dpDesc: this.opts.dpDesc ?? `${hostname()}/${this.dp.name}` }, req.body)
          .then((body) => splitReply(req.xid, body));
      }
      case 'packet_out': case 'flow_mod': case 'group_mod': case 'port_mod': case 'table_mod': case 'meter_mod':
        if (s.isSlave) throw isSlave();
        switch (m.type) {
          case 'packet_out': return this.packetOut(m);
          case 'flow_mod': return this.flowMod(m);
          case 'group_mod': return this.groupMod(m);
          case 'port_mod': return this.portMod(m);
          case 'meter_mod': return this.meterMod(m);
          case 'table_mod':
            if (m.tableId > OFPTT_MAX && m.tableId !== OFPTT_ALL) throw new OfpError(OFPET.TABLE_MOD_FAILED, OFPTMFC.BAD_TABLE, `Bad table id ${m.tableId}`);
            return;   // accepted; table config has no effect in 1.3
        }
        return;
      default:
        // Switch-to-controller messages (features_reply, packet_in, ...) make no sense here.
        throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE, `Unexpected ${m.type} from a controller`);
    }
  }

  private roleRequest(s: OfSession, m: RoleRequest): void {
    if (m.role > OFPCR.ROLE_SLAVE) throw new OfpError(OFPET.ROLE_REQUEST_FAILED, OFPRRFC.BAD_ROLE, `Bad role ${m.role}`);
    if (m.role === OFPCR.ROLE_MASTER || m.role === OFPCR.ROLE_SLAVE) {
      if (this.generationId !== null && BigInt.asIntN(64, m.generationId - this.generationId) < 0n) {
        throw new OfpError(OFPET.ROLE_REQUEST_FAILED, OFPRRFC.STALE, `Stale generation id ${m.generationId}`);
      }
      this.generationId = m.generationId;
    }
    if (m.role === OFPCR.ROLE_MASTER) {
      for (const o of this.sessionsById.values()) if (o !== s && o.role === OFPCR.ROLE_MASTER) { o.role = OFPCR.ROLE_SLAVE; o.log.info('demoted to slave'); }
    }
    if (m.role !== OFPCR.ROLE_NOCHANGE && m.role !== s.role) {
      // Logged with the generation id, so failovers between controllers can be timed from the switch's side.
      s.log.info({ role: m.role === OFPCR.ROLE_MASTER ? 'master' : m.role === OFPCR.ROLE_SLAVE ? 'slave' : 'equal', generation: m.generationId.toString() }, 'controller role changed');
    }
    if (m.role !== OFPCR.ROLE_NOCHANGE) s.role = m.role;
    s.sendMsg({ type: 'role_reply', xid: m.xid, role: s.role, generationId: this.generationId ?? 0n });
  }

  private flowMod(m: FlowMod): Promise<void> {
    const command = FLOW_COMMANDS[m.command];
    if (command === undefined) throw new OfpError(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_COMMAND, `Bad flow_mod command ${m.command}`);
    if (m.tableId === OFPTT_ALL ? command === 'add' : m.tableId > OFPTT_MAX) throw new OfpError(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_TABLE_ID, `Bad table id ${m.tableId}`);
    if ((m.flags & ~FLOW_FLAGS_MASK) !== 0) throw new OfpError(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_FLAGS, `Bad flow_mod flags 0x${m.flags.toString(16)}`);
    if (m.match.length > 0) checkMatch(m.match);
    const match = matchToSpec(m.match);
    const instructions = instructionsToSpec(m.instructions);
    const tableId = m.tableId === OFPTT_ALL ? 0 : m.tableId;
    const applied = this.dp.flowMod({
      command,
      spec: { tableId, priority: m.priority, match, instructions, cookie: m.cookie, idleTimeoutS: m.idleTimeout, hardTimeoutS: m.hardTimeout, flags: m.flags },
      cookieMask: m.cookieMask, outPort: m.outPort, outGroup: m.outGroup, tableId: m.tableId,
    }, this.now());
    const gotoBad = instructions.gotoTable !== undefined && (instructions.gotoTable <= tableId || instructions.gotoTable > OFPTT_MAX);
    return applied.then((r) => {
      const err = resultToError(r, 'flow_mod', gotoBad);
      if (err !== null) throw err;
      if (m.bufferId !== OFP_NO_BUFFER && (command === 'add' || command === 'modify' || command === 'modify_strict')) {
        throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BUFFER_UNKNOWN, `Buffer ${m.bufferId} unknown (the switch has no buffers); the flow_mod itself was applied`);
      }
    });
  }

  private groupMod(m: GroupMod): Promise<void> {
    const cmd = m.command === OFPGC.ADD ? 'add' : m.command === OFPGC.MODIFY ? 'modify' : m.command === OFPGC.DELETE ? 'delete' : null;
    if (cmd === null) throw new OfpError(OFPET.GROUP_MOD_FAILED, 11 /* BAD_COMMAND */, `Bad group_mod command ${m.command}`);
    if (m.groupId > OFPG_MAX && !(cmd === 'delete' && m.groupId === OFPG_ALL)) throw new OfpError(OFPET.GROUP_MOD_FAILED, 1 /* INVALID_GROUP */, `Bad group id ${m.groupId}`);
    const spec = { groupId: m.groupId, type: m.groupType as GroupSpec['type'], buckets: cmd === 'delete' ? [] : bucketsToSpec(m.buckets) };
    return this.dp.groupMod(cmd, spec).then((r) => {
      const err = resultToError(r, cmd === 'modify' ? 'group_modify' : 'group_mod');
      if (err !== null) throw err;
    });
  }

  private portMod(m: PortMod): Promise<void> | void {
    const p = this.dp.ports().find((x) => x.ofport === m.portNo);
    if (p === undefined) throw new OfpError(OFPET.PORT_MOD_FAILED, OFPPMFC.BAD_PORT, `No port ${m.portNo}`);
    if (portDesc(p).hwAddr !== m.hwAddr.toLowerCase()) throw new OfpError(OFPET.PORT_MOD_FAILED, OFPPMFC.BAD_HW_ADDR, `Port ${m.portNo} hw_addr is ${portDesc(p).hwAddr}, not ${m.hwAddr}`);
    if ((m.mask & ~PORT_CONFIG_MASK) !== 0) throw new OfpError(OFPET.PORT_MOD_FAILED, OFPPMFC.BAD_CONFIG, `Unsupported port config bits 0x${(m.mask & ~PORT_CONFIG_MASK).toString(16)}`);
    const cfg: Partial<PortConfig> = {};
    const bit = (b: number): boolean | undefined => ((m.mask & b) !== 0 ? (m.config & b) !== 0 : undefined);
    const set = <K extends keyof PortConfig>(k: K, v: boolean | undefined): void => { if (v !== undefined) cfg[k] = v; };
    set('down', bit(OFPPC.PORT_DOWN)); set('noRecv', bit(OFPPC.NO_RECV)); set('noForward', bit(OFPPC.NO_FWD));
    set('noPacketIn', bit(OFPPC.NO_PACKET_IN)); set('noFlood', bit(OFPPC_NO_FLOOD));
    if (Object.keys(cfg).length === 0) { this.checkPorts(); return; }
    return this.dp.setPortConfig(m.portNo, cfg).then(() => this.checkPorts());
  }

  private meterMod(m: MeterMod): Promise<void> | void {
    const nowMs = this.now();
    if (m.command !== OFPMC.ADD && m.command !== OFPMC.MODIFY && m.command !== OFPMC.DELETE) throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.BAD_COMMAND, `Bad meter_mod command ${m.command}`);
    if (m.command === OFPMC.DELETE) {
      if (m.meterId === OFPM_ALL) { for (const id of [...this.meters.keys()]) { void this.dp.deleteMeter(id); this.meters.delete(id); } return this.dp.sync(); }
      if (m.meterId === 0 || m.meterId > OFPM_MAX) throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.INVALID_METER, `Bad meter id ${m.meterId}`);
      if (!this.meters.has(m.meterId)) throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.UNKNOWN_METER, `No meter ${m.meterId}`);
      this.meters.delete(m.meterId);
      return this.dp.deleteMeter(m.meterId);
    }
    if (m.meterId === 0 || m.meterId > OFPM_MAX) throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.INVALID_METER, `Bad meter id ${m.meterId}`);
    const bands: MeterBandSpec[] = m.bands.map((b) => {
      if (b.kind === 'drop') return { type: MeterBandType.DROP, rate: b.rate, burstSize: b.burstSize };
      if (b.kind === 'dscp_remark') return { type: MeterBandType.DSCP_REMARK, rate: b.rate, burstSize: b.burstSize, precLevel: b.precLevel };
      throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.BAD_BAND, 'Experimenter meter bands are not supported');
    });
    const existing = this.meters.get(m.meterId);
    try {
      if (m.command === OFPMC.ADD) {
        if (existing !== undefined) throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.METER_EXISTS, `Meter ${m.meterId} exists`);
        // The agent's Meter validates and keeps the config (meter_config); the datapath runs its own.
        const meter = new Meter(m.meterId, m.flags, bands, nowMs);
        this.meters.set(m.meterId, { meter, createdMs: nowMs });
        return this.dp.setMeter(m.meterId, m.flags, bands, nowMs);
      } else {
        if (existing === undefined) throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.UNKNOWN_METER, `No meter ${m.meterId}`);
        existing.meter.reconfigure(m.flags, bands, nowMs);   // validates; the datapath's keeps tokens and counters
        return this.dp.setMeter(m.meterId, m.flags, bands, nowMs);
      }
    } catch (e) {
      if (e instanceof MeterConfigError) {
        const code = e.code === 'INVALID' ? (bands.length > 16 ? OFPMMFC.OUT_OF_BANDS : OFPMMFC.INVALID_METER) : OFPMMFC[e.code];
        throw new OfpError(OFPET.METER_MOD_FAILED, code, e.message);
      }
      throw e;
    }
  }

  private packetOut(m: PacketOut): Promise<void> {
    if (m.bufferId !== OFP_NO_BUFFER) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BUFFER_UNKNOWN, `Buffer ${m.bufferId} unknown (the switch has no buffers)`);
    const inPort = m.inPort;
    const reserved = inPort === OFPP.CONTROLLER || inPort === OFPP.ANY || inPort === OFPP.LOCAL;
    if (!reserved && (inPort === 0 || inPort > OFPP.MAX || this.dp.portName(inPort) === '')) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_PORT, `Bad packet_out in_port ${inPort}`);
    if (m.data.length < 14) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_PACKET, `packet_out frame of ${m.data.length} bytes is shorter than an Ethernet header`);
    const actions = actionsToSpec(m.actions);
    return this.dp.packetOut(m.data, inPort === OFPP.ANY ? OFPP.CONTROLLER : inPort, actions, this.now()).then((r) => {
      const err = resultToError(r, 'packet_out');
      if (err !== null) throw err;
    });
  }
}

/**
 * OFPMPF_REQ_MORE: keep the parts of one request (this connection, this xid) until the last one,
 * then return the whole request (table_features: the tables of every part, in order; other kinds
 * have a fixed request body, answered from the first part). Null while parts are missing.
 * Bounded per connection: MULTIPART_MAX_PARTS parts or MULTIPART_MAX_BYTES bytes per request and
 * MULTIPART_MAX_PENDING unfinished requests, else MULTIPART_BUFFER_OVERFLOW (the request is
 * dropped); a part of another type under the same xid is BAD_MULTIPART (dropped too).
 */
export function assembleMultipart(s: OfSession, m: MultipartRequest): MultipartRequest | null {
  const more = (m.flags & OFPMPF_REQ_MORE) !== 0;
  const pending = s.multipart.get(m.xid);
  if (pending === undefined && !more) return m;
  const bytes = encodingLength(m);
  if (pending === undefined) {
    if (s.multipart.size >= MULTIPART_MAX_PENDING) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.MULTIPART_BUFFER_OVERFLOW, `More than ${MULTIPART_MAX_PENDING} unfinished multipart requests`);
    s.multipart.set(m.xid, { kind: m.body.kind, parts: [m], bytes });
    return null;
  }
  if (pending.kind !== m.body.kind) {
    s.multipart.delete(m.xid);
    throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_MULTIPART, `Multipart ${m.body.kind} part under xid ${m.xid}, which is assembling ${pending.kind}`);
  }
  pending.bytes += bytes;
  pending.parts.push(m);
  if (pending.parts.length > MULTIPART_MAX_PARTS || pending.bytes > MULTIPART_MAX_BYTES) {
    s.multipart.delete(m.xid);
    throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.MULTIPART_BUFFER_OVERFLOW, `Multipart request xid ${m.xid} exceeds ${MULTIPART_MAX_PARTS} parts or ${MULTIPART_MAX_BYTES} bytes`);
  }
  if (more) return null;
  s.multipart.delete(m.xid);
  const first = pending.parts[0]!;
  if (first.body.kind !== 'table_features') return { ...first, flags: 0 };
  const tables = pending.parts.flatMap((p) => (p.body.kind === 'table_features' ? p.body.tables : []));
  return { ...first, flags: 0, body: { kind: 'table_features', tables } };
}

/** Remove a socket file left by an earlier run (only a socket: never a regular file). */
function removeStaleSocket(path: string): void {
  try { if (lstatSync(path).isSocket()) unlinkSync(path); } catch { /* absent */ }
}

function isSlave(): OfpError { return new OfpError(OFPET.BAD_REQUEST, OFPBRC.IS_SLAVE, 'Connection is a slave'); }
function cloneAsync(a: { packetInMask: [number, number]; portStatusMask: [number, number]; flowRemovedMask: [number, number] }) {
  return { packetInMask: [a.packetInMask[0], a.packetInMask[1]] as [number, number], portStatusMask: [a.portStatusMask[0], a.portStatusMask[1]] as [number, number], flowRemovedMask: [a.flowRemovedMask[0], a.flowRemovedMask[1]] as [number, number] };
}

