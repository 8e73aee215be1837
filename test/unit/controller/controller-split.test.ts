// A channel over two real Sluice bridges (in-process, memory ports, real OpenFlow over TCP): the
// controller re-splits its rate by the demand the meters measure, follows demand from one switch
// to the other, never gives the switches more than the channel's rate in all, and a restarted
// controller takes the parts the meters hold instead of resetting them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { createChannel, createNetwork, patchChannel, putAttachment } from '../../../src/controller/intent.js';
import { parseRate } from '../../../src/qos/units.js';
import { Lab, until } from './lab.js';
import type { LabSwitch } from './lab.js';

const TOTAL = 8_000_000;   // 8 mbit/s: 1,000 frames/s of 1,000 bytes
const frame = (src: number): Buffer => buildFrame({
  dst: 'ff:ff:ff:ff:ff:ff', src: `02:00:00:00:00:${src.toString(16).padStart(2, '0')}`,
  payload: { kind: 'ipv4', src: `10.0.0.${src}`, dst: '10.0.0.99', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(1000 - 42) } },
});

describe('controller: a channel over two switches, split by demand', () => {
  let lab: Lab;
  let s1: LabSwitch, s2: LabSwitch;
  let senders: NodeJS.Timeout[] = [];

  /** Offer about 2x the channel's rate from `sw` vm1 (20 frames of 1,000 B every 10 ms). */
  const offer = (sw: LabSwitch, src: number): void => {
    senders.push(setInterval(() => { for (let k = 0; k < 20; k++) sw.ports.get('vm1')!.inject(frame(src)); }, 10));
  };
  const quiet = (): void => { for (const t of senders) clearInterval(t); senders = []; };
  const parts = (): Map<string, number> => new Map(lab.controller!.channelViews()[0]!.shares.map((s) => [s.switch, parseRate(s.rate).perSec]));
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

  beforeEach(async () => {
    lab = await Lab.create();
    const ctl = await lab.startController({ splitIntervalMs: 100 });
    s1 = await lab.addSwitch('h1', ['vm1', 'vm2'], 0x1n);
    s2 = await lab.addSwitch('h2', ['vm1', 'vm2'], 0x2n);
    await until('both switches', () => ctl.switches().filter((s) => s.connected).length === 2);
    await ctl.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
    await ctl.change((i) => createChannel(i, { name: 'gold', rate: '8mbit' }));
    for (const h of ['h1', 'h2']) {
      await ctl.change((i) => putAttachment(i, `${h}/br0`, 'vm1', { network: 'blue', channel: 'gold' }));
      await ctl.change((i) => putAttachment(i, `${h}/br0`, 'vm2', { network: 'blue' }));
    }
  });
  afterEach(async () => { quiet(); await lab.close(); });

  it('starts even, gives the busy switch what the quiet one leaves, and follows demand to the other switch', async () => {
    const ctl = lab.controller!;
    expect([...parts().values()]).toEqual([TOTAL / 2, TOTAL / 2]);
    offer(s1, 1);
    await until('h1 to have most of the channel', () => (parts().get('h1/br0')! >= 0.9 * TOTAL ? true : undefined), 10_000);
    expect(sum(parts())).toBeLessThanOrEqual(TOTAL);
    // The meters on the switches hold the same parts.
    const meterRate = (s: LabSwitch): number => s.agent.meter(ctl.channelViews()[0]!.meterId)!.bands[0]!.rate * 1000;
    await until('the meters to hold the parts', () => (meterRate(s1) === parts().get('h1/br0') && meterRate(s2) === parts().get('h2/br0') ? true : undefined), 5_000);
    expect(meterRate(s1) + meterRate(s2)).toBeLessThanOrEqual(TOTAL);

    quiet();
    offer(s2, 2);
    await until('h2 to have most of the channel', () => (parts().get('h2/br0')! >= 0.9 * TOTAL ? true : undefined), 10_000);
    expect(sum(parts())).toBeLessThanOrEqual(TOTAL);
    await until('the meters to follow', () => (meterRate(s2) === parts().get('h2/br0') ? true : undefined), 5_000);

    // Both busy: an even split (one attachment each).
    offer(s1, 1);
    await until('an even split', () => { const p = parts(); return Math.abs(p.get('h1/br0')! - p.get('h2/br0')!) <= 0.05 * TOTAL ? true : undefined; }, 10_000);
  });

  it('a restarted controller takes the parts the meters hold: no METER_MOD for unchanged intent', async () => {
    offer(s1, 1);
    await until('h1 to have most of the channel', () => (parts().get('h1/br0')! >= 0.9 * TOTAL ? true : undefined), 10_000);
    // Traffic goes on (steady demand: the split stays where it is) while the controller is replaced.
    await until('the meters to hold the parts', () => ([s1, s2].every((s) => s.agent.meter(1)!.bands[0]!.rate * 1000 === parts().get(s.name)) ? true : undefined), 5_000);
    await lab.stopController();
    // What the meters hold when the controller is gone.
    const meterId = 1;
    const held = new Map([s1, s2].map((s) => [s.name, s.agent.meter(meterId)!.bands[0]!.rate * 1000]));
    expect(held.get('h1/br0')).toBeGreaterThan(0);
    // This controller does not re-split (so what it shows is what it adopted).
    const ctl = await lab.startController({ splitIntervalMs: 0 });
    await until('both switches back', () => ctl.switches().filter((s) => s.connected && s.lastReconcile).length === 2);
    expect(ctl.channelViews()[0]!.meterId).toBe(meterId);
    for (const s of ctl.switches()) expect(s.lastReconcile!.meterMods).toBe(0);
    expect(parts()).toEqual(held);
  });

  it('keeps the split when the channel\'s rate changes, scaled to the new rate', async () => {
    const ctl = lab.controller!;
    offer(s1, 1);
    await until('h1 to have most of the channel', () => (parts().get('h1/br0')! >= 0.9 * TOTAL ? true : undefined), 10_000);
    const before = parts();
    const r = await ctl.change((i) => patchChannel(i, 'gold', { rate: '16mbit' }));
    // One METER_MOD where the part moved, at most, and the split is the one before, doubled.
    expect(r.switches.every((s) => s.meterMods <= 1)).toBe(true);
    const after = parts();
    expect(sum(after)).toBeLessThanOrEqual(2 * TOTAL);
    expect(after.get('h1/br0')!).toBeGreaterThan(after.get('h2/br0')!);
    expect(after.get('h1/br0')!).toBeGreaterThanOrEqual(2 * before.get('h1/br0')! - 0.1 * TOTAL);
  });
});
