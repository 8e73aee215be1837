// VXLAN encapsulation (vlan/vxlan-encap.ts): outer IPv4 and IPv6 + UDP + VXLAN headers checked byte
// for byte against hand-built RFC 7348 §5 headers, written into 0xa5-filled buffers at an offset so
// forgotten or stray bytes show; the hashed UDP source port (range, per-flow stability, spread,
// fragments, truncation sweeps that also prove nothing past `len` is read); the received-VNI reader;
// underlay address parsing and RFC 5952 text.
import { describe, it, expect } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import type { FrameSpec } from '../../../src/packet/build.js';
import {
  OUTER_V4_LEN, OUTER_V6_LEN, VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6, SRC_PORT_MIN,
  formatTunnelAddr, parseTunnelAddr, vxlanSourcePort, vxlanVni, writeOuterV4, writeOuterV6,
} from '../../../src/vlan/vxlan-encap.js';

const A5 = 0xa5;
const AT = 7;                       // a non-zero, odd offset into the scratch buffer
const TAIL = 5;                     // bytes after the header that must stay 0xa5

/** Scratch of 0xa5 with room for `len` bytes at AT, and what it must hold afterwards. */
function scratch(len: number): Buffer { return Buffer.alloc(AT + len + TAIL, A5); }
function expected(bytes: number[]): number[] { return [...new Array<number>(AT).fill(A5), ...bytes, ...new Array<number>(TAIL).fill(A5)]; }

describe('layout constants', () => {
  it('are the RFC 7348 figures: 36/56 bytes after the outer Ethernet header, 50/70 with it', () => {
    expect([OUTER_V4_LEN, OUTER_V6_LEN, VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6]).toEqual([20 + 8 + 8, 40 + 8 + 8, 50, 70]);
  });
});

describe('writeOuterV4', () => {
  it('writes IPv4 (DF, TTL 64, proto 17) + UDP (checksum 0) + VXLAN (I flag, VNI, reserved 0) and nothing else', () => {
    const h = scratch(OUTER_V4_LEN);
    const n = writeOuterV4(h, AT, 0xc000_0201 /* 192.0.2.1 */, 0x0a00_0002 /* 10.0.0.2 */, 0xc350 /* 50000 */, 4789, 0x12_3456, 100);
    expect(n).toBe(OUTER_V4_LEN);
    const want = [
      // IPv4: version 4 / IHL 5, TOS 0, total length 36 + 100 = 136
      0x45, 0x00, 0x00, 0x88,
      // id 0 (kernel fills it), flags DF, fragment offset 0
      0x00, 0x00, 0x40, 0x00,
      // TTL 64, protocol UDP, header checksum 0 (kernel fills it)
      0x40, 0x11, 0x00, 0x00,
      0xc0, 0x00, 0x02, 0x01,          // source 192.0.2.1
      0x0a, 0x00, 0x00, 0x02,          // destination 10.0.0.2
      // UDP: 50000 -> 4789, length 8 + 8 + 100 = 116, checksum 0 (RFC 7348 §5 on IPv4)
      0xc3, 0x50, 0x12, 0xb5, 0x00, 0x74, 0x00, 0x00,
      // VXLAN: flags I, 24 reserved bits, VNI 0x123456, 8 reserved bits
      0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x00,
    ];
    expect([...h]).toEqual(expected(want));
  });

  it.each([
    ['VNI 0, smallest frame', 0, 14, [0x00, 0x32], [0x00, 0x1e], [0x00, 0x00, 0x00]],
    ['VNI 2^24-1, 1500-byte frame', 0xff_ffff, 1500, [0x06, 0x00], [0x05, 0xec], [0xff, 0xff, 0xff]],
    ['VNI 5001', 5001, 60, [0x00, 0x60], [0x00, 0x4c], [0x00, 0x13, 0x89]],
  ])('%s: lengths and VNI bytes', (_name, vni, innerLen, total, udpLen, vniBytes) => {
    const h = scratch(OUTER_V4_LEN);
    writeOuterV4(h, AT, 0x7f00_0001, 0x7f00_0002, 65535, 8472, vni, innerLen);
    const o = AT;
    expect([h[o + 2], h[o + 3]]).toEqual(total);
    expect([h[o + 24], h[o + 25]]).toEqual(udpLen);
    expect([h[o + 20], h[o + 21], h[o + 22], h[o + 23]]).toEqual([0xff, 0xff, 0x21, 0x18]);   // 65535 -> 8472
    expect([...h.subarray(o + 28, o + 36)]).toEqual([0x08, 0, 0, 0, ...vniBytes, 0]);
    expect(h[o - 1]).toBe(A5);
    expect(h[o + OUTER_V4_LEN]).toBe(A5);
  });
});

