// Match compilation and relations: masks, widths, prerequisites, equal/overlap/covers.
import { describe, it, expect } from 'vitest';
import { compileMatch, matchKey, matchesEqual, matchesOverlap, matchCovers } from '../../../src/datapath/match.js';
import { FlowKey, K, VID_PRESENT } from '../../../src/packet/flow-key.js';
import type { MatchSpec } from '../../../src/flow/types.js';

const key = new FlowKey();
function k(set: Partial<Record<keyof typeof K, number>>): Uint32Array {
  key.clear();
  for (const [name, v] of Object.entries(set)) key.w[K[name as keyof typeof K]] = v!;
  return key.w;
}

describe('compileMatch', () => {
  it('matches exact and masked fields word by word', () => {
    const m = compileMatch([{ field: 'eth_type', value: 0x0800n }, { field: 'ipv4_dst', value: 0x0a000000n, mask: 0xff000000n }]);
    expect(Array.from(m.words)).toEqual([K.ETH_TYPE, K.IPV4_DST]);
    expect(matchKey(m, k({ ETH_TYPE: 0x0800, IPV4_DST: 0x0a010203 }))).toBe(true);
    expect(matchKey(m, k({ ETH_TYPE: 0x0800, IPV4_DST: 0x0b010203 }))).toBe(false);
    expect(matchKey(m, k({ ETH_TYPE: 0x86dd, IPV4_DST: 0x0a010203 }))).toBe(false);
  });
  it('splits 48-bit MACs and 64-bit metadata into hi/lo words, including high-bit values', () => {
    const m = compileMatch([{ field: 'eth_dst', value: 0xffeeddccbbaan }, { field: 'metadata', value: 0x8000000000000001n, mask: 0x8000000000000001n }]);
    expect(matchKey(m, k({ ETH_DST_HI: 0xffee, ETH_DST_LO: 0xddccbbaa, METADATA_HI: 0x80000000, METADATA_LO: 0xff }))).toBe(true);
    expect(matchKey(m, k({ ETH_DST_HI: 0xffee, ETH_DST_LO: 0xddccbbab, METADATA_HI: 0x80000000, METADATA_LO: 1 }))).toBe(false);
    expect(matchKey(m, k({ ETH_DST_HI: 0xffee, ETH_DST_LO: 0xddccbbaa, METADATA_HI: 0, METADATA_LO: 1 }))).toBe(false);
  });
  it('vlan_vid: 0 matches untagged only, PRESENT/PRESENT any tagged frame', () => {
    const none = compileMatch([{ field: 'vlan_vid', value: 0n }]);
    const any = compileMatch([{ field: 'vlan_vid', value: BigInt(VID_PRESENT), mask: BigInt(VID_PRESENT) }]);
    expect(matchKey(none, k({}))).toBe(true);
    expect(matchKey(none, k({ VLAN_VID: VID_PRESENT | 10 }))).toBe(false);
    expect(matchKey(any, k({ VLAN_VID: VID_PRESENT | 10 }))).toBe(true);
    expect(matchKey(any, k({}))).toBe(false);
  });
  it.each<[string, MatchSpec]>([
    ['unknown field', [{ field: 'bogus' as never, value: 1n }]],
    ['value too wide', [{ field: 'eth_type', value: 0x10000n }]],
    ['masking an unmaskable field', [{ field: 'eth_type', value: 0x800n, mask: 0xff00n }]],
    ['value bits outside mask', [{ field: 'eth_dst', value: 0xffn, mask: 0xf0n }]],
    ['missing prerequisite', [{ field: 'ipv4_dst', value: 1n }]],
    ['udp port without ip_proto=17', [{ field: 'eth_type', value: 0x800n }, { field: 'ip_proto', value: 6n }, { field: 'udp_dst', value: 53n }]],
    ['duplicate field', [{ field: 'eth_type', value: 0x800n }, { field: 'eth_type', value: 0x800n }]],
  ])('rejects %s with RangeError', (_name, spec) => {
    expect(() => compileMatch(spec)).toThrow(RangeError);
  });
});

describe('match relations', () => {
  const all = compileMatch([]);
  const ip = compileMatch([{ field: 'eth_type', value: 0x800n }]);
  const net10 = compileMatch([{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: 0x0a000000n, mask: 0xff000000n }]);
  const host = compileMatch([{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: 0x0a000001n }]);
  const other = compileMatch([{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: 0x0b000001n }]);
  it('equal is same fields, masks and values', () => {
    expect(matchesEqual(host, compileMatch([{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: 0x0a000001n }]))).toBe(true);
    expect(matchesEqual(host, net10)).toBe(false);
  });
  it('overlap when some key matches both', () => {
    expect(matchesOverlap(net10, host)).toBe(true);
    expect(matchesOverlap(all, other)).toBe(true);
    expect(matchesOverlap(net10, other)).toBe(false);
  });
  it('covers: entries at least as specific as the filter', () => {
    expect(matchCovers(all, host)).toBe(true);
    expect(matchCovers(ip, net10)).toBe(true);
    expect(matchCovers(net10, host)).toBe(true);
    expect(matchCovers(host, net10)).toBe(false);
    expect(matchCovers(net10, other)).toBe(false);
  });
});
