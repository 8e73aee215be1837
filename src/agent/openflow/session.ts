// One OpenFlow 1.3 connection of the switch agent (passive or active): HELLO and version
// negotiation, framing (OfpFramer) and decoding, the single catch site that turns OfpError into
// OFPT_ERROR (offending bytes, same xid, warn log, session stays up), echo keepalive, and the
// connection's own state (role, async masks, miss_send_len). Framing errors close the socket.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  OFPBRC, OFPCR, OFPET, OFPHFC, OFP_ERROR_DATA_MAX, OFP_VERSION, OfpError, OfpFramer,
  decodeMessage, encodeMessage, helloVersions, versionBitmap,
} from '../../openflow/index.js';
import type { AsyncConfig, MultipartRequest, OfpMessage } from '../../openflow/messages.js';
import { ConnectionCapture } from './capture.js';

export type SessionKind = 'passive' | 'active';
export type SessionState = 'hello' | 'open' | 'closed';

/** What the agent gives each session. */
export interface SessionHost {
  readonly log: Logger;
  readonly echoIntervalMs: number;
  readonly deadAfterMs: number;
  /**
   * Called for every decoded message after HELLO; may throw OfpError. A message the datapath must
   * answer returns a promise of the replies (or a rejection with the OfpError): the session keeps
   * every reply in the order of the requests (OpenFlow BARRIER), see OfSession.onFrame.
   */
  handle(s: OfSession, msg: OfpMessage): void | Promise<OfpMessage[] | void>;
  established(s: OfSession): void;
  closed(s: OfSession): void;
  /** Wall-clock ms for capture timestamps. */
  wallMs(): number;
  /**
   * Backpressure from the datapath: true when changes cannot be taken now (a worker's ring is
   * full); `resume` then runs once they can, and the session reads nothing more until it has.
   */
  holdInput?(resume: () => void): boolean;
}

/** OpenFlow 1.3 default async masks: [master/equal, slave]. */
export function defaultAsync(): AsyncConfig {
  return { packetInMask: [0x3, 0x0], portStatusMask: [0x7, 0x7], flowRemovedMask: [0xf, 0x0] };
}

const ROLE_NAMES = ['nochange', 'equal', 'master', 'slave'] as const;

/** Bounds of a multipart request spread over several messages (OFPMPF_REQ_MORE), per connection. */
export const MULTIPART_MAX_PARTS = 1024;
export const MULTIPART_MAX_BYTES = 4 << 20;
export const MULTIPART_MAX_PENDING = 16;

/** Parts of one multipart request received so far (same connection, same xid). */
export interface MultipartAssembly { kind: MultipartRequest['body']['kind']; parts: MultipartRequest[]; bytes: number }

export interface SessionInfo {
  id: number; kind: SessionKind; peer: string; target?: string; state: SessionState;
  role: 'equal' | 'master' | 'slave'; rxMessages: number; txMessages: number; errorsSent: number; errorsReceived: number;
}

