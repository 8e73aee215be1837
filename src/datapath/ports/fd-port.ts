// Shared machinery of the fd-backed ports (TapPort, SystemPort): one native call per batch into
// preallocated slot arrays, a stash of spare packets from the pool, uv_poll readiness driving
// `onReadable`, and link status (down / gone) reported through `onStatus`, never thrown.
// With vnet headers (offloads) every frame travels behind a virtio-net header kept in the packet's
// headroom: read there by the shim and parsed into the packet's offload metadata, written there
// from it (gso.ts writeVnetHeader) on send. Such ports receive into the pool's large tier.
import os from 'node:os';
import type { Batch } from '../../packet/batch.js';
import { MAX_BURST } from '../../packet/batch.js';
import { HEADROOM } from '../../packet/packet.js';
import type { Packet } from '../../packet/packet.js';
import type { PacketPool } from '../../packet/pool.js';
import { VNET_HDR_LEN, VNET_F_DATA_VALID, writeVnetHeader } from '../../packet/gso.js';
import type { PortBackend } from '../port.js';
import { native, KIND_VNET, META_SLOTS, RX_CSUM_PARTIAL } from '../native/index.js';
import type { NativeBinding, NativePoller } from '../native/index.js';
import { PortIoCounters } from './io-counters.js';
import { epochNowMs } from '../clock.js';
import type { PortStatusEvent, PortStatusListener } from './io-counters.js';

const E = os.constants.errno;
export const EAGAIN = E.EAGAIN;
const EMPTY = Buffer.alloc(0);
/**
 * Large packets a vnet port adds to the pool's large tier (once per pool): a batch being read, one
 * in the transmit queues of the other ports and one in a shaper's queue, with room to spare.
 */
export const VNET_LARGE_RESERVE = 4 * MAX_BURST;
/** A kernel receive time more than this old is taken as a clock step, not as queueing: batch clock. */
const MAX_RX_AGE_MS = 10_000;
/** How long a port whose pool ran dry ignores readiness before it tries again. */
const STARVED_RETRY_MS = 1;

export abstract class FdPort implements PortBackend {
  abstract readonly name: string;
  readonly counters = new PortIoCounters();
  /** Link changes: down/up, and `gone` when the device disappeared (the port then stays dead). */
  onStatus: PortStatusListener | null = null;

  protected nat: NativeBinding | null = null;
  protected fd = -1;
  protected abstract readonly kind: number;
  protected isGone = false;
  protected linkUp = false;
  /** Frames of the last send() the kernel refused as longer than the device MTU (EMSGSIZE). */
  lastSendTooBig = 0;
  /**
   * True once open with vnet headers: the port takes and gives super-frames and partial checksums
   * whole (PortBackend.offloads); false: ordinary frames only, the bridge segments and completes.
   */
  protected vnet = false;

  private poller: NativePoller | null = null;
  private readableCb: (() => void) | null = null;
  private readonly bufs: Buffer[] = new Array<Buffer>(MAX_BURST).fill(EMPTY);
  private readonly offs = new Int32Array(MAX_BURST);
  private readonly caps = new Int32Array(MAX_BURST);
  private readonly lens = new Int32Array(MAX_BURST);
  private readonly res = new Int32Array(4);
  /** Per-slot RX_* flags from recvBatch (RX_CSUM_PARTIAL). */
  private readonly flags = new Uint8Array(MAX_BURST);
  /** Per-slot parsed virtio-net headers (vnet ports) and kernel receive ages in ms (-1: unknown). */
  private readonly meta = new Int32Array(MAX_BURST * META_SLOTS);
  private readonly ages = new Float64Array(MAX_BURST);
  /** Transmit: frames whose vnet header could not be written, set aside to the end of the batch. */
  private readonly refused: Packet[] = [];
  private readonly spare: Packet[] = [];
  private spareCount = 0;
  private sparePool: PacketPool | null = null;
  private readonly pollCb = (status: number, events: number): void => this.onPoll(status, events);
  /**
   * The pool had no packet for this port: frames wait in the kernel, and readiness (level
   * triggered) is ignored until STARVED_RETRY_MS later, so an empty pool (a shaper holding the
   * large tier, say) costs a retry a millisecond rather than a spinning core.
   */
  private starved = false;
  private readonly unstarve = (): void => {
    this.starved = false;
    this.syncPoller();
    if (this.readableCb !== null && this.fd >= 0) this.readableCb();
  };

  /** Super-frames and partial checksums go out whole (vnet headers); see PortBackend.offloads. */
  get offloads(): boolean { return this.vnet && this.fd >= 0; }

  /** True while the port is open and its link is usable. */
  get up(): boolean { return this.fd >= 0 && this.linkUp && !this.isGone; }
  get gone(): boolean { return this.isGone; }

  /** Readiness callback; the poller runs only while one is set and the port is open. */
  get onReadable(): (() => void) | null { return this.readableCb; }
  set onReadable(cb: (() => void) | null) {
    this.readableCb = cb ?? null;
    this.syncPoller();
  }

  abstract open(): Promise<void>;

