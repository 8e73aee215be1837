// completeChecksum: known-good frames from our builders (and from a third-party capture) get their
// TCP/UDP checksum zeroed, seeded as a sender using offload would, or spoiled, then completed and
// compared byte for byte; a reference checksum written here checks random frames; truncations,
// bogus headers and random bytes never throw and leave a frame they cannot complete unchanged.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildFrame, type FrameSpec, type L4Spec } from '../../../src/packet/build.js';
import { completeChecksum, CsumResult, CSUM_RESULT_NAMES, MAX_TAGS, looksPartial, seedPartialChecksum, sumWords } from '../../../src/packet/complete-checksum.js';
import { sumBytes } from '../../../src/packet/bytes.js';
import { parseCapture } from '../../../src/packet/capture.js';
import { Packet, HEADROOM } from '../../../src/packet/packet.js';
import { CAPTURES_DIR, vectorsPresent } from '../../helpers/pcap.js';

const SRC = '02:00:00:00:00:01', DST = '02:00:00:00:00:02';
const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 11) & 0xff);

function frame(ip: 4 | 6, l4: 'tcp' | 'udp', payloadLen: number, vlans?: FrameSpec['vlans'], padTo60 = false): Buffer {
  const spec: L4Spec = l4 === 'tcp'
    ? { kind: 'tcp', sport: 40000, dport: 5201, seq: 0x01020304, ack: 0x0a0b0c0d, flags: 0x18, payload: bytes(payloadLen) }
    : { kind: 'udp', sport: 40000, dport: 5201, payload: bytes(payloadLen) };
  return buildFrame({
    dst: DST, src: SRC, vlans, padTo60,
    payload: ip === 4 ? { kind: 'ipv4', src: '10.1.2.3', dst: '192.168.200.17', l4: spec } : { kind: 'ipv6', src: 'fd00::1', dst: '2001:db8:ffff::abcd', l4: spec },
  });
}

/** Offsets of the IP header, the L4 header and the checksum field (frames built here only). */
function layout(f: Uint8Array): { ip: number; v6: boolean; l4: number; field: number; proto: number } {
  let o = 12;
  while (((f[o] << 8) | f[o + 1]) === 0x8100 || ((f[o] << 8) | f[o + 1]) === 0x88a8) o += 4;
  const v6 = ((f[o] << 8) | f[o + 1]) === 0x86dd;
  const ip = o + 2;
  const proto = v6 ? f[ip + 6] : f[ip + 9];
  const l4 = v6 ? ip + 40 : ip + (f[ip] & 15) * 4;
  return { ip, v6, l4, proto, field: l4 + (proto === 6 ? 16 : 6) };
}

