// VLAN port modes through NORMAL, in the style of Open vSwitch's "VLAN handling" test: one bridge
// with a port of each mode, a broadcast frame in on each port with each kind of tag, and the exact
// set of outputs (tagged or untagged, with VID and PCP) or the drop reason.
import { describe, it, expect } from 'vitest';
import { FlowKey, K, VID_PRESENT, macHi, macLo } from '../../../src/packet/flow-key.js';
import { Normal, NormalDecision, NORMAL_DROP_NAMES } from '../../../src/datapath/normal.js';
import type { VlanPortConfig } from '../../../src/vlan/port-mode.js';
import { validateVlanPortConfig, portCarriesVid } from '../../../src/vlan/port-mode.js';

const BROADCAST = 0xffff_ffff_ffff;

// ofport -> mode; the port numbers are the rows' `in` column.
const PORTS: Array<[number, VlanPortConfig]> = [
  [1, { mode: 'access', vid: 10 }],
  [2, { mode: 'access', vid: 20 }],
  [3, { mode: 'trunk', vids: [10, 20] }],
  [4, { mode: 'trunk' }],                                   // trunk-all
  [5, { mode: 'native-tagged', vid: 10, vids: [10, 20] }],
  [6, { mode: 'native-untagged', vid: 20, vids: [10, 20] }],
];

function bridge(): Normal {
  const n = new Normal({ macTableSize: 64, agingMs: 300_000 });
  for (const [ofport, vlan] of PORTS) n.setPort({ ofport, vlan, canFlood: true, canForward: true });
  return n;
}

type Tag = 'untagged' | 'prio' | number;
function frameKey(inPort: number, tag: Tag, pcp: number, src = 0x0200_0000_0001, dst = BROADCAST): FlowKey {
  const k = new FlowKey();
  k.w[K.IN_PORT] = inPort;
  k.w[K.ETH_SRC_HI] = macHi(src); k.w[K.ETH_SRC_LO] = macLo(src);
  k.w[K.ETH_DST_HI] = macHi(dst); k.w[K.ETH_DST_LO] = macLo(dst);
  k.w[K.ETH_TYPE] = 0x0800;
  if (tag !== 'untagged') {
    k.w[K.VLAN_VID] = VID_PRESENT | (tag === 'prio' ? 0 : tag);
    k.w[K.VLAN_PCP] = pcp;
    k.w[K.VLAN_OUTER_TPID] = 0x8100;
  }
  return k;
}

/** Outputs as "port:T" / "port:U", sorted, for readable comparisons. */
function outputs(d: NormalDecision): string[] {
  const r: string[] = [];
  for (let i = 0; i < d.count; i++) r.push(`${d.ports[i]}:${d.tagged[i] ? 'T' : 'U'}`);
  return r.sort();
}

