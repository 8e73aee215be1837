// Refused sends: frames the egress device refuses as longer than its MTU (EMSGSIZE, reported by the
// backend as lastSendTooBig) count tx-too-big, the rest of what the backend did not take tx-full.
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import type { Batch } from '../../../src/packet/batch.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { DROP, DROP_NAMES } from '../../../src/datapath/counters.js';
import { Bridge } from '../../../src/datapath/bridge.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { flow, out, apply, MAC } from './helpers.js';

function udp(payloadLen: number): Buffer {
  return buildFrame({ dst: MAC(2), src: MAC(1), payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(payloadLen) } } });
}

/** A memory port that refuses frames longer than `maxLen` as a kernel would with EMSGSIZE. */
class MtuPort extends MemoryPort {
  lastSendTooBig = 0;
  constructor(name: string, readonly maxLen: number, readonly fullAfter = Infinity) { super(name); }
  override send(from: Batch): number {
    this.lastSendTooBig = 0;
    let n = 0;
    for (let i = 0; i < from.count; i++) {
      const p = from.pkts[i];
      if (n >= this.fullAfter) break;             // queue full: the rest of the batch is not taken
      if (p.len > this.maxLen) { this.lastSendTooBig++; continue; }
      this.sent.push({ tsMs: p.tsMs, frame: Buffer.from(p.frame()) });
      n++;
    }
    return n;
  }
}

describe('tx-too-big', () => {
  it('has its own DROP code and name', () => {
    expect(DROP_NAMES[DROP.TxTooBig]).toBe('tx-too-big');
    expect(new Set(Object.values(DROP)).size).toBe(DROP_NAMES.length);
    expect(Math.max(...Object.values(DROP))).toBe(DROP_NAMES.length - 1);
  });

  it('frames the egress device refuses as too big count tx-too-big, the others tx-full', () => {
    const pool = new PacketPool(64, 4096);
    const br = new Bridge({ name: 'br0', pool });
    const a = new MemoryPort('a'), z = new MtuPort('z', 1514, 2);
    br.addPort({ ofport: 1, name: 'a', backend: a });
    br.addPort({ ofport: 2, name: 'z', backend: z });
    br.addFlow(flow({ instructions: apply(out(2)) }), 0);
    a.inject(udp(1400));
    a.inject(udp(2000));      // over the MTU
    a.inject(udp(100));
    a.inject(udp(100));       // the port is full after two
    br.poll(0);
    expect(z.sent.length).toBe(2);
    expect(br.portStats(2).drops).toEqual({ 'tx-too-big': 1, 'tx-full': 1 });
    expect(br.stats().drops).toEqual({ 'tx-too-big': 1, 'tx-full': 1 });
    expect(pool.available).toBe(pool.capacity);
  });
});
