// A channel whose attachments sit on several switches has one total rate, and each switch polices
// its part with a meter. The splitter decides the parts from measured demand, as distributed rate
// limiting does (Raghavan et al., SIGCOMM 2007): every round (100 ms) each switch's meter stats
// give what it offered and passed; the total is water-filled over the switches max-min fairly with
// the channel's per-switch `min` and a weight per switch (its attachments of the channel), the same
// rule as a channel group inside the switch (src/qos/share-rates.ts). Pure: the controller reads
// the meters and sends the METER_MODs this asks for.
import { shareRates } from '../qos/share-rates.js';
import type { ShareInput } from '../qos/share-rates.js';

/** A share moves only when it changes by more than this fraction (fewer METER_MODs). */
export const SPLIT_DEADBAND = 0.01;
/** A switch not limited by its share wants what it offered plus this much, so a quiet rise passes. */
const HEADROOM = 0.1;
/** A switch is limited (wants more than it has) when its meter dropped this fraction of what it offered... */
const LIMITED_DROPS = 0.01;
/**
 * ...or passed this fraction of its share, and more than its meter's bucket could pass on its own
 * (SplitInput.burstRate): a part smaller than a frame (a quiet switch's, one unit) is "used" by a
 * single ARP or TCP FIN passed from saved tokens, which says nothing of wanting more.
 */
const LIMITED_USE = 0.95;

/** One switch carrying the channel, as a round sees it; rates in the channel's unit per second. */
export interface SplitInput {
  /** The switch (datapath id while known, else its name in the intent). */
  sw: string;
  /** Its attachments of the channel. */
  weight: number;
  /** Its guaranteed part (the channel's `min`). */
  min: number;
  /** Measured this round: offered to its meter and passed by it. Unmeasured (disconnected, or its first reading) keeps its share. */
  measured: boolean;
  offered: number;
  passed: number;
  /**
   * Its meter's burst (bucket depth) over the measured interval, per second: what a full bucket
   * passes on its own in the round. Passing no more than this is no sign of using the part. 0 when unknown.
   */
  burstRate?: number;
}

export interface ShareChange { sw: string; from: number; to: number }

/** A switch's part, and its demand: the larger of what it offered in the last two rounds (a rise is taken at once, a fall after a second look). */
interface Member { share: number; demand: number; lastOffered: number }

export class ChannelSplitter {
  private readonly channels = new Map<string, { total: number; members: Map<string, Member> }>();
  private readonly inputs: ShareInput[] = [];

  /**
   * The part of `channel` (`total` per second, parts rounded down to `step`) that switch `sw`
   * polices, `members` being every switch carrying it. A switch without a part yet gets an even
   * split of what the others leave (the whole total, evenly, when none has one), at least `step`.
   */
  shareOf(channel: string, total: number, step: number, members: readonly string[], sw: string): number {
    const ms = this.membersOf(channel, total, step, members);
    const have = ms.get(sw);
    if (have !== undefined) return have.share;
    let taken = 0, missing = 0;
    for (const s of members) { const m = ms.get(s); if (m === undefined) missing++; else taken += m.share; }
    const share = Math.max(step, floorTo(Math.max(0, total - taken) / Math.max(1, missing), step));
    ms.set(sw, { share, demand: 0, lastOffered: 0 });
    return share;
  }

  /** Take the part a switch already holds (read back from its meter after a restart or failover). */
  adopt(channel: string, total: number, step: number, members: readonly string[], sw: string, share: number): void {
    const ms = this.membersOf(channel, total, step, members);
    if (!ms.has(sw)) ms.set(sw, { share, demand: 0, lastOffered: 0 });
  }

  /** Set the part a switch holds, known or not (a follower showing what the leader set). */
  hold(channel: string, total: number, step: number, members: readonly string[], sw: string, share: number): void {
    const ms = this.membersOf(channel, total, step, members);
    const m = ms.get(sw);
    if (m === undefined) ms.set(sw, { share, demand: 0, lastOffered: 0 }); else m.share = share;
  }

  /** Current parts of a channel (for views), by switch. */
  sharesOf(channel: string): ReadonlyMap<string, { share: number; demand: number }> {
    return this.channels.get(channel)?.members ?? new Map();
  }