// [in port (mode), frame tag, pcp, expected: outputs + vid/pcp, or a drop reason]
type Expect = { out: string[]; vid: number; pcp: number } | { drop: string };
const ROWS: Array<[string, Tag, number, Expect]> = [
  // access 10
  ['1 (access 10)', 'untagged', 0, { out: ['3:T', '4:T', '5:T', '6:T'], vid: 10, pcp: 0 }],
  ['1 (access 10)', 'prio', 5, { out: ['3:T', '4:T', '5:T', '6:T'], vid: 10, pcp: 5 }],
  ['1 (access 10)', 10, 0, { drop: 'tagged-on-access' }],
  ['1 (access 10)', 20, 3, { drop: 'tagged-on-access' }],
  // access 20
  ['2 (access 20)', 'untagged', 0, { out: ['3:T', '4:T', '5:T', '6:U'], vid: 20, pcp: 0 }],
  ['2 (access 20)', 'prio', 2, { out: ['3:T', '4:T', '5:T', '6:U'], vid: 20, pcp: 2 }],
  ['2 (access 20)', 30, 0, { drop: 'tagged-on-access' }],
  // trunk [10,20]
  ['3 (trunk 10,20)', 10, 3, { out: ['1:U', '4:T', '5:T', '6:T'], vid: 10, pcp: 3 }],
  ['3 (trunk 10,20)', 20, 0, { out: ['2:U', '4:T', '5:T', '6:U'], vid: 20, pcp: 0 }],
  ['3 (trunk 10,20)', 30, 0, { drop: 'vlan-not-allowed' }],
  ['3 (trunk 10,20)', 'untagged', 0, { drop: 'vlan-not-allowed' }],
  ['3 (trunk 10,20)', 'prio', 4, { drop: 'vlan-not-allowed' }],
  ['3 (trunk 10,20)', 4095, 0, { drop: 'bad-vid' }],
  // trunk-all
  ['4 (trunk all)', 10, 1, { out: ['1:U', '3:T', '5:T', '6:T'], vid: 10, pcp: 1 }],
  ['4 (trunk all)', 20, 7, { out: ['2:U', '3:T', '5:T', '6:U'], vid: 20, pcp: 7 }],
  ['4 (trunk all)', 30, 0, { drop: 'no-ports' }],            // carried here, by nobody else
  ['4 (trunk all)', 4094, 0, { drop: 'no-ports' }],
  ['4 (trunk all)', 4095, 0, { drop: 'bad-vid' }],
  ['4 (trunk all)', 'untagged', 0, { drop: 'no-ports' }],          // VLAN 0: untagged traffic, only trunk-all ports carry it
  // native-tagged 10, [10,20]
  ['5 (native-tagged 10)', 'untagged', 0, { out: ['1:U', '3:T', '4:T', '6:T'], vid: 10, pcp: 0 }],
  ['5 (native-tagged 10)', 'prio', 6, { out: ['1:U', '3:T', '4:T', '6:T'], vid: 10, pcp: 6 }],
  ['5 (native-tagged 10)', 10, 2, { out: ['1:U', '3:T', '4:T', '6:T'], vid: 10, pcp: 2 }],
  ['5 (native-tagged 10)', 20, 0, { out: ['2:U', '3:T', '4:T', '6:U'], vid: 20, pcp: 0 }],
  ['5 (native-tagged 10)', 30, 0, { drop: 'vlan-not-allowed' }],
  // native-untagged 20, [10,20]
  ['6 (native-untagged 20)', 'untagged', 0, { out: ['2:U', '3:T', '4:T', '5:T'], vid: 20, pcp: 0 }],
  ['6 (native-untagged 20)', 'prio', 3, { out: ['2:U', '3:T', '4:T', '5:T'], vid: 20, pcp: 3 }],
  ['6 (native-untagged 20)', 20, 5, { out: ['2:U', '3:T', '4:T', '5:T'], vid: 20, pcp: 5 }],
  ['6 (native-untagged 20)', 10, 7, { out: ['1:U', '3:T', '4:T', '5:T'], vid: 10, pcp: 7 }],
  ['6 (native-untagged 20)', 30, 0, { drop: 'vlan-not-allowed' }],
  // not a port of this bridge
  ['99 (unknown)', 'untagged', 0, { drop: 'unknown-port' }],
];

describe('VLAN handling (NORMAL, one port of each mode)', () => {
  it.each(ROWS)('in %s, tag %s, pcp %i', (inLabel, tag, pcp, want) => {
    const inPort = Number.parseInt(inLabel, 10);
    const n = bridge();
    const d = new NormalDecision();
    n.decide(inPort, frameKey(inPort, tag, pcp), 1000, d);
    if ('drop' in want) {
      expect(NORMAL_DROP_NAMES[d.dropReason]).toBe(want.drop);
      expect(d.count).toBe(0);
      expect(n.drops[d.dropReason]).toBe(1);
    } else {
      expect(NORMAL_DROP_NAMES[d.dropReason]).toBe('none');
      expect(outputs(d)).toEqual(want.out);
      expect(d.vid).toBe(want.vid);
      expect(d.pcp).toBe(want.pcp);
    }
  });

  it('learned unicast keeps the VLAN rules: known destination on a trunk leaves tagged, on access untagged', () => {
    const n = bridge();
    const d = new NormalDecision();
    const a = 0x0200_0000_00aa, b = 0x0200_0000_00bb;
    n.decide(1, frameKey(1, 'untagged', 0, a), 0, d);          // a learned on port 1, VLAN 10
    n.decide(3, frameKey(3, 10, 4, b, a), 1, d);               // b on trunk -> a
    expect(outputs(d)).toEqual(['1:U']);
    expect(d.pcp).toBe(4);
    n.decide(1, frameKey(1, 'untagged', 0, a, b), 2, d);       // a -> b, learned on the trunk
    expect(outputs(d)).toEqual(['3:T']);
    expect(d.vid).toBe(10);
    // the same MAC in another VLAN is another entry: b in VLAN 20 is unknown, so it floods VLAN 20
    n.decide(2, frameKey(2, 'untagged', 0, 0x0200_0000_00cc, b), 3, d);
    expect(outputs(d)).toEqual(['3:T', '4:T', '5:T', '6:U']);
  });

  it('a native VLAN is carried even when vids does not list it', () => {
    const n = new Normal({ macTableSize: 8, agingMs: 1000 });
    n.setPort({ ofport: 1, vlan: { mode: 'native-untagged', vid: 30, vids: [10] }, canFlood: true, canForward: true });
    n.setPort({ ofport: 2, vlan: { mode: 'access', vid: 30 }, canFlood: true, canForward: true });
    const d = new NormalDecision();
    n.decide(2, frameKey(2, 'untagged', 0), 0, d);
    expect(outputs(d)).toEqual(['1:U']);
    n.decide(1, frameKey(1, 30, 0), 0, d);
    expect(outputs(d)).toEqual(['2:U']);
  });
});

