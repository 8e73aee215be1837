// QemuStreamPort: QEMU's `-netdev stream` / `-netdev socket` framing (4-byte big-endian length of
// the frame, then the frame from the destination MAC) over a Unix or TCP socket, in pure Node.
// Bytes land in one reused accumulation buffer; recv() slices frames out with a small state
// machine (ws framer style); send() packs a whole batch into one socket write.
import net from 'node:net';
import type { Batch } from '../../packet/batch.js';
import { HEADROOM } from '../../packet/packet.js';
import type { PacketPool } from '../../packet/pool.js';
import type { PortBackend } from '../port.js';
import { PortIoCounters } from './io-counters.js';
import type { PortStatusListener } from './io-counters.js';

/** QEMU drops a stream connection above this frame size; we drop and count such frames. */
export const QEMU_MAX_FRAME_BYTES = 69632;
export const QEMU_LEN_PREFIX_BYTES = 4;
/** Reconnect backoff (connect role): first delay, doubling up to the cap. */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5000;

const READ_CHUNK = 64 * 1024;
/** Receive accumulation buffer; reading pauses while less than one chunk plus one frame is free. */
const ACC_SIZE = 1024 * 1024 + READ_CHUNK + QEMU_MAX_FRAME_BYTES;
const ACC_LOW_FREE = READ_CHUNK + QEMU_MAX_FRAME_BYTES;
/** Transmit arena: batches are packed here and written with one socket write each. */
const TX_SIZE = 4 * 1024 * 1024;

const HEADER = 0, BODY = 1, SKIP = 2;

export type QemuStreamAddress = { path: string } | { host: string; port: number };
export type QemuStreamRole = 'connect' | 'listen';

export class QemuStreamPort implements PortBackend {
  readonly name: string;
  readonly counters = new PortIoCounters();
  onReadable: (() => void) | null = null;
  onStatus: PortStatusListener | null = null;
  /** Connections made or accepted so far. */
  connections = 0;

  private readonly addr: QemuStreamAddress;
  private readonly role: QemuStreamRole;
  private readonly acc = Buffer.allocUnsafeSlow(ACC_SIZE);
  private r = 0;
  private w = 0;
  private state = HEADER;
  private need = 0;
  private readonly readBuf = Buffer.allocUnsafeSlow(READ_CHUNK);
  private readonly tx = Buffer.allocUnsafeSlow(TX_SIZE);
  private txPos = 0;
  private sock: net.Socket | null = null;
  private connected = false;
  private paused = false;
  private server: net.Server | null = null;
  private opened = false;
  private closed = false;
  private backoffMs = RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private kickPending = false;
  private readonly kick = (): void => { this.kickPending = false; if (this.onReadable && this.w > this.r) this.onReadable(); };

