// Policing on arrival time (issue 9, 3b): limiters see Packet.tsMs (the kernel's receive time where
// the port has one, the batch clock otherwise), so frames read in one late burst after a stalled
// loop are policed as they arrived. Memory ports carry explicit timestamps; no timing assertions.
import { describe, expect, it } from 'vitest';
import { Channel } from '../../../src/qos/channel.js';
import { arrivalMs } from '../../../src/qos/limiter.js';
import { TokenBucket } from '../../../src/qos/token-bucket.js';
import { makeBridge, udpFrame, flow, apply, out, type TestBridge } from './helpers.js';

const FRAME = udpFrame(1, 2);            // 60 bytes
const T0 = 1_700_000_000_000;            // epoch ms, as the runner's clock
/** 2000 frames/s of 60 bytes; a burst of 4 frames. Half the rate: one frame every 1 ms. */
const RATE = { rate: '960kbit', burst: '240b' };

/** `n` frames on `inPort`, one every `gapMs` from `t0`, all queued before the loop reads any. */
function injectSpaced(t: TestBridge, inPort: number, n: number, t0: number, gapMs: number, stamped = true): number {
  for (let i = 0; i < n; i++) t.ports[inPort - 1].inject(FRAME, false, null, stamped ? t0 + i * gapMs : 0);
  return t0 + (n - 1) * gapMs;
}

/** Poll until the ports are empty, all at `nowMs` (one late burst: the loop was stalled). */
function drainAt(t: TestBridge, nowMs: number): void {
  for (let i = 0; i < 100 && t.ports.some((p) => p.pending > 0); i++) t.br.poll(nowMs);
}

function forwardAll(t: TestBridge): void {
  t.br.addFlow(flow({ priority: 10, match: [{ field: 'in_port', value: 1n }], instructions: apply(out(2)) }), T0);
  t.br.addFlow(flow({ priority: 10, match: [{ field: 'in_port', value: 3n }], instructions: apply(out(2)) }), T0);
}

describe('arrivalMs', () => {
  it('takes the frame time when it has one, the pass clock otherwise (none, NaN, later than now)', () => {
    expect(arrivalMs(T0 - 5, T0)).toBe(T0 - 5);
    expect(arrivalMs(T0, T0)).toBe(T0);
    expect(arrivalMs(0, T0)).toBe(T0);
    expect(arrivalMs(Number.NaN, T0)).toBe(T0);
    expect(arrivalMs(T0 + 1, T0)).toBe(T0);
    expect(arrivalMs(-3, T0)).toBe(T0);
  });
});

describe('policing on arrival time', () => {
  it('a channel at half its rate drops nothing when 200 ms of frames arrive in one late burst (ingress)', () => {
    const t = makeBridge(3);
    forwardAll(t);
    const ch = new Channel('c', RATE, T0);
    t.br.setPortLimiter(1, 'ingress', ch);
    const last = injectSpaced(t, 1, 200, T0 + 1, 1);
    drainAt(t, last + 30);                       // the loop read them 30 ms after the last arrived
    expect(t.ports[1].takeSent()).toHaveLength(200);
    expect(ch.counters()['dropped-packets']).toBe(0);
    expect(t.br.portStats(1).drops['ingress-policed'] ?? 0).toBe(0);
  });

  it('the standalone (NORMAL) receive path polices on arrival time too', () => {
    const t = makeBridge(3);                     // no flows: table 0 is the NORMAL entry
    const ch = new Channel('c', RATE, T0);
    t.br.setPortLimiter(1, 'ingress', ch);
    const last = injectSpaced(t, 1, 200, T0 + 1, 1);
    drainAt(t, last + 30);
    expect(ch.counters()['dropped-packets']).toBe(0);
    expect(t.ports[1].takeSent()).toHaveLength(200);
  });

  it('the same burst policed on read time (no timestamps) drops most of it: the test can tell', () => {
    const t = makeBridge(3);
    forwardAll(t);
    const ch = new Channel('c', RATE, T0);
    t.br.setPortLimiter(1, 'ingress', ch);
    const last = injectSpaced(t, 1, 200, T0 + 1, 1, false);
    drainAt(t, last + 30);
    expect(ch.counters()['dropped-packets']).toBeGreaterThan(100);
  });

  it('an egress policer also takes the frame time', () => {
    const t = makeBridge(3);
    forwardAll(t);
    const ch = new Channel('c', RATE, T0);
    t.br.setPortLimiter(2, 'egress', ch);
    const last = injectSpaced(t, 1, 200, T0 + 1, 1);
    drainAt(t, last + 30);
    expect(t.ports[1].takeSent()).toHaveLength(200);
    expect(ch.counters()['dropped-packets']).toBe(0);
  });

  it('two ports sharing a channel, read one after the other with times slightly out of order, drop nothing', () => {
    const t = makeBridge(3);
    forwardAll(t);
    const ch = new Channel('c', RATE, T0);
    t.br.setPortLimiter(1, 'ingress', ch);
    t.br.setPortLimiter(3, 'ingress', ch);
    // Each port at a quarter of the rate (together half), read in passes of a few ms each: port 3's
    // frames of a pass are older than port 1's last one.
    let now = T0;
    for (let pass = 0; pass < 50; pass++) {
      injectSpaced(t, 1, 2, now + 0.5, 2);
      injectSpaced(t, 3, 2, now + 1.5, 2);
      now += 4;
      t.br.poll(now);
    }
    expect(t.ports[1].takeSent()).toHaveLength(200);
    expect(ch.counters()['dropped-packets']).toBe(0);
  });
});

describe('token bucket under arrival times', () => {
  it('never refills backwards, never grants twice, never turns NaN', () => {
    const b = new TokenBucket(1000, 10, 100);
    b.tryTake(10);
    b.refill(105);                 // +5
    b.refill(103);                 // older: nothing, origin stays
    expect(b.lastMs).toBe(105);
    expect(b.tokens).toBeCloseTo(5, 9);
    b.refill(Number.NaN);
    expect(b.tokens).toBeCloseTo(5, 9);
    expect(b.lastMs).toBe(105);
    b.refill(106);
    expect(b.tokens).toBeCloseTo(6, 9);
    b.refill(1e9);
    expect(b.tokens).toBe(10);     // capped at burst
  });
});
