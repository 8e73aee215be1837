// 802.1Q tag edits on a Packet: construct tests into a buffer pre-filled with 0xa5 (so stray or
// forgotten bytes show), push/pop round trips, and every edit refusing frames it cannot handle.
import { describe, it, expect } from 'vitest';
import { Packet, HEADROOM } from '../../../src/packet/packet.js';
import {
  pushVlan, popVlan, setVlanVid, setVlanPcp, applyEgressVlan, outerTci, isTagged,
  TPID_8021Q, TPID_8021AD,
} from '../../../src/vlan/tag.js';
import { makeTci } from '../../../src/packet/vlan.js';

const DST = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const SRC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const PAYLOAD = [0x45, 0x00, 0x00, 0x14, 0xde, 0xad];
const UNTAGGED = [...DST, ...SRC, 0x08, 0x00, ...PAYLOAD];
// tag: PCP 5, DEI 0, VID 10 -> TCI 0xa00a
const TAGGED = [...DST, ...SRC, 0x81, 0x00, 0xa0, 0x0a, 0x08, 0x00, ...PAYLOAD];
const SIZE = 256;

/** A packet whose whole buffer is 0xa5, with `frame` at `off`. */
function packet(frame: number[], off = HEADROOM): Packet {
  const p = new Packet(SIZE);
  p.buf.fill(0xa5);
  p.buf.set(frame, off);
  p.off = off; p.len = frame.length;
  return p;
}

/** The whole buffer as expected: 0xa5 everywhere except `frame` at `off` (and `stale` bytes, if given, at `staleOff`). */
function expectBuffer(p: Packet, frame: number[], off: number, stale: number[] = [], staleOff = 0): void {
  const want = Buffer.alloc(SIZE, 0xa5);
  want.set(stale, staleOff);
  want.set(frame, off);
  expect(p.off).toBe(off);
  expect(p.len).toBe(frame.length);
  expect([...p.frame()]).toEqual(frame);
  expect([...p.buf]).toEqual([...want]);
}

describe('pushVlan', () => {
  it('inserts a tag after the MACs, growing into the headroom, payload untouched', () => {
    const p = packet(UNTAGGED);
    expect(pushVlan(p, TPID_8021Q, makeTci(10, 5, 0))).toBe(true);
    expectBuffer(p, TAGGED, HEADROOM - 4);
  });

  it('pushes an 802.1ad outer tag over an 802.1Q tag (QinQ)', () => {
    const p = packet(TAGGED);
    expect(pushVlan(p, TPID_8021AD, makeTci(100, 0, 1))).toBe(true);
    expectBuffer(p, [...DST, ...SRC, 0x88, 0xa8, 0x10, 0x64, 0x81, 0x00, 0xa0, 0x0a, 0x08, 0x00, ...PAYLOAD], HEADROOM - 4);
    expect(outerTci(p)).toBe(0x1064);
  });

  it('uses exactly 4 bytes of headroom and refuses when there are fewer', () => {
    const ok = packet(UNTAGGED, 4);
    expect(pushVlan(ok, TPID_8021Q, 1)).toBe(true);
    expect(ok.off).toBe(0);
    const none = packet(UNTAGGED, 3);
    expect(pushVlan(none, TPID_8021Q, 1)).toBe(false);
    expectBuffer(none, UNTAGGED, 3);
  });

  it('refuses a runt, a non-VLAN TPID and an out-of-range TCI, changing nothing', () => {
    const runt = packet(UNTAGGED.slice(0, 13));
    expect(pushVlan(runt, TPID_8021Q, 1)).toBe(false);
    expectBuffer(runt, UNTAGGED.slice(0, 13), HEADROOM);
    const p = packet(UNTAGGED);
    expect(pushVlan(p, 0x0800, 1)).toBe(false);
    expect(pushVlan(p, TPID_8021Q, 0x10000)).toBe(false);
    expect(pushVlan(p, TPID_8021Q, -1)).toBe(false);
    expectBuffer(p, UNTAGGED, HEADROOM);
  });
});