  constructor(addr: QemuStreamAddress, role: QemuStreamRole) {
    if (role !== 'connect' && role !== 'listen') throw new TypeError(`QEMU stream role must be 'connect' or 'listen', got ${String(role)}`);
    if ('path' in addr) {
      if (typeof addr.path !== 'string' || addr.path.length === 0) throw new TypeError('QEMU stream path must be a non-empty string');
      this.name = `stream:${addr.path}`;
    } else {
      if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) throw new RangeError(`QEMU stream port ${addr.port} is out of range 0-65535`);
      this.name = `stream:${addr.host}:${addr.port}`;
    }
    this.addr = addr;
    this.role = role;
  }

  /** True while a peer is connected. */
  get up(): boolean { return this.connected; }

  /** Bound TCP port when listening on port 0 (tests). */
  get localPort(): number {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /**
   * listen: resolves once listening (rejects e.g. on EADDRINUSE). connect: resolves after the first
   * attempt, connected or not; failed attempts are retried with backoff and reported via onStatus.
   */
  open(): Promise<void> {
    if (this.opened) return Promise.resolve();
    this.opened = true;
    this.closed = false;
    return this.role === 'listen' ? this.listen() : new Promise((resolve) => this.connect(resolve));
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((s) => this.accept(s));
      server.maxConnections = 1;   // one client at a time, like QEMU's server=on
      this.server = server;
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = null;
        this.opened = false;
        const e = new Error(`${this.name}: listen: ${err.code ?? ''} (${err.message})`) as NodeJS.ErrnoException;
        e.code = err.code;
        reject(e);
      };
      server.once('error', onError);
      const done = (): void => {
        server.off('error', onError);
        server.on('error', () => { /* reported through connection status */ });
        resolve();
      };
      if ('path' in this.addr) server.listen(this.addr.path, done);
      else server.listen(this.addr.port, this.addr.host, done);
    });
  }

  private accept(s: net.Socket): void {
    if (this.sock !== null || this.closed) { s.destroy(); return; }
    this.attach(s);
    s.on('data', (chunk: Buffer) => { this.ingest(chunk, chunk.length); });
    this.onConnected();
  }

  private connect(firstDone?: () => void): void {
    this.timer = null;
    if (this.closed) { firstDone?.(); return; }
    const opts = {
      onread: { buffer: this.readBuf, callback: (n: number, buf: Uint8Array): boolean => this.ingest(buf, n) },
    };
    const s = 'path' in this.addr
      ? net.createConnection({ path: this.addr.path, ...opts })
      : net.createConnection({ host: this.addr.host, port: this.addr.port, ...opts });
    this.attach(s);
    s.once('connect', () => { if ('port' in this.addr) s.setNoDelay(true); this.onConnected(); firstDone?.(); firstDone = undefined; });
    s.once('close', () => { firstDone?.(); firstDone = undefined; });
  }

  private attach(s: net.Socket): void {
    this.sock = s;
    let reason = 'peer closed the connection';
    s.on('error', (err: NodeJS.ErrnoException) => { reason = `${err.code ?? 'error'} (${err.message})`; });
    s.once('close', () => {
      if (this.sock !== s) return;
      this.sock = null;
      this.paused = false;
      const wasUp = this.connected;
      this.connected = false;
      if (wasUp && this.onStatus) this.onStatus({ up: false, gone: false, reason: `${this.name}: ${reason}` });
      if (this.role === 'connect' && !this.closed) this.scheduleReconnect();
    });
  }

  private onConnected(): void {
    this.connected = true;
    this.connections++;
    this.backoffMs = RECONNECT_MIN_MS;
    this.r = 0; this.w = 0; this.state = HEADER; this.need = 0; this.txPos = 0;   // nothing carries over
    if (this.onStatus) this.onStatus({ up: true, gone: false, reason: `${this.name}: connected` });
  }

  private scheduleReconnect(): void {
    if (this.timer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, RECONNECT_MAX_MS);
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref();
  }

  /** Append received bytes; returns false to pause reading (accumulation buffer nearly full). */
  private ingest(src: Uint8Array, n: number): boolean {
    const c = this.counters;
    c.wakeups++;
    if (n > ACC_SIZE - this.w) this.compact();
    if (n > ACC_SIZE - this.w) {   // cannot happen while pausing works; never overrun the buffer
      c.errors++;
      this.sock?.destroy();
      return false;
    }
    this.acc.set(n === src.length ? src : src.subarray(0, n), this.w);
    this.w += n;
    let keepReading = true;
    if (ACC_SIZE - this.w + this.r < ACC_LOW_FREE) {
      keepReading = false;
      this.paused = true;
      this.sock?.pause();
    }
    if (this.onReadable) this.onReadable();
    return keepReading;
  }

  private compact(): void {
    if (this.r === 0) return;
    this.acc.copyWithin(0, this.r, this.w);
    this.w -= this.r;
    this.r = 0;
  }

  recv(into: Batch, pool: PacketPool): number {
    const acc = this.acc, c = this.counters;
    let added = 0, bytes = 0;
    while (into.count < into.pkts.length) {
      const avail = this.w - this.r;
      if (this.state === HEADER) {
        if (avail < QEMU_LEN_PREFIX_BYTES) break;
        const len = acc.readUInt32BE(this.r);
        this.r += QEMU_LEN_PREFIX_BYTES;
        if (len === 0) { c.rxDrops++; continue; }
        if (len > QEMU_MAX_FRAME_BYTES || len > pool.size - HEADROOM) { c.rxDrops++; this.state = SKIP; }
        else this.state = BODY;
        this.need = len;
      } else if (this.state === SKIP) {
        if (avail === 0) break;
        const n = avail < this.need ? avail : this.need;
        this.r += n;
        this.need -= n;
        if (this.need === 0) this.state = HEADER;
      } else {
        if (avail < this.need) break;
        const p = pool.alloc();
        if (p === null) break;   // pool exhausted: the frame waits in the buffer
        const len = this.need;
        acc.copy(p.buf, HEADROOM, this.r, this.r + len);
        p.off = HEADROOM; p.len = len;
        this.r += len;
        this.state = HEADER;
        into.pkts[into.count++] = p;
        added++; bytes += len;
      }
    }
    if (this.r === this.w) { this.r = 0; this.w = 0; }
    c.rxFrames += added; c.rxBytes += bytes;
    if (this.paused && ACC_SIZE - this.w + this.r >= ACC_LOW_FREE * 2) {
      this.compact();
      this.paused = false;
      this.sock?.resume();
    }
    // Batch filled with bytes still buffered: make sure the consumer hears about them again.
    if (into.count >= into.pkts.length && this.w > this.r && !this.kickPending && this.onReadable) {
      this.kickPending = true;
      setImmediate(this.kick);
    }
    return added;
  }

  send(from: Batch): number {
    const s = this.sock, c = this.counters;
    if (s === null || !this.connected) { c.txDrops += from.count; return 0; }
    if (s.writableLength === 0) this.txPos = 0;   // everything flushed: reuse the arena from the start
    const tx = this.tx, start = this.txPos;
    let pos = start, sent = 0, bytes = 0;
    for (let i = 0; i < from.count; i++) {
      const p = from.pkts[i];
      if (p.len > QEMU_MAX_FRAME_BYTES) { c.errors++; continue; }
      if (pos + QEMU_LEN_PREFIX_BYTES + p.len > TX_SIZE) break;   // arena full of unflushed data
      tx.writeUInt32BE(p.len, pos);
      p.buf.copy(tx, pos + QEMU_LEN_PREFIX_BYTES, p.off, p.off + p.len);
      pos += QEMU_LEN_PREFIX_BYTES + p.len;
      sent++; bytes += p.len;
    }
    if (pos > start) {
      this.txPos = pos;
      s.write(tx.subarray(start, pos));
      c.nativeCalls++;
    }
    c.txFrames += sent; c.txBytes += bytes; c.txDrops += from.count - sent;
    return sent;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.opened = false;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const s = this.sock;
    this.sock = null;
    this.connected = false;
    if (s) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
