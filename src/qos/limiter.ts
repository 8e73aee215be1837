// What the datapath asks of a rate limiter (a channel or an OpenFlow meter). The datapath only
// calls this interface; src/qos implements it with token buckets. Time is always passed in, so
// replay on capture timestamps is deterministic.
import type { Packet } from '../packet/packet.js';
import type { Batch } from '../packet/batch.js';

export interface Limiter {
  /** true: excess is queued (shaping); false: excess is dropped (policing). */
  readonly shaping: boolean;
  /**
   * Policing: debit the bucket for one frame of `lenBytes` (Ethernet frame as on the port, no FCS)
   * and return true if it conforms; a non-conforming frame takes no tokens. Counts the verdict.
   */
  admit(lenBytes: number, nowMs: number): boolean;
  /** Shaping: queue `pkt` for later release; false = queue full (tail drop, caller recycles). */
  enqueue(pkt: Packet, nowMs: number): boolean;
  /** Shaping: append to `out` the queued packets the bucket now allows (up to out's free room). */
  drain(nowMs: number, out: Batch): number;
  /** Shaping: earliest time a queued packet could leave; Infinity when the queue is empty. */
  nextReleaseMs(nowMs: number): number;
  /**
   * Shaping: hand back every queued packet (the limiter is being detached or deleted); the caller
   * sends or recycles them. Policers leave it out.
   */
  flush?(): Packet[];
}