  /** Forget every part (another controller leads, or we lead anew and adopt from the meters). */
  clear(): void { this.channels.clear(); }

  /** Drop what is known of channels not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const c of this.channels.keys()) if (!keep.has(c)) this.channels.delete(c);
  }

  /**
   * One round for one channel: new parts from this round's measurements. Returns the parts that
   * moved by more than SPLIT_DEADBAND (and any smaller decrease needed to keep the sum within the
   * total), decreases first; the caller sends them in that order.
   */
  round(channel: string, total: number, step: number, inputs: readonly SplitInput[]): ShareChange[] {
    const names = inputs.map((i) => i.sw);
    const ms = this.membersOf(channel, total, step, names);
    const live: SplitInput[] = [];
    let fixed = 0;
    for (const i of inputs) {
      const share = this.shareOf(channel, total, step, names, i.sw);
      if (i.measured) live.push(i); else fixed += share;
    }
    if (live.length === 0) return [];
    const pool = Math.max(0, total - fixed);
    const ins = this.inputs;
    ins.length = 0;
    let wsum = 0;
    for (const i of live) {
      const m = ms.get(i.sw)!;
      const limited = i.offered - i.passed > LIMITED_DROPS * i.offered || (i.passed >= LIMITED_USE * m.share && i.passed > (i.burstRate ?? 0));
      m.demand = Math.max(i.offered, m.lastOffered);
      m.lastOffered = i.offered;
      // Its min is kept even while it is quiet: the meter is all a switch has, so a min must be there before demand shows.
      ins.push({ demand: limited ? Number.POSITIVE_INFINITY : Math.max(i.min, m.demand * (1 + HEADROOM)), min: i.min, max: Number.POSITIVE_INFINITY, weight: i.weight });
      wsum += i.weight;
    }
    const out = shareRates(pool, ins);
    // Work-conserving: what no switch wants now is headroom for all, by weight.
    let left = pool;
    for (let k = 0; k < out.length; k++) left -= out[k]!;
    const next = live.map((i, k) => Math.max(step, floorTo(out[k]! + (left > 0 ? (left * i.weight) / wsum : 0), step)));
    // No meter below one unit: what those floors add comes off the largest part.
    let over = -pool;
    for (const x of next) over += x;
    if (over > 0) { const k = next.indexOf(Math.max(...next)); next[k] = Math.max(step, next[k]! - Math.ceil(over / step) * step); }

    const changes: ShareChange[] = [];
    const small: ShareChange[] = [];
    let sum = fixed;
    live.forEach((i, k) => {
      const m = ms.get(i.sw)!;
      const to = next[k]!;
      if (Math.abs(to - m.share) > SPLIT_DEADBAND * m.share) { changes.push({ sw: i.sw, from: m.share, to }); sum += to; }
      else { if (to < m.share) small.push({ sw: i.sw, from: m.share, to }); sum += m.share; }
    });
    // Parts left within the deadband must not make the sum exceed the total.
    for (const c of small) { if (sum <= total) break; changes.push(c); sum -= c.from - c.to; }
    for (const c of changes) ms.get(c.sw)!.share = c.to;
    return changes.sort((a, b) => (a.to - a.from) - (b.to - b.from));
  }

  /**
   * The members of a channel, forgetting switches that no longer carry it; when the channel's
   * rate changed, every part scaled to the new rate (the split kept, its total changed).
   */
  private membersOf(channel: string, total: number, step: number, members: readonly string[]): Map<string, Member> {
    let c = this.channels.get(channel);
    if (c === undefined) { c = { total, members: new Map() }; this.channels.set(channel, c); }
    const ms = c.members;
    if (ms.size > 0) {
      const keep = new Set(members);
      for (const s of ms.keys()) if (!keep.has(s)) ms.delete(s);
    }
    if (c.total !== total) {
      for (const m of ms.values()) m.share = Math.max(step, floorTo((m.share * total) / c.total, step));
      c.total = total;
    }
    return ms;
  }
}

function floorTo(x: number, step: number): number { return Math.floor(x / step) * step; }
