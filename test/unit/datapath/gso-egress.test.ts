// The bridge and GSO super-frames (as a vnet port hands them in): forwarded whole to a port with
// offloads, cut into wire frames (byte-exact, from the pool) for a port without, both on a flood;
// a super-frame that cannot be cut is counted gso-failed; limiters are charged wire bytes and
// frames; the pool gets every packet back.
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { GSO } from '../../../src/packet/packet.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import type { Limiter } from '../../../src/qos/limiter.js';
import type { Packet } from '../../../src/packet/packet.js';
import type { Batch } from '../../../src/packet/batch.js';
import { MAC, flow, apply, out, OFPP } from './helpers.js';

const MSS = 1448;
const payloadOf = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

function tcp(src: number, dst: number, payload: Uint8Array, seq: number, id: number, flags: number, dstMac?: string): Buffer {
  return buildFrame({
    dst: dstMac ?? MAC(dst), src: MAC(src),
    payload: { kind: 'ipv4', src: `10.0.0.${src}`, dst: `10.0.0.${dst}`, id, df: true, l4: { kind: 'tcp', sport: 40000, dport: 5201, seq, ack: 1, flags, payload } },
  });
}

/** Expected segments of a TSO frame of `total` payload bytes (build.ts computes their checksums). */
function segments(src: number, dst: number, total: number, dstMac?: string): string[] {
  const p = payloadOf(total), out: string[] = [];
  const n = Math.ceil(total / MSS);
  for (let i = 0; i < n; i++) {
    const flags = i === n - 1 ? 0x18 : 0x10;
    out.push(tcp(src, dst, p.subarray(i * MSS, (i + 1) * MSS), 1000 + i * MSS, 100 + i, flags, dstMac).toString('hex'));
  }
  return out;
}

interface T { br: Bridge; ports: MemoryPort[]; pool: PacketPool }
function bridge(offloads: boolean[]): T {
  const pool = new PacketPool(256, 2048);
  const br = new Bridge({ name: 'br0', pool });
  const ports = offloads.map((o, i) => new MemoryPort(`p${i + 1}`, { offloads: o }));
  ports.forEach((p, i) => br.addPort({ ofport: i + 1, name: `p${i + 1}`, backend: p }));
  return { br, ports, pool };
}

/** Learn every host behind its port with a small frame, then forget what was sent. */
function learn(t: T): void {
  t.ports.forEach((p, i) => p.inject(tcp(i + 1, 99, payloadOf(1), 0, 0, 0x10, 'ff:ff:ff:ff:ff:ff')));
  t.br.poll(0);
  for (const p of t.ports) p.takeSent();
}

function superFrame(src: number, dst: number, total: number, dstMac?: string): Buffer {
  return tcp(src, dst, payloadOf(total), 1000, 100, 0x18, dstMac);
}

describe('GSO super-frames through the bridge', () => {
  it('to a port without offloads: cut into wire frames byte for byte; the pool gets everything back', () => {
    const t = bridge([true, false]);
    learn(t);
    t.ports[0].inject(superFrame(1, 2, 20_000), false, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    const sent = t.ports[1].takeSent();
    expect(sent.map((s) => s.frame.toString('hex'))).toEqual(segments(1, 2, 20_000));
    expect(sent.every((s) => s.gsoType === 0 && s.csumPartial === false)).toBe(true);
    expect(t.br.stats().drops).toEqual({});
    expect(t.br.portStats(2)['tx-packets']).toBe(Math.ceil(20_000 / MSS) + 1);   // + the learning flood
    expect(t.pool.available).toBe(t.pool.capacity);
    expect(t.pool.largeAvailable).toBe(t.pool.largeCapacity);
  });

  it('more segments than a batch holds (a 64 KiB super-frame): all sent, in order', () => {
    const t = bridge([true, false]);
    learn(t);
    t.ports[0].inject(superFrame(1, 2, 64_000), false, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    expect(t.ports[1].takeSent().map((s) => s.frame.toString('hex'))).toEqual(segments(1, 2, 64_000));
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('to a port with offloads: whole, with its gso metadata', () => {
    const t = bridge([true, true]);
    learn(t);
    const f = superFrame(1, 2, 20_000);
    t.ports[0].inject(f, true, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    const sent = t.ports[1].takeSent();
    expect(sent.length).toBe(1);
    expect(sent[0].frame.equals(f)).toBe(true);
    expect([sent[0].gsoType, sent[0].gsoSize, sent[0].csumPartial]).toEqual([GSO.TcpV4, MSS, true]);
    expect(t.pool.largeAvailable).toBe(t.pool.largeCapacity);
  });

  it('flooded: whole to the offload port, cut for the other', () => {
    const t = bridge([true, true, false]);
    const f = superFrame(1, 9, 5000, 'ff:ff:ff:ff:ff:ff');
    t.ports[0].inject(f, false, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    expect(t.ports[1].takeSent().map((s) => s.frame.equals(f))).toEqual([true]);
    expect(t.ports[2].takeSent().map((s) => s.frame.toString('hex'))).toEqual(segments(1, 9, 5000, 'ff:ff:ff:ff:ff:ff'));
    expect(t.pool.available).toBe(t.pool.capacity);
    expect(t.pool.largeAvailable).toBe(t.pool.largeCapacity);
  });

  it('a super-frame that cannot be cut (gso type does not match its headers) is counted gso-failed on the egress port', () => {
    const t = bridge([true, false]);
    learn(t);
    const udp = buildFrame({ dst: MAC(2), src: MAC(1), payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, payload: payloadOf(5000) } } });
    t.ports[0].inject(udp, false, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    expect(t.ports[1].takeSent()).toEqual([]);
    expect(t.br.portStats(2).drops).toEqual({ 'gso-failed': 1 });
    expect(t.pool.largeAvailable).toBe(t.pool.largeCapacity);
  });

  it('an egress limiter is charged the wire bytes and frames of a super-frame', () => {
    const t = bridge([true, false]);
    const calls: Array<[number, number]> = [];
    const lim: Limiter = {
      shaping: false,
      admit(len: number, _now: number, frames = 1): boolean { calls.push([len, frames]); return true; },
      enqueue(_p: Packet): boolean { return false; },
      drain(_n: number, _o: Batch): number { return 0; },
      nextReleaseMs(): number { return Infinity; },
    };
    t.br.setPortLimiter(2, 'egress', lim);
    learn(t);
    calls.length = 0;
    t.ports[0].inject(superFrame(1, 2, 20_000), false, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    const wire = segments(1, 2, 20_000).reduce((s, h) => s + h.length / 2, 0);
    expect(calls).toEqual([[wire, Math.ceil(20_000 / MSS)]]);
    expect(wire).toBeGreaterThan(superFrame(1, 2, 20_000).length);
  });

  it('to the controller: one PACKET_IN per segment (OpenFlow lengths are 16-bit), pool intact', () => {
    const t = bridge([true, false]);
    t.br.addFlow(flow({ instructions: apply(out(OFPP.CONTROLLER)) }), 0);
    const seen: string[] = [];
    t.br.onPacketIn = (p: Packet) => { seen.push(p.frame().toString('hex')); };
    t.ports[0].inject(superFrame(1, 2, 64_000), true, { type: GSO.TcpV4, size: MSS });
    t.br.poll(1);
    expect(seen).toEqual(segments(1, 2, 64_000));
    expect(t.pool.available).toBe(t.pool.capacity);
    expect(t.pool.largeAvailable).toBe(t.pool.largeCapacity);
  });
});
