// What the controller tells the world as it happens: one typed event union, emitted on the
// controller's EventEmitter as 'event' and served as server-sent events on GET /events.
// A bounded ring keeps the recent past so a client that (re)connects can catch up.
import { EventEmitter } from 'node:events';
import type { IntentDiff } from './intent.js';

export type ControllerEvent =
  | { type: 'switch-up'; switch: string; dpid: string }
  | { type: 'switch-down'; switch: string; dpid: string; reason: string }
  | { type: 'port-status'; switch: string; port: string; portNo: number; reason: 'add' | 'delete' | 'modify'; up: boolean }
  | { type: 'mac-learned'; switch: string; network: string; mac: string; port: string }
  | { type: 'mac-moved'; switch: string; network: string; mac: string; port: string; from: string }
  | { type: 'mac-aged'; switch: string; network: string; mac: string; port: string }
  | { type: 'link-up'; a: string; b: string }
  | { type: 'link-down'; a: string; b: string }
  | { type: 'channel-changed'; channel: string; rate: string; burst?: string }
  | { type: 'intent-changed'; diff: IntentDiff }
  | { type: 'leader-elected'; generation: string }
  | { type: 'leader-lost'; leader: string | null }
  | { type: 'reconcile-done'; switch: string; flowMods: number; groupMods: number; meterMods: number; errors: number; ms: number };

/** An event as delivered: a sequence number (the SSE id) and the time it happened. */
export type StampedEvent = ControllerEvent & { seq: number; at: string };

/**
 * A measurement, not a happening: one channel's rate over the last sampling period, read from the
 * meter stats (OFPMP_METER) of every switch carrying it, summed. Samples have no seq, are not held
 * in the ring and are not replayed; they go only to listeners of 'sample' (GET /events?rates=true).
 */
export interface ChannelRateSample {
  type: 'channel-rate';
  channel: string;
  /** The channel's unit: 'bit' (rate, offered and limit in bits/s) or 'pkt' (packets/s). */
  unit: 'bit' | 'pkt';
  /** What passed the meters (offered minus what their drop bands dropped), per second. */
  rate: number;
  /** What reached the meters, per second. */
  offered: number;
  /** The channel's rate, per second (the sum of its meters' shares). */
  limit: number;
  bytesPerSec: number;
  packetsPerSec: number;
  /** Switches whose meters were read for this sample. */
  switches: number;
  /** The period the rates are averaged over, ms (the switches' own meter durations). */
  intervalMs: number;
  /** Per switch read: its meter's part of the limit, what passed and what was offered (same unit). */
  parts: { switch: string; limit: number; rate: number; offered: number }[];
  at: string;
}

export class EventHub extends EventEmitter {
  private seq = 0;
  /** The last `keep` events, a ring: slot seq % keep (no shifting, however busy learning gets). */
  private readonly recent: (StampedEvent | undefined)[];

  constructor(private readonly keep = 1000) {
    super();
    this.setMaxListeners(0);   // one listener per SSE client
    this.recent = new Array<StampedEvent | undefined>(keep);
  }

  emitEvent(ev: ControllerEvent): StampedEvent {
    const stamped = { ...ev, seq: ++this.seq, at: new Date().toISOString() } as StampedEvent;
    this.recent[stamped.seq % this.keep] = stamped;
    this.emit('event', stamped);
    return stamped;
  }

  /** Hand a sample to its listeners (no seq, not held). Cheap when nobody listens: see hasSampleListeners. */
  emitSample(s: ChannelRateSample): void {
    this.emit('sample', s);
  }

  /** Is anyone following samples (the controller reads meter stats only then)? */
  get hasSampleListeners(): boolean { return this.listenerCount('sample') > 0; }

  /** Events after sequence number `seq` still held (for SSE Last-Event-ID). */
  since(seq: number): StampedEvent[] {
    const out: StampedEvent[] = [];
    for (let s = Math.max(seq + 1, this.seq - this.keep + 1); s <= this.seq; s++) {
      const e = this.recent[s % this.keep];
      if (e !== undefined && e.seq === s) out.push(e);
    }
    return out;
  }
}
