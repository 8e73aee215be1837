// gso.ts: super-frames (TCP/UDP, IPv4/IPv6, VLAN-tagged, with TCP options) are cut and every
// segment compared byte for byte with the same segment built independently by build.ts (its own
// checksum code): IPv4 ids incremented, lengths, seq advanced, FIN/PSH on the last only, CWR on
// the first only. wireBytes/wireFrames agree with the cut; the vnet header written for transmit.
import { describe, expect, it } from 'vitest';
import { buildFrame, type FrameSpec } from '../../../src/packet/build.js';
import { GsoSegmenter, GsoResult, wireBytes, wireFrames, writeVnetHeader, VNET_HDR_LEN, parseGsoHeaders, H, H_SLOTS, MIN_GSO_SIZE } from '../../../src/packet/gso.js';
import { completeChecksum, seedPartialChecksum } from '../../../src/packet/complete-checksum.js';
import { GSO, HEADROOM, Packet, LARGE_PACKET_SIZE } from '../../../src/packet/packet.js';
import { PacketPool } from '../../../src/packet/pool.js';

const SRC = '02:00:00:00:00:01', DST = '02:00:00:00:00:02';
const payloadOf = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);

interface Case { ip: 4 | 6; l4: 'tcp' | 'udp'; vlans?: FrameSpec['vlans']; flags?: number }

function build(c: Case, payload: Uint8Array, seq: number, id: number, flags: number): Buffer {
  const l4 = c.l4 === 'tcp'
    ? { kind: 'tcp' as const, sport: 40000, dport: 5201, seq, ack: 0x0a0b0c0d, flags, window: 512, payload }
    : { kind: 'udp' as const, sport: 40000, dport: 5201, payload };
  return buildFrame({
    dst: DST, src: SRC, vlans: c.vlans,
    payload: c.ip === 4 ? { kind: 'ipv4', src: '10.1.2.3', dst: '192.168.200.17', id, df: true, l4 } : { kind: 'ipv6', src: 'fd00::1', dst: '2001:db8:ffff::abcd', l4 },
  });
}

function superPacket(c: Case, total: number, mss: number, partial: boolean): Packet {
  const f = build(c, payloadOf(total), 0xfffff000, 0xfffe, c.flags ?? 0x18);
  const p = new Packet(LARGE_PACKET_SIZE);
  p.load(f, 0, f.length);
  p.gsoType = c.l4 === 'udp' ? GSO.UdpL4 : c.ip === 4 ? GSO.TcpV4 : GSO.TcpV6;
  p.gsoSize = mss;
  if (partial) {
    const h = new Int32Array(H_SLOTS);
    expect(parseGsoHeaders(p.buf, p.off, p.len, h)).toBe(GsoResult.Ok);
    seedPartialChecksum(p.buf, h[H.L3], h[H.L4], h[H.L3_END] - h[H.L4], h[H.PROTO], h[H.V6] === 1);
    p.csumPartial = true;
  }
  return p;
}

const cases: Array<[string, Case]> = [
  ['TCP/IPv4', { ip: 4, l4: 'tcp' }],
  ['TCP/IPv6', { ip: 6, l4: 'tcp' }],
  ['TCP/IPv4 in an 802.1Q tag', { ip: 4, l4: 'tcp', vlans: [{ vid: 42, pcp: 3 }] }],
  ['TCP/IPv6 in QinQ', { ip: 6, l4: 'tcp', vlans: [{ tpid: 0x88a8, vid: 7 }, { vid: 42 }] }],
  ['TCP/IPv4 with FIN|PSH|CWR|ACK', { ip: 4, l4: 'tcp', flags: 0x80 | 0x10 | 0x08 | 0x01 }],
  ['UDP (USO)/IPv4', { ip: 4, l4: 'udp' }],
  ['UDP (USO)/IPv6 tagged', { ip: 6, l4: 'udp', vlans: [{ vid: 100 }] }],
];

