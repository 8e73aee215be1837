// NORMAL as a MAC-learning switch: learning, flooding within the VLAN only, never back out of the
// ingress port, MAC moves, aging on a fake clock, eviction of the oldest entry when the table is
// full, canFlood/canForward, group (broadcast/multicast) sources never learned, flushes.
import { describe, it, expect } from 'vitest';
import { FlowKey, K, VID_PRESENT, macHi, macLo } from '../../../src/packet/flow-key.js';
import { Normal, NormalDecision, NormalDrop, NormalCounter, NORMAL_DROP_NAMES, NORMAL_COUNTER_NAMES } from '../../../src/datapath/normal.js';
import type { NormalPortInfo } from '../../../src/datapath/normal.js';

const BCAST = 0xffff_ffff_ffff;
const MCAST = 0x0100_5e00_0001;
const mac = (n: number): number => 0x0200_0000_0000 + n;

const key = new FlowKey();
/** Fill the shared key for a frame src -> dst, untagged unless `vid` is given. */
function frame(inPort: number, src: number, dst: number, vid = 0): FlowKey {
  key.clear();
  key.w[K.IN_PORT] = inPort;
  key.w[K.ETH_SRC_HI] = macHi(src); key.w[K.ETH_SRC_LO] = macLo(src);
  key.w[K.ETH_DST_HI] = macHi(dst); key.w[K.ETH_DST_LO] = macLo(dst);
  if (vid) key.w[K.VLAN_VID] = VID_PRESENT | vid;
  return key;
}

function port(ofport: number, extra: Partial<NormalPortInfo> = {}): NormalPortInfo {
  return { ofport, vlan: { mode: 'access', vid: 10 }, canFlood: true, canForward: true, ...extra };
}

/** A bridge of access ports 1..n in VLAN 10. */
function bridge(n: number, opts = { macTableSize: 1024, agingMs: 300_000 }): Normal {
  const b = new Normal(opts);
  for (let i = 1; i <= n; i++) b.setPort(port(i));
  return b;
}

const d = new NormalDecision();
function send(b: Normal, inPort: number, src: number, dst: number, nowMs = 0, vid = 0): number[] {
  b.decide(inPort, frame(inPort, src, dst, vid), nowMs, d);
  return Array.from(d.ports.subarray(0, d.count)).sort((x, y) => x - y);
}

describe('learning and forwarding', () => {
  it('floods an unknown destination to every other port, then unicasts once learned', () => {
    const b = bridge(4);
    expect(send(b, 1, mac(1), mac(2))).toEqual([2, 3, 4]);
    expect(d.dropReason).toBe(NormalDrop.None);
    expect(b.lookup(10, mac(1))).toBe(1);
    expect(send(b, 2, mac(2), mac(1))).toEqual([1]);
    expect(send(b, 1, mac(1), mac(2))).toEqual([2]);
    expect(b.counters[NormalCounter.Learned]).toBe(2);
    expect(b.macCount).toBe(2);
  });

  it('floods broadcast and multicast destinations even when learned MACs exist', () => {
    const b = bridge(3);
    send(b, 2, mac(2), BCAST);
    expect(send(b, 1, mac(1), BCAST)).toEqual([2, 3]);
    expect(send(b, 1, mac(1), MCAST)).toEqual([2, 3]);
  });

  it('never sends a frame back out of its ingress port', () => {
    const b = bridge(2);
    send(b, 1, mac(1), BCAST);
    // mac(1) and mac(9) both behind port 1: a frame between them has nowhere to go
    send(b, 1, mac(9), BCAST);
    expect(send(b, 1, mac(1), mac(9))).toEqual([]);
    expect(d.dropReason).toBe(NormalDrop.NoPorts);
    // a lone port floods to nobody
    const lone = bridge(1);
    expect(send(lone, 1, mac(1), BCAST)).toEqual([]);
    expect(NORMAL_DROP_NAMES[d.dropReason]).toBe('no-ports');
  });

  it('does not learn broadcast or multicast sources', () => {
    const b = bridge(3);
    send(b, 1, BCAST, mac(5));
    send(b, 1, MCAST, mac(5));
    expect(b.macCount).toBe(0);
    expect(b.fdb()).toEqual([]);
    expect(send(b, 2, mac(2), BCAST)).toEqual([1, 3]);   // and a broadcast destination is still flooded
  });

  it('floods only within the frame VLAN, and learns per VLAN', () => {
    const b = new Normal({ macTableSize: 64, agingMs: 1000 });
    b.setPort(port(1, { vlan: { mode: 'access', vid: 10 } }));
    b.setPort(port(2, { vlan: { mode: 'access', vid: 10 } }));
    b.setPort(port(3, { vlan: { mode: 'access', vid: 20 } }));
    b.setPort(port(4, { vlan: { mode: 'trunk', vids: [20] } }));
    b.setPort(port(5, { vlan: { mode: 'trunk' } }));
    expect(send(b, 1, mac(1), BCAST)).toEqual([2, 5]);
    expect(send(b, 3, mac(3), BCAST)).toEqual([4, 5]);
    // mac(1) is known in VLAN 10 only: from VLAN 20 it is unknown and floods VLAN 20
    expect(send(b, 4, mac(4), mac(1), 0, 20)).toEqual([3, 5]);
    expect(send(b, 5, mac(5), mac(1), 0, 10)).toEqual([1]);
    expect(b.lookup(10, mac(1))).toBe(1);
    expect(b.lookup(20, mac(1))).toBe(-1);
    // the same MAC may live in two VLANs on two ports
    send(b, 5, mac(7), BCAST, 0, 10);
    send(b, 3, mac(7), BCAST);
    expect(b.lookup(10, mac(7))).toBe(5);
    expect(b.lookup(20, mac(7))).toBe(3);
  });

  it('relearns a MAC that moves to another port', () => {
    const b = bridge(3);
    send(b, 1, mac(1), BCAST);
    expect(send(b, 3, mac(3), mac(1))).toEqual([1]);
    send(b, 2, mac(1), BCAST);                              // the VM migrated behind port 2
    expect(b.lookup(10, mac(1))).toBe(2);
    expect(send(b, 3, mac(3), mac(1))).toEqual([2]);
    expect(b.counters[NormalCounter.Moved]).toBe(1);
    expect(b.macCount).toBe(2);
  });
});

