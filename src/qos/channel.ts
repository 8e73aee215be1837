// Channels: named token buckets that police (drop excess) or shape (queue excess in a bounded
// FIFO, tail drop) the frames of whatever is attached to them (DESIGN "Channels"). A channel is
// ONE bucket: every port or flow attached to it shares that bucket and, when shaping, its queue.
// `ChannelRegistry` holds them by name and reconfigures in place, so attachments never go stale.
import type { Limiter } from './limiter.js';
import type { Batch } from '../packet/batch.js';
import { NO_PACKET } from '../packet/batch.js';
import type { Packet } from '../packet/packet.js';
import { wireBytes, wireFrames } from '../packet/gso.js';
import { TokenBucket } from './token-bucket.js';
import { parseRate, parseSize, defaultBurst, formatRate, formatSize } from './units.js';
import type { Rate, Size } from './units.js';

export type ChannelMode = 'police' | 'shape';
/** A channel as users write it (config, CLI, controller API). */
export interface ChannelSpec {
  rate: string; burst?: string; mode?: ChannelMode; queue?: number;
  /** Present: a channel group whose members are channels by these names (channel-group.ts). */
  members?: Record<string, { min: string; max?: string; weight?: number }>;
}
/** A validated spec in bucket units. */
export interface ResolvedChannelSpec {
  rate: Rate;
  burst: Size;            // explicit or defaulted; same kind (bytes/packets) as the rate
  burstDefaulted: boolean;
  mode: ChannelMode;
  queue: number;          // shaping queue limit, packets
  /** Bucket units: bytes/s (bit rates / 8) or packets/s. */
  tokensPerSec: number;
  /** Bucket depth in bytes or packets. */
  burstTokens: number;
}
export interface ChannelCounters {
  'passed-packets': number;
  'passed-bytes': number;
  'dropped-packets': number;
  'dropped-bytes': number;
  queued: number;
}

/** Default shaping queue, packets (Linux's default txqueuelen). */
export const DEFAULT_QUEUE = 1000;
export const MAX_QUEUE = 1_000_000;

/**
 * Validate and resolve a spec (throws TypeError/RangeError with a one-line message). Used by the
 * registry and by config loading, so both report the same words.
 */
export function resolveChannelSpec(spec: ChannelSpec): ResolvedChannelSpec {
  if (spec === null || typeof spec !== 'object') throw new TypeError('a channel needs { rate, burst?, mode?, queue? }');
  const rate = parseRate(spec.rate);
  let burst: Size;
  let burstDefaulted = false;
  if (spec.burst === undefined) { burst = defaultBurst(rate); burstDefaulted = true; }
  else {
    burst = parseSize(spec.burst);
    if ((rate.unit === 'pkt') !== (burst.unit === 'pkt')) {
      throw new RangeError(rate.unit === 'pkt'
        ? `burst "${spec.burst}" is in bytes but rate "${spec.rate}" is in packets: give the burst in pkt`
        : `burst "${spec.burst}" is in packets but rate "${spec.rate}" is in bits: give the burst in b, kb or mb`);
    }
  }
  const mode = spec.mode ?? 'police';
  if (mode !== 'police' && mode !== 'shape') throw new RangeError(`mode "${String(mode)}" is not police or shape`);
  const queue = spec.queue ?? DEFAULT_QUEUE;
  if (!Number.isInteger(queue) || queue < 1 || queue > MAX_QUEUE) throw new RangeError(`queue ${queue} must be a whole number of packets in 1-${MAX_QUEUE}`);
  const tokensPerSec = rate.unit === 'pkt' ? rate.perSec : rate.perSec / 8;
  return { rate, burst, burstDefaulted, mode, queue, tokensPerSec, burstTokens: burst.amount };
}

/** The spec in canonical strings (what `sluice channel show` prints and config saves). */
export function formatChannelSpec(r: ResolvedChannelSpec): ChannelSpec {
  const out: ChannelSpec = { rate: formatRate(r.rate) };
  if (!r.burstDefaulted) out.burst = formatSize(r.burst);
  if (r.mode !== 'police') out.mode = r.mode;
  if (r.queue !== DEFAULT_QUEUE) out.queue = r.queue;
  return out;
}

