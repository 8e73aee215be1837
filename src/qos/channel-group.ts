// Channel groups: a parent rate shared by member channels that each have a guaranteed `min`, an
// optional ceiling `max` and a `weight` (VMware NIOC reservations/limits/shares, Linux HTB
// rate/ceil borrowing). Work-conserving: what a member leaves idle is lent to the busy ones in
// proportion to their weights, never above their max, and a member that becomes busy again has
// its min at once. How (per group, at frame time scale):
//   - every RESPLIT_MS the members' demands (offered bytes/s; a shaping member with a backlog
//     wants everything) are water-filled into shares (`shareRates`): mins first, the rest by weight;
//   - each member polices or shapes on a bucket of its own, at max(share, min), holding the group's
//     burst time of that rate. Each bucket runs on its own member's frame times only, so the split
//     does not depend on which port the loop serves first nor on how coarsely it serves them;
//   - demand is measured on each member's own frame times, so a member's frames served late in a
//     pass are not taken for silence; a member silent for IDLE_MS wants nothing any more;
//   - a member that comes back sends at once at its min (its bucket never runs below it); the others'
//     shares shrink when its demand shows (one sample, RESPLIT_MS of its own time), or at once for a
//     shaper whose queue fills from empty. Meanwhile the group may exceed its rate by at most that
//     member's min for about one sample (10 ms: 0.17 % of a second at 50 of 300 Mbit/s).
// Members are Channels (they attach to ports and flows like any channel); the group is Sluice's
// own extension: to an OpenFlow controller a member is still a meter (src/qos/README.md).
import { Channel, DEFAULT_QUEUE } from './channel.js';
import type { ChannelRegistry } from './channel.js';
import type { ChannelCounters, ChannelMode } from './channel.js';
import type { Batch } from '../packet/batch.js';
import { NO_PACKET } from '../packet/batch.js';
import type { Packet } from '../packet/packet.js';
import { wireBytes, wireFrames } from '../packet/gso.js';
import { TokenBucket } from './token-bucket.js';
import { parseRate, parseSize, defaultBurst, formatRate } from './units.js';
import { shareRates } from './share-rates.js';
import type { ShareInput } from './share-rates.js';

/** How often a group re-splits its rate from measured demand (and a demand sample's length). */
export const RESPLIT_MS = 10;
/** Weight of the newest sample in a member's demand (EWMA per re-split). */
const DEMAND_ALPHA = 0.5;
/** A member without a frame for this long (the group's clock) wants nothing any more. */
const IDLE_MS = 100;

export interface GroupMemberSpec { min: string; max?: string; weight?: number }
export interface ChannelGroupSpec { rate: string; burst?: string; mode?: ChannelMode; queue?: number; members: Record<string, GroupMemberSpec> }

/** One member: a Channel whose bucket rate the group sets (never below its min). */
export class GroupMember extends Channel {
  readonly group: ChannelGroup;
  readonly index: number;
  minBps: number;
  maxBps: number;
  weight: number;
  /** Runs at max(share, min), `group.burstMs` deep: what this member may send now. */
  readonly share: TokenBucket;
  /**
   * Demand, measured on this member's own frame times (never another port's, which the loop may
   * have served earlier or later): bytes offered (passed or not) since `sampleStartMs`, folded into
   * the smoothed `demandBps` once RESPLIT_MS of its own time has passed; `lastFrameMs` tells the
   * group when the member went quiet.
   */
  offered = 0;
  demandBps = 0;
  sampleStartMs = Number.NaN;
  lastFrameMs = Number.NEGATIVE_INFINITY;
  /** Borrowed bytes passed (above the min), for stats. */
  borrowedBytes = 0;
  // shaping FIFO (the Channel's own is private; a member keeps its own)
  private q: Packet[];
  private qHead = 0;
  private qCount = 0;
  private qLimit: number;

  constructor(name: string, group: ChannelGroup, index: number, spec: { min: number; max: number; weight: number }, nowMs: number) {
    // 'police' for the Channel underneath: a member keeps its own queue (below), so the base class
    // must not allocate one; `shaping` says what the member does.
    super(name, { rate: formatRate({ unit: 'bit', perSec: spec.max * 8 }), mode: 'police' }, nowMs);
    this.group = group; this.index = index;
    this.minBps = spec.min; this.maxBps = spec.max; this.weight = spec.weight;
    this.share = new TokenBucket(Math.max(spec.min, 1), depthFor(Math.max(spec.min, 1), group), nowMs);
    this.qLimit = group.queue;
    this.q = group.mode === 'shape' ? Array.from({ length: group.queue }, () => NO_PACKET) : [];
  }