describe('aging (fake clock)', () => {
  it('forgets a MAC not seen for agingMs: lazily on lookup and in expire()', () => {
    const b = bridge(3, { macTableSize: 16, agingMs: 1000 });
    send(b, 1, mac(1), BCAST, 0);
    send(b, 2, mac(2), BCAST, 500);
    expect(send(b, 3, mac(3), mac(1), 999)).toEqual([1]);   // 999 ms old: still known
    expect(send(b, 3, mac(3), mac(1), 1000)).toEqual([1, 2]); // 1000 ms old: aged, flooded
    expect(b.lookup(10, mac(1), 1000)).toBe(-1);
    expect(b.macCount).toBe(2);                               // mac(1) removed by the lookup
    expect(b.expire(1499)).toBe(0);
    expect(b.expire(1500)).toBe(1);                           // mac(2), last seen at 500
    expect(b.fdb(1500).map((r) => r.mac)).toEqual([mac(3)]);
    expect(b.counters[NormalCounter.Expired]).toBe(2);
  });

  it('a frame from a MAC refreshes it', () => {
    const b = bridge(2, { macTableSize: 16, agingMs: 3000 });
    send(b, 1, mac(1), BCAST, 0);
    send(b, 1, mac(1), BCAST, 900);
    expect(b.expire(3500)).toBe(0);
    expect(send(b, 2, mac(2), mac(1), 3800)).toEqual([1]);
    expect(b.fdb(3850)).toEqual([
      { vid: 10, mac: mac(1), ofport: 1, ageS: 2 },
      { vid: 10, mac: mac(2), ofport: 2, ageS: 0 },
    ]);
  });
});

describe('bounded table', () => {
  it('evicts the least recently seen MAC when full', () => {
    const b = bridge(2, { macTableSize: 3, agingMs: 60_000 });
    send(b, 1, mac(1), BCAST, 1);
    send(b, 1, mac(2), BCAST, 2);
    send(b, 1, mac(3), BCAST, 3);
    send(b, 1, mac(1), BCAST, 4);                            // refresh: mac(2) is now the oldest
    send(b, 1, mac(4), BCAST, 5);
    expect(b.macCount).toBe(3);
    expect(b.lookup(10, mac(2))).toBe(-1);
    expect(b.fdb().map((r) => r.mac)).toEqual([mac(3), mac(1), mac(4)]);
    expect(b.counters[NormalCounter.Evicted]).toBe(1);
  });

  it('stays consistent under churn far beyond its size', () => {
    const size = 50;
    const b = bridge(4, { macTableSize: size, agingMs: 60_000 });
    for (let i = 0; i < 1000; i++) send(b, 1 + (i % 4), mac(i % 173), BCAST, i);
    expect(b.macCount).toBe(size);
    const rows = b.fdb();
    expect(rows).toHaveLength(size);
    // the survivors are exactly the last `size` distinct sources, each on the port it was last seen on
    const want = new Map<number, number>();
    for (let i = 999; want.size < size; i--) if (!want.has(mac(i % 173))) want.set(mac(i % 173), 1 + (i % 4));
    expect(new Map(rows.map((r) => [r.mac, r.ofport]))).toEqual(want);
  });
});

