import { describe, it, expect } from 'vitest';
import { TokenBucket } from '../../../src/qos/token-bucket.js';

describe('TokenBucket', () => {
  it('starts full and takes without partial debit', () => {
    const b = new TokenBucket(1000, 1500, 0);
    expect(b.tryTake(1000)).toBe(true);
    expect(b.tokens).toBe(500);
    expect(b.tryTake(600)).toBe(false);
    expect(b.tokens).toBe(500);
  });

  it('refills at the rate with fractional tokens and clamps to burst after idle', () => {
    const b = new TokenBucket(1000, 1500, 0);
    b.tryTake(1500);
    b.refill(0.5);
    expect(b.tokens).toBeCloseTo(0.5, 10);
    b.refill(1);
    expect(b.tokens).toBeCloseTo(1, 10);
    b.refill(3_600_000);
    expect(b.tokens).toBe(1500);
  });

  it('ignores a clock that goes backwards and never credits twice', () => {
    const b = new TokenBucket(1000, 10_000, 1000);
    b.tryTake(10_000);
    b.refill(500);
    expect(b.tokens).toBe(0);
    expect(b.lastMs).toBe(1000);
    b.refill(1002);
    expect(b.tokens).toBeCloseTo(2, 10);
  });

  it('takes its time origin from the first refill when none given', () => {
    const b = new TokenBucket(1000, 100);
    b.tryTake(100);
    b.refill(1.7e12);
    expect(b.tokens).toBe(0);
    b.refill(1.7e12 + 10);
    expect(b.tokens).toBeCloseTo(10, 6);
  });

  it('passes 50mbit within 2% over 1 s windows of 1514-byte frames offered at 2x', () => {
    const bytesPerSec = 50e6 / 8;
    const b = new TokenBucket(bytesPerSec, 64 * 1024, 0);
    const frame = 1514;
    const offeredPerMs = (2 * bytesPerSec) / 1000 / frame;   // ~8.3 frames per ms
    let passed = 0;
    const windows: number[] = [];
    let acc = 0;
    for (let i = 0; i < 5000 * offeredPerMs; i++) {
      const t = i / offeredPerMs;
      b.refill(t);
      if (b.tryTake(frame)) { passed += frame; acc += frame; }
      if (Math.floor((i + 1) / offeredPerMs / 1000) > Math.floor(t / 1000)) { windows.push(acc); acc = 0; }
    }
    expect(windows.length).toBeGreaterThanOrEqual(4);
    // First window also carries the initial burst; later windows are steady state.
    for (const w of windows.slice(1)) expect(Math.abs(w - bytesPerSec) / bytesPerSec).toBeLessThan(0.02);
    expect(windows[0]).toBeLessThanOrEqual(bytesPerSec + 64 * 1024 + frame);
    expect(Math.abs(passed - 5 * bytesPerSec) / (5 * bytesPerSec)).toBeLessThan(0.02);
  });

  it('msUntil and peek predict without changing state', () => {
    const b = new TokenBucket(1000, 2000, 0);
    b.tryTake(2000);
    expect(b.msUntil(500, 0)).toBe(500);
    expect(b.peek(100)).toBeCloseTo(100, 10);
    expect(b.tokens).toBe(0);
    expect(b.msUntil(3000, 0)).toBe(Infinity);
  });

  it('readyAtMs is later than now whenever the tokens are short, also on an epoch-ms clock', () => {
    // replay runs on capture time, ~1.7e12 ms, where one ulp is 0.24 us: a wait of 0.09 us used
    // to round back to now, and a shaper asked to be drained "now" released nothing, for ever
    const T = 1_700_000_000_202.355;
    const b = new TokenBucket(90_000, 3028, T);
    b.tokens = 59.9921875;
    expect(T + b.msUntil(60, T)).toBe(T);                    // the trap: nowMs + msUntil() is nowMs
    const at = b.readyAtMs(60, T);
    expect(at).toBeGreaterThan(T);
    b.refill(at);
    expect(b.tokens).toBeGreaterThanOrEqual(60);
    expect(b.readyAtMs(10, T)).toBe(T);                      // enough already: now
    b.tokens = 0;
    expect(b.readyAtMs(60, T) - T).toBeCloseTo((60 * 1000) / 90_000, 3);
    expect(b.readyAtMs(5000, T)).toBe(Infinity);             // more than the bucket holds: never
  });

  it('takeDebt lets a frame bigger than the burst through when full', () => {
    const b = new TokenBucket(1000, 1000, 0);
    expect(b.tryTake(1500)).toBe(false);
    expect(b.takeDebt(1500)).toBe(true);
    expect(b.tokens).toBe(-500);
    b.refill(1000);
    expect(b.tokens).toBeCloseTo(500, 10);
  });

  it('reconfigure keeps tokens clamped to the new burst', () => {
    const b = new TokenBucket(1000, 5000, 0);
    b.reconfigure(2000, 3000);
    expect(b.tokens).toBe(3000);
    b.tryTake(2500);
    b.reconfigure(10, 10_000);
    expect(b.tokens).toBe(500);
  });

  it('rejects bad parameters', () => {
    expect(() => new TokenBucket(0, 100)).toThrow(RangeError);
    expect(() => new TokenBucket(100, Number.NaN)).toThrow(RangeError);
  });
});
