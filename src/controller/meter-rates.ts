// Rates from successive meter stats of the switches: per meter, the bytes and packets offered to it
// and those it passed, per second of the switch's own interval (its meter duration), or of our
// clock where a switch counts whole seconds only. One instance per consumer (the `channel-rate`
// samples, the demand re-split), each with its own previous readings.
import type { MultipartReplyBody } from '../openflow/index.js';

/** One meter's rates over the interval between two readings (reused from call to call). */
export interface MeterRate { bytesIn: number; bytesPassed: number; packetsIn: number; packetsPassed: number; intervalMs: number }

interface Reading { bytesIn: number; packetsIn: number; bytesDropped: number; packetsDropped: number; durationMs: number; clockMs: number }

export class MeterRates {
  private readonly prev = new Map<string, Map<number, Reading>>();
  private readonly rate: MeterRate = { bytesIn: 0, bytesPassed: 0, packetsIn: 0, packetsPassed: 0, intervalMs: 0 };

  /**
   * Take one switch's meter stats reply, received at `clockMs` (our clock, ms). For every meter
   * `wanted` that was read before, `each` gets its rates since then. A meter made anew (counters
   * or duration went back) starts a new baseline and gives nothing this time.
   */
  take(dpid: string, bodies: readonly MultipartReplyBody[], clockMs: number, wanted: (meterId: number) => boolean, each: (meterId: number, r: MeterRate) => void): void {
    let prevs = this.prev.get(dpid);
    if (prevs === undefined) { prevs = new Map(); this.prev.set(dpid, prevs); }
    const r = this.rate;
    for (const b of bodies) {
      if (b.kind !== 'meter') continue;
      for (const m of b.meters) {
        if (!wanted(m.meterId)) continue;
        let bytesDropped = 0, packetsDropped = 0;
        for (const band of m.bandStats) { bytesDropped += Number(band.byteBandCount); packetsDropped += Number(band.packetBandCount); }
        const bytesIn = Number(m.byteInCount), packetsIn = Number(m.packetInCount);
        const durationMs = m.durationSec * 1000 + m.durationNsec / 1e6;
        const p = prevs.get(m.meterId);
        if (p === undefined) {
          prevs.set(m.meterId, { bytesIn, packetsIn, bytesDropped, packetsDropped, durationMs, clockMs });
          continue;
        }
        const wallMs = clockMs - p.clockMs;
        const switchMs = durationMs - p.durationMs;
        // The switch's clock when it has sub-second resolution (whatever the reply's delay on the
        // way back: Sluice ends a meter's duration when its datapath read the counters); ours when
        // it counts whole seconds or stands still.
        const dtMs = switchMs > 0 && (m.durationNsec !== 0 || p.durationMs % 1000 !== 0) ? switchMs : wallMs;
        if (dtMs > 0 && durationMs >= p.durationMs && bytesIn >= p.bytesIn && packetsIn >= p.packetsIn && bytesDropped >= p.bytesDropped) {
          const perSec = 1000 / dtMs;
          r.bytesIn = (bytesIn - p.bytesIn) * perSec;
          r.packetsIn = (packetsIn - p.packetsIn) * perSec;
          r.bytesPassed = Math.max(0, bytesIn - bytesDropped - (p.bytesIn - p.bytesDropped)) * perSec;
          r.packetsPassed = Math.max(0, packetsIn - packetsDropped - (p.packetsIn - p.packetsDropped)) * perSec;
          r.intervalMs = dtMs;
          each(m.meterId, r);
        }
        p.bytesIn = bytesIn; p.packetsIn = packetsIn; p.bytesDropped = bytesDropped; p.packetsDropped = packetsDropped; p.durationMs = durationMs; p.clockMs = clockMs;
      }
    }
  }

  /** Forget switches for which `keep` is false (disconnected ones). */
  retain(keep: (dpid: string) => boolean): void {
    for (const dpid of this.prev.keys()) if (!keep(dpid)) this.prev.delete(dpid);
  }

  clear(): void { this.prev.clear(); }
}
