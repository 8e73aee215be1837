// NORMAL on real frame bytes: build a frame, extract its flow key, decide, then make each output
// copy match the decision with applyEgressVlan and re-extract it — the tag each port sees on the wire.
import { describe, it, expect } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import type { FrameSpec } from '../../../src/packet/build.js';
import { extractFlowKey } from '../../../src/packet/extract.js';
import { FlowKey, K, VID_PRESENT } from '../../../src/packet/flow-key.js';
import { Packet } from '../../../src/packet/packet.js';
import { Normal, NormalDecision } from '../../../src/datapath/normal.js';
import { applyEgressVlan } from '../../../src/vlan/tag.js';

const PAYLOAD = { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1000, dport: 2000 } } as const;

function bridge(): Normal {
  const n = new Normal({ macTableSize: 64, agingMs: 300_000 });
  n.setPort({ ofport: 1, vlan: { mode: 'access', vid: 10 }, canFlood: true, canForward: true });
  n.setPort({ ofport: 2, vlan: { mode: 'trunk', vids: [10, 20] }, canFlood: true, canForward: true });
  n.setPort({ ofport: 3, vlan: { mode: 'native-untagged', vid: 10 }, canFlood: true, canForward: true });
  return n;
}

/** Each output port -> what leaves it: 'untagged' or 'vid/pcp', plus the untouched payload check. */
function forward(n: Normal, inPort: number, spec: FrameSpec): Record<number, string> {
  const frame = buildFrame(spec);
  const inPkt = new Packet(512);
  inPkt.load(frame, 0, frame.length);
  const key = new FlowKey();
  key.w[K.IN_PORT] = inPort;
  extractFlowKey(inPkt.buf, inPkt.off, inPkt.len, key);
  const d = new NormalDecision();
  n.decide(inPort, key, 0, d);
  const seen: Record<number, string> = {};
  const copy = new Packet(512), outKey = new FlowKey();
  const l3 = frame.subarray(key.w[K.L3_OFF]);
  for (let i = 0; i < d.count; i++) {
    inPkt.copyTo(copy);
    expect(applyEgressVlan(copy, d.tagged[i], d.vid, d.pcp)).toBe(true);
    extractFlowKey(copy.buf, copy.off, copy.len, outKey);
    expect(copy.frame().subarray(outKey.w[K.L3_OFF])).toEqual(l3);     // payload intact
    const tag = outKey.w[K.VLAN_VID];
    seen[d.ports[i]] = tag & VID_PRESENT ? `${tag & 0xfff}/${outKey.w[K.VLAN_PCP]}` : 'untagged';
  }
  return seen;
}

describe('NORMAL with tag edits on real frames', () => {
  it('untagged from access 10: tagged 10 on the trunk, untagged on native-untagged 10', () => {
    expect(forward(bridge(), 1, { dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', payload: PAYLOAD }))
      .toEqual({ 2: '10/0', 3: 'untagged' });
  });

  it('tagged 10 pcp 5 from the trunk: popped for access and native-untagged ports', () => {
    expect(forward(bridge(), 2, { dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:02', vlans: [{ vid: 10, pcp: 5 }], payload: PAYLOAD }))
      .toEqual({ 1: 'untagged', 3: 'untagged' });
  });

  it('priority-tagged (VID 0, pcp 6) from access 10: gets VID 10 and keeps pcp 6 on the trunk', () => {
    expect(forward(bridge(), 1, { dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', vlans: [{ vid: 0, pcp: 6 }], payload: PAYLOAD }))
      .toEqual({ 2: '10/6', 3: 'untagged' });
  });

  it('tagged 20 from the trunk: only the native-untagged port (no vids: all VLANs) carries it, tagged', () => {
    expect(forward(bridge(), 2, { dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:02', vlans: [{ vid: 20, pcp: 3 }], payload: PAYLOAD }))
      .toEqual({ 3: '20/3' });
  });
});
