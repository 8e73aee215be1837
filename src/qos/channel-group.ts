// Channel groups: a parent rate shared by member channels that each have a guaranteed `min`, an
// optional ceiling `max` and a `weight` (VMware NIOC reservations/limits/shares, Linux HTB
// rate/ceil borrowing). Work-conserving: what a member leaves idle is lent to the busy ones in
// proportion to their weights, never above their max, and a member that becomes busy again has
// its min at once. How (per group, at frame time scale):
//   - every RESPLIT_MS the members' demands (offered bytes/s; a shaping member with a backlog
//     wants everything) are water-filled into shares (`shareRates`): mins first, the rest by weight;
//   - a member's own bucket runs at max(share, min); a frame it passes is also taken from the
//     parent bucket, by force (debt) while the member is within its min (a guarantee bucket at
//     `min` says so), and only if the parent has the tokens when the member is borrowing. So a
//     member coming back takes its min at once and the borrowers' next frames wait for the debt
//     to be paid, until the next re-split gives them less.
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

/** How often a group re-splits its rate from measured demand (and a demand sample's length). */
export const RESPLIT_MS = 10;
/** Weight of the newest sample in a member's demand (EWMA per re-split). */
const DEMAND_ALPHA = 0.5;

export interface GroupMemberSpec { min: string; max?: string; weight?: number }
export interface ChannelGroupSpec { rate: string; burst?: string; mode?: ChannelMode; queue?: number; members: Record<string, GroupMemberSpec> }

/** A member's inputs to the split, in bytes/s. `demand` Infinity: it takes whatever it is given. */
export interface ShareInput { demand: number; min: number; max: number; weight: number }

/**
 * Max-min fair shares with minimums and weights (water-filling), in bytes/s: every member first
 * gets min(demand, min) (mins scaled down together if they exceed the total), then what is left
 * goes to the members that want more, in proportion to their weights, each capped at
 * min(demand, max); a member's cap reached, its unused part goes round again. Pure; allocates
 * only its result.
 */
export function shareRates(total: number, m: readonly ShareInput[], out: Float64Array = new Float64Array(m.length)): Float64Array {
  const n = m.length;
  let sumMin = 0;
  for (let i = 0; i < n; i++) sumMin += Math.min(m[i].demand, m[i].min);
  const scale = sumMin > total ? total / sumMin : 1;
  let left = total;
  for (let i = 0; i < n; i++) { out[i] = Math.min(m[i].demand, m[i].min) * scale; left -= out[i]; }
  for (let round = 0; round < n && left > total * 1e-9; round++) {
    let wsum = 0;
    for (let i = 0; i < n; i++) if (out[i] < Math.min(m[i].demand, m[i].max)) wsum += m[i].weight;
    if (wsum === 0) break;
    let given = 0;
    for (let i = 0; i < n; i++) {
      const cap = Math.min(m[i].demand, m[i].max);
      if (out[i] >= cap) continue;
      const add = Math.min(cap - out[i], (left * m[i].weight) / wsum);
      out[i] += add; given += add;
    }
    left -= given;
    if (given === 0) break;
  }
  return out;
}

/** One member: a Channel whose bucket rate the group sets, with a guarantee bucket at its min. */
export class GroupMember extends Channel {
  readonly group: ChannelGroup;
  readonly index: number;
  minBps: number;
  maxBps: number;
  weight: number;
  /** Runs at max(share, min): what this member may send now. */
  readonly share: TokenBucket;
  /** Runs at min: while it has tokens, the member is within its guarantee. */
  readonly guarantee: TokenBucket;
  /** Bytes offered since the last re-split (passed or not), and the smoothed demand in bytes/s. */
  offered = 0;
  demandBps = 0;
  /** Borrowed bytes passed (above the min), for stats. */
  borrowedBytes = 0;
  // shaping FIFO (the Channel's own is private; a member keeps its own)
  private q: Packet[];
  private qHead = 0;
  private qCount = 0;
  private qLimit: number;

  constructor(name: string, group: ChannelGroup, index: number, spec: { min: number; max: number; weight: number }, nowMs: number) {
    super(name, { rate: formatRate({ unit: 'bit', perSec: spec.max * 8 }), mode: group.mode, queue: group.queue }, nowMs);
    this.group = group; this.index = index;
    this.minBps = spec.min; this.maxBps = spec.max; this.weight = spec.weight;
    const burst = group.burstBytes;
    this.share = new TokenBucket(Math.max(spec.min, 1), burst, nowMs);
    this.guarantee = new TokenBucket(Math.max(spec.min, 1), guaranteeBurst(spec.min, group), nowMs);
    this.qLimit = group.queue;
    this.q = group.mode === 'shape' ? Array.from({ length: group.queue }, () => NO_PACKET) : [];
  }

  override get queued(): number { return this.qCount; }
  /** The rate this member may use now (bytes/s), as last re-split. */
  get shareBps(): number { return this.share.ratePerSec; }

