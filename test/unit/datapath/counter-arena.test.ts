// CounterArena: a bridge given a shared arena counts in it (the same figures as private counters),
// a second view of the same SharedArrayBuffer (what a control thread builds) reads them live, and a
// removed port's slot is freed and zeroed for the next port.
import { describe, expect, it } from 'vitest';
import { makeBridge, send, udpFrame, BCAST } from './helpers.js';
import { CounterArena, DROP, PC } from '../../../src/datapath/counters.js';

describe('CounterArena', () => {
  it('holds the bridge counters; a view of the same buffer reads them without the bridge', () => {
    const arena = new CounterArena(4);
    const t = makeBridge(3, { 3: { mode: 'access', vid: 10 } }, { counterArena: arena });
    const plain = makeBridge(3, { 3: { mode: 'access', vid: 10 } });
    for (const b of [t, plain]) {
      send(b, 1, udpFrame(1, 2, { dstMac: BCAST }));
      send(b, 2, udpFrame(2, 1));
      send(b, 3, udpFrame(3, 1, { vid: 20 }));   // tagged on an access port: dropped
      send(b, 1, new Uint8Array(8));   // too short
    }
    const reader = new CounterArena(arena.buffer);
    expect(reader.capacity).toBe(4);
    for (const ofport of [1, 2, 3]) {
      const pc = reader.port(ofport)!;
      const want = plain.br.portStats(ofport);
      expect({ rx: pc.traffic[PC.RxPackets], tx: pc.traffic[PC.TxPackets], rxB: pc.traffic[PC.RxBytes], txB: pc.traffic[PC.TxBytes] })
        .toEqual({ rx: want['rx-packets'], tx: want['tx-packets'], rxB: want['rx-bytes'], txB: want['tx-bytes'] });
      expect(t.br.portStats(ofport)).toEqual(want);
    }
    expect(reader.drops[DROP.TooShort]).toBe(1);
    expect(reader.drops[DROP.TaggedOnAccess]).toBe(1);
    expect(reader.execRecord()).toEqual(plain.br.stats().exec);
    expect(t.br.stats()).toEqual(plain.br.stats());
  });

  it('frees a removed port slot; a port beyond the capacity keeps private counters', () => {
    const arena = new CounterArena(2);
    const t = makeBridge(3, {}, { counterArena: arena });
    expect(arena.port(3)).toBeNull();
    send(t, 3, udpFrame(3, 1));
    expect(t.br.portStats(3)['rx-packets']).toBe(1);
    send(t, 1, udpFrame(1, 2));
    expect(arena.port(1)!.traffic[PC.RxPackets]).toBe(1);
    t.br.removePort(1);
    expect(arena.port(1)).toBeNull();
    t.br.addPort({ ofport: 7, name: 'p7', backend: t.ports[0] });
    expect(arena.port(7)!.traffic[PC.RxPackets]).toBe(0);
  });
});