  override get queued(): number { return this.qCount; }
  override get shaping(): boolean { return this.group.mode === 'shape'; }
  /** The rate this member may use now (bytes/s), as last re-split. */
  get shareBps(): number { return this.share.ratePerSec; }

  /** Take `bytes` for one frame (a super-frame: in debt, as shapers do) from this member's bucket. */
  private take(bytes: number, nowMs: number, debt: boolean): boolean {
    this.group.tick(nowMs);
    const s = this.share;
    s.refill(nowMs);
    if (!(debt ? s.takeDebt(bytes) : s.tryTake(bytes))) return false;
    if (s.ratePerSec > this.minBps) this.borrowedBytes += bytes * (1 - this.minBps / s.ratePerSec);
    return true;
  }

  /** Account `bytes` offered at this member's frame time `nowMs`. */
  private offer(bytes: number, nowMs: number): void {
    if (nowMs > this.lastFrameMs) this.lastFrameMs = nowMs;
    const start = this.sampleStartMs;
    if (start !== start) { this.sampleStartMs = nowMs; this.offered = bytes; return; }
    this.offered += bytes;
    const dt = nowMs - start;
    if (dt >= RESPLIT_MS) {
      const sample = (this.offered * 1000) / dt;
      this.demandBps = this.demandBps === 0 ? sample : DEMAND_ALPHA * sample + (1 - DEMAND_ALPHA) * this.demandBps;
      this.offered = 0;
      this.sampleStartMs = nowMs;
    }
  }

  /** No frame for IDLE_MS of the group's clock: what it wanted is free for the others. */
  quietAt(nowMs: number): void {
    if (nowMs - this.lastFrameMs > IDLE_MS && this.demandBps !== 0) { this.demandBps = 0; this.offered = 0; this.sampleStartMs = Number.NaN; }
  }

  override admit(lenBytes: number, nowMs: number, frames = 1): boolean {
    this.offer(lenBytes, nowMs);
    if (this.take(lenBytes, nowMs, frames > 1)) { this.passedPackets += frames; this.passedBytes += lenBytes; return true; }
    this.droppedPackets += frames; this.droppedBytes += lenBytes;
    return false;
  }

  override enqueue(pkt: Packet, nowMs: number): boolean {
    const bytes = wireBytes(pkt);
    this.offer(bytes, nowMs);
    if (this.qCount >= this.qLimit) { this.droppedPackets += wireFrames(pkt); this.droppedBytes += bytes; return false; }
    if (this.qCount === 0) this.group.tick(nowMs, true);   // a new backlog: re-split now, not in 10 ms
    let i = this.qHead + this.qCount;
    if (i >= this.q.length) i -= this.q.length;
    this.q[i] = pkt;
    this.qCount++;
    return true;
  }

  override drain(nowMs: number, out: Batch): number {
    let n = 0;
    while (this.qCount > 0 && out.count < out.pkts.length) {
      const p = this.q[this.qHead];
      const bytes = wireBytes(p);
      if (!this.take(bytes, nowMs, true)) break;
      this.q[this.qHead] = NO_PACKET;
      if (++this.qHead === this.q.length) this.qHead = 0;
      this.qCount--;
      out.pkts[out.count++] = p;
      this.passedPackets += wireFrames(p); this.passedBytes += bytes;
      n++;
    }
    if (this.qCount === 0 && n > 0) this.group.tick(nowMs, true);   // backlog gone: lend its share at once
    return n;
  }

  override nextReleaseMs(nowMs: number): number {
    if (this.qCount === 0) return Infinity;
    const bytes = wireBytes(this.q[this.qHead]);
    const at = this.share.readyAtMs(Math.min(bytes, this.share.burst), nowMs);
    // never later than the next re-split, which may give this member more
    return Math.min(at, nowMs + RESPLIT_MS);
  }

  override flush(): Packet[] {
    const out: Packet[] = [];
    while (this.qCount > 0) {
      out.push(this.q[this.qHead]);
      this.q[this.qHead] = NO_PACKET;
      if (++this.qHead === this.q.length) this.qHead = 0;
      this.qCount--;
    }
    return out;
  }

  override describe(): string {
    const mbit = (bps: number): string => `${((bps * 8) / 1e6).toFixed(1)}Mbit`;
    return `channel ${this.name} (member of group ${this.group.name}, ${this.group.mode}: min ${mbit(this.minBps)}, max ${mbit(this.maxBps)}, weight ${this.weight}, share now ${mbit(this.shareBps)})`;
  }