describe('GsoSegmenter', () => {
  for (const [name, c] of cases) {
    for (const partial of [false, true]) {
      it(`${name}${partial ? ', partial checksum' : ''}: segments equal independently built frames`, () => {
        const total = 10_000, mss = 1448;
        const payload = payloadOf(total);
        const src = superPacket(c, total, mss, partial);
        const seg = new GsoSegmenter();
        const n = seg.begin(src);
        expect(n).toBe(Math.ceil(total / mss));
        expect(wireFrames(src)).toBe(n);
        let wire = 0;
        const flags = c.flags ?? 0x18;
        for (let i = 0; i < n; i++) {
          const dst = new Packet();
          expect(seg.nextLen()).toBeLessThanOrEqual(dst.room);
          expect(seg.next(dst)).toBe(true);
          const last = i === n - 1;
          let f = flags;
          if (!last) f &= ~0x09;
          if (i !== 0) f &= ~0x80;
          const chunk = payload.subarray(i * mss, Math.min(total, (i + 1) * mss));
          const want = build(c, chunk, (0xfffff000 + i * mss) >>> 0, (0xfffe + i) & 0xffff, f);
          expect(dst.off).toBe(HEADROOM);
          expect(Buffer.from(dst.frame()).equals(want), `segment ${i}`).toBe(true);
          expect(dst.gsoType).toBe(GSO.None);
          expect(dst.csumPartial).toBe(false);
          // and the checksum it carries is the one completeChecksum computes
          const copy = Buffer.from(dst.frame());
          expect(completeChecksum(copy, 0, copy.length)).toBe(0);
          expect(copy.equals(want)).toBe(true);
          wire += dst.len;
        }
        expect(seg.next(new Packet())).toBe(false);
        expect(wireBytes(src)).toBe(wire);
      });
    }
  }

  it('a super-frame no longer than one segment is one frame; an ordinary frame counts its length', () => {
    const p = superPacket({ ip: 4, l4: 'tcp' }, 1000, 1448, false);
    expect(new GsoSegmenter().begin(p)).toBe(1);
    expect(wireFrames(p)).toBe(1);
    expect(wireBytes(p)).toBe(p.len);
    p.gsoType = GSO.None;
    expect(wireBytes(p)).toBe(p.len);
  });

  it('refuses what it cannot cut: UFO, a gso type that does not match the headers, non-IP', () => {
    const seg = new GsoSegmenter();
    const p = superPacket({ ip: 4, l4: 'udp' }, 4000, 1000, false);
    p.gsoType = GSO.Udp;
    expect(seg.begin(p)).toBe(0);
    expect(seg.result).toBe(GsoResult.Unsupported);
    p.gsoType = GSO.TcpV4;
    expect(seg.begin(p)).toBe(0);
    expect(seg.result).toBe(GsoResult.BadHeader);
    const tiny = superPacket({ ip: 4, l4: 'tcp' }, 4000, 1000, false);
    tiny.gsoSize = 1;                       // a guest's bogus MSS: ~4,000 segments of 1 byte
    expect(seg.begin(tiny)).toBe(0);
    expect(seg.result).toBe(GsoResult.BadHeader);
    tiny.gsoSize = MIN_GSO_SIZE;
    expect(seg.begin(tiny)).toBe(Math.ceil(4000 / MIN_GSO_SIZE));
    const arp = new Packet();
    arp.load(Buffer.alloc(60), 0, 60);
    arp.gsoType = GSO.TcpV4; arp.gsoSize = 100;
    expect(seg.begin(arp)).toBe(0);
    expect(wireBytes(arp)).toBe(60);
  });

  it('segments come from the pool: a 64 KiB super-frame becomes 46 ordinary packets', () => {
    const pool = new PacketPool(64);
    const src = superPacket({ ip: 4, l4: 'tcp' }, 65_000, 1448, true);
    const seg = new GsoSegmenter();
    const n = seg.begin(src);
    expect(n).toBe(45);
    for (let i = 0; i < n; i++) {
      const q = pool.allocFor(seg.nextLen());
      expect(q).not.toBeNull();
      expect(seg.next(q!)).toBe(true);
    }
    expect(pool.available).toBe(64 - n);
  });
});

