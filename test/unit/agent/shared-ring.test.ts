// SharedRing: records come out whole and in order across many wraps, a full ring refuses a record
// without writing any of it, and a second view of the same buffer (the other thread's) reads them.
import { describe, expect, it } from 'vitest';
import { SharedRing } from '../../../src/agent/shared-ring.js';

describe('SharedRing', () => {
  it('keeps records whole and in order across wraps; a full ring refuses without writing', () => {
    const w = new SharedRing(256);
    const r = new SharedRing(w.buffer);
    let next = 0, expectNext = 0;
    const rec = (i: number): Uint8Array => Uint8Array.from({ length: 1 + (i * 7) % 50 }, (_, k) => (i + k) & 0xff);
    for (let round = 0; round < 200; round++) {
      while (w.tryWrite(rec(next))) next++;
      expect(w.used).toBeGreaterThan(256 - 4 - 52 - 52);   // full up to less than two records
      const take = 1 + (round % 5);
      for (let k = 0; k < take; k++) {
        const got = r.peek();
        expect(got).not.toBeNull();
        expect(Array.from(got!)).toEqual(Array.from(rec(expectNext++)));
        r.release();
      }
    }
    for (let got = r.peek(); got !== null; got = r.peek()) { expect(Array.from(got)).toEqual(Array.from(rec(expectNext++))); r.release(); }
    expect(expectNext).toBe(next);
    expect(w.used).toBe(0);
  });

  it('refuses a record larger than a quarter of the ring', () => {
    const w = new SharedRing(256);
    expect(() => w.tryWrite(new Uint8Array(61))).toThrow(/exceeds/);
    expect(w.tryWrite(new Uint8Array(60))).toBe(true);
  });
});
