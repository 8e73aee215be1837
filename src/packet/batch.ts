// Batches move packets between ports and stages (OVS dp_packet_batch, Snabb links): a fixed array
// of MAX_BURST slots, always filled with Packet objects so the array keeps one element shape.
import { Packet } from './packet.js';

/** Frames moved per native call and per pipeline pass (DESIGN: up to 64). */
export const MAX_BURST = 64;

/** Sentinel that fills unused slots so `pkts` stays a packed array of one shape. */
export const NO_PACKET = new Packet(0);

export class Batch {
  count = 0;
  readonly pkts: Packet[];
  constructor(capacity: number = MAX_BURST) {
    this.pkts = Array.from({ length: capacity }, () => NO_PACKET);
  }
  get capacity(): number { return this.pkts.length; }
  get full(): boolean { return this.count >= this.pkts.length; }
  /** Append; false if the batch is full (caller keeps ownership of `p`). */
  push(p: Packet): boolean {
    if (this.count >= this.pkts.length) return false;
    this.pkts[this.count++] = p;
    return true;
  }
  /** Empty the batch without touching the packets (their owner recycles them). */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.pkts[i] = NO_PACKET;
    this.count = 0;
  }
}
