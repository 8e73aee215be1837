// Channel rate sampling: the controller reads meter stats (OFPMP_METER) from the switches carrying
// a channel and publishes `channel-rate` samples, only while someone listens; the limit follows a
// channel change. Real Sluice bridges in-process (memory ports, real OpenFlow agents over TCP).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { createChannel, createNetwork, patchChannel, putAttachment } from '../../../src/controller/intent.js';
import type { ChannelRateSample } from '../../../src/controller/events.js';
import { EmulatedSwitch } from '../../helpers/emulated-switch.js';
import { Lab, until } from './lab.js';
import type { LabSwitch } from './lab.js';

const frame = buildFrame({
  dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01',
  payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(200) } },
});

describe('channel-rate samples', () => {
  let lab: Lab;
  let s1: LabSwitch;
  const samples: ChannelRateSample[] = [];
  const onSample = (x: ChannelRateSample): void => { samples.push(x); };

  beforeEach(async () => {
    samples.length = 0;
    lab = await Lab.create();
    const ctl = await lab.startController({ rateIntervalMs: 100 });
    s1 = await lab.addSwitch('h1', ['vm1', 'vm2'], 0x1n);
    await until('the switch', () => ctl.switches().filter((s) => s.connected).length === 1);
    await ctl.change((i) => createNetwork(i, { name: 'blue', vid: 100 }));
    await ctl.change((i) => createChannel(i, { name: 'gold', rate: '1mbit' }));
    await ctl.change((i) => putAttachment(i, 'h1/br0', 'vm1', { network: 'blue', channel: 'gold' }));
    await ctl.change((i) => putAttachment(i, 'h1/br0', 'vm2', { network: 'blue' }));
  });
  afterEach(async () => { lab.controller?.events.off('sample', onSample); await lab.close(); });

  it('publishes nothing while nobody listens, then the rate through the meter against its limit', async () => {
    const ctl = lab.controller!;
    await new Promise((r) => setTimeout(r, 350));
    ctl.events.on('sample', onSample);
    expect(samples).toEqual([]);
    // Traffic: 10 frames every 20 ms, well under 1 mbit/s at first sight of the meter's burst.
    const timer = setInterval(() => { for (let k = 0; k < 10; k++) s1.ports.get('vm1')!.inject(frame); }, 20);
    try {
      const busy = await until('a sample with traffic', () => samples.find((x) => x.channel === 'gold' && x.offered > 0), 10_000);
      expect(busy).toMatchObject({ type: 'channel-rate', channel: 'gold', unit: 'bit', limit: 1e6, switches: 1 });
      expect(busy.rate).toBeLessThanOrEqual(busy.offered);
      expect(busy.bytesPerSec * 8).toBeCloseTo(busy.rate, 6);
      expect(busy.intervalMs).toBeGreaterThan(0);
      expect(typeof busy.at).toBe('string');
      // The channel is changed: the samples' limit follows.
      await ctl.change((i) => patchChannel(i, 'gold', { rate: '3mbit' }));
      await until('a sample with the new limit', () => samples.some((x) => x.limit === 3e6), 10_000);
    } finally {
      clearInterval(timer);
    }
    // Nobody listens: the samples stop.
    ctl.events.off('sample', onSample);
    const n = samples.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(samples.length).toBe(n);
  }, 30_000);

  it('drops what the meter drops: the rate passed stays near the limit while far more is offered', async () => {
    const ctl = lab.controller!;
    ctl.events.on('sample', onSample);
    // ~250 frames of 242 bytes every 20 ms: ~24 Mbit/s offered against 1 Mbit/s.
    const timer = setInterval(() => { for (let k = 0; k < 250; k++) s1.ports.get('vm1')!.inject(frame); }, 20);
    try {
      const x = await until('a sample of the overloaded channel', () => samples.find((s) => s.offered > 3e6 && s.intervalMs >= 80), 10_000);
      expect(x.rate).toBeLessThan(x.offered / 2);
    } finally {
      clearInterval(timer);
    }
  }, 30_000);
});

describe('channel-rate samples: the interval a rate is taken over', () => {
  // An emulated switch whose meter 1 passes 125,000 bytes (1 Mbit) per second of its own clock and
  // reports its duration exactly, in whole seconds (coarse), or not at all (always 0).
  for (const duration of ['exact', 'whole seconds', 'zero'] as const) {
    it(`measures 1 Mbit/s from a switch whose meter duration is ${duration}`, async () => {
      const lab = await Lab.create();
      try {
        const ctl = await lab.startController({ rateIntervalMs: 500 });
        await ctl.change((i) => createChannel(i, { name: 'gold', rate: '2mbit' }));
        const sw = await EmulatedSwitch.connect(lab.ofPort, 0x77n, 'emu/br0', ['vm1']);
        await until('the switch', () => ctl.switches().some((s) => s.connected));
        const t0 = performance.now();
        sw.meterStats = () => {
          const sec = (performance.now() - t0) / 1000;
          const [durationSec, durationNsec] = duration === 'zero' ? [0, 0] : duration === 'whole seconds' ? [Math.floor(sec), 0] : [Math.floor(sec), Math.round((sec % 1) * 1e9)];
          const bytes = Math.round(sec * 125_000);
          return [{ meterId: 1, flowCount: 1, packetInCount: BigInt(Math.round(bytes / 1000)), byteInCount: BigInt(bytes), durationSec, durationNsec, bandStats: [{ packetBandCount: 0n, byteBandCount: 0n }] }];
        };
        const got: ChannelRateSample[] = [];
        ctl.events.on('sample', (x: ChannelRateSample) => got.push(x));
        await until('four samples', () => got.length >= 4, 10_000);
        // Each sample's rate is the bytes over an interval that matches the switch's clock: never 0
        // or double because a duration did not move or jumped a whole second.
        for (const x of got) {
          expect(x).toMatchObject({ channel: 'gold', unit: 'bit', limit: 2e6, switches: 1 });
          expect(x.rate).toBeGreaterThan(0.6e6);
          expect(x.rate).toBeLessThan(1.6e6);
        }
        sw.close();
      } finally {
        await lab.close();
      }
    }, 20_000);
  }
});
