// The port-backend contract (OVS netdev_class, smoltcp phy): every way a frame enters or leaves a
// bridge — memory, pcap, TAP, AF_PACKET, QEMU stream, VXLAN — implements this interface.
import type { Batch } from '../packet/batch.js';
import type { PacketPool } from '../packet/pool.js';

export interface PortBackend {
  /** Backend's device or file name, for logs and errors. */
  readonly name: string;
  /** Acquire the device; rejects with a one-line message naming the device and the errno. */
  open(): Promise<void>;
  /**
   * Fill `into` (appending after `into.count`) with up to its free capacity of packets taken from
   * `pool`; return how many were added (0 = nothing ready, like EAGAIN). Never throws on content.
   */
  recv(into: Batch, pool: PacketPool): number;
  /**
   * Transmit `from.pkts[0 .. from.count)`; return how many were accepted. The caller recycles all
   * of them afterwards (a backend copies what it keeps) and counts the rest as drops: tx-too-big
   * for `lastSendTooBig` of them, tx-full for the others. Unless `offloads` is true, frames reach
   * `send` as a wire carries them: complete checksums and no GSO super-frames (the bridge
   * completes and segments first).
   */
  send(from: Batch): number;
  /**
   * Optional: true when the backend takes GSO super-frames and partial checksums whole (a TAP or
   * AF_PACKET port with vnet headers: it passes Packet's offload metadata to the kernel). Unset or
   * false: the bridge cuts super-frames (packet/gso.ts) and completes checksums before `send`.
   */
  readonly offloads?: boolean;
  /**
   * Optional: of the frames the last `send` did not accept, how many the device refused because
   * they are longer than its MTU allows (EMSGSIZE). Unset or 0: none.
   */
  readonly lastSendTooBig?: number;
  /**
   * Optional: set by the bridge when the port is added; a backend that drops frames for reasons of
   * its own (a tunnel: unknown VNI, fragments) counts them here by DROP code (datapath/counters.ts),
   * on the port's and the bridge's drop counters. A frame `send` counts this way is one of those it
   * did not accept, and is reported in `lastSendCounted` so the bridge does not count it again.
   */
  countDrop?: ((code: number, n: number) => void) | null;
  /** Optional: true for a tunnel port (VXLAN): NORMAL never floods a frame from one tunnel into another (split horizon). */
  readonly tunnel?: boolean;
  /** Optional: of the frames the last `send` did not accept, how many it counted through countDrop. */
  readonly lastSendCounted?: number;
  /** Release the device. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional: called when frames may be ready to read (live backends register readiness here);
   * the bridge then polls `recv`. Memory and pcap ports leave it unset.
   */
  onReadable?: (() => void) | null;
}
