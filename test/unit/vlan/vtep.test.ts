// VtepTable (vlan/vtep.ts): which remote VTEP each inner MAC sits behind, per VNI; MAC moves;
// aging on an injected clock; the capacity bound and eviction; a VTEP going down (BFD) flushing
// its MACs and never being returned; flood lists per VNI and the default; VTEP interning for
// IPv4 and IPv6, also from the signed 32-bit words the receive path hands over.
import { describe, it, expect } from 'vitest';
import { VtepTable, DEFAULT_VTEP_MACS, DEFAULT_VTEP_AGING_MS } from '../../../src/vlan/vtep.js';
import { parseTunnelAddr } from '../../../src/vlan/vxlan-encap.js';

const mac = (n: number): number => 0x0200_0000_0000 + n;
const addr = parseTunnelAddr;

function table(capacity = 64, agingMs = 10_000): { t: VtepTable; a: number; b: number; c: number } {
  const t = new VtepTable(capacity, agingMs);
  return { t, a: t.intern(addr('192.0.2.1')), b: t.intern(addr('192.0.2.2')), c: t.intern(addr('192.0.2.3')) };
}

describe('defaults', () => {
  it('are those of the MAC table: 8192 entries, 300 s', () => {
    const t = new VtepTable();
    expect([t.capacity, t.agingMs, DEFAULT_VTEP_MACS, DEFAULT_VTEP_AGING_MS]).toEqual([8192, 300_000, 8192, 300_000]);
    expect(t.size).toBe(0);
  });
});

describe('learn / lookup', () => {
  it('knows each MAC per VNI: the same MAC in two VNIs behind different VTEPs', () => {
    const { t, a, b } = table();
    t.learn(5001, mac(1), a, 0);
    t.learn(5002, mac(1), b, 0);
    expect(t.lookup(5001, mac(1), 1)).toBe(a);
    expect(t.lookup(5002, mac(1), 1)).toBe(b);
    expect(t.lookup(5003, mac(1), 1)).toBe(-1);
    expect(t.lookup(5001, mac(2), 1)).toBe(-1);
    expect([t.learned, t.moved, t.size]).toEqual([2, 0, 2]);
    expect(t.entries(2500)).toEqual([
      { vni: 5001, mac: mac(1), vtep: '192.0.2.1', ageS: 2 },
      { vni: 5002, mac: mac(1), vtep: '192.0.2.2', ageS: 2 },
    ]);
  });

  it('counts a MAC that moves to another VTEP, and follows it; a refresh is no move', () => {
    const { t, a, b } = table();
    t.learn(7, mac(1), a, 0);
    t.learn(7, mac(1), a, 100);
    expect([t.learned, t.moved]).toEqual([1, 0]);
    t.learn(7, mac(1), b, 200);
    expect(t.lookup(7, mac(1), 300)).toBe(b);
    expect([t.learned, t.moved, t.size]).toEqual([1, 1, 1]);
    t.learn(7, mac(1), a, 400);
    expect(t.lookup(7, mac(1), 500)).toBe(a);
    expect(t.moved).toBe(2);
  });

  it('handles MACs with every bit set and 0', () => {
    const { t, a, b } = table();
    t.learn(1, 0xffff_ffff_fffe, a, 0);
    t.learn(1, 0, b, 0);
    expect([t.lookup(1, 0xffff_ffff_fffe, 0), t.lookup(1, 0, 0)]).toEqual([a, b]);
  });
});

describe('aging (injected clock)', () => {
  it('a MAC not seen for more than agingMs is gone on lookup (counted aged); a refresh keeps it', () => {
    const { t, a } = table(64, 10_000);
    t.learn(1, mac(1), a, 1000);
    t.learn(1, mac(2), a, 1000);
    expect(t.lookup(1, mac(1), 11_000)).toBe(a);          // exactly agingMs: still there
    t.learn(1, mac(2), a, 9000);                            // refreshed
    expect(t.lookup(1, mac(1), 11_001)).toBe(-1);
    expect(t.aged).toBe(1);
    expect(t.size).toBe(1);
    expect(t.lookup(1, mac(2), 11_001)).toBe(a);
    expect(t.lookup(1, mac(2), 19_001)).toBe(-1);
    expect([t.aged, t.size]).toEqual([2, 0]);
  });

  it('expire() removes every stale entry of every VNI and returns how many', () => {
    const { t, a, b } = table(64, 1000);
    t.learn(1, mac(1), a, 0);
    t.learn(2, mac(2), b, 0);
    t.learn(2, mac(3), b, 600);
    expect(t.expire(1000)).toBe(0);
    expect(t.expire(1001)).toBe(2);
    expect(t.entries(1001).map((e) => [e.vni, e.mac])).toEqual([[2, mac(3)]]);
    expect([t.aged, t.size]).toEqual([2, 1]);
    expect(t.expire(1601)).toBe(1);
    expect([t.aged, t.size, t.entries(2000)]).toEqual([3, 0, []]);
  });

  it('agingMs can be changed on a live table', () => {
    const { t, a } = table(64, 300_000);
    t.learn(1, mac(1), a, 0);
    t.agingMs = 50;
    expect(t.lookup(1, mac(1), 51)).toBe(-1);
  });
});

