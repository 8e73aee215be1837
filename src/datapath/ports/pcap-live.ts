// PcapLivePort: a `system` port over libpcap, through the `cap` npm binding (nan, libpcap-dev to
// build). Kept beside SystemPort (our AF_PACKET shim) as the measured alternative; see the README's
// "Port I/O backends" for the figures and why the shim is the default.
//
// How cap works, and what it costs us:
// - cap owns the fd and its uv_poll. On readiness it loops `pcap_dispatch(1)` and, for every frame,
//   memcpy's it into the ONE Buffer given to `open()` and calls `emit('packet', nbytes, truncated)`
//   through an async-hooks scope: one C++ -> JS call per frame, never per batch, and no timestamp.
// - So this port is push-driven: the 'packet' handler copies the frame (a second memcpy, unavoidable
//   because cap's buffer is reused by the next frame) into a staged Packet, queues it, and wakes the
//   reader with `onReadable` once per MAX_BURST frames or once per event-loop turn (setImmediate).
//   `recv` hands the staged packets over and refills the stage from the caller's pool (an exchange,
//   no third copy).
// - `send` is `pcap_sendpacket`: one send() syscall per frame, from offset 0 of a Buffer, so each
//   frame is copied into a scratch buffer first (no per-frame allocation).
// - Our own transmissions would come back to us (libpcap captures both directions and cap has no
//   pcap_setdirection): the kernel filter is `inbound` (SKF_AD_PKTTYPE != PACKET_OUTGOING), ANDed
//   with any filter given. libpcap puts 802.1Q tags stripped into auxdata back into the frame.
// - HAZARD (cap 0.2.1, not fixable without patching it): when the device goes down or away, libuv
//   reports POLLERR and cap's poll callback hits `assert(status == 0)`: the whole process aborts.
//   libpcap also prints "Warning: ... no IPv4 address assigned" to stderr on every open of a device
//   without an address, and the `inbound` filter drops the frames of the first ~0.1-0.2 s.
// - cap opens with snaplen 65535, promiscuous, immediate mode (libpcap then uses a TPACKET_V2
//   mmap ring sized by `bufferBytes`), nonblocking. It reports no link state: no onStatus events.
import { createRequire } from 'node:module';
import type { Batch } from '../../packet/batch.js';
import { MAX_BURST, NO_PACKET } from '../../packet/batch.js';
import { HEADROOM } from '../../packet/packet.js';
import type { Packet } from '../../packet/packet.js';
import { PacketPool } from '../../packet/pool.js';
import type { PortBackend } from '../port.js';
import { PortIoCounters } from './io-counters.js';
import type { PortStatusListener } from './io-counters.js';

/** The part of cap's API we use (it ships no types). */
export interface CapHandle {
  /** Returns the link type name ('ETHERNET', 'LINKTYPE_LINUX_SLL', ...); throws with libpcap's message. */
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  send(buffer: Buffer, len: number): void;
  close(): void;
  on(event: 'packet', cb: (nbytes: number, truncated: boolean) => void): CapHandle;
  removeAllListeners(event?: string): CapHandle;
}
export interface CapModule {
  Cap: new () => CapHandle;
  deviceList(): Array<{ name: string; description?: string; addresses: unknown[]; flags?: string }>;
}

export class PcapUnavailableError extends Error {
  readonly code = 'SW_ERR_PCAP';
  constructor(reason: string) {
    super(`The libpcap backend is not available (${reason}). It needs the optional \`cap\` package, ` +
      'built against libpcap: `apt-get install libpcap-dev && npm rebuild cap`.');
    this.name = 'PcapUnavailableError';
  }
}

let capModule: CapModule | null = null;
/** Handles whose open() failed; see PcapLivePort.open. */
const failedHandles: CapHandle[] = [];

/** Load `cap` lazily, so everything else works without it; throws PcapUnavailableError. */
export function loadCap(): CapModule {
  if (capModule) return capModule;
  try {
    capModule = createRequire(import.meta.url)('cap') as CapModule;
  } catch (e) {
    throw new PcapUnavailableError((e as Error).message.split('\n')[0]);
  }
  return capModule;
}