  override counters(): ChannelCounters {
    return { ...super.counters(), queued: this.qCount };
  }

  /** A member changes through its group (min, max, weight), never alone. */
  override reconfigure(): void {
    throw new RangeError(`channel "${this.name}" is a member of group "${this.group.name}": change the group (min, max, weight)`);
  }

  /** Backlogged (shaping) members want everything; the rest what they offered lately. */
  get wants(): number { return this.qCount > 0 ? Infinity : this.demandBps; }

  setQueue(limit: number): void {
    if (this.group.mode !== 'shape') return;
    if (this.q.length < limit) {
      const q = Array.from({ length: limit }, () => NO_PACKET);
      for (let i = 0; i < this.qCount; i++) { let j = this.qHead + i; if (j >= this.q.length) j -= this.q.length; q[i] = this.q[j]; }
      this.q = q; this.qHead = 0;
    }
    this.qLimit = limit;
  }
}

export class ChannelGroup {
  readonly name: string;
  readonly members: GroupMember[] = [];
  mode: ChannelMode;
  queue: number;
  rateBps: number;
  burstBytes: number;
  private lastSplitMs = Number.NaN;
  private readonly inputs: ShareInput[] = [];
  private shares = new Float64Array(0);
  /** Re-splits done (stats, tests). */
  resplits = 0;

  constructor(name: string, spec: ChannelGroupSpec, nowMs: number = Number.NaN) {
    const r = resolveGroupSpec(name, spec);
    this.name = name;
    this.mode = r.mode; this.queue = r.queue; this.rateBps = r.rateBps; this.burstBytes = r.burstBytes;
    for (const [i, m] of r.members.entries()) this.members.push(new GroupMember(m.name, this, i, m, nowMs));
    this.sizeInputs();
    this.split(nowMs);
  }

  private sizeInputs(): void {
    this.inputs.length = 0;
    for (const m of this.members) this.inputs.push({ demand: 0, min: m.minBps, max: m.maxBps, weight: m.weight });
    this.shares = new Float64Array(this.members.length);
  }

  /** Re-split when RESPLIT_MS has passed since the last one (or now, when `force`). */
  tick(nowMs: number, force = false): void {
    const last = this.lastSplitMs;
    if (last !== last) { this.lastSplitMs = nowMs; return; }
    const dt = nowMs - last;
    if (dt < RESPLIT_MS && !(force && dt > 0)) return;
    for (const m of this.members) m.quietAt(nowMs);
    this.lastSplitMs = nowMs;
    this.split(nowMs);
  }

  private split(nowMs: number): void {
    const ins = this.inputs, ms = this.members;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i], inp = ins[i];
      // ask a little more than offered, so a member that is growing is not held at what it had
      const w = m.wants;
      inp.demand = w === Infinity ? Infinity : w * 1.25 + 1; inp.min = m.minBps; inp.max = m.maxBps; inp.weight = m.weight;
    }
    shareRates(this.rateBps, ins, this.shares);
    // No refill here: a member's bucket runs on its own frames' times only (another member's frame
    // time may be later than this member's next frame: refilling to it would lose that member time).
    for (let i = 0; i < ms.length; i++) {
      const s = ms[i].share;
      const rate = Math.max(this.shares[i], ms[i].minBps, 1);
      if (rate !== s.ratePerSec) s.reconfigure(rate, depthFor(rate, this));
    }
    this.resplits++;
  }

  /** Change the group live (rate, burst, members' min/max/weight, queue): tokens kept, clamped. */
  reconfigure(spec: ChannelGroupSpec, nowMs: number = Number.NaN): void {
    const r = resolveGroupSpec(this.name, spec);
    const names = r.members.map((m) => m.name).join(',');
    if (names !== this.members.map((m) => m.name).join(',')) throw new RangeError(`channel group "${this.name}": members cannot be added or removed live (have ${this.members.map((m) => m.name).join(', ')})`);
    if (r.mode !== this.mode) throw new RangeError(`channel group "${this.name}": mode cannot change live`);
    this.rateBps = r.rateBps; this.burstBytes = r.burstBytes; this.queue = r.queue;
    for (const [i, m] of this.members.entries()) {
      const ms = r.members[i];
      if (nowMs === nowMs) m.share.refill(nowMs);
      m.minBps = ms.min; m.maxBps = ms.max; m.weight = ms.weight;
      m.share.reconfigure(Math.max(ms.min, m.share.ratePerSec > ms.max ? ms.max : m.share.ratePerSec, 1), depthFor(Math.max(ms.min, 1), this));
      m.setQueue(r.queue);
    }
    this.sizeInputs();
    this.split(nowMs);
  }
}

