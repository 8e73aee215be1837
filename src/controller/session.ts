// One switch's OpenFlow 1.3 connection, seen from the controller: the handshake (HELLO, FEATURES,
// DESC, PORT_DESC, the MASTER role with a generation id), requests matched to replies by xid,
// multipart replies reassembled across REPLY_MORE, barriers, echo keepalive both ways, and the
// switch's asynchronous messages as events. The single catch site for what the switch sends.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  OFPCR, OFPMPF_REPLY_MORE, OFP_VERSION, OfpFramer, decodeMessage, encodeMessage, helloVersions, versionBitmap,
} from '../openflow/index.js';
import type {
  ErrorMsg, FlowRemoved, MultipartReplyBody, MultipartRequestBody, OfpMessage, PacketIn, Port, PortStatus,
} from '../openflow/index.js';

export interface SessionOptions {
  log: Logger;
  /** Generation id to claim the MASTER role with (OpenFlow 1.3 §6.3.7). */
  generationId: bigint;
  /**
   * The role to claim at the handshake, asked when it happens (several controllers: the leader is
   * MASTER, the others SLAVE with the leader's generation id); null: none (the switch's EQUAL).
   * Default: MASTER with `generationId`.
   */
  claim?: () => { role: SessionRole; generationId: bigint } | null;
  /** Echo period; the connection is dropped after 3 periods without an answer (default 5 s). */
  echoIntervalMs?: number;
  /** A request with no reply within this long fails (default 10 s). */
  requestTimeoutMs?: number;
}

export type SessionRole = 'master' | 'slave';

export interface SwitchHello {
  dpid: bigint;
  /** 16 hex digits, as ovs-ofctl prints it. */
  dpidHex: string;
  desc: { mfrDesc: string; hwDesc: string; swDesc: string; serialNum: string; dpDesc: string };
  ports: Port[];
  nTables: number;
}

type Pending = { resolve: (m: OfpMessage[]) => void; reject: (e: Error) => void; parts: OfpMessage[]; timer: NodeJS.Timeout };

/** An OFPT_ERROR the switch sent for one of our requests. */
export class SwitchError extends Error {
  constructor(readonly msg: ErrorMsg) {
    super(`switch error type ${msg.errType} code ${msg.code}`);
    this.name = 'SwitchError';
  }
}

export interface SwitchSessionEvents {
  packet_in: [PacketIn];
  flow_removed: [FlowRemoved];
  port_status: [PortStatus];
  /** An error for an xid with no pending request (a FLOW_MOD sent without waiting). */
  switch_error: [ErrorMsg];
  close: [string];
}

/** Version negotiation (OpenFlow 1.3 §6.3.1): the bitmap if there is one, else the header version. */
function speaks13(m: Extract<OfpMessage, { type: 'hello' }>): boolean {
  const versions = helloVersions(m.elements);
  return versions.length > 0 ? versions.includes(OFP_VERSION) : m.version >= OFP_VERSION;
}

export class SwitchSession extends EventEmitter<SwitchSessionEvents> {
  hello: SwitchHello | null = null;
  closed = false;
  /** The role the switch granted us last (null: none asked, the switch's EQUAL). */
  role: SessionRole | null = null;
  /** Messages sent, by type (flow_mod, group_mod, meter_mod, packet_out, ...). */
  readonly sent = new Map<string, number>();
  private xid = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly framer: OfpFramer;
  private echoTimer: NodeJS.Timeout | null = null;
  private unanswered = 0;
  private onHello: (() => void) | null = null;
  private corked = false;
  private log: Logger;

  constructor(readonly socket: Socket, private readonly opts: SessionOptions) {
    super();
    this.log = opts.log;
    // Turns the framer schedules after its per-turn message budget fail like a push does.
    this.framer = new OfpFramer((buf, off, len) => this.onMessage(buf, off, len), {
      turn: (drain) => { try { drain(); } catch (e) { this.close(`framing error: ${(e as Error).message}`); } },
      onBacklog: (waiting) => { if (waiting) socket.pause(); else if (!socket.destroyed) socket.resume(); },
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try { this.framer.push(chunk); } catch (e) { this.close(`framing error: ${(e as Error).message}`); }
    });
    socket.on('close', () => this.close('connection closed'));
    socket.on('error', (e) => this.close(e.message));
  }