describe('writeOuterV6', () => {
  it('writes IPv6 (payload length, next header 17, hop limit 64, flow label = source port) + UDP + VXLAN', () => {
    const src = parseTunnelAddr('2001:db8::1'), dst = parseTunnelAddr('fd00::2:3');
    const h = scratch(OUTER_V6_LEN);
    const n = writeOuterV6(h, AT, src, dst, 0xc350, 4789, 0x12_3456, 100);
    expect(n).toBe(OUTER_V6_LEN);
    const want = [
      // version 6, traffic class 0, flow label 0x0c350 (the source port)
      0x60, 0x00, 0xc3, 0x50,
      // payload length 8 + 8 + 100 = 116, next header UDP, hop limit 64
      0x00, 0x74, 0x11, 0x40,
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,          // 2001:db8::1
      0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0x03,             // fd00::2:3
      // UDP: 50000 -> 4789, length 116, checksum left 0 for the shim
      0xc3, 0x50, 0x12, 0xb5, 0x00, 0x74, 0x00, 0x00,
      0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x00,
    ];
    expect([...h]).toEqual(expected(want));
  });

  it.each([SRC_PORT_MIN, 0xc350, 0xdead, 65535])('flow label is source port %i, the traffic class stays 0', (sport) => {
    const a = parseTunnelAddr('fd00::1');
    const h = scratch(OUTER_V6_LEN);
    writeOuterV6(h, AT, a, a, sport, 4789, 1, 60);
    const o = AT;
    expect(h[o] >>> 4).toBe(6);
    expect(((h[o] & 0x0f) << 4) | (h[o + 1] >>> 4)).toBe(0);                    // traffic class
    expect(((h[o + 1] & 0x0f) << 16) | (h[o + 2] << 8) | h[o + 3]).toBe(sport);  // flow label
    expect((h[o + 40] << 8) | h[o + 41]).toBe(sport);
  });

  it('writes addresses with every bit set (unsigned words) exactly', () => {
    const all = parseTunnelAddr('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), lo = parseTunnelAddr('::1');
    const h = scratch(OUTER_V6_LEN);
    writeOuterV6(h, AT, all, lo, 50000, 4789, 7, 14);
    expect([...h.subarray(AT + 8, AT + 24)]).toEqual(new Array<number>(16).fill(0xff));
    expect([...h.subarray(AT + 24, AT + 40)]).toEqual([...new Array<number>(15).fill(0), 1]);
  });
});

// ------------------------------------------------------------------------------------------
// Source port

const MACS = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01' };
function tcp4(sport: number, dport: number, extra: { seq?: number; id?: number; ttl?: number; data?: string } = {}): Buffer {
  return buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', id: extra.id, ttl: extra.ttl, l4: { kind: 'tcp', sport, dport, seq: extra.seq, payload: Buffer.from(extra.data ?? 'hello') } } });
}
function udp6(sport: number, dport: number, data = 'payload'): Buffer {
  return buildFrame({ ...MACS, payload: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', l4: { kind: 'udp', sport, dport, payload: Buffer.from(data) } } });
}
function tagged4(sport: number, vid = 100): Buffer {
  return buildFrame({ ...MACS, vlans: [{ vid, pcp: 3 }], payload: { kind: 'ipv4', src: '10.1.0.1', dst: '10.1.0.2', l4: { kind: 'udp', sport, dport: 53, payload: Buffer.from('q') } } });
}
const sp = (f: Uint8Array): number => vxlanSourcePort(f, 0, f.length);
/** The port of `frame` placed at `at` in a buffer whose other bytes are all `fill`. */
function spAt(frame: Uint8Array, at: number, len: number, fill: number): number {
  const b = Buffer.alloc(at + frame.length + 16, fill);
  b.set(frame.subarray(0, len), at);
  return vxlanSourcePort(b, at, len);
}
const inRange = (p: number): boolean => Number.isInteger(p) && p >= 49152 && p <= 65535;

describe('vxlanSourcePort', () => {
  it('is always in 49152-65535', () => {
    const ports: number[] = [];
    for (let i = 0; i < 500; i++) {
      ports.push(sp(tcp4(1024 + i * 97, 80 + i)), sp(udp6(i, 65535 - i)), sp(tagged4(i * 131, 1 + (i % 4094))));
    }
    ports.push(sp(Buffer.alloc(0)), sp(Buffer.alloc(14, 0xff)), sp(Buffer.alloc(1500, 0xff)), sp(Buffer.alloc(1500)));
    expect(ports.filter((p) => !inRange(p))).toEqual([]);
  });

  it('is the same for the same flow, whatever else differs (payload, seq, IP id, TTL) and wherever the frame sits', () => {
    const a = sp(tcp4(40000, 443, { seq: 1, id: 1, ttl: 64, data: 'first' }));
    expect(sp(tcp4(40000, 443, { seq: 99999, id: 777, ttl: 3, data: 'second, longer segment' }))).toBe(a);
    const f = tcp4(40000, 443);
    expect(spAt(f, 0, f.length, 0)).toBe(a);
    expect(spAt(f, 33, f.length, A5)).toBe(a);
    const u = sp(udp6(5353, 5353, 'x'));
    expect(sp(udp6(5353, 5353, 'a different datagram'))).toBe(u);
    // the tag's PCP is not part of the flow
    const t = buildFrame({ ...MACS, vlans: [{ vid: 100, pcp: 7 }], payload: { kind: 'ipv4', src: '10.1.0.1', dst: '10.1.0.2', l4: { kind: 'udp', sport: 9, dport: 53, payload: Buffer.from('q') } } });
    expect(sp(t)).toBe(sp(tagged4(9)));
  });

  it.each([
    ['TCP/IPv4 source ports', (i: number) => tcp4(30000 + i, 443)],
    ['TCP/IPv4 destination ports', (i: number) => tcp4(40000, 1000 + i)],
    ['UDP/IPv6 source ports', (i: number) => udp6(20000 + i, 4789)],
    ['tagged UDP/IPv4 source ports', (i: number) => tagged4(1000 + i)],
  ])('spreads flows that differ only in %s', (_what, make) => {
    const ports = new Set<number>();
    for (let i = 0; i < 256; i++) ports.add(sp(make(i)));
    // 256 flows into 16384 ports: a working hash gives almost all distinct (not all equal, by far)
    expect(ports.size).toBeGreaterThan(200);
  });

  it('depends on the addresses and MACs too', () => {
    const base = sp(tcp4(40000, 443));
    const otherIp = buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.9', dst: '10.0.0.2', l4: { kind: 'tcp', sport: 40000, dport: 443, payload: Buffer.from('hello') } } });
    const otherMac = buildFrame({ ...MACS, src: '02:00:00:00:00:09', payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'tcp', sport: 40000, dport: 443, payload: Buffer.from('hello') } } });
    expect(new Set([base, sp(otherIp), sp(otherMac)]).size).toBe(3);
  });

  describe('IPv4 fragments: no L4 bytes, so every fragment of a datagram takes the same path', () => {
    const frag = (opts: { mf: boolean; fragOffset: number; sport: number; dport: number; id?: number }): Buffer => {
      const l4 = Buffer.alloc(24, 0x11);
      l4.writeUInt16BE(opts.sport, 0); l4.writeUInt16BE(opts.dport, 2);
      const spec: FrameSpec = { ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', proto: 17, id: opts.id ?? 0x1234, mf: opts.mf, fragOffset: opts.fragOffset, l4: { kind: 'raw', data: l4 } } };
      return buildFrame(spec);
    };
    it('later fragments: whatever sits where the ports would be', () => {
      expect(sp(frag({ mf: true, fragOffset: 185, sport: 1, dport: 2 }))).toBe(sp(frag({ mf: false, fragOffset: 370, sport: 3333, dport: 4444 })));
    });
    it('the first fragment (MF set, offset 0) hashes like the rest of its datagram', () => {
      const first = sp(frag({ mf: true, fragOffset: 0, sport: 5000, dport: 53 }));
      const last = sp(frag({ mf: false, fragOffset: 185, sport: 0x1111, dport: 0x1111 }));
      expect(first).toBe(last);
      expect(sp(frag({ mf: true, fragOffset: 0, sport: 6000, dport: 54 }))).toBe(first);
    });
    it('an unfragmented datagram with DF still hashes its ports', () => {
      const df = (s: number): Buffer => buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', df: true, l4: { kind: 'udp', sport: s, dport: 53 } } });
      expect(sp(df(1000))).not.toBe(sp(df(1001)));
    });
  });

  describe.each([
    ['TCP/IPv4', tcp4(40000, 443)],
    ['UDP/IPv6', udp6(5353, 5353)],
    ['VLAN-tagged UDP/IPv4', tagged4(1234)],
    ['IPv4 with options (IHL 6)', (() => {
      const f = Buffer.from(tcp4(1, 2)), o = Buffer.alloc(f.length + 4);
      f.copy(o, 0, 0, 34); o.writeUInt32BE(0x01010100, 34); f.copy(o, 38, 34); o[14] = 0x46;
      return o;
    })()],
    ['IPv4 with a bad IHL (2)', (() => { const f = Buffer.from(tcp4(1, 2)); f[14] = 0x42; return f; })()],
  ])('truncation sweep: %s', (_name, frame) => {
    it('every prefix length: no throw, in range, and no byte past len read', () => {
      for (let len = 0; len <= frame.length; len++) {
        const a = spAt(frame, 3, len, 0xa5), b = spAt(frame, 3, len, 0x5a), c = spAt(frame, 0, len, 0x00);
        expect(inRange(a), `len ${len}`).toBe(true);
        expect([b, c], `len ${len}`).toEqual([a, a]);
      }
      expect(spAt(frame, 3, frame.length, 0)).toBe(sp(frame));
    });
  });
});

// ------------------------------------------------------------------------------------------

describe('vxlanVni', () => {
  it.each([
    ['I flag set', [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0], 0x12_3456],
    ['VNI 0', [0x08, 0, 0, 0, 0, 0, 0, 0], 0],
    ['VNI 2^24-1', [0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0], 0xff_ffff],
    ['reserved bits all set (ignored on receipt)', [0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x89, 0xff], 5001],
    ['I flag clear', [0x00, 0, 0, 0, 0x12, 0x34, 0x56, 0], -1],
    ['I flag clear, every other bit set', [0xf7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], -1],
  ])('%s', (_name, header, vni) => {
    const b = Buffer.alloc(20, A5);
    b.set(header, 9);
    expect(vxlanVni(b, 9)).toBe(vni);
  });
  it('reads what writeOuterV4 wrote', () => {
    const h = scratch(OUTER_V4_LEN);
    writeOuterV4(h, AT, 1, 2, 50000, 4789, 4242, 60);
    expect(vxlanVni(h, AT + 28)).toBe(4242);
  });
});

describe('parseTunnelAddr / formatTunnelAddr', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1', 0xc000_0201],
    ['10.0.0.1', '10.0.0.1', 0x0a00_0001],
    ['255.255.255.255', '255.255.255.255', 0xffff_ffff],
    ['0.0.0.0', '0.0.0.0', 0],
  ])('IPv4 %s', (text, canonical, w0) => {
    const a = parseTunnelAddr(text);
    expect(a).toEqual({ family: 4, w0, w1: 0, w2: 0, w3: 0, text: canonical });
    expect(formatTunnelAddr(4, a.w0, a.w1, a.w2, a.w3)).toBe(canonical);
    expect(parseTunnelAddr(a.text)).toEqual(a);
  });

  // RFC 5952 §4: lower case, no leading zeros, "::" for the longest run of two or more zero
  // groups (the first of equal runs), a single zero group not compressed.
  it.each([
    ['2001:db8::1', '2001:db8::1', [0x2001_0db8, 0, 0, 1]],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1', [0x2001_0db8, 0, 0, 1]],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1', [0xfd00_0000, 0, 0, 1]],
    ['::1', '::1', [0, 0, 0, 1]],
    ['::', '::', [0, 0, 0, 0]],
    ['fe80::', 'fe80::', [0xfe80_0000, 0, 0, 0]],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', [0x2001_0db8, 0x0000_0001, 0x0001_0001, 0x0001_0001]],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', [0x2001_0db8, 0, 0x0001_0000, 1]],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', [0x2001_0000, 0x0000_0001, 0, 1]],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff]],
  ])('IPv6 %s -> %s', (text, canonical, words) => {
    const a = parseTunnelAddr(text);
    expect(a).toEqual({ family: 6, w0: words[0], w1: words[1], w2: words[2], w3: words[3], text: canonical });
    expect(formatTunnelAddr(6, a.w0, a.w1, a.w2, a.w3)).toBe(canonical);
    expect(parseTunnelAddr(canonical)).toEqual(a);
  });

  it('formats words given as signed 32-bit numbers (as Int32Array holds them) the same', () => {
    expect(formatTunnelAddr(4, 0xc000_0201 | 0, 0, 0, 0)).toBe('192.0.2.1');
    expect(formatTunnelAddr(6, 0xfd00_0000 | 0, 0, 0, 0xffff_ffff | 0)).toBe('fd00::ffff:ffff');
  });

  it.each(['', 'hello', '300.1.1.1', '1.2.3', '1.2.3.4.5', '10.0.0.1/24', 'fd00::1::2', 'fd00::g', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'fd00::1%lo', ':'])(
    'refuses %j with a RangeError naming the text', (text) => {
      expect(() => parseTunnelAddr(text)).toThrow(RangeError);
      expect(() => parseTunnelAddr(text)).toThrow(`"${text}"`);
    });
});
