// SystemPort: an AF_PACKET socket on an existing device (a veth, a TAP that QEMU opened, a NIC):
// promiscuous, our own sends filtered out (PACKET_IGNORE_OUTGOING), 802.1Q tags the kernel strips
// put back from PACKET_AUXDATA (or tp_vlan_tci in the ring), 32 MiB receive buffer. Receive mode:
//   - 'ring' (default): a TPACKET_V2 RX ring — reading what is there costs no syscall and an empty
//     port costs nothing to poll; readiness is per frame (unlike TPACKET_V3, which wakes per
//     retired block, ~1 ms), so a lone frame is read at once;
//   - 'mmsg': recvmmsg() one call per batch (the fallback if the ring cannot be set up).
// Transmit is sendmmsg() one call per batch in both modes. The device is set administratively up
// at open (as Open vSwitch does), so a TAP QEMU created down carries frames without `ip link set up`.
// Offloads (default 'auto': on when the device has any of tx checksumming, TSO, GSO, GRO on):
// PACKET_VNET_HDR, so a veth or QEMU TAP with TSO/GSO on hands over whole super-frames with their
// virtio-net header, and super-frames sent out leave whole. Such a port
// receives by recvmmsg straight into the pool's large packets: a ring would need 64 KiB+ slots
// (a 16 MiB ring then holds 128 frames) and a copy out of each. Receive times come from the ring
// (tp_sec/tp_nsec) or SO_TIMESTAMPNS (recvmmsg) and become Packet.tsMs.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { FdPort, loadNative } from './fd-port.js';
import { IFF_RUNNING, IFF_UP, KIND_PACKET, KIND_RING } from '../native/index.js';
import type { NativeBinding } from '../native/index.js';

const E = os.constants.errno;
/** NOTES-io: bursts overflowed 4 MiB; 32 MiB (SO_RCVBUFFORCE as root) removed the loss. */
export const SYSTEM_RCVBUF_BYTES = 32 * 1024 * 1024;
/** How often a down link is re-checked for coming back up or disappearing. */
export const LINK_WATCH_MS = 250;
/** RX ring frame slots: 2048-byte slots hold a 1500-MTU frame (+ VLAN tag); the ring is 16 MiB. */
export const RING_FRAME_SIZE = 2048;
export const RING_FRAMES = 8192;
/** RX ring slots when offloads are on and the ring is asked for anyway: 128 KiB slots, 32 MiB. */
export const VNET_RING_FRAMES = 256;

export type SystemRxMode = 'ring' | 'mmsg';

export interface SystemPortOptions {
  /**
   * Receive path; default SLUICE_SYSTEM_RX=mmsg|ring from the environment, else 'mmsg' with
   * offloads and 'ring' without. A ring with offloads has VNET_RING_FRAMES slots of 128 KiB.
   */
  rx?: SystemRxMode;
  /**
   * PACKET_VNET_HDR: carry super-frames and partial checksums whole. Default 'auto' (or
   * SLUICE_OFFLOADS=on|off|auto): on when the device has an offload on (see offloadsFromFeatures).
   */
  offloads?: boolean | 'auto';
}

/** SLUICE_OFFLOADS in the environment: 'off' (off|0|false), 'on' (on|1|true), else 'auto'. */
export function offloadsEnv(): 'on' | 'off' | 'auto' {
  const v = process.env.SLUICE_OFFLOADS;
  if (v === 'off' || v === '0' || v === 'false') return 'off';
  if (v === 'on' || v === '1' || v === 'true') return 'on';
  return 'auto';
}

/** Offloads of tap ports unless configured: on, or off with SLUICE_OFFLOADS=off. */
export function offloadsDefault(): boolean { return offloadsEnv() !== 'off'; }

/**
 * 'auto' for a system port: vnet headers when the device has tx checksumming, TSO, GSO or GRO on
 * (bits of the shim's ifOffloads) — then super-frames and partial checksums can cross it, and
 * carrying them whole is worth the recvmmsg receive path. A device with every offload off (as
 * `ethtool -K DEV gro off gso off tso off tx off` leaves it) keeps the TPACKET ring, cheaper for
 * small frames (measured on one loaded run: ~22 % against ~29 % of a core at 50 kpps, and fewer
 * losses at 250 kpps). Either way the kernel completes and segments whatever the device cannot.
 */
export function offloadsFromFeatures(bits: number): boolean { return bits > 0; }