  /** Call once the fd is open. */
  protected attached(fd: number, nat: NativeBinding, up: boolean): void {
    this.fd = fd; this.nat = nat; this.isGone = false; this.linkUp = up;
    this.poller = new nat.Poller(fd, this.pollCb);
    this.syncPoller();
  }

  private syncPoller(): void {
    if (!this.poller) return;
    if (this.readableCb && this.fd >= 0 && !this.isGone && !this.starved) this.poller.start();
    else this.poller.stop();
  }

  recv(into: Batch, pool: PacketPool): number {
    const nat = this.nat;
    if (nat === null || this.fd < 0 || this.isGone) return 0;
    let want = into.pkts.length - into.count;
    if (want > MAX_BURST) want = MAX_BURST;
    if (want <= 0) return 0;
    const vnet = this.vnet;
    if (pool !== this.sparePool) {
      this.releaseSpares(); this.sparePool = pool;
      if (vnet) pool.reserveLarge(VNET_LARGE_RESERVE);
    }
    const spare = this.spare;
    let have = this.spareCount;
    while (have < want) {
      const p = vnet ? pool.allocLarge() : pool.alloc();
      if (p === null) break;
      spare[have++] = p;
    }
    this.spareCount = have;
    if (have === 0) { this.starve(); return 0; }   // pool exhausted: frames stay queued in the kernel
    const n = have < want ? have : want;
    const bufs = this.bufs, offs = this.offs, caps = this.caps, lens = this.lens, res = this.res;
    for (let i = 0; i < n; i++) {
      const b = spare[i].buf;
      bufs[i] = b; offs[i] = HEADROOM; caps[i] = b.length - HEADROOM;
    }
    const flags = this.flags, meta = this.meta, ages = this.ages;
    const got = this.rxBatch(nat, vnet ? this.kind | KIND_VNET : this.kind, bufs, offs, caps, lens, n, res, flags, meta, ages);
    const c = this.counters;
    c.nativeCalls++;
    c.syscalls += res[1];
    let added = 0, keep = 0, bytes = 0;
    if (got > 0) {
      // The batch clock (clock.ts, the runner's too); a frame the kernel stamped (ring,
      // SO_TIMESTAMPNS) gets that time as an age subtracted from it, so both stay on one clock.
      // Limiters police on Packet.tsMs (qos/limiter.ts arrivalMs).
      const nowMs = epochNowMs();
      for (let i = 0; i < got; i++) {
        const p = spare[i], len = lens[i];
        if (len > 0) {
          const age = ages[i];
          p.off = offs[i]; p.len = len; p.tsMs = age > 0 && age < MAX_RX_AGE_MS ? nowMs - age : nowMs;
          p.csumPartial = (flags[i] & RX_CSUM_PARTIAL) !== 0;
          if (vnet) setOffloadMeta(p, meta, i * META_SLOTS);
          into.pkts[into.count++] = p;
          added++; bytes += len;
        } else {
          if (len < 0) c.rxDrops++;
          spare[keep++] = p;
        }
      }
      for (let i = got; i < have; i++) spare[keep++] = spare[i];
      this.spareCount = keep;
      c.rxFrames += added; c.rxBytes += bytes;
      if (!this.linkUp && this.linkUpOnRx()) this.setLink(true, false, 'frames received');
    }
    const err = res[0];
    if (err !== 0 && err !== EAGAIN) this.ioError(err, 'recv');
    return added;
  }

  private starve(): void {
    this.counters.poolStalls++;
    if (this.starved || this.poller === null) return;
    this.starved = true;
    this.poller.stop();
    setTimeout(this.unstarve, STARVED_RETRY_MS);
  }

  send(from: Batch): number {
    const nat = this.nat;
    this.lastSendTooBig = 0;
    if (nat === null || this.fd < 0 || this.isGone) { this.counters.txDrops += from.count; return 0; }
    const bufs = this.bufs, offs = this.offs, lens = this.lens, res = this.res, c = this.counters;
    const vnet = this.vnet;
    let count = from.count;
    if (vnet) count = this.putVnetHeaders(from);
    let total = 0, tooBig = 0;
    for (let start = 0; start < count; start += MAX_BURST) {
      let n = count - start;
      if (n > MAX_BURST) n = MAX_BURST;
      const front = vnet ? VNET_HDR_LEN : 0;
      for (let i = 0; i < n; i++) {
        const p = from.pkts[start + i];
        bufs[i] = p.buf; offs[i] = p.off - front; lens[i] = p.len + front;
      }
      const sent = this.txBatch(nat, bufs, offs, lens, n, res);
      c.nativeCalls++;
      c.syscalls += res[1];
      if (res[2] > 0) { c.errors += res[2]; tooBig += res[3]; }
      // Refused frames come back with lens[i] = 0: every frame before sent + refused was tried.
      let bytes = 0;
      for (let i = 0, tried = sent + res[2]; i < tried; i++) bytes += lens[i];
      if (vnet) bytes -= sent * VNET_HDR_LEN;
      c.txFrames += sent; c.txBytes += bytes;
      total += sent;
      if (sent > 0 && !this.linkUp && this.linkUpOnTx()) this.setLink(true, false, 'frames sent');
      const err = res[0];
      if (err !== 0) {
        if (err !== EAGAIN && err !== E.ENOBUFS) this.ioError(err, 'send');
        break;
      }
    }
    c.txDrops += from.count - total;
    this.lastSendTooBig = tooBig;
    return total;
  }

