// What the datapath asks of a rate limiter (a channel or an OpenFlow meter). The datapath only
// calls this interface; src/qos implements it with token buckets. Time is always passed in, so
// replay on capture timestamps is deterministic.
import type { Packet } from '../packet/packet.js';
import type { Batch } from '../packet/batch.js';
import { wireBytes, wireFrames } from '../packet/gso.js';

export interface Limiter {
  /** true: excess is queued (shaping); false: excess is dropped (policing). */
  readonly shaping: boolean;
  /**
   * Policing: debit the bucket for one frame of `lenBytes` (Ethernet frame as on the port, no FCS)
   * and return true if it conforms; a non-conforming frame takes no tokens. Counts the verdict.
   * `frames` > 1: a GSO super-frame that will be that many frames on the wire, `lenBytes` being
   * their total (packet/gso.ts wireBytes/wireFrames); a packet-rate limiter counts `frames`, and
   * it conforms when the bucket holds min(lenBytes, burst), going into debt for the rest (as a
   * shaper's jumbo frame does), so super-frames larger than the burst still pass at the rate.
   */
  admit(lenBytes: number, nowMs: number, frames?: number): boolean;
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
  /** Optional: one line for `sluice trace` (the channel, its rate; a group member's share now). */
  describe?(): string;
}

/**
 * Police `pkt` as the frames it will be on the wire, at the time it arrived: its length, or for a
 * GSO super-frame the segments' bytes and count (gso.ts), computed without cutting it; the time is
 * arrivalMs(pkt.tsMs, nowMs). Every admit() of the datapath goes through here.
 */
export function admitWire(lim: Limiter, pkt: Packet, nowMs: number): boolean {
  const t = arrivalMs(pkt.tsMs, nowMs);
  if (pkt.gsoType === 0) return lim.admit(pkt.len, t);
  return lim.admit(wireBytes(pkt), t, wireFrames(pkt));
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