/** Ring slot size for a device MTU: header (~80 B) + MTU + Ethernet header + 2 tags, power of two. */
export function ringFrameSizeFor(mtu: number): number {
  let size = RING_FRAME_SIZE;
  while (size < 128 + mtu + 14 + 8) size *= 2;
  return size;
}

/** SLUICE_SYSTEM_RX if set to mmsg or ring. */
function envRxMode(): SystemRxMode | undefined {
  const env = process.env.SLUICE_SYSTEM_RX;
  return env === 'mmsg' || env === 'ring' ? env : undefined;
}

export class SystemPort extends FdPort {
  readonly name: string;
  protected kind: number = KIND_PACKET;
  /** Receive mode asked for; `rxMode` says what open() set up. */
  readonly rxWanted: SystemRxMode;
  /** Offloads asked for (true, false or decided at open from the device); `offloads` says whether open() got them. */
  readonly offloadsWanted: boolean | 'auto';
  /** Receive mode given to the constructor or by SLUICE_SYSTEM_RX (undefined: by offloads at open). */
  private readonly rxOption: SystemRxMode | undefined;
  rxMode: SystemRxMode = 'mmsg';
  /** RX ring geometry once open in ring mode (0 otherwise). */
  ringFrames = 0;
  ringFrameSize = 0;
  /** Kernel ifindex once open (0 before). */
  ifindex = 0;
  /** SO_RCVBUF as granted by the kernel (twice the requested value for bookkeeping). */
  rcvbufBytes = 0;
  /** Why the device could not be set administratively up at open (null: it was, or already was). */
  adminError: string | null = null;
  private watch: NodeJS.Timeout | null = null;
  /** PACKET_STATISTICS accumulated: [frames queued, frames dropped by the kernel]. */
  private readonly kstats = new Float64Array(2);

  constructor(device: string, opts: SystemPortOptions = {}) {
    super();
    if (typeof device !== 'string' || device.length === 0 || Buffer.byteLength(device) > 15) {
      throw new RangeError(`Cannot attach system port "${device}": interface names are 1-15 bytes`);
    }
    this.name = device;
    const env = offloadsEnv();
    this.offloadsWanted = opts.offloads ?? (env === 'auto' ? 'auto' : env === 'on');
    this.rxOption = opts.rx ?? envRxMode();
    this.rxWanted = this.rxOption ?? (this.offloadsWanted === true ? 'mmsg' : 'ring');
    this.counters.refresh = () => this.refreshKernelStats();
  }

  async open(): Promise<void> {
    if (this.fd >= 0) return;
    const nat = loadNative();
    this.bringUp(nat);
    let s: ReturnType<typeof nat.packetOpen> | null = null;
    let vnet = this.offloadsWanted === true;
    if (this.offloadsWanted === 'auto') vnet = typeof nat.ifOffloads === 'function' && offloadsFromFeatures(nat.ifOffloads(this.name));
    const rx = this.rxOption ?? (vnet ? 'mmsg' : 'ring');
    if (rx === 'ring' && typeof nat.packetStats === 'function') {
      try {
        s = nat.packetOpen(this.name, SYSTEM_RCVBUF_BYTES, ringFrameSizeFor(vnet ? 65_535 : deviceMtu(this.name)),
          vnet ? VNET_RING_FRAMES : RING_FRAMES, vnet);
      } catch (err) {
        // ENOMEM/EPERM for the ring: fall back to recvmmsg; a missing device fails the same way below.
        if ((err as { syscall?: string }).syscall !== 'PACKET_RX_RING' && (err as { syscall?: string }).syscall !== 'mmap(PACKET_RX_RING)' &&
          (err as { syscall?: string }).syscall !== 'PACKET_VERSION') throw err;
      }
    }
    s ??= nat.packetOpen(this.name, SYSTEM_RCVBUF_BYTES, 0, 0, vnet);
    this.vnet = s.vnetHdr === true;
    this.ringFrames = s.ringFrames ?? 0;
    this.ringFrameSize = s.ringFrameSize ?? 0;
    this.rxMode = this.ringFrames > 0 ? 'ring' : 'mmsg';
    this.kind = this.ringFrames > 0 ? KIND_RING : KIND_PACKET;
    this.kstats.fill(0);
    this.ifindex = s.ifindex;
    this.rcvbufBytes = s.rcvbufBytes;
    let up = true;
    try { up = isUp(nat.ifFlags(this.name)); } catch { up = false; }
    this.attached(s.fd, nat, up);
    if (!up) this.startWatch();
  }