  /**
   * Take `bytes` for one frame (or a super-frame's `frames`): from the share bucket, and from the
   * parent (by force within the guarantee, only if there when borrowing). True if it passes.
   */
  private take(bytes: number, nowMs: number, debt: boolean): boolean {
    const g = this.group;
    g.tick(nowMs);
    const s = this.share, gu = this.guarantee, p = g.parent;
    s.refill(nowMs); gu.refill(nowMs); p.refill(nowMs);
    if (!(debt ? s.takeDebt(bytes) : s.tryTake(bytes))) return false;
    if (gu.tokens >= Math.min(bytes, gu.burst)) {           // within the min: guaranteed
      gu.tokens -= bytes; p.tokens -= bytes;
      return true;
    }
    if (p.tokens >= Math.min(bytes, p.burst)) {             // borrowing: only what the parent has
      p.tokens -= bytes; this.borrowedBytes += bytes;
      return true;
    }
    s.tokens += bytes;                                      // refund: nothing taken
    return false;
  }

  override admit(lenBytes: number, nowMs: number, frames = 1): boolean {
    this.offered += lenBytes;
    if (this.take(lenBytes, nowMs, frames > 1)) { this.passedPackets += frames; this.passedBytes += lenBytes; return true; }
    this.droppedPackets += frames; this.droppedBytes += lenBytes;
    return false;
  }

  override enqueue(pkt: Packet, nowMs: number): boolean {
    const bytes = wireBytes(pkt);
    this.offered += bytes;
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
    const g = this.group;
    const wait = Math.max(this.share.msUntil(Math.min(bytes, this.share.burst), nowMs), g.parent.msUntil(Math.min(bytes, g.parent.burst), nowMs));
    // never later than the next re-split, which may give this member more
    return nowMs + Math.min(wait, RESPLIT_MS);
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
  readonly parent: TokenBucket;
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
    this.parent = new TokenBucket(r.rateBps, r.burstBytes, nowMs);
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
    for (const m of this.members) {
      const sample = dt > 0 ? (m.offered * 1000) / dt : m.demandBps;
      m.demandBps = m.demandBps === 0 ? sample : DEMAND_ALPHA * sample + (1 - DEMAND_ALPHA) * m.demandBps;
      m.offered = 0;
    }
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
    for (let i = 0; i < ms.length; i++) {
      const s = ms[i].share;
      if (nowMs === nowMs) s.refill(nowMs);
      const rate = Math.max(this.shares[i], ms[i].minBps, 1);
      if (rate !== s.ratePerSec) s.reconfigure(rate, s.burst);
    }
    this.resplits++;
  }

  /** Change the group live (rate, burst, members' min/max/weight, queue): tokens kept, clamped. */
  reconfigure(spec: ChannelGroupSpec, nowMs: number = Number.NaN): void {
    const r = resolveGroupSpec(this.name, spec);
    const names = r.members.map((m) => m.name).join(',');
    if (names !== this.members.map((m) => m.name).join(',')) throw new RangeError(`channel group "${this.name}": members cannot be added or removed live (have ${this.members.map((m) => m.name).join(', ')})`);
    if (r.mode !== this.mode) throw new RangeError(`channel group "${this.name}": mode cannot change live`);
    if (nowMs === nowMs) this.parent.refill(nowMs);
    this.parent.reconfigure(r.rateBps, r.burstBytes);
    this.rateBps = r.rateBps; this.burstBytes = r.burstBytes; this.queue = r.queue;
    for (const [i, m] of this.members.entries()) {
      const ms = r.members[i];
      if (nowMs === nowMs) { m.share.refill(nowMs); m.guarantee.refill(nowMs); }
      m.minBps = ms.min; m.maxBps = ms.max; m.weight = ms.weight;
      m.share.reconfigure(Math.max(ms.min, 1), r.burstBytes);
      m.guarantee.reconfigure(Math.max(ms.min, 1), guaranteeBurst(ms.min, this));
      m.setQueue(r.queue);
    }
    this.sizeInputs();
    this.split(nowMs);
  }

  /** What `sluice stats` shows of the group (cold path). */
  view(): { name: string; rateBps: number; mode: ChannelMode; members: Array<{ name: string; minBps: number; maxBps: number; weight: number; shareBps: number; demandBps: number; borrowedBytes: number }> } {
    return {
      name: this.name, rateBps: this.rateBps, mode: this.mode,
      members: this.members.map((m) => ({ name: m.name, minBps: m.minBps, maxBps: m.maxBps, weight: m.weight, shareBps: m.shareBps, demandBps: m.demandBps, borrowedBytes: m.borrowedBytes })),
    };
  }
}

/**
 * The guarantee bucket's depth: the group's burst time (its burst over its rate) at the member's
 * min, at least two full frames: a member within its min can pass its own small burst at once,
 * never the whole group's.
 */
function guaranteeBurst(minBps: number, g: { burstBytes: number; rateBps: number }): number {
  return Math.max(2 * 1514, (minBps * g.burstBytes) / g.rateBps);
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
