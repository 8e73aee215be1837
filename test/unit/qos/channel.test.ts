import { describe, it, expect } from 'vitest';
import { Channel, ChannelRegistry, resolveChannelSpec, formatChannelSpec } from '../../../src/qos/channel.js';
import { Packet } from '../../../src/packet/packet.js';
import { Batch } from '../../../src/packet/batch.js';

function pkt(len: number): Packet { const p = new Packet(2048); p.len = len; return p; }

describe('resolveChannelSpec', () => {
  it('defaults burst, mode and queue', () => {
    const r = resolveChannelSpec({ rate: '50mbit' });
    expect(r.tokensPerSec).toBe(6.25e6);
    expect(r.burstTokens).toBe(62500);
    expect(r.mode).toBe('police');
    expect(r.queue).toBe(1000);
    expect(formatChannelSpec(r)).toEqual({ rate: '50mbit' });
  });
  it('rejects a burst in the wrong currency', () => {
    expect(() => resolveChannelSpec({ rate: '50mbit', burst: '10pkt' })).toThrow('burst "10pkt" is in packets but rate "50mbit" is in bits: give the burst in b, kb or mb');
    expect(() => resolveChannelSpec({ rate: '10kpps', burst: '10kb' })).toThrow(/in bytes but rate "10kpps" is in packets/);
    expect(() => resolveChannelSpec({ rate: '1mbit', mode: 'fast' as never })).toThrow(/police or shape/);
    expect(() => resolveChannelSpec({ rate: '1mbit', queue: 0 })).toThrow(/queue 0/);
  });
});

describe('Channel police', () => {
  it('passes the burst then the rate, counts drops, and stays within 2% over 1 s', () => {
    const ch = new Channel('gold', { rate: '8mbit', burst: '10kb' }, 0);   // 1e6 bytes/s
    expect(ch.shaping).toBe(false);
    let passed = 0;
    // 1000-byte frames every 0.5 ms = 2 MB/s offered for 3 s.
    for (let t = 0; t < 3000; t += 0.5) if (ch.admit(1000, t)) passed += 1000;
    expect(Math.abs(passed - 3e6 - 10240) / 3e6).toBeLessThan(0.02);
    const c = ch.counters();
    expect(c['passed-bytes']).toBe(passed);
    expect(c['passed-packets'] + c['dropped-packets']).toBe(6000);
    expect(c['dropped-bytes']).toBe(c['dropped-packets'] * 1000);
    expect(c.queued).toBe(0);
  });

  it('counts packets for packet rates', () => {
    const ch = new Channel('p', { rate: '1kpps', burst: '5pkt' }, 0);
    let n = 0;
    for (let i = 0; i < 10; i++) if (ch.admit(9000, 0)) n++;
    expect(n).toBe(5);
    expect(ch.admit(64, 1)).toBe(true);
    expect(ch.admit(64, 1)).toBe(false);
  });

  it('reconfigure is atomic, keeps tokens clamped to the new burst, and applies to the next frame', () => {
    const ch = new Channel('c', { rate: '8mbit', burst: '100kb' }, 0);
    expect(ch.admit(50 * 1024, 0)).toBe(true);
    expect(ch.tokens).toBe(50 * 1024);
    ch.reconfigure({ burst: '20kb' }, 0);
    expect(ch.tokens).toBe(20 * 1024);
    ch.reconfigure({ burst: '1mb' }, 0);
    expect(ch.tokens).toBe(20 * 1024);                  // kept, not refilled
    expect(() => ch.reconfigure({ rate: 'bogus' }, 0)).toThrow(/not a rate/);
    expect(ch.spec.burstTokens).toBe(1024 * 1024);       // unchanged by the failed call
    ch.reconfigure({ rate: '80mbit' }, 0);               // 1e7 bytes/s
    expect(ch.admit(20 * 1024, 0)).toBe(true);
    expect(ch.admit(100, 0)).toBe(false);
    expect(ch.admit(10_000, 1)).toBe(true);              // 1 ms at the new rate = 10000 bytes
  });

  it('a defaulted burst follows a new rate', () => {
    const ch = new Channel('c', { rate: '50mbit' }, 0);
    ch.reconfigure({ rate: '100mbit' }, 0);
    expect(ch.spec.burstTokens).toBe(125000);
    expect(ch.tokens).toBe(62500);
  });
});