export class Channel implements Limiter {
  readonly name: string;
  private resolved: ResolvedChannelSpec;
  private readonly bucket: TokenBucket;
  private perPacket: boolean;
  private shape: boolean;
  // Shaping FIFO: a preallocated ring of packets plus their lengths.
  private ring: Packet[];
  private head = 0;
  private count = 0;
  private limit: number;

  passedPackets = 0;
  passedBytes = 0;
  droppedPackets = 0;
  droppedBytes = 0;

  constructor(name: string, spec: ChannelSpec | ResolvedChannelSpec, nowMs: number = Number.NaN) {
    this.name = name;
    const r = 'tokensPerSec' in spec ? spec : resolveChannelSpec(spec);
    this.resolved = r;
    this.bucket = new TokenBucket(r.tokensPerSec, r.burstTokens, nowMs);
    this.perPacket = r.rate.unit === 'pkt';
    this.shape = r.mode === 'shape';
    this.limit = r.queue;
    this.ring = r.mode === 'shape' ? newRing(r.queue) : newRing(0);
  }

  get shaping(): boolean { return this.shape; }
  get spec(): ResolvedChannelSpec { return this.resolved; }
  describe(): string {
    const r = this.resolved;
    return `channel ${this.name} (${formatRate(r.rate)}, ${r.mode}${r.mode === 'shape' ? `, ${this.queued} queued` : ''})`;
  }

  /** Tokens (bytes or packets) in the bucket as of the last frame. */
  get tokens(): number { return this.bucket.tokens; }
  /** Packets waiting in the shaping queue. */
  get queued(): number { return this.count; }

  /** Police one frame: true if it conforms (tokens debited), false if dropped (counted). */
  admit(lenBytes: number, nowMs: number, frames = 1): boolean {
    const b = this.bucket;
    b.refill(nowMs);
    const need = this.perPacket ? frames : lenBytes;
    if (frames > 1 ? b.takeDebt(need) : b.tryTake(need)) {
      this.passedPackets += frames; this.passedBytes += lenBytes;
      return true;
    }
    this.droppedPackets += frames; this.droppedBytes += lenBytes;
    return false;
  }

  /** Queue `pkt` for shaping; false when the queue is full (counted as a drop; caller recycles). */
  enqueue(pkt: Packet, _nowMs: number): boolean {
    if (this.count >= this.limit) {
      this.droppedPackets += wireFrames(pkt); this.droppedBytes += wireBytes(pkt);
      return false;
    }
    const ring = this.ring;
    let i = this.head + this.count;
    if (i >= ring.length) i -= ring.length;
    ring[i] = pkt;
    this.count++;
    return true;
  }

  /**
   * Release queued packets in FIFO order while the bucket allows, appending to `out` up to its
   * free room. A frame bigger than the burst leaves when the bucket is full and drives it negative
   * (so jumbo frames cannot wedge the queue and the long-run rate stays exact).
   */
  drain(nowMs: number, out: Batch): number {
    if (this.count === 0) return 0;
    const b = this.bucket;
    b.refill(nowMs);
    const ring = this.ring;
    let n = 0;
    while (this.count > 0 && out.count < out.pkts.length) {
      const p = ring[this.head];
      const bytes = wireBytes(p), frames = wireFrames(p);
      if (!b.takeDebt(this.perPacket ? frames : bytes)) break;
      ring[this.head] = NO_PACKET;
      if (++this.head === ring.length) this.head = 0;
      this.count--;
      out.pkts[out.count++] = p;
      this.passedPackets += frames; this.passedBytes += bytes;
      n++;
    }
    return n;
  }

  /** Earliest time the head of the queue may leave (nowMs if now); Infinity when empty. */
  nextReleaseMs(nowMs: number): number {
    if (this.count === 0) return Infinity;
    const b = this.bucket;
    const head = this.ring[this.head];
    const len = this.perPacket ? wireFrames(head) : wireBytes(head);
    return b.readyAtMs(len < b.burst ? len : b.burst, nowMs);
  }