describe('capacity', () => {
  it('never holds more than capacity entries: learning into a full table evicts (counted), oldest first', () => {
    const { t, a } = table(4, 1e9);
    for (let i = 1; i <= 4; i++) t.learn(1, mac(i), a, i);
    expect([t.size, t.evicted]).toEqual([4, 0]);
    t.learn(1, mac(5), a, 5);
    expect([t.size, t.evicted, t.learned]).toEqual([4, 1, 5]);
    expect(t.lookup(1, mac(1), 6)).toBe(-1);               // the first learned went
    for (let i = 2; i <= 5; i++) expect(t.lookup(1, mac(i), 6)).toBe(a);
    for (let i = 6; i < 100; i++) {
      t.learn(1 + (i % 3), mac(i), a, i);
      expect(t.size).toBeLessThanOrEqual(4);
      expect(t.entries(i)).toHaveLength(t.size);
    }
    expect(t.size).toBe(4);
    expect(t.evicted).toBe(95);
    expect(t.lookup(1 + (99 % 3), mac(99), 100)).toBe(a);  // the newest is always kept
  });

  it('evicts from another VNI when the new MAC is the first of its VNI', () => {
    const { t, a, b } = table(2, 1e9);
    t.learn(1, mac(1), a, 0);
    t.learn(1, mac(2), a, 0);
    t.learn(2, mac(3), b, 1);
    expect([t.size, t.evicted]).toEqual([2, 1]);
    expect(t.lookup(2, mac(3), 2)).toBe(b);
    expect(t.lookup(1, mac(1), 2)).toBe(-1);
    expect(t.lookup(1, mac(2), 2)).toBe(a);
  });

  it('a full table drops aged entries before it evicts live ones', () => {
    const { t, a } = table(2, 100);
    t.learn(1, mac(1), a, 0);
    t.learn(1, mac(2), a, 150);
    t.learn(1, mac(3), a, 200);                             // mac(1) is stale: it goes, as aged
    expect([t.evicted, t.aged, t.size]).toEqual([0, 1, 2]);
    expect([t.lookup(1, mac(2), 200), t.lookup(1, mac(3), 200)]).toEqual([a, a]);
  });

  it('freed entries are reused: the table fills again to capacity, not beyond', () => {
    const { t, a } = table(3, 10);
    for (let round = 0; round < 5; round++) {
      const now = round * 1000;
      for (let i = 0; i < 3; i++) t.learn(1, mac(round * 10 + i), a, now);
      expect(t.size).toBe(3);
      expect(t.expire(now + 11)).toBe(3);
      expect(t.size).toBe(0);
    }
    expect(t.evicted).toBe(0);
  });
});

describe('VTEP up / down (BFD)', () => {
  it('setAlive(false) flushes the MACs behind that VTEP only, and returns how many', () => {
    const { t, a, b } = table();
    t.learn(1, mac(1), a, 0);
    t.learn(2, mac(2), a, 0);
    t.learn(1, mac(3), b, 0);
    expect(t.setAlive(a, false)).toBe(2);
    expect(t.isAlive(a)).toBe(false);
    expect([t.lookup(1, mac(1), 0), t.lookup(2, mac(2), 0), t.lookup(1, mac(3), 0)]).toEqual([-1, -1, b]);
    expect(t.size).toBe(1);
    expect(t.setAlive(a, true)).toBe(0);
    expect(t.isAlive(a)).toBe(true);
    expect(t.lookup(1, mac(1), 0)).toBe(-1);                 // flushed MACs are relearned, not restored
  });

  it('lookup never returns a down VTEP, even for a MAC learned behind it while down', () => {
    const { t, a, b } = table();
    t.setAlive(b, false);
    t.learn(1, mac(1), b, 0);
    expect(t.lookup(1, mac(1), 1)).toBe(-1);
    t.learn(1, mac(1), a, 2);                               // moves to a live one
    expect(t.lookup(1, mac(1), 3)).toBe(a);
  });

  it('flushVtep forgets that VTEP\'s MACs across VNIs', () => {
    const { t, a, b } = table();
    for (let i = 0; i < 10; i++) t.learn(i % 3, mac(i), i % 2 === 0 ? a : b, 0);
    expect(t.flushVtep(a)).toBe(5);
    expect(t.entries(0).every((e) => e.vtep === '192.0.2.2')).toBe(true);
    expect(t.size).toBe(5);
  });
});