describe('port flags and port changes', () => {
  it('canFlood=false ports miss floods but still get unicast to a learned MAC', () => {
    const b = bridge(2);
    b.setPort(port(3, { canFlood: false }));
    send(b, 3, mac(3), mac(99));
    expect(send(b, 1, mac(1), BCAST)).toEqual([2]);
    expect(send(b, 1, mac(1), mac(3))).toEqual([3]);
  });

  it('canForward=false ports receive nothing, not even unicast', () => {
    const b = bridge(2);
    b.setPort(port(3, { canForward: false }));
    expect(send(b, 3, mac(3), BCAST)).toEqual([1, 2]);        // its own frames still go out
    expect(send(b, 1, mac(1), BCAST)).toEqual([2]);
    expect(send(b, 1, mac(1), mac(3))).toEqual([]);
    expect(d.dropReason).toBe(NormalDrop.NoPorts);
  });

  it('removePort forgets its MACs and drops its frames as unknown-port', () => {
    const b = bridge(3);
    send(b, 3, mac(3), BCAST);
    b.removePort(3);
    expect(b.lookup(10, mac(3))).toBe(-1);
    expect(send(b, 1, mac(1), mac(3))).toEqual([2]);
    expect(send(b, 3, mac(3), BCAST)).toEqual([]);
    expect(NORMAL_DROP_NAMES[d.dropReason]).toBe('unknown-port');
    expect(b.drops[NormalDrop.UnknownPort]).toBe(1);
  });

  it('changing a port VLAN flushes its MACs; changing flags does not', () => {
    const b = bridge(3);
    send(b, 3, mac(3), BCAST);
    b.setPort(port(3, { canFlood: false }));
    expect(b.lookup(10, mac(3))).toBe(3);
    b.setPort(port(3, { vlan: { mode: 'access', vid: 20 } }));
    expect(b.lookup(10, mac(3))).toBe(-1);
    expect(send(b, 1, mac(1), BCAST)).toEqual([2]);
  });

  it('flushPort and flush empty the table', () => {
    const b = bridge(3);
    send(b, 1, mac(1), BCAST); send(b, 2, mac(2), BCAST); send(b, 2, mac(22), BCAST);
    b.flushPort(2);
    expect(b.fdb().map((r) => r.ofport)).toEqual([1]);
    b.flush();
    expect(b.macCount).toBe(0);
    expect(send(b, 3, mac(3), mac(1))).toEqual([1, 2]);
  });

  it('handles large ofports and many ports (slot growth)', () => {
    const b = new Normal({ macTableSize: 64, agingMs: 1000 });
    for (let i = 0; i < 40; i++) b.setPort(port(100_000 + i));
    const out = send(b, 100_000, mac(1), BCAST);
    expect(out).toHaveLength(39);
    expect(out[0]).toBe(100_001);
    expect(send(b, 100_039, mac(2), mac(1))).toEqual([100_000]);
  });

  it('a decision with fewer slots than the flood set is filled to its capacity', () => {
    const b = bridge(6);
    const small = new NormalDecision(2);
    b.decide(1, frame(1, mac(1), BCAST), 0, small);
    expect(small.count).toBe(2);
    expect(Array.from(small.ports)).toEqual([2, 3]);
  });
});

describe('constructor and names', () => {
  it('rejects bad sizes', () => {
    expect(() => new Normal({ macTableSize: 0, agingMs: 1000 })).toThrow(RangeError);
    expect(() => new Normal({ macTableSize: 8, agingMs: 0 })).toThrow(RangeError);
  });

  it('drop and counter names line up with their codes', () => {
    expect(NORMAL_DROP_NAMES[NormalDrop.None]).toBe('none');
    expect(NORMAL_DROP_NAMES[NormalDrop.VlanNotAllowed]).toBe('vlan-not-allowed');
    expect(NORMAL_DROP_NAMES[NormalDrop.TaggedOnAccess]).toBe('tagged-on-access');
    expect(NORMAL_DROP_NAMES[NormalDrop.NoPorts]).toBe('no-ports');
    expect(NORMAL_DROP_NAMES[NormalDrop.BadVid]).toBe('bad-vid');
    expect(NORMAL_DROP_NAMES[NormalDrop.UnknownPort]).toBe('unknown-port');
    expect(NORMAL_COUNTER_NAMES[NormalCounter.Evicted]).toBe('mac-evicted');
  });
});
