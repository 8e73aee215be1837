// SystemPort: an AF_PACKET socket on an existing device (a veth, a TAP that QEMU opened, a NIC):
// promiscuous, our own sends filtered out (PACKET_IGNORE_OUTGOING), 802.1Q tags the kernel strips
// put back from PACKET_AUXDATA, 32 MiB receive buffer, recvmmsg/sendmmsg one call per batch.
import os from 'node:os';
import { FdPort, loadNative } from './fd-port.js';
import { IFF_RUNNING, IFF_UP, KIND_PACKET } from '../native/index.js';

const E = os.constants.errno;
/** NOTES-io: bursts overflowed 4 MiB; 32 MiB (SO_RCVBUFFORCE as root) removed the loss. */
export const SYSTEM_RCVBUF_BYTES = 32 * 1024 * 1024;
/** How often a down link is re-checked for coming back up or disappearing. */
export const LINK_WATCH_MS = 250;

export class SystemPort extends FdPort {
  readonly name: string;
  protected readonly kind: number = KIND_PACKET;
  /** Kernel ifindex once open (0 before). */
  ifindex = 0;
  /** SO_RCVBUF as granted by the kernel (twice the requested value for bookkeeping). */
  rcvbufBytes = 0;
  private watch: NodeJS.Timeout | null = null;

  constructor(device: string) {
    super();
    if (typeof device !== 'string' || device.length === 0 || Buffer.byteLength(device) > 15) {
      throw new RangeError(`Cannot attach system port "${device}": interface names are 1-15 bytes`);
    }
    this.name = device;
  }

  async open(): Promise<void> {
    if (this.fd >= 0) return;
    const nat = loadNative();
    const s = nat.packetOpen(this.name, SYSTEM_RCVBUF_BYTES);
    this.ifindex = s.ifindex;
    this.rcvbufBytes = s.rcvbufBytes;
    let up = true;
    try { up = isUp(nat.ifFlags(this.name)); } catch { up = false; }
    this.attached(s.fd, nat, up);
    if (!up) this.startWatch();
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

  override async close(): Promise<void> {
    this.stopWatch();
    this.detach();
  }
}

function isUp(flags: number): boolean {
  return (flags & IFF_UP) !== 0 && (flags & IFF_RUNNING) !== 0;
}
