import { describe, it, expect } from 'vitest';
import { parseRate, parseSize, formatRate, formatSize, defaultBurst, MAX_BIT_RATE, MAX_PPS, MAX_SIZE_BYTES, MAX_SIZE_PKTS } from '../../../src/qos/units.js';

describe('parseRate', () => {
  it.each([
    ['50mbit', 'bit', 50e6], ['1kbit', 'bit', 1000], ['2gbit', 'bit', 2e9], ['800bit', 'bit', 800], ['800', 'bit', 800],
    ['1.5mbit', 'bit', 1.5e6], ['1MBit', 'bit', 1e6], ['1kibit', 'bit', 1024], ['100pps', 'pkt', 100], ['10kpps', 'pkt', 10000], ['1mpps', 'pkt', 1e6],
    [' 3 mbit ', 'bit', 3e6], ['1e6bit', 'bit', 1e6],
  ])('%s', (s, unit, perSec) => {
    expect(parseRate(s)).toEqual({ unit, perSec });
  });
  it('rejects typos with the hint', () => {
    expect(() => parseRate('50mbs')).toThrow('"50mbs" is not a rate: use bit, kbit, mbit, gbit, pps or kpps (e.g. 50mbit)');
    expect(() => parseRate('fast')).toThrow(TypeError);
  });
  it('refuses tc byte rates with a hint', () => {
    expect(() => parseRate('50mbps')).toThrow(/BYTES per second.*50mbit.*400mbit/);
  });
  it('rejects zero and negatives', () => {
    expect(() => parseRate('0mbit')).toThrow(RangeError);
    expect(() => parseRate('-5mbit')).toThrow();
  });
  it('bounds rates to 1 bit/s - 1 Tbit/s and 1 - 1e9 pps, naming the value on one line', () => {
    expect(() => parseRate('1e30gbit')).toThrow(/^rate "1e30gbit" is out of range 1bit-1tbit$/);
    expect(() => parseRate('1e-300bit')).toThrow(/^rate "1e-300bit" is out of range 1bit-1tbit$/);
    expect(() => parseRate('1e400bit')).toThrow(RangeError);
    expect(() => parseRate('0.5bit')).toThrow(RangeError);
    expect(() => parseRate('1001gbit')).toThrow(RangeError);
    expect(() => parseRate('2000mpps')).toThrow(/^rate "2000mpps" is out of range 1pps-1000mpps$/);
    expect(parseRate('1bit')).toEqual({ unit: 'bit', perSec: 1 });
    expect(parseRate('1tbit')).toEqual({ unit: 'bit', perSec: 1e12 });
    expect(parseRate('1000mpps')).toEqual({ unit: 'pkt', perSec: 1e9 });
  });
});

describe('parseSize', () => {
  it.each([
    ['64kb', 'byte', 65536], ['1514b', 'byte', 1514], ['1514', 'byte', 1514], ['1mb', 'byte', 1048576], ['2k', 'byte', 2048],
    ['1gb', 'byte', 1024 ** 3], ['10pkt', 'pkt', 10],
  ])('%s', (s, unit, amount) => {
    expect(parseSize(s)).toEqual({ unit, amount });
  });
  it('rejects bad sizes', () => {
    expect(() => parseSize('64kbit')).toThrow(/not a size.*not bits/);
    expect(() => parseSize('1.5pkt')).toThrow(/whole number/);
    expect(() => parseSize('')).toThrow(/not a size/);
  });
  it('bounds sizes to 1 byte - 64 GiB and 1 - 1e9 packets', () => {
    expect(() => parseSize('1e30gb')).toThrow(/^size "1e30gb" is out of range 1b-64gb$/);
    expect(() => parseSize('1e-300b')).toThrow(RangeError);
    expect(() => parseSize('65gb')).toThrow(RangeError);
    expect(() => parseSize('2e9pkt')).toThrow(/out of range 1pkt-1000000000pkt/);
    expect(parseSize('64gb')).toEqual({ unit: 'byte', amount: 64 * 1024 ** 3 });
  });
});

describe('format', () => {
  it.each(['50mbit', '1kbit', '2gbit', '1500kbit', '123bit', '10kpps', '7pps', '1mpps'])('rate %s round-trips', (s) => {
    expect(formatRate(parseRate(s))).toBe(s);
  });
  it.each(['64kb', '1514b', '1mb', '3pkt', '1gb'])('size %s round-trips', (s) => {
    expect(formatSize(parseSize(s))).toBe(s);
  });
  it('picks the largest exact unit', () => {
    expect(formatRate({ unit: 'bit', perSec: 1.5e6 })).toBe('1500kbit');
    expect(formatSize({ unit: 'byte', amount: 1536 })).toBe('1536b');
  });
});

describe('defaultBurst', () => {
  it('is 10 ms of rate or 2 full frames', () => {
    expect(defaultBurst(parseRate('50mbit'))).toEqual({ unit: 'byte', amount: 62500 });
    expect(defaultBurst(parseRate('1mbit'))).toEqual({ unit: 'byte', amount: 3028 });
    expect(defaultBurst(parseRate('10kpps'))).toEqual({ unit: 'pkt', amount: 100 });
    expect(defaultBurst(parseRate('10pps'))).toEqual({ unit: 'pkt', amount: 2 });
  });
});

describe('random round trips', () => {
  it('formatRate/formatSize are exact for integer amounts', async () => {
    const fc = (await import('fast-check')).default;
    // Every integer in the accepted ranges (1 bit/s - 1 Tbit/s, 1 - 1e9 pps; sizes up to 64 GiB or 1e9 packets).
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom('bit', 'pkt'), (big, unit) => {
      const n = unit === 'bit' ? Math.min(big, MAX_BIT_RATE) : Math.min(big, MAX_PPS);
      const r = { unit: unit as 'bit' | 'pkt', perSec: n };
      expect(parseRate(formatRate(r))).toEqual(r);
      const s = { unit: unit === 'bit' ? 'byte' as const : 'pkt' as const, amount: unit === 'bit' ? Math.min(big, MAX_SIZE_BYTES) : Math.min(big, MAX_SIZE_PKTS) };
      expect(parseSize(formatSize(s))).toEqual(s);
    }), { numRuns: 300 });
  });
});