  /**
   * Write each frame's virtio-net header into the headroom before it. A frame whose header cannot
   * be written (a super-frame or partial checksum with headers gso.ts cannot parse, or no headroom
   * left) is moved behind the others: the caller counts what is not sent as dropped. Returns how
   * many frames, from the start of the batch, are ready to send.
   */
  private putVnetHeaders(from: Batch): number {
    const pkts = from.pkts, refused = this.refused;
    let ok = 0, bad = 0;
    for (let i = 0; i < from.count; i++) {
      const p = pkts[i];
      if (p.off >= VNET_HDR_LEN && writeVnetHeader(p, p.buf, p.off - VNET_HDR_LEN)) pkts[ok++] = p;
      else refused[bad++] = p;
    }
    for (let i = 0; i < bad; i++) pkts[ok + i] = refused[i];
    if (bad > 0) this.counters.errors += bad;
    return ok;
  }

  /** One native receive call (the recvBatch contract); TapPort may batch it through io_uring. */
  protected rxBatch(nat: NativeBinding, kind: number, bufs: Buffer[], offs: Int32Array, caps: Int32Array, lens: Int32Array, n: number, res: Int32Array, flags: Uint8Array, meta: Int32Array, ages: Float64Array): number {
    return nat.recvBatch(this.fd, kind, bufs, offs, caps, lens, n, res, flags, meta, ages);
  }

  /** One native transmit call (the sendBatch contract). */
  protected txBatch(nat: NativeBinding, bufs: Buffer[], offs: Int32Array, lens: Int32Array, n: number, res: Int32Array): number {
    return nat.sendBatch(this.fd, this.kind, bufs, offs, lens, n, res);
  }

  /** Whether frames read while the link is marked down prove it is up again (they may be stale). */
  protected linkUpOnRx(): boolean { return true; }

  /** Whether a successful transmit proves the link is up again (TAP: yes; AF_PACKET: no). */
  protected linkUpOnTx(): boolean { return false; }

  /** Classify an errno from recv/send/poll; subclasses decide down versus gone. */
  protected abstract ioError(errno: number, op: string): void;

  /** uv_poll reported POLLERR/hang-up (libuv stopped the poll). */
  protected abstract pollError(status: number): void;

  private onPoll(status: number, events: number): void {
    if (status < 0) { this.pollError(status); return; }
    this.counters.wakeups++;
    const cb = this.readableCb;
    if (cb !== null && (events & 1) !== 0) cb();
  }

  /** Record a link change and tell the listener; the poller follows (stopped once gone). */
  protected setLink(up: boolean, gone: boolean, reason: string): void {
    const changed = up !== this.linkUp || gone !== this.isGone;
    this.linkUp = up;
    if (gone) {
      this.isGone = true;
      if (this.poller) { this.poller.close(); this.poller = null; }
    } else {
      this.syncPoller();
    }
    if (changed && this.onStatus) this.onStatus({ up, gone, reason } satisfies PortStatusEvent);
  }

  /** Restart a poll that libuv stopped after POLLERR (the error has been consumed). */
  protected rearmPoller(): void {
    if (this.poller && this.readableCb && this.fd >= 0 && !this.isGone) { this.poller.stop(); this.poller.start(); }
  }

  protected errnoName(errno: number): string {
    return this.nat ? this.nat.errnoName(errno) : `errno ${errno}`;
  }

  private releaseSpares(): void {
    const pool = this.sparePool;
    for (let i = 0; i < this.spareCount; i++) pool?.release(this.spare[i]);
    this.spare.length = 0;
    this.spareCount = 0;
  }

  protected detach(): void {
    if (this.poller) { this.poller.close(); this.poller = null; }
    if (this.fd >= 0 && this.nat) this.nat.closeFd(this.fd);
    this.fd = -1;
    this.linkUp = false;
    this.releaseSpares();
    this.sparePool = null;
    this.bufs.fill(EMPTY);
  }

  async close(): Promise<void> {
    this.detach();
  }
}

/** Offload metadata of a received frame from its parsed virtio-net header (meta[at ..], see recvBatch). */
function setOffloadMeta(p: Packet, meta: Int32Array, at: number): void {
  p.gsoType = meta[at + 1] & 0x7f;            // without VIRTIO_NET_HDR_GSO_ECN
  p.gsoSize = meta[at + 3];
  p.hdrLen = meta[at + 2];
  p.csumStart = meta[at + 4];
  p.csumOffset = meta[at + 5];
  p.csumValid = (meta[at] & VNET_F_DATA_VALID) !== 0;
}

/** Loads the addon; the thrown NativeUnavailableError (SW_ERR_NATIVE) says how to build it. */
export function loadNative(): NativeBinding {
  return native();
}
