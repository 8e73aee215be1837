// A minimal OpenFlow 1.3 client over TCP speaking our codec: connect, HELLO, send messages and
// await replies by xid or by predicate. Used by tests, benches and diagnostics to drive an agent
// the way a controller would. Not a controller framework (that is src/controller).
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { OFP_VERSION, OfpFramer, decodeMessage, encodeMessage, versionBitmap } from '../../openflow/index.js';
import type { OfpMessage } from '../../openflow/messages.js';

type Waiter = { pred: (m: OfpMessage) => boolean; resolve: (m: OfpMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class OfClient {
  /** Every message received, in order (decode failures are kept as raw buffers in `undecodable`). */
  readonly received: OfpMessage[] = [];
  readonly undecodable: Buffer[] = [];
  closed = false;
  /** Answer the peer's ECHO_REQUESTs (default true), as a live controller does. */
  answerEcho = true;
  private waiters: Waiter[] = [];
  private xid = 0x10000001;
  private readonly framer: OfpFramer;

  private constructor(readonly socket: Socket) {
    this.framer = new OfpFramer((buf, off, len) => {
      let m: OfpMessage;
      try { m = decodeMessage(buf, off, len); } catch { this.undecodable.push(Buffer.from(buf.subarray(off, off + len))); return; }
      this.received.push(m);
      if (m.type === 'echo_request' && this.answerEcho) this.send({ type: 'echo_reply', xid: m.xid, data: m.data });
      for (const w of [...this.waiters]) if (w.pred(m)) { this.waiters.splice(this.waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(m); }
    }, { turn: (drain) => { try { drain(); } catch { socket.destroy(); } } });
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => { try { this.framer.push(c); } catch { socket.destroy(); } });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(new Error('connection closed')); }
    });
    socket.on('error', () => undefined);
  }

  /** Connect; with `hello` (default true) send HELLO (version bitmap 1.3) and wait for the peer's. */
  static async connect(port: number, host = '127.0.0.1', hello = true): Promise<OfClient> {
    const sock = connect({ port, host });
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    const c = new OfClient(sock);
    if (hello) {
      const h = c.waitFor((m) => m.type === 'hello');
      c.send({ type: 'hello', xid: 0, version: OFP_VERSION, elements: [versionBitmap([OFP_VERSION])] });
      await h;
    }
    return c;
  }

  nextXid(): number { return this.xid++; }

  send(m: OfpMessage): void { this.socket.write(encodeMessage(m)); }
  sendRaw(b: Uint8Array): void { this.socket.write(b); }

  /** Wait for the first future message matching `pred` (or one already received if `past`). */
  waitFor(pred: (m: OfpMessage) => boolean, timeoutMs = 5000, past = false): Promise<OfpMessage> {
    if (past) { const m = this.received.find(pred); if (m) return Promise.resolve(m); }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.splice(this.waiters.findIndex((w) => w.timer === timer), 1); reject(new Error('timed out waiting for an OpenFlow message')); }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  /** Send a request (xid assigned if 0) and resolve with the first reply carrying its xid. */
  async request(m: OfpMessage, timeoutMs = 5000): Promise<OfpMessage> {
    const xid = m.xid || this.nextXid();
    const p = this.waitFor((r) => r.xid === xid, timeoutMs);
    this.send({ ...m, xid } as OfpMessage);
    return p;
  }

  /** Echo round trip: resolves true if the peer answered. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    const xid = this.nextXid();
    const p = this.waitFor((r) => r.type === 'echo_reply' && r.xid === xid, timeoutMs);
    this.send({ type: 'echo_request', xid, data: Buffer.from('ping') });
    try { await p; return true; } catch { return false; }
  }

  close(): void { this.socket.destroy(); }
}
