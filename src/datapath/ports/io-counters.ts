// Per-port I/O counters and link-status events shared by the live backends (tap, system,
// qemu-stream). Plain number fields bumped once per batch, so benches can report syscalls and
// native calls per frame; `snapshot()` gives the kebab-case names used in logs and metrics.

/** Link state change of a live port: `gone` means the device or peer cannot come back. */
export interface PortStatusEvent {
  up: boolean;
  gone: boolean;
  reason?: string;
}

export type PortStatusListener = (ev: PortStatusEvent) => void;

export class PortIoCounters {
  /** Calls into the native addon (TAP/AF_PACKET) or socket writes (QEMU stream). */
  nativeCalls = 0;
  /** System calls made by those calls (read/write/recvmmsg/sendmmsg, EAGAIN probes included). */
  syscalls = 0;
  /** Readiness callbacks (uv_poll) or socket reads (QEMU stream). */
  wakeups = 0;
  rxFrames = 0;
  rxBytes = 0;
  txFrames = 0;
  txBytes = 0;
  /** Frames received but dropped: too big for a packet buffer, oversized QEMU frame, pool empty. */
  rxDrops = 0;
  /** Frames the kernel or peer did not take (queue full, no peer, refused frame). */
  txDrops = 0;
  /**
   * Frames the kernel dropped before we could read them (AF_PACKET PACKET_STATISTICS tp_drops:
   * socket buffer or RX ring full). Updated when `refreshKernelStats()` of the port runs.
   */
  kernelDrops = 0;
  /** Errors other than EAGAIN: refused frames, link down, device gone. */
  errors = 0;
  /** Reads skipped because the packet pool was empty (frames left in the kernel; retried 1 ms later). */
  poolStalls = 0;

  /** Set by a port whose kernel keeps counters of its own (read on `snapshot()`). */
  refresh: (() => void) | null = null;

  reset(): void {
    this.nativeCalls = 0; this.syscalls = 0; this.wakeups = 0; this.rxFrames = 0; this.rxBytes = 0;
    this.txFrames = 0; this.txBytes = 0; this.rxDrops = 0; this.txDrops = 0; this.errors = 0;
    this.kernelDrops = 0; this.poolStalls = 0;
  }

  snapshot(): Record<string, number> {
    if (this.refresh !== null) this.refresh();
    return {
      'native-calls': this.nativeCalls, syscalls: this.syscalls, wakeups: this.wakeups,
      'rx-packets': this.rxFrames, 'rx-bytes': this.rxBytes, 'tx-packets': this.txFrames, 'tx-bytes': this.txBytes,
      'rx-drops': this.rxDrops, 'tx-drops': this.txDrops, 'kernel-drops': this.kernelDrops, errors: this.errors, 'pool-stalls': this.poolStalls,
    };
  }
}