/** Reference (RFC 1071/768/793/8200), byte by byte over a pseudo-header built as a buffer. */
function reference(f: Uint8Array, ip: number, l4: number, l4Len: number, proto: number, v6: boolean): number {
  const ph = v6 ? Buffer.alloc(40) : Buffer.alloc(12);
  if (v6) { ph.set(f.subarray(ip + 8, ip + 40), 0); ph.writeUInt32BE(l4Len, 32); ph[39] = proto; }
  else { ph.set(f.subarray(ip + 12, ip + 20), 0); ph[9] = proto; ph.writeUInt16BE(l4Len, 10); }
  const all = Buffer.concat([ph, Buffer.from(f.subarray(l4, l4 + l4Len))]);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i] << 8) | (i + 1 < all.length ? all[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;   // 0xffff when the stored checksum is right
}
function verifies(f: Uint8Array): boolean {
  const { ip, v6, l4, proto } = layout(f);
  const l4Len = proto === 17 ? (f[l4 + 4] << 8) | f[l4 + 5] : (v6 ? (f[ip + 4] << 8) | f[ip + 5] : ((f[ip + 2] << 8) | f[ip + 3]) - (f[ip] & 15) * 4);
  return reference(f, ip, l4, l4Len, proto, v6) === 0xffff;
}

/** What a Linux sender using checksum offload leaves in the field: the folded pseudo-header sum. */
function pseudoSeed(f: Uint8Array): number {
  const { ip, v6, l4, proto } = layout(f);
  const l4Len = proto === 17 ? (f[l4 + 4] << 8) | f[l4 + 5] : (v6 ? (f[ip + 4] << 8) | f[ip + 5] : ((f[ip + 2] << 8) | f[ip + 3]) - (f[ip] & 15) * 4);
  const ph = v6 ? Buffer.alloc(40) : Buffer.alloc(12);
  if (v6) { ph.set(f.subarray(ip + 8, ip + 40), 0); ph.writeUInt32BE(l4Len, 32); ph[39] = proto; }
  else { ph.set(f.subarray(ip + 12, ip + 20), 0); ph[9] = proto; ph.writeUInt16BE(l4Len, 10); }
  let s = sumBytes(ph, 0, ph.length);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

type Seed = 'zero' | 'pseudo' | 'junk';
function spoil(f: Buffer, seed: Seed): Buffer {
  const g = Buffer.from(f);
  const { field } = layout(g);
  const v = seed === 'zero' ? 0 : seed === 'pseudo' ? pseudoSeed(g) : 0xa5a5;
  g.writeUInt16BE(v, field);
  return g;
}

const CASES: Array<[string, Buffer]> = [
  ['ipv4 tcp, no payload', frame(4, 'tcp', 0)],
  ['ipv4 tcp, 1 byte (odd)', frame(4, 'tcp', 1)],
  ['ipv4 tcp, 7 bytes (odd)', frame(4, 'tcp', 7)],
  ['ipv4 tcp, 1460 bytes (full MSS)', frame(4, 'tcp', 1460)],
  ['ipv4 tcp, 1459 bytes (odd)', frame(4, 'tcp', 1459)],
  ['ipv4 udp, no payload', frame(4, 'udp', 0)],
  ['ipv4 udp, 3 bytes (odd)', frame(4, 'udp', 3)],
  ['ipv4 udp, 1472 bytes', frame(4, 'udp', 1472)],
  ['ipv4 udp, 2 bytes, padded to 60', frame(4, 'udp', 2, undefined, true)],
  ['ipv6 tcp, no payload', frame(6, 'tcp', 0)],
  ['ipv6 tcp, 1440 bytes', frame(6, 'tcp', 1440)],
  ['ipv6 tcp, 13 bytes (odd)', frame(6, 'tcp', 13)],
  ['ipv6 udp, 1 byte (odd)', frame(6, 'udp', 1)],
  ['ipv6 udp, 1452 bytes', frame(6, 'udp', 1452)],
  ['802.1Q ipv4 tcp, 100 bytes', frame(4, 'tcp', 100, [{ vid: 10, pcp: 5 }])],
  ['802.1Q ipv6 udp, 33 bytes (odd)', frame(6, 'udp', 33, [{ vid: 4000 }])],
  ['802.1ad + 802.1Q ipv4 udp, 9 bytes (odd)', frame(4, 'udp', 9, [{ tpid: 0x88a8, vid: 200 }, { vid: 30 }])],
  ['802.1ad + 802.1Q ipv6 tcp, 1000 bytes', frame(6, 'tcp', 1000, [{ tpid: 0x88a8, vid: 200 }, { vid: 30 }])],
  ['ipv4 tcp, 8000 bytes (jumbo)', frame(4, 'tcp', 8000)],
];

describe('completeChecksum on known-good frames', () => {
  it('the builder frames are known-good (reference checksum verifies)', () => {
    for (const [name, f] of CASES) expect(verifies(f), name).toBe(true);
  });

  for (const seed of ['zero', 'pseudo', 'junk'] as const) {
    it.each(CASES)(`%s: field ${seed} -> completed to the builder's bytes`, (_name, good) => {
      const f = spoil(good, seed);
      if (seed !== 'junk') expect(f.equals(good)).toBe(false);
      expect(completeChecksum(f, 0, f.length)).toBe(CsumResult.Completed);
      expect(f.toString('hex')).toBe(good.toString('hex'));
    });
  }

  it.each(CASES)('%s: same result at any offset and alignment, inside a Packet and a pooled slice', (_name, good) => {
    for (const at of [1, 2, 3, 37, HEADROOM]) {
      const big = Buffer.alloc(at + good.length + 5, 0xa5);
      spoil(good, 'pseudo').copy(big, at);
      expect(completeChecksum(big, at, good.length)).toBe(CsumResult.Completed);
      expect(big.subarray(at, at + good.length).equals(good)).toBe(true);
      expect(big[at - 1]).toBe(0xa5);                        // nothing outside the frame written
      expect(big[at + good.length]).toBe(0xa5);
    }
    const p = new Packet(HEADROOM + good.length + 64);
    p.load(spoil(good, 'zero'), 0, good.length);
    expect(completeChecksum(p.buf, p.off, p.len)).toBe(CsumResult.Completed);
    expect(p.frame().equals(good)).toBe(true);
    // A Buffer.from() slice of Node's shared pool: byteOffset is not 0.
    const slice = Buffer.from(spoil(good, 'junk').subarray(0, good.length));
    const outer = Buffer.concat([Buffer.alloc(7, 1), slice]).subarray(7);
    expect(outer.byteOffset).not.toBe(0);
    expect(completeChecksum(outer, 0, outer.length)).toBe(CsumResult.Completed);
    expect(outer.equals(good)).toBe(true);
  });

  it('a UDP checksum that computes to 0 is sent as 0xffff; TCP keeps 0x0000', () => {
    for (const v of [4, 6] as const) {
      for (const proto of ['udp', 'tcp'] as const) {
        // Two payload bytes chosen so that the whole sum is 0xffff (checksum 0).
        const f = frame(v, proto, 2);
        const { field, l4 } = layout(f);
        const pay = l4 + (proto === 'udp' ? 8 : 20);
        f.writeUInt16BE(0, pay);
        f.writeUInt16BE(0, field);
        const { ip } = layout(f);
        const l4Len = f.length - l4;
        let s = reference(f, ip, l4, l4Len, proto === 'udp' ? 17 : 6, v === 6);
        s = s === 0xffff ? 0 : s;                            // sum without the payload word, folded
        f.writeUInt16BE(0xffff - s, pay);
        expect(completeChecksum(f, 0, f.length)).toBe(CsumResult.Completed);
        expect(f.readUInt16BE(field), `${proto} over ipv${v}`).toBe(proto === 'udp' ? 0xffff : 0);
        expect(verifies(f)).toBe(true);
      }
    }
  });

  it('random frames (v4/v6, tcp/udp, 0-2 tags, 0-1600 bytes, any offset) verify against the reference', () => {
    fc.assert(fc.property(
      fc.constantFrom(4 as const, 6 as const), fc.constantFrom('tcp' as const, 'udp' as const), fc.integer({ min: 0, max: 1600 }),
      fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 0xffff }),
      (v, proto, n, tags, at, junk) => {
        const vlans = tags === 0 ? undefined : tags === 1 ? [{ vid: 7 }] : [{ tpid: 0x88a8, vid: 8 }, { vid: 9 }];
        const good = frame(v, proto, n, vlans);
        const big = Buffer.alloc(at + good.length);
        good.copy(big, at);
        big.writeUInt16BE(junk, at + layout(good).field);
        expect(completeChecksum(big, at, good.length)).toBe(CsumResult.Completed);
        const out = big.subarray(at);
        expect(verifies(out)).toBe(true);
        expect(out.equals(good)).toBe(true);
      }), { numRuns: 300 });
  });

  it('sumWords agrees with the byte loop of bytes.ts at every length and alignment', () => {
    const b = Buffer.from(bytes(300, 5));
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const fold = (s: number): number => { while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000); return s; };
    for (let o = 0; o < 8; o++) for (let len = 0; len <= 80; len++) {
      expect(fold(sumWords(dv, o, len)), `o=${o} len=${len}`).toBe(fold(sumBytes(b, o, len)));
    }
  });
});

