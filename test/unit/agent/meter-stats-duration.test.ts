// A meter's stats reply: its duration ends when the datapath read the counters, not when the
// request came in, so counters / duration is a rate over the interval the counters cover (a busy
// worker may answer tens of ms later; a controller that divides by the earlier time overstates).
import { describe, expect, it } from 'vitest';
import { buildReply } from '../../../src/agent/openflow/stats.js';
import type { MeterEntry } from '../../../src/agent/openflow/stats.js';
import type { DatapathHandle, MeterCounters } from '../../../src/agent/datapath-handle.js';
import { epochNowMs } from '../../../src/datapath/clock.js';
import { Meter } from '../../../src/qos/meter.js';
import { OFPMF } from '../../../src/openflow/index.js';

describe('meter stats duration', () => {
  it('ends when the counters were read, on the agent\'s clock', async () => {
    const DELAY_MS = 60;
    // Only meterCounters is reached for a meter stats request; it answers late, as a busy worker does.
    const dp = {
      meterCounters: async (ids: number[]): Promise<Array<MeterCounters | null>> => {
        await new Promise((r) => setTimeout(r, DELAY_MS));
        return ids.map(() => ({ flowCount: 1, packetInCount: 10, byteInCount: 1000, packetBandCount: [2], byteBandCount: [200], readMs: epochNowMs() }));
      },
    } as unknown as DatapathHandle;
    const meters = new Map<number, MeterEntry>([[1, { meter: new Meter(1, OFPMF.KBPS | OFPMF.STATS, [{ type: 1, rate: 1000, burstSize: 10 }], 0), createdMs: 5_000 }]]);
    // The agent's clock (may be injected): 2 s after the meter was made when the request came in.
    const r = await buildReply({ dp, meters, nowMs: 7_000, portCreatedMs: () => 0, swDesc: 's', dpDesc: 'd' }, { kind: 'meter', meterId: 1 });
    if (r.kind !== 'meter') throw new Error(`got ${r.kind}`);
    const m = r.meters[0]!;
    const durationMs = m.durationSec * 1000 + m.durationNsec / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(2000 + DELAY_MS - 5);   // timers may fire a little early
    expect(durationMs).toBeLessThan(2000 + 2000);
    expect(m.byteInCount).toBe(1000n);
  });
});
