// Property-based robustness (fast-check, bounded runs): random bytes and random mutations of the
// Ryu vectors (bit flips, truncations, length-field edits) never make the decoder throw anything
// but OfpError, and whatever does decode can be encoded again.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OfpError, decodeMessage, encodeMessage } from '../../../src/openflow/index.js';
import { haveOf13, loadVectors } from './vectors.js';

function onlyOfpError(buf: Buffer): void {
  try {
    const m = decodeMessage(buf);
    // whatever decodes must encode again (strings such as port names may be lossy, so no equality)
    expect(encodeMessage(m).length).toBeGreaterThanOrEqual(8);
  } catch (e) {
    if (!(e instanceof OfpError)) throw e;
    expect(e.data === undefined || e.data.length <= 64).toBe(true);
  }
}

describe('decoder fuzz', () => {
  it('random bytes with a plausible header never throw anything but OfpError', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 0, max: 29 }), fc.boolean(), (body, type, fixLen) => {
      const b = Buffer.from(body);
      if (b.length >= 8) { b[0] = 4; b[1] = type; if (fixLen) b.writeUInt16BE(b.length, 2); }
      onlyOfpError(b);
    }), { numRuns: 3000 });
  });
});

const vectors = loadVectors();
describe.skipIf(!haveOf13)('decoder fuzz on mutated vectors', () => {
  const vec = fc.constantFrom(...(vectors.length ? vectors.map((v) => v.bytes) : [Buffer.alloc(8)]));
  it('bit flips', () => {
    fc.assert(fc.property(vec, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (v, flips) => {
      const b = Buffer.from(v);
      for (const f of flips) b[(f >> 3) % b.length]! ^= 1 << (f & 7);
      onlyOfpError(b);
    }), { numRuns: 3000 });
  });
  it('truncations with and without a fixed-up header length', () => {
    fc.assert(fc.property(vec, fc.nat(), fc.boolean(), (v, cut, fix) => {
      const b = Buffer.from(v.subarray(0, cut % (v.length + 1)));
      if (fix && b.length >= 8) b.writeUInt16BE(b.length, 2);
      onlyOfpError(b);
    }), { numRuns: 2000 });
  });
  it('edits of 16-bit fields (lengths, types) anywhere in the message', () => {
    fc.assert(fc.property(vec, fc.nat(), fc.integer({ min: 0, max: 0xffff }), (v, at, val) => {
      const b = Buffer.from(v);
      if (b.length < 10) return;
      b.writeUInt16BE(val, (at % ((b.length - 8) >> 1)) * 2 + 8 - (at & 1 && b.length > 11 ? 1 : 0));
      onlyOfpError(b);
    }), { numRuns: 3000 });
  });
});