/** IPv6 frame with extension headers before `l4` (each [nextHeader-type, bytes]); built by hand. */
function ipv6WithExt(exts: Array<{ type: number; len8: number; segLeft?: number }>, l4: 'tcp' | 'udp', payloadLen: number): { good: Buffer; f: Buffer } {
  const base = frame(6, l4, payloadLen);
  const ip = 14;
  const seg = base.subarray(ip + 40);
  const extBytes = exts.reduce((a, e) => a + (e.len8 + 1) * 8, 0);
  const f = Buffer.alloc(base.length + extBytes);
  base.copy(f, 0, 0, ip + 40);
  f.writeUInt16BE(seg.length + extBytes, ip + 4);
  f[ip + 6] = exts[0].type;
  let o = ip + 40;
  exts.forEach((e, i) => {
    f[o] = i + 1 < exts.length ? exts[i + 1].type : (l4 === 'tcp' ? 6 : 17);
    f[o + 1] = e.len8;
    if (e.type === 43) { f[o + 2] = 4; f[o + 3] = e.segLeft ?? 0; }
    o += (e.len8 + 1) * 8;
  });
  seg.copy(f, o);
  // The good frame: checksum over the same segment (extension headers are not in the pseudo-header).
  const good = Buffer.from(f);
  return { good, f };
}