export class OfSession {
  state: SessionState = 'hello';
  role: number = OFPCR.ROLE_EQUAL;
  async: AsyncConfig = defaultAsync();
  missSendLen = 128;
  configFlags = 0;
  rxMessages = 0;
  txMessages = 0;
  errorsSent = 0;
  /** OFPT_ERRORs the peer sent (logged at debug only). */
  errorsReceived = 0;
  readonly log: Logger;
  readonly capture: ConnectionCapture | null;
  /** Multipart requests still waiting for their last part, by xid (agent.ts assembles them). */
  readonly multipart = new Map<number, MultipartAssembly>();
  private readonly framer: OfpFramer;
  private lastRxMs = performance.now();
  private echoOutstanding = false;
  private echoXid = 0xec000000;
  private timer: NodeJS.Timeout | null = null;
  /**
   * Replies of requests handled after one that still waits for the datapath, in request order: a
   * slot per such request, written out as soon as every slot before it is ready. While empty,
   * replies go straight to the socket (the common case: echo, features, an applied flow_mod).
   */
  private slots: Array<{ out: Buffer[]; ready: boolean }> = [];
  /** Index of the first slot not yet written (slots before it are done; compacted now and then). */
  private slotHead = 0;
  /** The slot the request being handled writes into (null: write to the socket). */
  private into: { out: Buffer[]; ready: boolean } | null = null;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly kind: SessionKind,
    private readonly host: SessionHost,
    readonly target: string | undefined,
    capture: boolean,
  ) {
    this.log = host.log.child({ conn: id, peer: this.peer, kind });
    this.capture = capture
      ? new ConnectionCapture(socket.localAddress ?? '127.0.0.1', socket.localPort ?? 0, socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0, host.wallMs(), kind === 'active')
      : null;
    // At most 256 messages per event-loop turn: a burst of FLOW_MODs yields to other sessions,
    // timers and the datapath; the socket is paused while messages wait for the next turn.
    this.framer = new OfpFramer((buf, off, len) => this.onFrame(buf, off, len), {
      turn: (drain) => this.whenTaken(() => this.framed(drain)),
      onBacklog: (waiting) => { if (waiting) socket.pause(); else if (this.state !== 'closed') socket.resume(); },
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.info({ err: err.message }, 'OpenFlow connection error'));
    socket.on('close', () => this.onClose());
    this.sendMsg({ type: 'hello', xid: 0, version: OFP_VERSION, elements: [versionBitmap([OFP_VERSION])] });
    const tick = Math.max(20, Math.min(1000, host.echoIntervalMs / 4));
    this.timer = setInterval(() => this.keepalive(), tick);
    this.timer.unref();
  }

  get peer(): string {
    const s = this.socket;
    if (s.remoteAddress === undefined && s.remotePort === undefined) return `unix:${this.target?.replace(/^unix:/, '') ?? 'socket'}`;
    return `${s.remoteAddress ?? '?'}:${s.remotePort ?? 0}`;
  }
  get isOpen(): boolean { return this.state === 'open'; }
  get isSlave(): boolean { return this.role === OFPCR.ROLE_SLAVE; }

  info(): SessionInfo {
    const role = ROLE_NAMES[this.role] as 'equal' | 'master' | 'slave';
    return { id: this.id, kind: this.kind, peer: this.peer, target: this.target, state: this.state, role, rxMessages: this.rxMessages, txMessages: this.txMessages, errorsSent: this.errorsSent, errorsReceived: this.errorsReceived };
  }

  /** Encode and send one message. */
  sendMsg(msg: OfpMessage): void { this.sendRaw(encodeMessage(msg)); }

  /** Send already-encoded bytes (one or more whole messages). */
  sendRaw(buf: Buffer): void {
    if (this.state === 'closed' || this.socket.destroyed) return;
    if (this.into !== null) { this.into.out.push(buf); return; }
    this.write(buf);
  }

  /** Send bytes not tied to a request (PACKET_IN, FLOW_REMOVED, PORT_STATUS, keepalive): never held behind replies. */
  sendAsync(buf: Buffer): void {
    if (this.state === 'closed' || this.socket.destroyed) return;
    this.write(buf);
  }

  private write(buf: Buffer): void {
    this.txMessages++;
    if (this.capture !== null) this.capture.add(this.host.wallMs(), 'out', buf);
    this.socket.write(buf);
  }

  /** OFPT_ERROR with at most 64 bytes of the offending message. */
  sendError(type: number, code: number, xid: number, data: Uint8Array): void {
    this.errorsSent++;
    const d = Buffer.from(data.subarray(0, OFP_ERROR_DATA_MAX));
    this.sendMsg({ type: 'error', xid, errType: type, code, data: d });
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.log.info({ reason }, 'closing OpenFlow connection');
    this.socket.end();
    // Let the error/reply flush, then make sure the socket goes away.
    setTimeout(() => this.socket.destroy(), 200).unref();
    this.onClose();
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.multipart.clear();
    if (this.timer !== null) { clearInterval(this.timer); this.timer = null; }
    this.host.closed(this);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastRxMs = performance.now();
    this.echoOutstanding = false;
    if (this.capture !== null) this.capture.add(this.host.wallMs(), 'in', chunk);
    this.whenTaken(() => this.framed(() => this.framer.push(chunk)));
  }

  /** Run `fn` now, or (the datapath is holding input) with the socket paused, once it takes changes again. */
  private whenTaken(fn: () => void): void {
    const held = this.host.holdInput?.(() => {
      if (this.state === 'closed') return;
      if (!this.framer.waiting) this.socket.resume();
      fn();
    }) ?? false;
    if (held) this.socket.pause(); else fn();
  }

  /**
   * Run the framer (a push, or a turn it scheduled after yielding): replies to every message of the
   * turn (barrier, errors, multipart) leave in one writev; a framing error closes the session.
   */
  private framed(run: () => void): void {
    const sock = this.socket;
    sock.cork();
    try {
      run();
    } catch (e) {
      if (!sock.destroyed) sock.uncork();
      if (e instanceof OfpError) {
        // Framing error: the stream cannot be resynchronised.
        this.log.warn({ err: e.message, type: e.type, code: e.code }, 'OpenFlow framing error; closing');
        const data = e.data ?? Buffer.alloc(0);
        const xid = data.length >= 8 ? Buffer.from(data).readUInt32BE(4) : 0;
        this.sendError(e.type, e.code, xid, data);
        this.close('framing error');
        return;
      }
      throw e;
    }
    if (!sock.destroyed) sock.uncork();
  }

  /** The single catch site: decode, handle, and answer any OfpError with OFPT_ERROR. */
  private onFrame(buf: Buffer, off: number, len: number): void {
    if (this.state === 'closed') return;
    this.rxMessages++;
    const xid = buf.readUInt32BE(off + 4);
    let msg: OfpMessage;
    try {
      msg = decodeMessage(buf, off, len);
    } catch (e) {
      this.fail(e, xid, buf, off, len);
      return;
    }
    if (this.state === 'hello') { this.onHello(msg, buf, off, len); return; }
    if (msg.type === 'echo_reply' && msg.xid === this.echoXid) return;
    // A request handled while an earlier one waits for the datapath writes into its own slot.
    const slot = this.slots.length > this.slotHead ? { out: [] as Buffer[], ready: false } : null;
    if (slot !== null) this.slots.push(slot);
    this.into = slot;
    let r: void | Promise<OfpMessage[] | void>;
    try {
      r = this.host.handle(this, msg);
    } catch (e) {
      this.fail(e, xid, buf, off, len);
      r = undefined;
    } finally {
      this.into = null;
    }
    if (r === undefined) {
      if (slot !== null) { slot.ready = true; this.flushSlots(); }
      return;
    }
    // Waits for the datapath: keep the offending bytes for an error, and hold later replies.
    const head = Buffer.from(buf.subarray(off, off + Math.min(len, OFP_ERROR_DATA_MAX)));
    const mine = slot ?? { out: [] as Buffer[], ready: false };
    if (slot === null) this.slots.push(mine);
    r.then((msgs) => {
      this.into = mine;
      try { if (msgs) for (const m of msgs) this.sendMsg(m); } finally { this.into = null; }
    }, (e: unknown) => {
      this.into = mine;
      try { this.fail(e, xid, head, 0, head.length); } finally { this.into = null; }
    }).finally(() => { mine.ready = true; this.flushSlots(); });
  }

  /** Write out the replies of every leading ready slot. */
  private flushSlots(): void {
    const slots = this.slots, from = this.slotHead;
    let n = from;
    while (n < slots.length && slots[n].ready) n++;
    if (n === from) return;
    this.slotHead = n;
    const live = this.state !== 'closed' && !this.socket.destroyed;
    if (live) this.socket.cork();
    for (let i = from; i < n; i++) { if (live) for (const b of slots[i].out) this.write(b); slots[i].out = []; }
    if (live) this.socket.uncork();
    if (n === slots.length) { this.slots = []; this.slotHead = 0; } else if (n > 1024) { this.slots = slots.slice(n); this.slotHead = 0; }
  }

  private fail(e: unknown, xid: number, buf: Buffer, off: number, len: number): void {
    const data = buf.subarray(off, off + Math.min(len, OFP_ERROR_DATA_MAX));
    if (e instanceof OfpError) {
      this.log.warn({ xid, type: e.type, code: e.code, err: e.message }, 'OpenFlow request refused');
      this.sendError(e.type, e.code, xid, e.data !== undefined && e.data.length > 0 ? e.data : data);
      return;
    }
    // A bug in the agent or datapath: report it as EPERM and keep the session.
    this.log.error({ xid, err: e instanceof Error ? e.stack : String(e) }, 'internal error handling OpenFlow message');
    this.sendError(OFPET.BAD_REQUEST, OFPBRC.EPERM, xid, data);
  }

  private onHello(msg: OfpMessage, buf: Buffer, off: number, len: number): void {
    if (msg.type !== 'hello') {
      this.sendError(OFPET.HELLO_FAILED, OFPHFC.INCOMPATIBLE, msg.xid, buf.subarray(off, off + len));
      this.close('first message is not HELLO');
      return;
    }
    const bitmap = msg.elements.some((e) => e.kind === 'versionbitmap');
    const ok = bitmap ? helloVersions(msg.elements).includes(OFP_VERSION) : msg.version >= OFP_VERSION;
    if (!ok) {
      const offered = bitmap ? helloVersions(msg.elements).join(',') : String(msg.version);
      this.log.warn({ offered }, 'OpenFlow version negotiation failed');
      const text = Buffer.from(`We support version 0x04 (OpenFlow 1.3); you support ${offered}`);
      this.errorsSent++;
      this.sendRaw(encodeMessage({ type: 'error', xid: msg.xid, errType: OFPET.HELLO_FAILED, code: OFPHFC.INCOMPATIBLE, data: text }));
      this.close('version negotiation failed');
      return;
    }
    this.state = 'open';
    this.log.info('OpenFlow 1.3 session established');
    this.host.established(this);
  }

  private keepalive(): void {
    if (this.state === 'closed') return;
    const idle = performance.now() - this.lastRxMs;
    if (idle >= this.host.deadAfterMs) { this.log.warn({ idleMs: Math.round(idle) }, 'OpenFlow peer silent; closing'); this.close('inactivity'); return; }
    if (idle >= this.host.echoIntervalMs && !this.echoOutstanding && this.state === 'open') {
      this.echoOutstanding = true;
      this.echoXid = (this.echoXid + 1) >>> 0;
      this.sendMsg({ type: 'echo_request', xid: this.echoXid, data: Buffer.alloc(0) });
    }
  }
}


