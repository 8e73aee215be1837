// In-memory port backend (OVS netdev-dummy, gVisor channel): tests, replay and benches inject frames
// and read back what the bridge transmitted. For benches, `preload` a ring of frames that recv()
// cycles through without copying or allocating, and construct with record=false. With
// `offloads: true` it stands for a vnet port: it accepts GSO super-frames and partial checksums
// whole (recorded with their metadata), and inject() can hand in super-frames.
import type { Batch } from '../../packet/batch.js';
import type { PacketPool } from '../../packet/pool.js';
import type { PortBackend } from '../port.js';
import { HEADROOM } from '../../packet/packet.js';

export interface SentFrame {
  tsMs: number; frame: Buffer;
  /** Offload metadata as sent (meaningful on a port with offloads; 0/false otherwise). */
  gsoType?: number; gsoSize?: number; csumPartial?: boolean;
}
/** Offload metadata a frame is injected with (as a vnet port would read it from the virtio-net header). */
export interface InjectGso { type: number; size: number }

export class MemoryPort implements PortBackend {
  readonly name: string;
  /** Frames transmitted (copies with the packet's tsMs at tx), when `record`. */
  readonly sent: SentFrame[] = [];
  /** Frames accepted by send(), recorded or not. txCapacity bounds one send() call (a full TX ring). */
  txCount = 0;
  rxCount = 0;
  readonly txCapacity: number;
  readonly record: boolean;
  onReadable: (() => void) | null = null;
  private queue: Buffer[] = [];
  /** Per queued frame: arrives with a partial checksum (as a veth with tx offload would hand it over). */
  private queuePartial: boolean[] = [];
  private queueGso: (InjectGso | null)[] = [];
  /** Takes super-frames and partial checksums whole (PortBackend.offloads). */
  readonly offloads: boolean;
  private reservedFor: PacketPool | null = null;
  private queueTs: number[] = [];
  private qHead = 0;
  private ring: Buffer[] = [];
  private ringPartial = false;
  private ringPos = 0;
  /** Frames still to deliver from the ring (Infinity = cycle forever). */
  private ringLeft = 0;
  private opened = false;

  constructor(name: string, opts: { txCapacity?: number; record?: boolean; offloads?: boolean } = {}) {
    this.name = name;
    this.offloads = opts.offloads ?? false;
    this.txCapacity = opts.txCapacity ?? Infinity;
    this.record = opts.record ?? true;
  }

  async open(): Promise<void> { this.opened = true; }
  async close(): Promise<void> { this.opened = false; }
  get isOpen(): boolean { return this.opened; }

  /**
   * Queue a copy of `frame` for the next recv(). `csumPartial`: the packet arrives marked as having
   * its TCP/UDP checksum left to offload (Packet.csumPartial), as a SystemPort reports it.
   * `tsMs`: the frame's arrival time (Packet.tsMs, as a TPACKET ring stamps it); 0 = none, the
   * limiters then use the pass's clock.
   */
  inject(frame: Uint8Array, csumPartial = false, gso: InjectGso | null = null, tsMs = 0): void {
    this.queue.push(Buffer.from(frame));
    this.queuePartial.push(csumPartial);
    this.queueGso.push(gso);
    this.queueTs.push(tsMs);
  }

  /** Bench mode: recv() cycles through `frames` (not copied) for `count` frames in total; all marked csumPartial if asked. */
  preload(frames: Uint8Array[], count: number = Infinity, csumPartial = false): void {
    this.ring = frames.map((f) => (Buffer.isBuffer(f) ? f : Buffer.from(f)));
    this.ringPartial = csumPartial;
    this.ringPos = 0;
    this.ringLeft = this.ring.length === 0 ? 0 : count;
  }

  /** Frames waiting to be received. */
  get pending(): number { return this.queue.length - this.qHead + (this.ringLeft === Infinity ? 0 : this.ringLeft); }

  /** Frames longer than a packet buffer holds: dropped at receive, counted here (`too-long`). */
  rxTooLong = 0;

  recv(into: Batch, pool: PacketPool): number {
    let n = 0;
    const cap = into.pkts.length;
    while (into.count < cap) {
      let src: Buffer, partial: boolean, gso: InjectGso | null = null, ts = 0;
      if (this.qHead < this.queue.length) { src = this.queue[this.qHead]; partial = this.queuePartial[this.qHead]; gso = this.queueGso[this.qHead]; ts = this.queueTs[this.qHead]; }
      else if (this.ringLeft > 0) { src = this.ring[this.ringPos]; partial = this.ringPartial; }
      else break;
      const len = src.length;
      // A super-frame needs the pool's large tier; anything else too long stays a too-long drop.
      const large = len > pool.size - HEADROOM && (gso !== null || this.offloads);
      if (large && this.reservedFor !== pool) { pool.reserveLarge(64); this.reservedFor = pool; }
      const p = large ? pool.allocLarge() : pool.alloc();
      if (p === null) break;
      if (len > p.buf.length - HEADROOM) { pool.release(p); this.advance(); this.rxTooLong++; continue; }
      // The rx "DMA": TypedArray.set (a builtin memmove) ~2x cheaper than Buffer.copy's C++ call for
      // 60-byte frames on Node 20 (bench/pipeline.bench.ts); no view allocated per frame.
      p.buf.set(src, HEADROOM);
      p.off = HEADROOM; p.len = len; p.csumPartial = partial; p.tsMs = ts;
      if (gso !== null) { p.gsoType = gso.type; p.gsoSize = gso.size; }
      this.advance();
      into.pkts[into.count++] = p;
      n++;
    }
    if (this.qHead > 0 && this.qHead === this.queue.length) { this.queue.length = 0; this.queuePartial.length = 0; this.queueGso.length = 0; this.queueTs.length = 0; this.qHead = 0; }
    this.rxCount += n;
    return n;
  }

  private advance(): void {
    if (this.qHead < this.queue.length) { this.qHead++; return; }
    this.ringLeft--;
    if (++this.ringPos === this.ring.length) this.ringPos = 0;
  }

  send(from: Batch): number {
    let n = 0;
    for (let i = 0; i < from.count; i++) {
      if (n >= this.txCapacity) break;
      const p = from.pkts[i];
      if (this.record) {
        this.sent.push({ tsMs: p.tsMs, frame: Buffer.from(p.buf.subarray(p.off, p.off + p.len)), gsoType: p.gsoType, gsoSize: p.gsoSize, csumPartial: p.csumPartial });
      }
      this.txCount++;
      n++;
    }
    return n;
  }

  /** Return and forget the recorded frames. */
  takeSent(): SentFrame[] { return this.sent.splice(0, this.sent.length); }
}