describe('popVlan', () => {
  it('removes the outer tag, moving the MACs forward over it', () => {
    const p = packet(TAGGED);
    expect(popVlan(p)).toBe(true);
    // the 4 bytes in front of the new start keep the first MAC bytes (headroom is scratch space)
    expectBuffer(p, UNTAGGED, HEADROOM + 4, DST.slice(0, 4), HEADROOM);
  });

  it('pops only the outermost of two tags', () => {
    const p = packet([...DST, ...SRC, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0xa0, 0x0a, 0x08, 0x00, ...PAYLOAD]);
    expect(popVlan(p)).toBe(true);
    expect([...p.frame()]).toEqual(TAGGED);
  });

  it('pops a pre-standard 0x9100 tag (extraction counts it as a tag) but never pushes one', () => {
    const p = packet([...DST, ...SRC, 0x91, 0x00, 0x00, 0x64, 0x08, 0x00, ...PAYLOAD]);
    expect(popVlan(p)).toBe(true);
    expect([...p.frame()]).toEqual(UNTAGGED);
    expect(pushVlan(p, 0x9100, 1)).toBe(false);
  });

  it('refuses untagged and truncated frames', () => {
    const u = packet(UNTAGGED);
    expect(popVlan(u)).toBe(false);
    expectBuffer(u, UNTAGGED, HEADROOM);
    for (let len = 0; len < 18; len++) {
      const t = packet(TAGGED.slice(0, len));
      expect(popVlan(t)).toBe(false);
      expectBuffer(t, TAGGED.slice(0, len), HEADROOM);
    }
  });

  it('push then pop is the identity on the frame, for every TCI corner', () => {
    for (const tci of [0x0000, 0x0001, 0x0fff, 0x1000, 0xe000, 0xffff]) {
      const p = packet(UNTAGGED);
      expect(pushVlan(p, TPID_8021Q, tci)).toBe(true);
      expect(outerTci(p)).toBe(tci);
      expect(popVlan(p)).toBe(true);
      expectBuffer(p, UNTAGGED, HEADROOM, DST.slice(0, 4), HEADROOM - 4);
    }
  });
});

describe('setVlanVid / setVlanPcp', () => {
  it('rewrite the VID and keep PCP and DEI', () => {
    const p = packet([...DST, ...SRC, 0x81, 0x00, 0xb0, 0x0a, 0x08, 0x00, ...PAYLOAD]); // PCP 5, DEI 1, VID 10
    expect(setVlanVid(p, 0xabc)).toBe(true);
    expectBuffer(p, [...DST, ...SRC, 0x81, 0x00, 0xba, 0xbc, 0x08, 0x00, ...PAYLOAD], HEADROOM);
  });

  it('rewrite the PCP and keep DEI and VID', () => {
    const p = packet([...DST, ...SRC, 0x81, 0x00, 0xb0, 0x0a, 0x08, 0x00, ...PAYLOAD]);
    expect(setVlanPcp(p, 2)).toBe(true);
    expectBuffer(p, [...DST, ...SRC, 0x81, 0x00, 0x50, 0x0a, 0x08, 0x00, ...PAYLOAD], HEADROOM);
    expect(setVlanPcp(p, 0)).toBe(true);
    expect(outerTci(p)).toBe(0x100a);
  });

  it('refuse untagged or truncated frames and out-of-range values', () => {
    const u = packet(UNTAGGED);
    expect(setVlanVid(u, 10)).toBe(false);
    expect(setVlanPcp(u, 1)).toBe(false);
    expectBuffer(u, UNTAGGED, HEADROOM);
    const t = packet(TAGGED.slice(0, 17));
    expect(setVlanVid(t, 10)).toBe(false);
    expect(setVlanPcp(t, 1)).toBe(false);
    const p = packet(TAGGED);
    expect(setVlanVid(p, 4096)).toBe(false);
    expect(setVlanVid(p, -1)).toBe(false);
    expect(setVlanPcp(p, 8)).toBe(false);
    expectBuffer(p, TAGGED, HEADROOM);
  });
});

describe('applyEgressVlan (NORMAL decision -> frame)', () => {
  it('pushes onto an untagged frame, rewrites a tagged one, pops when told untagged', () => {
    const a = packet(UNTAGGED);
    expect(applyEgressVlan(a, 1, 10, 5)).toBe(true);
    expectBuffer(a, TAGGED, HEADROOM - 4);
    const b = packet(TAGGED);
    expect(applyEgressVlan(b, 1, 20, 1)).toBe(true);
    expect(outerTci(b)).toBe(0x2014);
    const c = packet(TAGGED);
    expect(applyEgressVlan(c, 0, 10, 5)).toBe(true);
    expectBuffer(c, UNTAGGED, HEADROOM + 4, DST.slice(0, 4), HEADROOM);
    expect(isTagged(c)).toBe(false);
    const d = packet(UNTAGGED);
    expect(applyEgressVlan(d, 0, 10, 0)).toBe(true);
    expectBuffer(d, UNTAGGED, HEADROOM);
  });

  it('fails without headroom', () => {
    expect(applyEgressVlan(packet(UNTAGGED, 0), 1, 10, 0)).toBe(false);
  });
});
