// The one unit style of the CLI's tables (src/cli/format.ts): bit rates with SI prefixes, sizes with
// binary prefixes, counts with SI; dump-flows lines as structured records for `flows dump --json`.
import { describe, expect, it } from 'vitest';
import { fmtBitRate, fmtBytes, fmtCount, fmtPktRate, fmtRateText, fmtSizeText, parseFlowLine } from '../../../src/cli/format.js';
import { formatFlow, parseFlow } from '../../../src/flow/syntax.js';

describe('table units', () => {
  it.each([[0, '0'], [999, '999'], [1000, '1.00k'], [84_173, '84.2k'], [125_000_000, '125M'], [999_999, '1.00M'], [2.5e12, '2.50T']])('count %d -> %s', (n, s) => expect(fmtCount(n)).toBe(s));
  it.each([[0, '0 B'], [1023, '1023 B'], [1024, '1.00 KiB'], [31_037_849, '29.6 MiB'], [1024 ** 3 * 5, '5.00 GiB'], [1024 * 1024 - 1, '1.00 MiB']])('bytes %d -> %s', (n, s) => expect(fmtBytes(n)).toBe(s));
  it.each([[20e6, '20.0 Mbit/s'], [512, '512 bit/s'], [200e6, '200 Mbit/s'], [1e12, '1.00 Tbit/s'], [64_000, '64.0 kbit/s']])('bit rate %d -> %s', (n, s) => expect(fmtBitRate(n)).toBe(s));
  it('packet rates, and tc-style config text in the same style', () => {
    expect(fmtPktRate(10_000)).toBe('10.0 kpps');
    expect(fmtRateText('20mbit')).toBe('20.0 Mbit/s');
    expect(fmtRateText('10kpps')).toBe('10.0 kpps');
    expect(fmtRateText('')).toBe('-');
    expect(fmtSizeText('64kb')).toBe('64.0 KiB');
    expect(fmtSizeText('10pkt')).toBe('10 pkt');
  });
});

describe('flows dump --json records', () => {
  it('a dump-flows line as table, priority, match field -> value, actions, counters', () => {
    const spec = parseFlow('table=1,priority=100,in_port=3,dl_vlan=100,arp,actions=set_field:5->vlan_vid,output:2', { portNames: {} });
    const line = formatFlow(spec, { durationS: 1.5, packets: 84_173, bytes: 125_000_000, idleAgeS: 2 });
    expect(parseFlowLine(line)).toEqual({
      table: 1, priority: 100, cookie: '0x0', match: expect.objectContaining({ in_port: '3', dl_vlan: '100' }),
      actions: ['mod_vlan_vid:5', 'output:2'], counters: { packets: 84_173, bytes: 125_000_000, durationS: 1.5, idleAgeS: 2 },
    });
  });

  it('the default priority and an empty match', () => {
    const r = parseFlowLine(formatFlow(parseFlow('actions=NORMAL'), { durationS: 0, packets: 0, bytes: 0 }));
    expect(r).toMatchObject({ table: 0, priority: 32768, match: {}, actions: ['NORMAL'] });
  });
});