describe('completeChecksum: headers it walks, and frames it refuses', () => {
  it('IPv6 hop-by-hop, destination options and a routing header with no segments left are walked', () => {
    const { good } = ipv6WithExt([{ type: 0, len8: 0 }, { type: 60, len8: 1 }, { type: 43, len8: 2, segLeft: 0 }], 'tcp', 21);
    // The builder's checksum of the segment does not depend on what sits before it: it is still good.
    const f = Buffer.from(good);
    const field = f.length - (20 + 21) + 16;
    const want = f.readUInt16BE(field);
    f.writeUInt16BE(0x1234, field);
    expect(completeChecksum(f, 0, f.length)).toBe(CsumResult.Completed);
    expect(f.readUInt16BE(field)).toBe(want);
    expect(f.equals(good)).toBe(true);
  });

  it('IPv4 options are skipped (IHL 7)', () => {
    const base = frame(4, 'udp', 5);
    const f = Buffer.alloc(base.length + 8);
    base.copy(f, 0, 0, 34);
    f[14] = 0x47; f.writeUInt16BE(f.readUInt16BE(16) + 8, 16);
    f.fill(1, 34, 42);                                       // 8 bytes of NOP options
    base.copy(f, 42, 34);
    const field = 42 + 6;
    const good = Buffer.from(f);
    f.writeUInt16BE(0, field);
    expect(completeChecksum(f, 0, f.length)).toBe(CsumResult.Completed);
    expect(f.readUInt16BE(field)).toBe(good.readUInt16BE(field));
  });

  const v4 = frame(4, 'udp', 20), v4t = frame(4, 'tcp', 20), v6 = frame(6, 'tcp', 20);
  const mut = (f: Buffer, fn: (g: Buffer) => void): Buffer => { const g = Buffer.from(f); fn(g); return g; };
  const BAD: Array<[string, Buffer, number]> = [
    ['runt (13 bytes)', v4.subarray(0, 13), CsumResult.Truncated],
    ['ARP', buildFrame({ dst: DST, src: SRC, payload: { kind: 'arp', op: 1, sha: SRC, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' } }), CsumResult.NotIp],
    [`${MAX_TAGS + 1} VLAN tags`, frame(4, 'tcp', 4, Array.from({ length: MAX_TAGS + 1 }, (_, i) => ({ vid: i + 1 }))), CsumResult.NotIp],
    ['IPv4 version 5', mut(v4, (g) => { g[14] = 0x55; }), CsumResult.BadHeader],
    ['IPv4 IHL 4', mut(v4, (g) => { g[14] = 0x44; }), CsumResult.BadHeader],
    ['IPv4 IHL beyond total length', mut(v4, (g) => { g[14] = 0x4f; g.writeUInt16BE(40, 16); }), CsumResult.BadHeader],
    ['IPv4 total length beyond the frame', mut(v4, (g) => { g.writeUInt16BE(g.length, 16); }), CsumResult.Truncated],
    ['IPv4 more-fragments', mut(v4, (g) => { g[20] |= 0x20; }), CsumResult.Unsupported],
    ['IPv4 later fragment', mut(v4, (g) => { g.writeUInt16BE(0x0010, 20); }), CsumResult.Unsupported],
    ['IPv4 SCTP', mut(v4, (g) => { g[23] = 132; }), CsumResult.Unsupported],
    ['IPv4 TCP segment of 19 bytes', mut(v4t, (g) => { g.writeUInt16BE(20 + 19, 16); }), CsumResult.Truncated],
    ['UDP length 7', mut(v4, (g) => { g.writeUInt16BE(7, 38); }), CsumResult.BadHeader],
    ['UDP length beyond the IP payload', mut(v4, (g) => { g.writeUInt16BE(29, 38); }), CsumResult.BadHeader],
    ['IPv6 version 4 in an 0x86dd frame', mut(v6, (g) => { g[14] = 0x40; }), CsumResult.BadHeader],
    ['IPv6 payload length 0 (jumbogram)', mut(v6, (g) => { g.writeUInt16BE(0, 18); }), CsumResult.Unsupported],
    ['IPv6 payload length beyond the frame', mut(v6, (g) => { g.writeUInt16BE(41, 18); }), CsumResult.Truncated],
    ['IPv6 fragment header', mut(v6, (g) => { g[20] = 44; }), CsumResult.Unsupported],
    ['IPv6 routing header with segments left', ipv6WithExt([{ type: 43, len8: 2, segLeft: 1 }], 'udp', 4).f, CsumResult.Unsupported],
    ['IPv6 extension header longer than the payload', mut(ipv6WithExt([{ type: 60, len8: 0 }], 'udp', 4).f, (g) => { g[55] = 9; }), CsumResult.Truncated],
    ['IPv6 extension header cut short', mut(v6, (g) => { g[20] = 0; g.writeUInt16BE(6, 18); }), CsumResult.Truncated],
  ];
  it.each(BAD.map(([name, f, want]) => [name, CSUM_RESULT_NAMES[want], f] as const))('%s -> %s, frame unchanged', (_name, want, f) => {
    const before = Buffer.from(f);
    expect(CSUM_RESULT_NAMES[completeChecksum(f, 0, f.length)]).toBe(want);
    expect(f.equals(before)).toBe(true);
  });

  it('truncation sweep: every prefix of every case either completes (whole IP datagram present) or is left unchanged', () => {
    for (const [name, good] of CASES) {
      const { ip, v6 } = layout(good);
      const ipEnd = ip + (v6 ? 40 + good.readUInt16BE(ip + 4) : good.readUInt16BE(ip + 2));
      for (let n = 0; n <= good.length; n++) {
        const f = Buffer.alloc(n + 4, 0xa5);
        spoil(good, 'pseudo').copy(f, 2, 0, n);
        const before = Buffer.from(f);
        const r = completeChecksum(f, 2, n);
        if (n >= ipEnd) {
          expect(r, `${name} prefix ${n}`).toBe(CsumResult.Completed);
          expect(f.subarray(2, 2 + n).equals(good.subarray(0, n))).toBe(true);
        } else {
          expect(r, `${name} prefix ${n}`).not.toBe(CsumResult.Completed);
          expect(f.equals(before)).toBe(true);
        }
      }
    }
  });

  it('random bytes never throw; a frame that is not completed is not touched', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom(0x0800, 0x86dd, 0x8100), (body, et) => {
      const f = Buffer.alloc(14 + body.length);
      f.writeUInt16BE(et, 12); f.set(body, 14);
      const before = Buffer.from(f);
      const r = completeChecksum(f, 0, f.length);
      expect(r >= 0 && r < CSUM_RESULT_NAMES.length).toBe(true);
      if (r !== CsumResult.Completed) expect(f.equals(before)).toBe(true);
    }), { numRuns: 2000 });
  });
});

describe.skipIf(!vectorsPresent)('completeChecksum against a third-party capture (of13_ericsson.pcapng, tcpdump test suite)', () => {
  // Captured on the sending host's loopback, which offloads checksums: nearly every TCP segment
  // holds only the pseudo-header seed, exactly what AF_PACKET hands us with TP_STATUS_CSUMNOTREADY.
  it('segments left to offload (field = pseudo-header seed) complete to a verifying checksum, nothing else changes', () => {
    const recs = parseCapture(readFileSync(`${CAPTURES_DIR}of13_ericsson.pcapng`), 'of13_ericsson.pcapng');
    let partial = 0, complete = 0;
    for (const r of recs) {
      const f = Buffer.from(r.data);
      if (f.length < 54 || f.readUInt16BE(12) !== 0x0800 || f[23] !== 6) continue;
      const { field } = layout(f);
      const g = Buffer.from(f);
      if (verifies(f)) {
        g.writeUInt16BE(0, field);
        expect(completeChecksum(g, 0, g.length)).toBe(CsumResult.Completed);
        expect(g.equals(f)).toBe(true);
        complete++;
      } else {
        expect(f.readUInt16BE(field)).toBe(pseudoSeed(f));
        expect(completeChecksum(g, 0, g.length)).toBe(CsumResult.Completed);
        expect(verifies(g)).toBe(true);
        g.writeUInt16BE(f.readUInt16BE(field), field);
        expect(g.equals(f)).toBe(true);
        partial++;
      }
    }
    expect(partial).toBeGreaterThan(100);
    expect(complete).toBeGreaterThan(0);
  });
});

describe('looksPartial (a checksum left to offload, recognised from the bytes alone)', () => {
  it.each([[4, 'tcp'], [4, 'udp'], [6, 'tcp'], [6, 'udp']] as const)('IPv%s %s: the pseudo-header seed says partial; a completed checksum does not', (ip, l4) => {
    const f = frame(ip, l4, 333);
    const { ip: ipOff, v6, l4: l4Off, proto } = layout(f);
    const l4Len = f.length - l4Off;
    seedPartialChecksum(f, ipOff, l4Off, l4Len, proto, v6);
    expect(looksPartial(f, 0, f.length)).toBe(true);
    expect(completeChecksum(f, 0, f.length)).toBe(CsumResult.Completed);
    expect(looksPartial(f, 0, f.length)).toBe(false);
  });

  it('IPv4 UDP without a checksum (0), ARP, and every truncation are not partial, and nothing throws', () => {
    const u = frame(4, 'udp', 40);
    const { field } = layout(u);
    u[field] = 0; u[field + 1] = 0;
    expect(looksPartial(u, 0, u.length)).toBe(false);
    const arp = buildFrame({ dst: DST, src: SRC, payload: { kind: 'arp', op: 1, sha: SRC, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' } });
    expect(looksPartial(arp, 0, arp.length)).toBe(false);
    const t = frame(6, 'tcp', 50);
    const L = layout(t);
    seedPartialChecksum(t, L.ip, L.l4, t.length - L.l4, L.proto, L.v6);
    for (let n = 0; n < t.length; n++) expect(looksPartial(t, 0, n)).toBe(false);
  });
});