/**
 * A member bucket's depth: the group's burst time (its burst over its rate) at the member's rate,
 * at least two full frames. Proportional to the share, so no member can hold (and spend at once)
 * more than its part of the group's burst, whichever the loop serves first.
 */
function depthFor(rateBps: number, g: { burstBytes: number; rateBps: number }): number {
  return Math.max(2 * 1514, (rateBps * g.burstBytes) / g.rateBps);
}

interface ResolvedGroup { rateBps: number; burstBytes: number; mode: ChannelMode; queue: number; members: Array<{ name: string; min: number; max: number; weight: number }> }

/** Validate a group spec (throws RangeError/TypeError with one line naming the group and member). */
export function resolveGroupSpec(name: string, spec: ChannelGroupSpec): ResolvedGroup {
  const at = `channel group "${name}"`;
  const rate = parseRate(spec.rate);
  if (rate.unit === 'pkt') throw new RangeError(`${at}: rate "${spec.rate}" must be in bits (pkt rates are not supported for groups)`);
  const rateBps = rate.perSec / 8;
  const burst = spec.burst === undefined ? defaultBurst(rate) : parseSize(spec.burst);
  if (burst.unit === 'pkt') throw new RangeError(`${at}: burst "${spec.burst}" must be in bytes`);
  const mode = spec.mode ?? 'police';
  if (mode !== 'police' && mode !== 'shape') throw new RangeError(`${at}: mode "${String(mode)}" is not police or shape`);
  const queue = spec.queue ?? DEFAULT_QUEUE;
  const entries = Object.entries(spec.members ?? {});
  if (entries.length === 0) throw new RangeError(`${at}: needs members`);
  let sumMin = 0;
  const members = entries.map(([mname, m]) => {
    const bps = (t: string | undefined, what: string, dflt: number): number => {
      if (t === undefined) return dflt;
      const r = parseRate(t);
      if (r.unit === 'pkt') throw new RangeError(`${at}: member "${mname}" ${what} "${t}" must be in bits`);
      return r.perSec / 8;
    };
    const min = bps(m.min, 'min', 0), max = bps(m.max, 'max', rateBps);
    const weight = m.weight ?? 1;
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`${at}: member "${mname}" weight ${weight} must be a positive number`);
    if (max < min) throw new RangeError(`${at}: member "${mname}" max ${m.max} is below its min ${m.min}`);
    if (max > rateBps) throw new RangeError(`${at}: member "${mname}" max ${m.max} is above the group's rate ${spec.rate}`);
    sumMin += min;
    return { name: mname, min, max, weight };
  });
  if (sumMin > rateBps * (1 + 1e-9)) throw new RangeError(`${at}: the members' mins add up to ${formatRate({ unit: 'bit', perSec: sumMin * 8 })}, more than the group's rate ${spec.rate}`);
  return { rateBps, burstBytes: burst.amount, mode, queue, members };
}

/**
 * Create or reconfigure group `name` in `reg` (its members become channels of the registry, by
 * their own names). Throws, changing nothing, on a bad spec or a member name already taken.
 */
export function setChannelGroup(reg: ChannelRegistry, name: string, spec: ChannelGroupSpec, nowMs: number = Number.NaN): ChannelGroup {
  const existing = reg.groups.get(name);
  if (existing instanceof ChannelGroup) { existing.reconfigure(spec, nowMs); return existing; }
  if (existing !== undefined || reg.has(name)) throw new RangeError(`"${name}" is already a channel`);
  const g = new ChannelGroup(name, spec, nowMs);
  for (const m of g.members) if (reg.has(m.name) || reg.groups.has(m.name)) throw new RangeError(`channel group "${name}": member "${m.name}" is already a channel`);
  for (const m of g.members) reg.add(m);
  reg.groups.set(name, g);
  return g;
}

/** Remove group `name` and its members; returns the members (the caller detaches them and flushes their queues). */
export function deleteChannelGroup(reg: ChannelRegistry, name: string): GroupMember[] {
  const g = reg.groups.get(name);
  if (!(g instanceof ChannelGroup)) return [];
  reg.groups.delete(name);
  for (const m of g.members) reg.delete(m.name);
  return g.members;
}