/** Same as SystemPort: NOTES-io measured loss with 4 MiB, none with 32 MiB. */
export const PCAP_BUFFER_BYTES = 32 * 1024 * 1024;
/** cap's fixed snaplen. */
export const PCAP_SNAPLEN = 65535;
/** Frames staged between cap's per-frame callback and `recv`. */
export const PCAP_STAGE_COUNT = 1024;

export interface PcapLiveOptions {
  /** Extra libpcap filter (pcap-filter(7)), ANDed with `inbound`. */
  filter?: string;
  /** libpcap ring size (pcap_set_buffer_size). */
  bufferBytes?: number;
  /** Also receive what this host sends on the device (default false: a switch port must not). */
  outbound?: boolean;
}

/** Open errors: one line naming the device, with an errno-like code when libpcap's text tells it. */
export class PcapOpenError extends Error {
  readonly code: string;
  constructor(device: string, msg: string) {
    super(`${device}: pcap open: ${msg}`);
    this.name = 'PcapOpenError';
    this.code = /No such device|doesn't exist/i.test(msg) ? 'ENODEV'
      : /not permitted|permission/i.test(msg) ? 'EPERM'
      : /syntax error|filter/i.test(msg) ? 'SW_ERR_PCAP_FILTER'
      : 'SW_ERR_PORT_OPEN';
  }
}

/**
 * Open `device` with cap (promiscuous, immediate, nonblocking, capturing at once into `buffer`);
 * throws PcapUnavailableError or PcapOpenError. Attach the 'packet' listener right after.
 */
export function openCapHandle(device: string, filter: string, bufferBytes: number, buffer: Buffer): { cap: CapHandle; linkType: string } {
  const mod = loadCap();
  const cap = new mod.Cap();
  try {
    return { cap, linkType: cap.open(device, filter, bufferBytes, buffer) };
  } catch (e) {
    // cap 0.2.1 cannot dispose of a failed handle: close() Unref()s a handle never Ref()ed
    // (segfault), and its destructor, run by GC, uv_poll_stop()s a never-started poll (abort).
    // So the object is kept reachable for the life of the process (a few hundred bytes).
    failedHandles.push(cap);
    throw new PcapOpenError(device, (e as Error).message);
  }
}

export class PcapLivePort implements PortBackend {
  readonly name: string;
  readonly counters = new PortIoCounters();
  /** Never called: cap reports no link changes (kept for the same shape as SystemPort). */
  onStatus: PortStatusListener | null = null;
  /** The filter actually compiled into the kernel. */
  readonly filter: string;
  readonly bufferBytes: number;

  private cap: CapHandle | null = null;
  private readonly capBuf = Buffer.allocUnsafeSlow(PCAP_SNAPLEN);
  private readonly txBuf = Buffer.allocUnsafeSlow(PCAP_SNAPLEN);
  private readonly ring: Packet[] = new Array<Packet>(PCAP_STAGE_COUNT).fill(NO_PACKET);
  private head = 0;
  private readyCount = 0;
  private readonly free: Packet[] = [];
  private freeCount = 0;
  private readableCb: (() => void) | null = null;
  private flushPending = false;
  private readonly flushNow = (): void => { this.flushPending = false; this.wake(); };
  private readonly onPacket = (nbytes: number, truncated: boolean): void => this.stage(nbytes, truncated);

  constructor(device: string, opts: PcapLiveOptions = {}) {
    if (typeof device !== 'string' || device.length === 0 || Buffer.byteLength(device) > 15) {
      throw new RangeError(`Cannot attach system port "${device}": interface names are 1-15 bytes`);
    }
    this.name = device;
    const extra = opts.filter?.trim() ?? '';
    const base = opts.outbound ? '' : 'inbound';
    this.filter = base && extra ? `${base} and (${extra})` : base || extra;
    this.bufferBytes = opts.bufferBytes ?? PCAP_BUFFER_BYTES;
    if (!Number.isInteger(this.bufferBytes) || this.bufferBytes <= 0) {
      throw new RangeError(`Cannot attach system port "${device}": pcap buffer ${this.bufferBytes} must be a positive integer`);
    }
  }

  get up(): boolean { return this.cap !== null; }

  get onReadable(): (() => void) | null { return this.readableCb; }
  set onReadable(cb: (() => void) | null) {
    this.readableCb = cb ?? null;
    if (cb && this.readyCount > 0) this.scheduleFlush();
  }