describe('flood lists', () => {
  it('a VNI with its own list uses it; every other VNI the default list', () => {
    const { t, a, b, c } = table();
    expect(t.floodList(1)).toEqual([]);
    t.setFlood(-1, [a, b]);
    t.setFlood(5001, [c]);
    expect(t.floodList(5001)).toEqual([c]);
    expect(t.floodList(5002)).toEqual([a, b]);
    expect(t.floodList(0)).toEqual([a, b]);
  });

  it('keeps its own copy of the list it was given', () => {
    const { t, a, b } = table();
    const list = [a];
    t.setFlood(-1, list);
    t.setFlood(9, list);
    list.push(b);
    expect([t.floodList(9), t.floodList(1)]).toEqual([[a], [a]]);
  });

  it('down VTEPs stay listed (the port skips them via isAlive)', () => {
    const { t, a, b } = table();
    t.setFlood(-1, [a, b]);
    t.setAlive(a, false);
    expect(t.floodList(1).filter((v) => t.isAlive(v))).toEqual([b]);
  });
});

describe('intern / find / internWords', () => {
  it('IPv4: one index per address, find of an unknown one -> -1', () => {
    const t = new VtepTable(8);
    const a = t.intern(addr('192.0.2.1')), b = t.intern(addr('10.0.0.1'));
    expect([a, b]).toEqual([0, 1]);
    expect(t.intern(addr('192.0.2.1'))).toBe(a);
    expect(t.find(4, 0xc000_0201, 0, 0, 0)).toBe(a);
    expect(t.find(4, 0xc000_0201 | 0, 0, 0, 0)).toBe(a);     // signed, as from an Int32Array
    expect(t.find(4, 0x0a00_0001, 0, 0, 0)).toBe(b);
    expect(t.find(4, 0x0a00_0002, 0, 0, 0)).toBe(-1);
    expect(t.vteps.map((v) => v.text)).toEqual(['192.0.2.1', '10.0.0.1']);
    expect([t.isAlive(a), t.isAlive(b)]).toEqual([true, true]);
  });

  it('IPv6: two addresses get two indices, each found again; unknown -> -1', () => {
    const t = new VtepTable(8);
    const x = addr('fd00::1'), y = addr('fd00::2');
    const i = t.intern(x), j = t.intern(y);
    expect(i).not.toBe(j);
    expect(t.intern(addr('fd00:0:0:0::1'))).toBe(i);
    expect(t.find(6, x.w0, x.w1, x.w2, x.w3)).toBe(i);
    expect(t.find(6, y.w0, y.w1, y.w2, y.w3)).toBe(j);
    expect(t.find(6, x.w0 | 0, x.w1, x.w2, x.w3)).toBe(i);   // 0xfd000000 signed
    const z = addr('fd00::3');
    expect(t.find(6, z.w0, z.w1, z.w2, z.w3)).toBe(-1);
    expect(t.find(4, x.w0, 0, 0, 0)).toBe(-1);                // same first word, other family
  });

  it('IPv4 and IPv6 endpoints with the same leading word are different VTEPs', () => {
    const t = new VtepTable(8);
    const v4 = t.intern(addr('0.0.0.1')), v6 = t.intern(addr('::1'));
    expect(v4).not.toBe(v6);
    expect(t.find(4, 1, 0, 0, 0)).toBe(v4);
    expect(t.find(6, 0, 0, 0, 1)).toBe(v6);
  });

  it('internWords: a datagram sender (signed words) becomes a VTEP with its canonical text, once', () => {
    const t = new VtepTable(8);
    const configured = t.intern(addr('2001:db8::a'));
    const w = addr('2001:db8::a');
    expect(t.internWords(6, w.w0 | 0, w.w1 | 0, w.w2 | 0, w.w3 | 0)).toBe(configured);
    const n = t.internWords(6, 0xfd00_0000 | 0, 0, 0, 0xffff_ffff | 0);
    expect(t.vteps[n]).toEqual({ family: 6, w0: 0xfd00_0000, w1: 0, w2: 0, w3: 0xffff_ffff, text: 'fd00::ffff:ffff' });
    expect(t.internWords(6, 0xfd00_0000 | 0, 0, 0, -1)).toBe(n);
    const v4 = t.internWords(4, 0xc633_6401 | 0, 0, 0, 0);
    expect(t.vteps[v4]).toEqual({ family: 4, w0: 0xc633_6401, w1: 0, w2: 0, w3: 0, text: '198.51.100.1' });
    expect(t.find(4, 0xc633_6401, 0, 0, 0)).toBe(v4);
    expect(t.intern(addr('198.51.100.1'))).toBe(v4);
    expect(t.isAlive(v4)).toBe(true);
    expect(t.vteps).toHaveLength(3);
  });

  it('many VTEPs: indices stay stable and all are alive (the alive map grows)', () => {
    const t = new VtepTable(8);
    for (let i = 0; i < 100; i++) expect(t.intern(addr(`10.0.${i >> 8}.${i & 0xff}`))).toBe(i);
    for (let i = 0; i < 100; i++) {
      const a = addr(`fd00::${(i + 1).toString(16)}`);
      expect(t.intern(a)).toBe(100 + i);
    }
    for (let i = 0; i < 200; i++) expect(t.isAlive(i)).toBe(true);
    for (let i = 0; i < 100; i++) {
      const a = addr(`fd00::${(i + 1).toString(16)}`);
      expect(t.find(6, a.w0, a.w1, a.w2, a.w3)).toBe(100 + i);
    }
  });
});
