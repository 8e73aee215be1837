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

/**
 * The time a limiter should see for a frame: its arrival time `tsMs` (Packet.tsMs: the kernel's
 * receive timestamp where the port has one, the time of the batch read otherwise) so that frames
 * read in a burst after a stall are policed as they arrived, not as they were read (a channel at
 * half its rate drops nothing after a 20 ms stall). No timestamp (0), NaN, or one later than the
 * pass's clock `nowMs` (another clock, a port that misbehaves) falls back to `nowMs`. Times a
 * little out of order across ports are harmless: a token bucket never refills backwards.
 */
export function arrivalMs(tsMs: number, nowMs: number): number {
  return tsMs > 0 && tsMs <= nowMs ? tsMs : nowMs;
}
