// TapPort: a TAP device Sluice creates (or attaches to, if persistent) and whose fd it owns; the
// VM or namespace sits on the other side. Batched read()/write() loops through the native addon,
// readiness by uv_poll. Use SystemPort instead for a TAP that QEMU opened itself.
// Offloads (default on): IFF_VNET_HDR + TUNSETOFFLOAD, so the namespace or VM behind the TAP sends
// TSO/USO super-frames and partial checksums, and receives them whole from other vnet ports.
import os from 'node:os';
import { FdPort, loadNative } from './fd-port.js';
import { KIND_TAP } from '../native/index.js';
import { offloadsDefault } from './system.js';

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

export interface TapPortOptions {
  /** Keep the device after close (TUNSETPERSIST); default false: closing the fd deletes it. */
  persist?: boolean;
  /** Open with vnet headers and TSO/checksum offloads (default true; false with SLUICE_OFFLOADS=off). */
  offloads?: boolean;
}

export class TapPort extends FdPort {
  readonly name: string;
  protected readonly kind: number = KIND_TAP;
  private readonly persist: boolean;
  /** Offloads asked for; `offloads` says whether open() got them. */
  readonly offloadsWanted: boolean;
  /** TUN_F_* bits the kernel took at open (0 without offloads). */
  tunOffloads = 0;

  constructor(name: string, opts: TapPortOptions = {}) {
    super();
    if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > MAX_IFNAME_LEN || /[\s/:]/.test(name)) {
      throw new RangeError(`Cannot create TAP port "${name}": interface names are 1-${MAX_IFNAME_LEN} bytes without spaces, '/' or ':'`);
    }
    this.name = name;
    this.persist = opts.persist ?? false;
    this.offloadsWanted = opts.offloads ?? offloadsDefault();
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
    this.attached(fd, nat, true);
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
    this.detach();
  }
}