  get peer(): string { return `${this.socket.remoteAddress ?? 'unix'}:${this.socket.remotePort ?? ''}`; }

  /** HELLO, FEATURES, DESC, PORT_DESC, ROLE (MASTER). Resolves when the switch is ready for changes. */
  async start(): Promise<SwitchHello> {
    const gotHello = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.close('no HELLO'); reject(new Error('no HELLO from the switch')); }, this.opts.requestTimeoutMs ?? 10_000);
      this.onHello = () => { clearTimeout(timer); resolve(); };
      this.once('close', (why) => { clearTimeout(timer); reject(new Error(`switch went away during the handshake: ${why}`)); });
    });
    this.send({ type: 'hello', xid: this.nextXid(), version: OFP_VERSION, elements: [versionBitmap([OFP_VERSION])] });
    await gotHello;
    const features = await this.request({ type: 'features_request', xid: 0 });
    if (features.type !== 'features_reply') throw new Error(`expected FEATURES_REPLY, got ${features.type}`);
    const [desc] = await this.multipart({ kind: 'desc' });
    const ports = (await this.multipart({ kind: 'port_desc' })).flatMap((b) => (b.kind === 'port_desc' ? b.ports : []));
    const claim = this.opts.claim ? this.opts.claim() : { role: 'master' as const, generationId: this.opts.generationId };
    if (claim?.role === 'master') await this.claimRole('master', claim.generationId);
    else if (claim?.role === 'slave') {
      // A SLAVE refused (a generation id newer than the leader we know): stay EQUAL, we send nothing anyway.
      await this.claimRole('slave', claim.generationId).catch((e: Error) => this.log.warn({ err: e.message }, 'the switch did not grant the SLAVE role'));
    }
    this.send({ type: 'set_config', xid: this.nextXid(), flags: 0, missSendLen: 128 });
    const d = desc?.kind === 'desc' ? desc : { mfrDesc: '', hwDesc: '', swDesc: '', serialNum: '', dpDesc: '' };
    this.hello = {
      dpid: features.datapathId,
      dpidHex: features.datapathId.toString(16).padStart(16, '0'),
      desc: { mfrDesc: d.mfrDesc, hwDesc: d.hwDesc, swDesc: d.swDesc, serialNum: d.serialNum, dpDesc: d.dpDesc },
      ports,
      nTables: features.nTables,
    };
    this.log = this.log.child({ dpid: this.hello.dpidHex });
    this.startEcho();
    return this.hello;
  }

  /**
   * ROLE_REQUEST: the switch refuses a generation id lower than the greatest it has seen (STALE),
   * which is how a stale leader is fenced. Throws unless the role is granted.
   */
  async claimRole(role: SessionRole, generationId: bigint): Promise<void> {
    const want = role === 'master' ? OFPCR.ROLE_MASTER : OFPCR.ROLE_SLAVE;
    let r: OfpMessage;
    try {
      r = await this.request({ type: 'role_request', xid: 0, role: want, generationId });
    } catch (e) {
      if (e instanceof SwitchError) throw new Error(`the switch did not grant the ${role.toUpperCase()} role (generation ${generationId}): error type ${e.msg.errType} code ${e.msg.code}`);
      throw e;
    }
    if (r.type !== 'role_reply' || r.role !== want) throw new Error(`the switch did not grant the ${role.toUpperCase()} role`);
    this.role = role;
  }

  nextXid(): number {
    this.xid = this.xid >= 0xfffffff0 ? 1 : this.xid + 1;
    return this.xid;
  }

  /** Send without waiting; returns the xid used (assigned when the message has xid 0). */
  send(m: OfpMessage): number {
    if (this.closed) return 0;
    const xid = m.xid || this.nextXid();
    this.sent.set(m.type, (this.sent.get(m.type) ?? 0) + 1);
    if (!this.corked) {
      // Everything sent in one tick leaves in one write (a learning burst is thousands of FLOW_MODs).
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => { this.corked = false; this.socket.uncork(); });
    }
    this.socket.write(encodeMessage(m.xid ? m : ({ ...m, xid } as OfpMessage)));
    return xid;
  }

  /** Send and wait for the reply with the same xid (an OFPT_ERROR rejects with SwitchError). */
  async request(m: OfpMessage): Promise<OfpMessage> {
    const parts = await this.exchange(m);
    return parts[0]!;
  }

  /** A multipart request; resolves with every reply body, REPLY_MORE parts joined in order. */
  async multipart(body: MultipartRequestBody): Promise<MultipartReplyBody[]> {
    const parts = await this.exchange({ type: 'multipart_request', xid: 0, flags: 0, body });
    return parts.flatMap((p) => (p.type === 'multipart_reply' ? [p.body] : []));
  }

  /** Resolves when the switch has processed everything sent before it. */
  async barrier(): Promise<void> {
    await this.request({ type: 'barrier_request', xid: 0 });
  }

  private exchange(m: OfpMessage): Promise<OfpMessage[]> {
    if (this.closed) return Promise.reject(new Error('switch connection is closed'));
    const xid = m.xid || this.nextXid();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(xid);
        reject(new Error(`no reply to ${m.type} (xid ${xid}) within ${this.opts.requestTimeoutMs ?? 10_000} ms`));
      }, this.opts.requestTimeoutMs ?? 10_000);
      this.pending.set(xid, { resolve, reject, parts: [], timer });
      this.send({ ...m, xid } as OfpMessage);
    });
  }

  private onMessage(buf: Buffer, off: number, len: number): void {
    let m: OfpMessage;
    try {
      m = decodeMessage(buf, off, len);
    } catch (e) {
      // A message we cannot decode is the switch's problem, not a reason to drop the session.
      this.log.warn({ err: (e as Error).message, xid: buf.readUInt32BE(off + 4) }, 'undecodable message from switch');
      return;
    }
    this.unanswered = 0;
    switch (m.type) {
      case 'hello':
        if (!speaks13(m)) { this.close('switch does not speak OpenFlow 1.3'); return; }
        this.onHello?.();
        this.onHello = null;
        return;
      case 'echo_request': this.send({ type: 'echo_reply', xid: m.xid, data: m.data }); return;
      case 'echo_reply': return;
      case 'packet_in': this.emit('packet_in', m); return;
      case 'flow_removed': this.emit('flow_removed', m); return;
      case 'port_status': this.emit('port_status', m); return;
      default: break;
    }
    const p = this.pending.get(m.xid);
    if (!p) {
      if (m.type === 'error') this.emit('switch_error', m);
      return;
    }
    if (m.type === 'error') {
      this.pending.delete(m.xid); clearTimeout(p.timer); p.reject(new SwitchError(m));
      return;
    }
    p.parts.push(m);
    if (m.type === 'multipart_reply' && (m.flags & OFPMPF_REPLY_MORE) !== 0) return;
    this.pending.delete(m.xid); clearTimeout(p.timer); p.resolve(p.parts);
  }

  private startEcho(): void {
    const every = this.opts.echoIntervalMs ?? 5000;
    this.echoTimer = setInterval(() => {
      if (++this.unanswered > 3) { this.close('no answer to echo requests'); return; }
      this.send({ type: 'echo_request', xid: 0, data: Buffer.alloc(0) });
    }, every);
    this.echoTimer.unref();
  }

  close(why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.echoTimer) clearInterval(this.echoTimer);
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new Error(`switch connection closed: ${why}`)); }
    this.pending.clear();
    this.socket.destroy();
    this.emit('close', why);
  }
}