describe('Channel shape', () => {
  it('tail-drops when the queue is full and releases FIFO as tokens allow', () => {
    // 8000 bit/s = 1000 bytes/s, burst 1000 bytes, queue 3.
    const ch = new Channel('s', { rate: '8kbit', burst: '1000b', mode: 'shape', queue: 3 }, 0);
    expect(ch.shaping).toBe(true);
    const ps = [pkt(600), pkt(600), pkt(600), pkt(600)];
    expect(ch.enqueue(ps[0], 0)).toBe(true);
    expect(ch.enqueue(ps[1], 0)).toBe(true);
    expect(ch.enqueue(ps[2], 0)).toBe(true);
    expect(ch.enqueue(ps[3], 0)).toBe(false);
    expect(ch.counters()).toMatchObject({ queued: 3, 'dropped-packets': 1, 'dropped-bytes': 600 });
    const out = new Batch(8);
    expect(ch.drain(0, out)).toBe(1);
    expect(out.pkts[0]).toBe(ps[0]);
    expect(ch.nextReleaseMs(0)).toBeCloseTo(200, 6);     // 400 tokens left, need 600 at 1 byte/ms
    expect(ch.drain(199, out)).toBe(0);
    expect(ch.drain(200, out)).toBe(1);
    expect(out.pkts[1]).toBe(ps[1]);
    expect(ch.nextReleaseMs(200)).toBeCloseTo(800, 6);
    expect(ch.drain(800, out)).toBe(1);
    expect(out.pkts[2]).toBe(ps[2]);
    expect(ch.nextReleaseMs(800)).toBe(Infinity);
    expect(ch.counters()).toMatchObject({ queued: 0, 'passed-packets': 3, 'passed-bytes': 1800 });
  });

  it('drain stops at the batch room and keeps the rest queued', () => {
    const ch = new Channel('s', { rate: '10kpps', burst: '100pkt', mode: 'shape', queue: 10 }, 0);
    for (let i = 0; i < 10; i++) ch.enqueue(pkt(64), 0);
    const out = new Batch(4);
    expect(ch.drain(0, out)).toBe(4);
    expect(ch.queued).toBe(6);
    expect(ch.nextReleaseMs(0)).toBe(0);
  });

  it('a jumbo frame bigger than the burst still leaves when the bucket is full', () => {
    const ch = new Channel('s', { rate: '8mbit', burst: '2kb', mode: 'shape', queue: 4 }, 0);
    ch.enqueue(pkt(9000), 0);
    ch.enqueue(pkt(100), 0);
    const out = new Batch(4);
    expect(ch.drain(0, out)).toBe(1);
    expect(ch.tokens).toBe(2048 - 9000);
    expect(ch.nextReleaseMs(0)).toBeCloseTo((9000 - 2048 + 100) / 1000, 6);
  });

  it('shapes to the rate over time', () => {
    const ch = new Channel('s', { rate: '8mbit', burst: '3028b', mode: 'shape', queue: 100 }, 0);
    const out = new Batch(64);
    let sent = 0;
    for (let t = 0; t <= 2000; t += 1) {
      while (ch.queued < 100) ch.enqueue(pkt(1000), t);
      out.count = 0;
      ch.drain(t, out);
      sent += out.count * 1000;
    }
    expect(Math.abs(sent - 2e6) / 2e6).toBeLessThan(0.02);
  });

  it('switching to police keeps draining what was queued', () => {
    const ch = new Channel('s', { rate: '8kbit', burst: '1000b', mode: 'shape', queue: 4 }, 0);
    ch.enqueue(pkt(1000), 0); ch.enqueue(pkt(1000), 0);
    ch.reconfigure({ mode: 'police' }, 0);
    expect(ch.shaping).toBe(false);
    const out = new Batch(4);
    expect(ch.drain(0, out)).toBe(1);
    expect(ch.drain(1000, out)).toBe(1);
    expect(ch.queued).toBe(0);
  });

  it('growing the queue keeps FIFO order', () => {
    const ch = new Channel('s', { rate: '1pps', burst: '1pkt', mode: 'shape', queue: 2 }, 0);
    const a = pkt(1), b = pkt(2), c = pkt(3);
    ch.enqueue(a, 0); ch.enqueue(b, 0);
    const out = new Batch(4);
    ch.drain(0, out);                                     // a leaves; b at ring index 1
    ch.enqueue(c, 0);                                     // c wraps to index 0
    ch.reconfigure({ queue: 5 }, 0);
    expect(ch.flush()).toEqual([b, c]);
  });
});

describe('ChannelRegistry', () => {
  it('creates, reconfigures in place, lists, deletes', () => {
    const reg = new ChannelRegistry();
    const gold = reg.set('gold', { rate: '50mbit', burst: '64kb' }, 0);
    reg.set('bronze', { rate: '1mbit' }, 0);
    expect(reg.set('gold', { rate: '200mbit', burst: '64kb' }, 0)).toBe(gold);
    expect(gold.spec.tokensPerSec).toBe(25e6);
    expect(reg.list().map((c) => c.name)).toEqual(['bronze', 'gold']);
    expect(() => reg.set('gold', { rate: '5mbs' })).toThrow(/not a rate/);
    expect(gold.spec.tokensPerSec).toBe(25e6);
    expect(() => reg.set('bad name', { rate: '1mbit' })).toThrow(/not a channel name/);
    expect(reg.delete('gold')).toBe(gold);
    expect(reg.get('gold')).toBeUndefined();
    expect(reg.size).toBe(1);
  });
});

describe('Channel and GSO super-frames (wire bytes and frames)', () => {
  it('police: a super-frame larger than the burst passes on a full bucket and leaves it in debt; the long-run rate holds', () => {
    const ch = new Channel('c', { rate: '8mbit', burst: '16kb' }, 0);   // 1e6 bytes/s
    let passed = 0;
    // 66,000 wire bytes in 45 frames every 33 ms = 2 MB/s offered for 3 s
    for (let t = 0; t < 3000; t += 33) if (ch.admit(66_000, t, 45)) passed += 66_000;
    expect(passed).toBeGreaterThan(0);
    expect(Math.abs(passed - 3e6) / 3e6).toBeLessThan(0.05);
    const c = ch.counters();
    expect(c['passed-packets'] % 45).toBe(0);                              // counted as wire frames
    expect(c['passed-bytes']).toBe(passed);
  });

  it('packet rates count a super-frame as its frames', () => {
    const ch = new Channel('p', { rate: '1kpps', burst: '50pkt' }, 0);
    expect(ch.admit(66_000, 0, 45)).toBe(true);
    expect(ch.admit(1500, 0)).toBe(true);                                   // 4 tokens left
    expect(ch.counters()['passed-packets']).toBe(46);
  });
});