describe('writeVnetHeader', () => {
  it('a TSO frame gets NEEDS_CSUM, gso type/size, header length, csum_start/offset and a pseudo-header seed', () => {
    const c: Case = { ip: 4, l4: 'tcp', vlans: [{ vid: 5 }] };
    const p = superPacket(c, 5000, 1448, false);
    const hdr = Buffer.alloc(VNET_HDR_LEN + 1, 0xa5);
    expect(writeVnetHeader(p, hdr, 1)).toBe(true);
    const l4 = 14 + 4 + 20;
    expect([...hdr.subarray(1)]).toEqual([1, GSO.TcpV4, (l4 + 20) & 0xff, 0, 1448 & 0xff, 1448 >> 8, l4, 0, 16, 0]);
    // completing from the seed gives the full checksum again
    const full = build(c, payloadOf(5000), 0xfffff000, 0xfffe, 0x18);
    const f = Buffer.from(p.frame());
    expect(f.equals(full)).toBe(false);
    expect(completeChecksum(f, 0, f.length)).toBe(0);
    expect(f.equals(full)).toBe(true);
  });

  it('a TSO frame with CWR set gets the ECN bit in gso_type', () => {
    const p = superPacket({ ip: 6, l4: 'tcp', flags: 0x80 | 0x10 }, 5000, 1448, false);
    const hdr = Buffer.alloc(VNET_HDR_LEN);
    expect(writeVnetHeader(p, hdr, 0)).toBe(true);
    expect(hdr[1]).toBe(GSO.TcpV6 | 0x80);
  });

  it('an ordinary frame gets an all-zero header (DATA_VALID when vouched for)', () => {
    const p = new Packet();
    const f = build({ ip: 6, l4: 'udp' }, payloadOf(100), 0, 0, 0);
    p.load(f, 0, f.length);
    const hdr = Buffer.alloc(VNET_HDR_LEN, 0xa5);
    expect(writeVnetHeader(p, hdr, 0)).toBe(true);
    expect([...hdr]).toEqual(new Array(10).fill(0));
    p.csumValid = true;
    writeVnetHeader(p, hdr, 0);
    expect(hdr[0]).toBe(2);
  });
});

describe('PacketPool large tier', () => {
  it('exists only once reserved, capped, gives large packets back to their own free list', () => {
    const pool = new PacketPool(4, 2048);
    expect(pool.largeCapacity).toBe(0);
    expect(pool.allocLarge()).toBeNull();
    expect(pool.exhaustedLarge).toBe(1);
    expect(pool.reserveLarge(3)).toBe(3);
    const big = pool.allocFor(5000)!, small = pool.allocFor(100)!;
    expect(big.buf.length).toBe(pool.largeSize);
    expect(small.buf.length).toBe(2048);
    expect([pool.available, pool.largeAvailable]).toEqual([3, 2]);
    pool.release(big); pool.release(small);
    expect([pool.available, pool.largeAvailable]).toEqual([4, 3]);
    pool.release(new Packet(pool.largeSize));              // a stranger is not taken in
    expect(pool.largeAvailable).toBe(3);
  });

  it('copyTo carries the offload metadata; reset and load clear it', () => {
    const a = superPacket({ ip: 4, l4: 'tcp' }, 5000, 1448, true);
    a.csumValid = true; a.hdrLen = 54; a.csumStart = 34; a.csumOffset = 16;
    const b = new Packet(LARGE_PACKET_SIZE);
    expect(a.copyTo(b)).toBe(true);
    expect([b.gsoType, b.gsoSize, b.hdrLen, b.csumStart, b.csumOffset, b.csumValid, b.csumPartial]).toEqual([GSO.TcpV4, 1448, 54, 34, 16, true, true]);
    expect(a.copyTo(new Packet(2048))).toBe(false);     // does not fit: nothing copied
    b.reset();
    expect([b.gsoType, b.gsoSize, b.hdrLen, b.csumStart, b.csumOffset, b.csumValid, b.csumPartial]).toEqual([0, 0, 0, 0, 0, false, false]);
    a.load(Buffer.alloc(60), 0, 60);
    expect([a.gsoType, a.gsoSize, a.csumPartial, a.csumValid]).toEqual([0, 0, false, false]);
  });
});