  async open(): Promise<void> {
    if (this.cap) return;
    if (this.freeCount === 0) {
      // The first frames land in packets of our own; `recv` swaps them for the caller's.
      const own = new PacketPool(PCAP_STAGE_COUNT);
      for (let i = 0; i < PCAP_STAGE_COUNT; i++) this.free[this.freeCount++] = own.alloc()!;
    }
    const { cap, linkType } = openCapHandle(this.name, this.filter, this.bufferBytes, this.capBuf);
    if (linkType !== 'ETHERNET') {
      cap.close();
      throw new PcapOpenError(this.name, `link type ${linkType}, only Ethernet is supported`);
    }
    cap.on('packet', this.onPacket);
    this.cap = cap;
  }

  /** cap's per-frame callback: copy out of cap's single buffer into a staged packet. */
  private stage(nbytes: number, truncated: boolean): void {
    const c = this.counters;
    c.wakeups++;
    if (truncated || this.freeCount === 0 || this.readyCount >= PCAP_STAGE_COUNT) { c.rxDrops++; return; }
    const p = this.free[this.freeCount - 1];
    if (nbytes > p.buf.length - HEADROOM) { c.rxDrops++; return; }
    this.freeCount--;
    this.capBuf.copy(p.buf, HEADROOM, 0, nbytes);
    p.off = HEADROOM; p.len = nbytes;
    p.tsMs = performance.timeOrigin + performance.now();
    const ring = this.ring;
    let tail = this.head + this.readyCount;
    if (tail >= PCAP_STAGE_COUNT) tail -= PCAP_STAGE_COUNT;
    ring[tail] = p;
    this.readyCount++;
    if (this.readyCount >= MAX_BURST) this.wake();
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushPending) return;
    this.flushPending = true;
    setImmediate(this.flushNow);
  }

  private wake(): void {
    const cb = this.readableCb;
    if (cb !== null && this.readyCount > 0) cb();
  }

  recv(into: Batch, pool: PacketPool): number {
    let want = into.pkts.length - into.count;
    if (want > MAX_BURST) want = MAX_BURST;
    const ring = this.ring, free = this.free;
    let added = 0, bytes = 0;
    while (added < want && this.readyCount > 0) {
      const repl = pool.alloc();
      if (repl === null) break;   // pool exhausted: frames stay staged
      const p = ring[this.head];
      ring[this.head] = NO_PACKET;
      if (++this.head === PCAP_STAGE_COUNT) this.head = 0;
      this.readyCount--;
      free[this.freeCount++] = repl;
      into.pkts[into.count++] = p;
      added++; bytes += p.len;
    }
    this.counters.rxFrames += added; this.counters.rxBytes += bytes;
    return added;
  }

  send(from: Batch): number {
    const cap = this.cap, c = this.counters;
    if (cap === null) { c.txDrops += from.count; return 0; }
    const tx = this.txBuf;
    let sent = 0, bytes = 0;
    for (let i = 0; i < from.count; i++) {
      const p = from.pkts[i];
      if (p.len > tx.length) { c.errors++; continue; }
      p.buf.copy(tx, 0, p.off, p.off + p.len);
      c.nativeCalls++; c.syscalls++;
      try {
        cap.send(tx, p.len);
      } catch (e) {
        // ENOBUFS (queue full) ends the batch quietly; anything else (ENETDOWN, ENXIO) is an error.
        if (!/No buffer space/i.test((e as Error).message)) c.errors++;
        break;
      }
      sent++; bytes += p.len;
    }
    c.txFrames += sent; c.txBytes += bytes;
    c.txDrops += from.count - sent;
    return sent;
  }

  async close(): Promise<void> {
    const cap = this.cap;
    if (cap === null) return;
    this.cap = null;
    cap.removeAllListeners('packet');
    cap.close();
    // Staged frames go back to the free list (they are our packets until handed out).
    while (this.readyCount > 0) {
      this.free[this.freeCount++] = this.ring[this.head];
      this.ring[this.head] = NO_PACKET;
      if (++this.head === PCAP_STAGE_COUNT) this.head = 0;
      this.readyCount--;
    }
    this.head = 0;
  }
}