  /**
   * Set IFF_UP on the device, as Open vSwitch does for every interface it adds: a TAP that QEMU
   * opened (`-netdev tap,script=no`), one made by `ip tuntap add`, or a veth end is created down,
   * and AF_PACKET on a down device neither receives nor sends, so the guest's frames were lost
   * until someone ran `ip link set DEV up`. Only at open: a device an operator sets down later
   * stays down (reported as link down, admin down). Left up at close, like OVS: QEMU's TAP keeps
   * its state for whoever attaches next. A refusal (no CAP_NET_ADMIN) is not fatal: the port
   * opens, reports `admin down` and the link watch picks the device up once someone raises it.
   */
  private bringUp(nat: NativeBinding): void {
    this.adminError = null;
    try {
      if ((nat.ifFlags(this.name) & IFF_UP) === 0) nat.ifSetUp(this.name, true);
    } catch (err) {
      // ENODEV surfaces from packetOpen below with the usual message.
      if ((err as { code?: string }).code !== 'ENODEV') this.adminError = (err as Error).message;
    }
  }

  /** IFF_* flags of the device behind our ifindex (it may have been renamed), null if closed or gone. */
  deviceFlags(): number | null {
    const nat = this.nat;
    if (nat === null || this.fd < 0 || this.isGone) return null;
    const current = nat.ifIndexToName(this.ifindex);
    if (current === null) return null;
    try { return nat.ifFlags(current); } catch { return null; }
  }

  /** Frames still in the ring or socket queue from before a link-down prove nothing: ask the device. */
  protected override linkUpOnRx(): boolean {
    const nat = this.nat;
    if (nat === null) return false;
    try { return isUp(nat.ifFlags(this.name)); } catch { return false; }
  }

  protected ioError(errno: number, op: string): void {
    this.counters.errors++;
    if (errno === E.ENETDOWN || errno === E.ENODEV || errno === E.ENXIO) this.refreshLink(`${this.name}: ${op}: ${this.errnoName(errno)}`);
  }

  protected pollError(status: number): void {
    // The packet socket signals POLLERR with sk_err = ENETDOWN when its device goes down or away.
    this.counters.errors++;
    const nat = this.nat;
    const e = nat !== null && this.fd >= 0 ? nat.sockError(this.fd) : 0;
    this.refreshLink(`${this.name}: poll: ${e !== 0 ? this.errnoName(e) : `uv status ${status}`}`);
    this.rearmPoller();
  }

  /** Look at the device behind our ifindex: gone, down (watch until up) or up. */
  private refreshLink(reason: string): void {
    const nat = this.nat;
    if (nat === null || this.fd < 0 || this.isGone) return;
    const current = nat.ifIndexToName(this.ifindex);
    if (current === null) {
      this.stopWatch();
      this.setLink(false, true, `${reason}; device removed`);
      return;
    }
    let up = false;
    try { up = isUp(nat.ifFlags(current)); } catch { up = false; }
    if (up) {
      this.stopWatch();
      this.setLink(true, false, reason);
    } else {
      this.setLink(false, false, reason);
      this.startWatch();
    }
  }

  private startWatch(): void {
    if (this.watch) return;
    this.watch = setInterval(() => this.refreshLink(`${this.name}: link watch`), LINK_WATCH_MS);
    this.watch.unref();
  }

  private stopWatch(): void {
    if (this.watch) { clearInterval(this.watch); this.watch = null; }
  }

  /** Read PACKET_STATISTICS into counters.kernelDrops (the kernel's own drops: buffer/ring full). */
  refreshKernelStats(): void {
    const nat = this.nat;
    if (nat === null || this.fd < 0 || typeof nat.packetStats !== 'function') return;
    if (nat.packetStats(this.fd, this.kstats)) this.counters.kernelDrops = this.kstats[1];
  }

  override async close(): Promise<void> {
    this.stopWatch();
    this.refreshKernelStats();
    this.detach();
  }
}

/** Device MTU from sysfs (this network namespace); 1500 when unreadable. */
function deviceMtu(name: string): number {
  try {
    const v = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    return Number.isFinite(v) && v > 0 ? v : 1500;
  } catch { return 1500; }
}

function isUp(flags: number): boolean {
  return (flags & IFF_UP) !== 0 && (flags & IFF_RUNNING) !== 0;
}
