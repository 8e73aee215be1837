// TapPort: a TAP device Sluice creates (or attaches to, if persistent) and whose fd it owns; the
// VM or namespace sits on the other side. Batched read()/write() loops through the native addon,
// readiness by uv_poll. Use SystemPort instead for a TAP that QEMU opened itself.
// Offloads (default on): IFF_VNET_HDR + TUNSETOFFLOAD, so the namespace or VM behind the TAP sends
// TSO/USO super-frames and partial checksums, and receives them whole from other vnet ports.
import os from 'node:os';
import { FdPort, loadNative } from './fd-port.js';
import { KIND_TAP } from '../native/index.js';
import { offloadsDefault } from './system.js';
import type { NativeBinding } from '../native/index.js';
import { MAX_BURST } from '../../packet/batch.js';

const E = os.constants.errno;
/** Linux EBADFD ("File descriptor in bad state"): a TAP fd whose device was deleted. Not in os.constants. */
const EBADFD = 77;
/**
 * Frames the kernel queues towards us before dropping (the TAP's txqueuelen, 1000 by default):
 * raised so bursts at 250 kpps ride out a GC pause or a moderated pass (measured: 0.5 % lost at
 * 1000). Best effort.
 */
export const TAP_QUEUE_FRAMES = 8192;
/** Linux IFNAMSIZ - 1. */
export const MAX_IFNAME_LEN = 15;

export type TapIoMode = 'uring' | 'rw' | 'rw-slots';

export interface TapPortOptions {
  /** Keep the device after close (TUNSETPERSIST); default false: closing the fd deletes it. */
  persist?: boolean;
  /** Open with vnet headers and TSO/checksum offloads (default true; false with SLUICE_OFFLOADS=off). */
  offloads?: boolean;
  /**
   * 'rw' (default): one read()/write() per frame on pool buffers registered once with the addon;
   * 'rw-slots': the same loops with each Buffer resolved through N-API per frame (the old path,
   * also used when the addon predates buffer ids); 'uring': a batch of reads or writes per
   * io_uring_enter() (falls back to 'rw' where io_uring is unavailable). Default: the
   * SLUICE_TAP_IO environment variable, else 'rw' (measured: README "TAP throughput").
   */
  io?: TapIoMode;
}

function defaultIo(): TapIoMode {
  const v = process.env.SLUICE_TAP_IO;
  return v === 'uring' || v === 'rw-slots' ? v : 'rw';
}

/**
 * Pool Buffers registered with the addon, per thread (a datapath worker registers its own; ids
 * are process-wide). Pool packets live as long as their pool, so entries are never removed.
 */
const bufIds = new Map<Buffer, number>();

export class TapPort extends FdPort {
  readonly name: string;
  protected readonly kind: number = KIND_TAP;
  private readonly persist: boolean;
  /** Offloads asked for; `offloads` says whether open() got them. */
  readonly offloadsWanted: boolean;
  /** TUN_F_* bits the kernel took at open (0 without offloads). */
  tunOffloads = 0;
  /** I/O asked for; `io` says what open() set up. */
  readonly ioWanted: TapIoMode;
  io: TapIoMode = 'rw';
  /** Why io_uring could not be used (null: it is, or was not asked for). */
  uringError: string | null = null;
  private readonly ids = new Int32Array(MAX_BURST);