describe('validateVlanPortConfig', () => {
  it.each([
    [{ mode: 'access', vid: 10 }],
    [{ mode: 'trunk' }],
    [{ mode: 'trunk', vids: [1, 4094] }],
    [{ mode: 'native-tagged', vid: 10 }],
    [{ mode: 'native-untagged', vid: 20, vids: [10, 20] }],
  ])('accepts %j', (cfg) => {
    expect(() => validateVlanPortConfig(cfg)).not.toThrow();
  });

  it.each([
    [{ mode: 'access', vid: 5000 }, RangeError, 'VLAN id 5000 is out of range 1-4094'],
    [{ mode: 'access', vid: 0 }, RangeError, 'VLAN id 0 is out of range 1-4094'],
    [{ mode: 'access' }, RangeError, 'access port needs a vid'],
    [{ mode: 'access', vid: 10, vids: [10] }, RangeError, 'access port takes no vids'],
    [{ mode: 'trunk', vid: 10 }, RangeError, 'trunk port takes no vid'],
    [{ mode: 'trunk', vids: [] }, RangeError, 'vids must not be empty'],
    [{ mode: 'trunk', vids: [10, 4095] }, RangeError, 'VLAN id 4095 is out of range 1-4094'],
    [{ mode: 'trunk', vids: [1.5] }, RangeError, 'not an integer'],
    [{ mode: 'trunk', vids: 10 }, TypeError, 'vids must be an array'],
    [{ mode: 'native-tagged' }, RangeError, 'native-tagged port needs a vid'],
    [{ mode: 'native-untagged', vid: '10' }, RangeError, 'not an integer'],
    [{ mode: 'hybrid', vid: 10 }, RangeError, 'unknown VLAN mode "hybrid"'],
    [{ mode: 'access', vid: 10, tag: 10 }, TypeError, 'unknown VLAN config key "tag"'],
    [null, TypeError, 'must be an object'],
  ])('rejects %j', (cfg, type, msg) => {
    expect(() => validateVlanPortConfig(cfg)).toThrow(type);
    expect(() => validateVlanPortConfig(cfg)).toThrow(msg);
  });

  it('Normal.setPort validates too, and rejects bad port numbers', () => {
    const n = new Normal({ macTableSize: 8, agingMs: 1000 });
    expect(() => n.setPort({ ofport: 1, vlan: { mode: 'access', vid: 5000 }, canFlood: true, canForward: true }))
      .toThrow('VLAN id 5000 is out of range 1-4094');
    expect(() => n.setPort({ ofport: 0, vlan: { mode: 'trunk' }, canFlood: true, canForward: true })).toThrow(RangeError);
    expect(n.port(1)).toBeUndefined();
  });

  it('a trunk with no VLAN list carries untagged traffic as VLAN 0, untagged, like an OVS port with no tag/trunks', () => {
    const n = new Normal({ macTableSize: 16, agingMs: 300_000 });
    for (const p of [1, 2, 3]) n.setPort({ ofport: p, vlan: { mode: 'trunk' }, canFlood: true, canForward: true });
    n.setPort({ ofport: 4, vlan: { mode: 'trunk', vids: [10] }, canFlood: true, canForward: true });
    const d = new NormalDecision();
    n.decide(1, frameKey(1, 'untagged', 0, 0x0200_0000_00aa), 0, d);
    expect(d.dropReason).toBe(0);
    expect(d.vid).toBe(0);
    expect([...d.ports.subarray(0, d.count)].sort()).toEqual([2, 3]);
    expect([...d.tagged.subarray(0, d.count)]).toEqual([0, 0]);
    expect(portCarriesVid({ mode: 'trunk' }, 0)).toBe(true);
    expect(portCarriesVid({ mode: 'trunk', vids: [10] }, 0)).toBe(false);
  });

  it('portCarriesVid follows the modes', () => {
    expect(portCarriesVid({ mode: 'access', vid: 10 }, 10)).toBe(true);
    expect(portCarriesVid({ mode: 'access', vid: 10 }, 11)).toBe(false);
    expect(portCarriesVid({ mode: 'trunk' }, 4094)).toBe(true);
    expect(portCarriesVid({ mode: 'trunk' }, 4095)).toBe(false);
    expect(portCarriesVid({ mode: 'trunk', vids: [5] }, 6)).toBe(false);
    expect(portCarriesVid({ mode: 'native-tagged', vid: 7, vids: [5] }, 7)).toBe(true);
  });
});
