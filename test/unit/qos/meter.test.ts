import { describe, it, expect } from 'vitest';
import { Meter, MeterFlags, MeterBandType, MeterConfigError } from '../../../src/qos/meter.js';
import { Batch } from '../../../src/packet/batch.js';
import { Packet } from '../../../src/packet/packet.js';

const { KBPS, PKTPS, BURST, STATS } = MeterFlags;
const DROP = MeterBandType.DROP, REMARK = MeterBandType.DSCP_REMARK;

describe('Meter', () => {
  it('drops above a kbps band and counts', () => {
    // 8000 kbit/s = 1e6 bytes/s, burst 80 kbit = 10000 bytes
    const m = new Meter(1, KBPS | BURST | STATS, [{ type: DROP, rate: 8000, burstSize: 80 }], 0);
    expect(m.shaping).toBe(false);
    let passed = 0;
    for (let t = 0; t < 2000; t += 0.5) if (m.admit(1000, t)) passed += 1000;
    expect(Math.abs(passed - 2e6 - 10000) / 2e6).toBeLessThan(0.02);
    const s = m.stats();
    expect(s.packetInCount).toBe(4000);
    expect(s.byteInCount).toBe(4e6);
    expect(s.bands[0].packetBandCount).toBe(4000 - passed / 1000);
    expect(s.bands[0].byteBandCount).toBe(4e6 - passed);
  });

  it('counts packets with PKTPS and defaults the burst without BURST', () => {
    const m = new Meter(2, PKTPS, [{ type: DROP, rate: 100, burstSize: 0 }], 0);
    let n = 0;
    for (let i = 0; i < 10; i++) if (m.admit(64, 0)) n++;
    expect(n).toBe(2);                                   // max(100 pps x 10 ms, 2)
    expect(m.admit(64, 10)).toBe(true);
  });

  it('applies the exceeded band with the highest rate', () => {
    // band 0: remark above 100 pps; band 1: drop above 200 pps. Bursts 10 packets each.
    const m = new Meter(3, PKTPS | BURST, [
      { type: REMARK, rate: 100, burstSize: 10, precLevel: 1 },
      { type: DROP, rate: 200, burstSize: 10 },
    ], 0);
    const verdicts: Array<[boolean, number]> = [];
    // 400 pps for 1 s.
    for (let t = 0; t < 1000; t += 2.5) verdicts.push([m.admit(100, t), m.lastBand]);
    const passed = verdicts.filter((v) => v[0]).length;
    const remarked = verdicts.filter((v) => v[1] === 0).length;
    expect(Math.abs(passed - 210) / 200).toBeLessThan(0.03);   // drop band holds it to ~200 pps + burst
    expect(m.stats().bands[1].packetBandCount).toBe(400 - passed);
    expect(m.stats().bands[0].packetBandCount).toBe(remarked);
    expect(m.remarkedPackets).toBe(remarked);
    expect(remarked).toBeGreaterThan(50);                 // between 100 and 200 pps: remark band applies
  });

  it('reconfigure keeps tokens clamped to the new burst', () => {
    const m = new Meter(4, KBPS | BURST, [{ type: DROP, rate: 8000, burstSize: 800 }], 0);   // burst 100000 bytes
    m.admit(60000, 0);
    expect(m.bandTokens(0)).toBe(40000);
    m.reconfigure(KBPS | BURST, [{ type: DROP, rate: 8000, burstSize: 160 }], 0);              // 20000 bytes
    expect(m.bandTokens(0)).toBe(20000);
    m.reconfigure(KBPS | BURST, [{ type: DROP, rate: 8000, burstSize: 8000 }], 0);
    expect(m.bandTokens(0)).toBe(20000);
    expect(m.stats().packetInCount).toBe(1);
  });

  it('refuses bad configs with codes for the agent', () => {
    const bad = (f: number, b: Parameters<typeof Meter.prototype.reconfigure>[1]) => {
      try { new Meter(1, f, b); } catch (e) { expect(e).toBeInstanceOf(MeterConfigError); return (e as MeterConfigError).code; }
      return 'none';
    };
    expect(bad(KBPS | PKTPS, [{ type: DROP, rate: 1, burstSize: 0 }])).toBe('BAD_FLAGS');
    expect(bad(KBPS, [{ type: DROP, rate: 0, burstSize: 0 }])).toBe('BAD_RATE');
    expect(bad(KBPS, [{ type: 9 as never, rate: 1, burstSize: 0 }])).toBe('BAD_BAND');
    expect(bad(KBPS | BURST, [{ type: DROP, rate: 1, burstSize: 0 }])).toBe('BAD_BURST');
    expect(bad(KBPS, [])).toBe('INVALID');
    expect(bad(KBPS, [{ type: DROP, rate: 1, burstSize: 0 }])).toBe('none');
  });

  it('does not queue', () => {
    const m = new Meter(5, KBPS, [{ type: DROP, rate: 1000, burstSize: 0 }]);
    expect(m.enqueue(new Packet(64), 0)).toBe(false);
    expect(m.drain(0, new Batch(4))).toBe(0);
    expect(m.nextReleaseMs(0)).toBe(Infinity);
  });
});