  /**
   * Change rate, burst and/or mode atomically (cold path). Time up to `nowMs` is credited at the
   * old rate, the tokens are kept and clamped to the new burst, and the next frame sees the new
   * values. Omitted fields keep their values, except that a new rate whose burst was defaulted
   * gets a new default burst. Packets queued before a switch to police stay queued and keep
   * draining (drain/nextReleaseMs) until the queue is empty; nothing is dropped by reconfiguring,
   * and a smaller queue limit only stops new packets.
   */
  reconfigure(change: Partial<ChannelSpec>, nowMs: number = Number.NaN): void {
    const next: ChannelSpec = {
      rate: change.rate ?? formatRate(this.resolved.rate),
      burst: change.burst ?? (this.resolved.burstDefaulted ? undefined : formatSize(this.resolved.burst)),
      mode: change.mode ?? this.resolved.mode,
      queue: change.queue ?? this.resolved.queue,
    };
    const r = resolveChannelSpec(next);          // throws before anything changes
    this.apply(r, nowMs);
  }

  /** Install an already-resolved spec (what reconfigure and the registry use). */
  apply(r: ResolvedChannelSpec, nowMs: number = Number.NaN): void {
    if ((r.rate.unit === 'pkt') !== this.perPacket) {
      // Bytes and packets are different currencies: start the new bucket full, as a new channel.
      this.bucket.reconfigure(r.tokensPerSec, r.burstTokens);
      this.bucket.tokens = r.burstTokens;
    } else {
      if (nowMs === nowMs) this.bucket.refill(nowMs);
      this.bucket.reconfigure(r.tokensPerSec, r.burstTokens);
    }
    if (r.mode === 'shape' && this.ring.length < r.queue) this.grow(r.queue);
    this.resolved = r;
    this.perPacket = r.rate.unit === 'pkt';
    this.shape = r.mode === 'shape';
    this.limit = r.queue;
  }

  private grow(capacity: number): void {
    const ring = newRing(capacity);
    for (let i = 0; i < this.count; i++) {
      let j = this.head + i;
      if (j >= this.ring.length) j -= this.ring.length;
      ring[i] = this.ring[j];
    }
    this.ring = ring;
    this.head = 0;
  }

  /** Take every queued packet out (for shutdown/delete: the caller recycles them). */
  flush(): Packet[] {
    const out: Packet[] = [];
    while (this.count > 0) {
      out.push(this.ring[this.head]);
      this.ring[this.head] = NO_PACKET;
      if (++this.head === this.ring.length) this.head = 0;
      this.count--;
    }
    return out;
  }

  counters(): ChannelCounters {
    return {
      'passed-packets': this.passedPackets,
      'passed-bytes': this.passedBytes,
      'dropped-packets': this.droppedPackets,
      'dropped-bytes': this.droppedBytes,
      queued: this.count,
    };
  }
}

function newRing(n: number): Packet[] {
  return Array.from({ length: n }, () => NO_PACKET);
}

/** What the registry knows of a channel group (channel-group.ts; here as an interface, no import cycle). */
export interface ChannelGroupLike { readonly name: string; readonly members: readonly Channel[] }

/** Channels by name. `set` creates or reconfigures in place (same object, attachments keep it). */
export class ChannelRegistry {
  private readonly byName = new Map<string, Channel>();
  /** Channel groups by name (their members are channels of this registry too). */
  readonly groups = new Map<string, ChannelGroupLike>();

  /** Register a channel made elsewhere (a group's member); throws if the name is taken. */
  add(ch: Channel): void {
    if (this.byName.has(ch.name) || this.groups.has(ch.name)) throw new RangeError(`channel "${ch.name}" already exists`);
    this.byName.set(ch.name, ch);
  }

  /** Create or reconfigure `name`; throws (nothing changed) if the spec is invalid. */
  set(name: string, spec: ChannelSpec, nowMs: number = Number.NaN): Channel {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new RangeError(`"${String(name)}" is not a channel name: use 1-64 letters, digits, "_", "-" or "."`);
    }
    const r = resolveChannelSpec(spec);
    if (this.groups.has(name)) throw new RangeError(`"${name}" is a channel group: change it as a group`);
    const existing = this.byName.get(name);
    if (existing) { existing.apply(r, nowMs); return existing; }
    const ch = new Channel(name, r, nowMs);
    this.byName.set(name, ch);
    return ch;
  }
  get(name: string): Channel | undefined { return this.byName.get(name); }
  has(name: string): boolean { return this.byName.has(name); }
  /** Remove; returns the channel (so the caller can flush its queue and detach it) or undefined. */
  delete(name: string): Channel | undefined {
    const ch = this.byName.get(name);
    this.byName.delete(name);
    return ch;
  }
  /** All channels, sorted by name. */
  list(): Channel[] { return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)); }
  get size(): number { return this.byName.size; }
}
