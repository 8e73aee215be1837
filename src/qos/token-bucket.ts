// A token bucket (Click TokenBucketX, Snabb token_bucket): `ratePerSec` tokens a second up to
// `burst`, starting full. Tokens are bytes or packets as the owner decides. Time is always passed
// in (ms, any monotonic origin); the bucket never reads a clock. Hot path: no allocation.

export class TokenBucket {
  /** Tokens added per second (bytes/s or packets/s). */
  ratePerSec: number;
  /** Bucket depth: most tokens ever held. */
  burst: number;
  /** Current tokens (fractional; negative only after takeDebt()). */
  tokens: number;
  /** Time of the last refill, ms; NaN until the first refill (the first call only sets the origin). */
  lastMs: number;

  constructor(ratePerSec: number, burst: number, nowMs: number = Number.NaN) {
    checkRate(ratePerSec, burst);
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /**
   * Add the tokens earned since the last refill, clamped to `burst`. A clock that goes backwards
   * earns nothing (and does not move the origin back), so no tokens are ever granted twice.
   */
  refill(nowMs: number): void {
    const last = this.lastMs;
    if (nowMs > last) {
      const t = this.tokens + ((nowMs - last) * this.ratePerSec) / 1000;
      this.tokens = t > this.burst ? this.burst : t;
      this.lastMs = nowMs;
    } else if (last !== last) {          // NaN: first sight of the clock
      this.lastMs = nowMs;
    }
  }

  /** Debit `amount` if that many tokens are there; otherwise take nothing (no partial debit). */
  tryTake(amount: number): boolean {
    if (amount > this.tokens) return false;
    this.tokens -= amount;
    return true;
  }

  /**
   * Shaping variant for frames bigger than the bucket: conforms when the bucket holds
   * min(amount, burst) and debits all of `amount` (tokens may go negative, so the long-run rate
   * stays exact). Returns whether it took.
   */
  takeDebt(amount: number): boolean {
    const need = amount < this.burst ? amount : this.burst;
    if (need > this.tokens) return false;
    this.tokens -= amount;
    return true;
  }

  /** Tokens the bucket would hold at `nowMs`, without changing it. */
  peek(nowMs: number): number {
    if (!(nowMs > this.lastMs)) return this.tokens;
    const t = this.tokens + ((nowMs - this.lastMs) * this.ratePerSec) / 1000;
    return t > this.burst ? this.burst : t;
  }

  /** ms from `nowMs` until `amount` tokens are there (0 if already); Infinity if never (amount > burst). */
  msUntil(amount: number, nowMs: number): number {
    if (amount > this.burst) return Infinity;
    const deficit = amount - this.peek(nowMs);
    return deficit <= 0 ? 0 : (deficit * 1000) / this.ratePerSec;
  }

  /**
   * Absolute time (ms) at which `amount` tokens are there: `nowMs` if they are now, Infinity if
   * never (amount > burst), otherwise a time strictly after `nowMs`. Plain `nowMs + msUntil()` is
   * not enough on a clock of large values: one ulp of an epoch time in ms (replay's capture clock,
   * ~1.7e12) is 0.24 us, so a wait shorter than half of that rounds back to `nowMs`, and a loop
   * that sleeps until then and drains finds nothing earned and asks again, for ever. A time one
   * ulp later earns at least the missing fraction of a token or brings the next call closer.
   */
  readyAtMs(amount: number, nowMs: number): number {
    const wait = this.msUntil(amount, nowMs);
    if (wait === 0 || wait === Infinity) return nowMs + wait;
    const at = nowMs + wait;
    return at > nowMs ? at : nowMs + Math.max(Math.abs(nowMs) * Number.EPSILON, Number.MIN_VALUE);
  }

  /**
   * Change rate and burst in place (cold path). Tokens already earned are kept, clamped to the new
   * burst (DESIGN "Channels"); call refill(nowMs) first so time up to now counts at the old rate.
   */
  reconfigure(ratePerSec: number, burst: number): void {
    checkRate(ratePerSec, burst);
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    if (this.tokens > burst) this.tokens = burst;
  }
}

function checkRate(ratePerSec: number, burst: number): void {
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`token bucket rate ${ratePerSec} must be a positive number`);
  if (!(burst > 0) || !Number.isFinite(burst)) throw new RangeError(`token bucket burst ${burst} must be a positive number`);
}
