// Builders: lengths, checksums and fields of built frames, checked through the views (and, for
// checksums, by tshark in capture.test.ts).
import { describe, expect, it } from 'vitest';
import { buildFrame, buildVxlan } from '../../../src/packet/build.js';
import { Ipv6View } from '../../../src/packet/ipv6.js';
import { TcpView } from '../../../src/packet/tcp.js';
import { UdpView } from '../../../src/packet/udp.js';
import { expectArp, expectEthernet, expectIcmp, expectIpv4, expectUdp, expectVxlan } from '../../helpers/frames.js';

const MACS = { dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01' };

describe('buildFrame', () => {
  it('ARP request in a tagged frame, padded to 60', () => {
    const f = buildFrame({ ...MACS, vlans: [{ vid: 100, pcp: 6 }], payload: { kind: 'arp', op: 1, sha: MACS.src, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' }, padTo60: true });
    expectEthernet(f, { ...MACS, etherType: 0x0806, vid: 100, pcp: 6, tpid: 0x8100, len: 60 });
    expectArp(f, { op: 1, sha: MACS.src, spa: '10.0.0.1', tpa: '10.0.0.2' });
    expect(f.subarray(18 + 28).every((b) => b === 0)).toBe(true);
  });
  it('without padTo60 the frame is exactly its headers', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'arp', op: 2, sha: MACS.src, spa: '10.0.0.1', tha: MACS.src, tpa: '10.0.0.2' } });
    expect(f.length).toBe(42);
    expectEthernet(f, { vid: null });
  });
  it('UDP/IPv4 with lengths and both checksums', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', ttl: 9, tos: 0x10, l4: { kind: 'udp', sport: 1000, dport: 2000, payload: Buffer.from('abc') } } });
    expect(f.length).toBe(14 + 20 + 8 + 3);
    expectIpv4(f, { src: '10.0.0.1', dst: '10.0.0.2', ttl: 9, tos: 0x10, totalLen: 31, checksumOk: true });
    expectUdp(f, { sport: 1000, dport: 2000, length: 11, checksumOk: true });
    expect(f.readUInt16BE(40)).not.toBe(0);
    f[44] ^= 0xff;                                   // corrupt the payload
    expectUdp(f, { checksumOk: false });
  });
  it('UDP checksum can be left out (0)', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, checksum: false } } });
    expect(f.readUInt16BE(40)).toBe(0);
  });
  it('ICMP echo with id, seq and checksum', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'icmp', type: 8, code: 0, id: 1, seq: 2, payload: Buffer.alloc(56, 7) } } });
    expect(f.length).toBe(98);
    expectIcmp(f, { type: 8, code: 0, id: 1, seq: 2, checksumOk: true });
  });
  it('TCP/IPv6 with payload: lengths and checksum', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', flowLabel: 0x12345, l4: { kind: 'tcp', sport: 1, dport: 2, seq: 7, payload: Buffer.from('data') } } });
    const ip = new Ipv6View().reset(f, 14, f.length - 14);
    expect([ip.checkLen(), ip.payloadLen, ip.nextHeader, ip.flowLabel]).toEqual([true, 24, 6, 0x12345]);
    const t = new TcpView().reset(f, 54, 24);
    expect([t.checkLen(), t.seq, t.flags, t.verifyChecksumV6(14)]).toEqual([true, 7, 2, true]);
  });
  it('UDP over IPv6 always gets a checksum', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', l4: { kind: 'udp', sport: 1, dport: 2, checksum: false } } });
    const u = new UdpView().reset(f, 54, 8);
    expect(u.checksum).not.toBe(0);
    expect(u.verifyChecksumV6(14)).toBe(true);
  });
  it('raw payload with its own ethertype; bad addresses throw TypeError', () => {
    const f = buildFrame({ ...MACS, payload: { kind: 'raw', etherType: 0x88cc, data: Buffer.from([1, 2, 3]) } });
    expectEthernet(f, { etherType: 0x88cc, len: 17 });
    expect(() => buildFrame({ ...MACS, dst: 'nope', payload: { kind: 'raw', etherType: 1, data: Buffer.alloc(0) } })).toThrow(TypeError);
    expect(() => buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.256', dst: '1.1.1.1' } })).toThrow(TypeError);
  });
});

describe('buildVxlan', () => {
  it('wraps an inner frame with outer IPv4/UDP 4789 and the VNI', () => {
    const inner = buildFrame({ ...MACS, payload: { kind: 'arp', op: 1, sha: MACS.src, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' } });
    const f = buildVxlan({ outer: { dst: '02:00:00:00:00:aa', src: '02:00:00:00:00:bb', ipSrc: '192.168.0.1', ipDst: '192.168.0.2', sport: 33333 }, vni: 5001, inner });
    expect(f.length).toBe(50 + inner.length);
    expectEthernet(f, { dst: '02:00:00:00:00:aa', etherType: 0x0800 });
    expectIpv4(f, { src: '192.168.0.1', dst: '192.168.0.2', proto: 17, totalLen: 36 + inner.length, checksumOk: true });
    expectUdp(f, { sport: 33333, dport: 4789, length: 16 + inner.length });
    expect(expectVxlan(f, { vni: 5001 }).equals(inner)).toBe(true);
  });
  it('custom port and IPv6 underlay', () => {
    const inner = buildFrame({ ...MACS, payload: { kind: 'raw', etherType: 0x0800, data: Buffer.alloc(20) } });
    const f = buildVxlan({ outer: { dst: MACS.dst, src: MACS.src, ipSrc: 'fd00::1', ipDst: 'fd00::2', dport: 8472 }, vni: 0xabcdef, inner });
    expectEthernet(f, { etherType: 0x86dd });
    const u = new UdpView().reset(f, 54, f.length - 54);
    expect([u.dstPort, u.length, u.verifyChecksumV6(14)]).toEqual([8472, 16 + inner.length, true]);
    expect(f.readUIntBE(54 + 8 + 4, 3)).toBe(0xabcdef);
  });
});
