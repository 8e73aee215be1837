// Cross-checks the codec against Ryu's OpenFlow 1.3 vectors: every message decodes, re-encodes
// byte for byte, agrees with Ryu's JSON decoding on the key fields, and survives the framer when
// split at every byte boundary or packed several to a chunk.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, encodeMessageInto, encodingLength, OfpFramer, formatMessage, type OfpMessage } from '../../../src/openflow/index.js';
import { firstDiff, haveOf13, loadVectors } from './vectors.js';
import { toRyu, compareSubset } from './ryu-map.js';

const vectors = loadVectors();

describe.skipIf(!haveOf13)('Ryu OpenFlow 1.3 vectors', () => {
  it('has the 64 vectors', () => expect(vectors.length).toBe(64));

  it.each(vectors.map((v) => [v.name, v] as const))('%s decodes and re-encodes byte for byte', (_n, v) => {
    const msg = decodeMessage(v.bytes);
    const out = encodeMessage(msg);
    const d = firstDiff(out, v.bytes);
    expect(d, `first differing byte at ${d}: got ${out[d]?.toString(16)} want ${v.bytes[d]?.toString(16)}`).toBe(-1);
    expect(encodingLength(msg)).toBe(v.bytes.length);
    // encode at an offset into a buffer pre-filled with 0xa5: exact bytes, nothing else touched
    const big = Buffer.alloc(v.bytes.length + 20, 0xa5);
    expect(encodeMessageInto(msg, big, 10)).toBe(v.bytes.length);
    expect(firstDiff(big.subarray(10, 10 + v.bytes.length), v.bytes)).toBe(-1);
    expect(big[9]).toBe(0xa5);
    expect(big[10 + v.bytes.length]).toBe(0xa5);
    // decoding at an offset inside a larger buffer gives the same message
    expect(decodeMessage(big, 10, v.bytes.length)).toEqual(msg);
    expect(formatMessage(msg)).toMatch(/^[A-Z_]+ xid=\d+/);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s agrees with Ryu\'s JSON', (_n, v) => {
    const msg = decodeMessage(v.bytes);
    const [cls, ryu] = Object.entries(v.json as Record<string, unknown>)[0]!;
    const mine = toRyu(msg, cls);
    const compared = compareSubset(mine, ryu, cls);
    // every vector with fields must have had some of them compared
    expect(compared).toBeGreaterThan(Object.keys(ryu as object).length === 0 ? -1 : 0);
  });

  it('agrees with Ryu on key values (spot checks)', () => {
    const byName = new Map(vectors.map((v) => [v.name, decodeMessage(v.bytes)]));
    const fm = byName.get('4-3-ofp_flow_mod.packet') as Extract<OfpMessage, { type: 'flow_mod' }>;
    expect(fm.priority).toBe(123);
    expect(fm.match).toEqual([{ field: 'in_port', value: 6n }, { field: 'eth_src', value: 0xf20ba47df8ean }]);
    expect(fm.instructions).toEqual([{ type: 'goto_table', tableId: 1 }]);
    const pi = byName.get('4-4-ofp_packet_in.packet') as Extract<OfpMessage, { type: 'packet_in' }>;
    expect(pi.bufferId).toBe(2);
    expect(pi.cookie).toBe(283686884868096n);
    expect(pi.totalLen).toBe(42);
    const fr = byName.get('4-6-ofp_features_reply.packet') as Extract<OfpMessage, { type: 'features_reply' }>;
    expect(fr.datapathId).toBe(9210263729383n);
    const hello = byName.get('4-10-ofp_hello.packet') as Extract<OfpMessage, { type: 'hello' }>;
    expect(hello.elements).toEqual([{ kind: 'versionbitmap', bitmaps: [(1 << 1) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 10) | (1 << 30)] }]);
  });
});

describe.skipIf(!haveOf13)('OfpFramer on the vectors', () => {
  it('reassembles every vector split at every byte boundary', () => {
    for (const v of vectors) {
      for (let cut = 0; cut <= v.bytes.length; cut++) {
        const got: Buffer[] = [];
        const f = new OfpFramer((b, o, l) => got.push(Buffer.from(b.subarray(o, o + l))));
        f.push(v.bytes.subarray(0, cut));
        f.push(v.bytes.subarray(cut));
        expect(got.length, `${v.name} cut at ${cut}`).toBe(1);
        expect(firstDiff(got[0]!, v.bytes)).toBe(-1);
        expect(f.buffered).toBe(0);
      }
    }
  });

  it('splits a chunk holding all vectors back into messages, zero-copy, and byte by byte', () => {
    const all = Buffer.concat(vectors.map((v) => v.bytes));
    const seen: Array<[Buffer, number, number]> = [];
    new OfpFramer((b, o, l) => seen.push([b, o, l])).push(all);
    expect(seen.length).toBe(vectors.length);
    seen.forEach(([b, o, l], i) => {
      expect(b).toBe(all); // no copy when the whole message is in the chunk
      expect(firstDiff(b.subarray(o, o + l), vectors[i]!.bytes)).toBe(-1);
      expect(decodeMessage(b, o, l).type).toBe(decodeMessage(vectors[i]!.bytes).type);
    });
    const slow: Buffer[] = [];
    const f = new OfpFramer((b, o, l) => slow.push(Buffer.from(b.subarray(o, o + l))));
    for (let i = 0; i < all.length; i += 7) f.push(all.subarray(i, i + 7));
    expect(slow.map((b) => b.toString('hex'))).toEqual(vectors.map((v) => v.bytes.toString('hex')));
  });
});
