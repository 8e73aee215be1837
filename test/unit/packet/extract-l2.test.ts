// extractL2Key (the standalone fast path's first stage) must agree with extractFlowKey on every L2
// word and on the L2 errors, for every prefix of a few frame shapes, and leave L3/L4 words alone.
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { extractFlowKey, extractL2Key } from '../../../src/packet/extract.js';
import { FlowKey, K, ParseError } from '../../../src/packet/flow-key.js';

const mac = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01' };
const udp = { kind: 'udp' as const, sport: 1234, dport: 53, payload: Buffer.alloc(6) };
const frames: Array<[string, Buffer]> = [
  ['untagged udp', buildFrame({ ...mac, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: udp } })],
  ['one tag', buildFrame({ ...mac, vlans: [{ vid: 100, pcp: 5 }], payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: udp } })],
  ['two tags', buildFrame({ ...mac, vlans: [{ vid: 100, tpid: 0x88a8 }, { vid: 7 }], payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: udp } })],
];
const L2 = [K.ETH_DST_HI, K.ETH_DST_LO, K.ETH_SRC_HI, K.ETH_SRC_LO, K.ETH_TYPE, K.VLAN_VID, K.VLAN_PCP, K.VLAN_OUTER_TPID, K.L3_OFF];

describe('extractL2Key', () => {
  it.each(frames)('%s: same L2 words and L2 errors as extractFlowKey at every length', (_name, frame) => {
    for (let len = 0; len <= frame.length; len++) {
      const buf = Buffer.alloc(len + 8, 0xa5);
      frame.copy(buf, 8, 0, len);
      const full = new FlowKey(), l2 = new FlowKey();
      const ef = extractFlowKey(buf, 8, len, full);
      l2.w.fill(0xdeadbeef);
      const e2 = extractL2Key(buf, 8, len, l2);
      const l2err = ef === ParseError.TooShort || ef === ParseError.TruncatedVlan ? ef : ParseError.None;
      expect(e2).toBe(l2err);
      expect(l2.error).toBe(l2err);
      for (const w of L2) expect(l2.w[w], `len ${len} word ${w}`).toBe(full.w[w]);
      if (ef !== ParseError.TooShort && ef !== ParseError.TruncatedVlan) expect(l2.w[K.IPV4_DST]).toBe(0xdeadbeef);   // L3 untouched
    }
  });
});