  constructor(name: string, opts: TapPortOptions = {}) {
    super();
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > MAX_IFNAME_LEN || /[\s/:]/.test(name)) {
      throw new RangeError(`Cannot create TAP port "${name}": interface names are 1-${MAX_IFNAME_LEN} bytes without spaces, '/' or ':'`);
    }
    this.name = name;
    this.persist = opts.persist ?? false;
    this.offloadsWanted = opts.offloads ?? offloadsDefault();
    this.ioWanted = opts.io ?? defaultIo();
  }

  async open(): Promise<void> {
    if (this.fd >= 0) return;
    const nat = loadNative();
    const { fd, vnetHdr, offloads } = nat.tapOpen(this.name, this.persist, this.offloadsWanted);
    this.vnet = vnetHdr === true;
    this.tunOffloads = offloads ?? 0;
    try {
      if (typeof nat.ifSetTxQueueLen === 'function') { try { nat.ifSetTxQueueLen(this.name, TAP_QUEUE_FRAMES); } catch { /* keep the default */ } }
      nat.ifSetUp(this.name, true);
    } catch (err) {
      nat.closeFd(fd);
      throw err;
    }
    this.io = this.ioWanted === 'rw-slots' || typeof nat.idsRecv !== 'function' ? 'rw-slots' : 'rw';
    this.uringError = null;
    if (this.ioWanted === 'uring') {
      if (typeof nat.uringAttach !== 'function') this.uringError = 'addon built without sluice_uring.cc';
      else {
        try { nat.uringAttach(fd); this.io = 'uring'; } catch (err) { this.uringError = (err as Error).message; }
      }
    }
    this.attached(fd, nat, true);
  }

  /**
   * Buffer ids for a batch; false if one cannot be registered, or if the port carries virtio-net
   * headers (offloads: FdPort's `vnet`, set by the shim's TAP open with IFF_VNET_HDR), which only
   * the shim's recvBatch/sendBatch read and write: such ports keep that path.
   */
  private idsFor(nat: NativeBinding, bufs: Buffer[], n: number): boolean {
    if (this.vnet) return false;
    const ids = this.ids;
    for (let i = 0; i < n; i++) {
      const b = bufs[i];
      let id = bufIds.get(b);
      if (id === undefined) {
        id = nat.bufRegister!(b);
        if (id < 0) return false;
        bufIds.set(b, id);
      }
      ids[i] = id;
    }
    return true;
  }

  protected override rxBatch(nat: NativeBinding, kind: number, bufs: Buffer[], offs: Int32Array, caps: Int32Array, lens: Int32Array, n: number, res: Int32Array, flags: Uint8Array, meta: Int32Array, ages: Float64Array): number {
    if (this.io === 'rw-slots' || !this.idsFor(nat, bufs, n)) return super.rxBatch(nat, kind, bufs, offs, caps, lens, n, res, flags, meta, ages);
    const got = this.io === 'uring' ? nat.uringRecv!(this.fd, this.ids, offs, caps, lens, n, res) : nat.idsRecv!(this.fd, this.ids, offs, caps, lens, n, res);
    for (let i = 0; i < got; i++) { flags[i] = 0; ages[i] = -1; }   // without vnet headers a TAP read is complete, and unstamped
    return got;
  }

  protected override txBatch(nat: NativeBinding, bufs: Buffer[], offs: Int32Array, lens: Int32Array, n: number, res: Int32Array): number {
    if (this.io === 'rw-slots' || !this.idsFor(nat, bufs, n)) return super.txBatch(nat, bufs, offs, lens, n, res);
    return this.io === 'uring' ? nat.uringSend!(this.fd, this.ids, offs, lens, n, res) : nat.idsSend!(this.fd, this.ids, offs, lens, n, res);
  }

  /** IFF_* flags of the TAP, null if closed, gone, or moved to another network namespace. */
  deviceFlags(): number | null {
    const nat = this.nat;
    if (nat === null || this.fd < 0 || this.isGone) return null;
    try { return nat.ifFlags(this.name); } catch { return null; }
  }

  protected override linkUpOnTx(): boolean { return true; }

  protected ioError(errno: number, op: string): void {
    this.counters.errors++;
    const reason = `${this.name}: ${op}: ${this.errnoName(errno)}`;
    if (errno === EBADFD || errno === E.ENODEV || errno === E.ENXIO || errno === E.EBADF) {
      this.setLink(false, true, reason);          // the netdev was deleted: the fd is detached for good
    } else if (errno === E.EIO || errno === E.ENETDOWN) {
      this.setLink(false, false, reason);         // administratively down (write gives EIO)
    }
  }

  protected pollError(status: number): void {
    // tun_chr_poll() reports POLLERR only once the device is detached from the fd.
    this.counters.errors++;
    this.setLink(false, true, `${this.name}: poll: device removed (uv status ${status})`);
  }

  override async close(): Promise<void> {
    if (this.io === 'uring' && this.nat !== null && this.fd >= 0) this.nat.uringDetach?.(this.fd);
    this.io = 'rw';
    this.detach();
  }
}
