// summarizeFrame: the one-line text for each frame kind and for each way a frame can be cut.
import { describe, expect, it } from 'vitest';
import { buildFrame, buildVxlan } from '../../../src/packet/build.js';
import { summarizeFrame } from '../../../src/packet/summary.js';
import { TcpFlag } from '../../../src/packet/tcp.js';

const MACS = { dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01' };
const arp = buildFrame({ ...MACS, vlans: [{ vid: 100 }], payload: { kind: 'arp', op: 1, sha: MACS.src, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' }, padTo60: true });
const ping = buildFrame({ dst: '02:00:00:00:00:02', src: MACS.src, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'icmp', type: 8, code: 0, id: 1, seq: 2, payload: Buffer.alloc(56) } } });

describe('summarizeFrame', () => {
  it('ARP in 802.1Q', () => {
    expect(summarizeFrame(arp)).toBe('02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, 802.1Q vlan 100 p 0, ARP who-has 10.0.0.2 tell 10.0.0.1, len 60');
  });
  it('ICMP echo', () => {
    expect(summarizeFrame(ping)).toBe('02:00:00:00:00:01 > 02:00:00:00:00:02, IPv4 10.0.0.1 > 10.0.0.2 ICMP echo request id 1 seq 2, len 98');
  });
  it('UDP, TCP, IPv6, ARP reply, QinQ, other ethertypes', () => {
    const udp = buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1234, dport: 53, payload: Buffer.alloc(4) } } });
    expect(summarizeFrame(udp)).toMatch(/IPv4 10\.0\.0\.1\.1234 > 10\.0\.0\.2\.53 UDP length 4, len 46$/);
    const tcp = buildFrame({ ...MACS, payload: { kind: 'ipv6', src: 'fd00::1', dst: 'fd00::2', l4: { kind: 'tcp', sport: 5, dport: 80, seq: 9, flags: TcpFlag.SYN | TcpFlag.ACK } } });
    expect(summarizeFrame(tcp)).toMatch(/IPv6 fd00::1\.5 > fd00::2\.80 TCP \[S\.\] seq 9 ack 0 win 65535, length 0, len 74$/);
    const reply = buildFrame({ ...MACS, vlans: [{ tpid: 0x88a8, vid: 200, pcp: 3 }, { vid: 2001 }], payload: { kind: 'arp', op: 2, sha: MACS.src, spa: '10.0.0.1', tha: MACS.dst, tpa: '10.0.0.2' } });
    expect(summarizeFrame(reply)).toBe('02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, 802.1ad vlan 200 p 3, 802.1Q vlan 2001 p 0, ARP reply 10.0.0.1 is-at 02:00:00:00:00:01, len 50');
    const lldp = buildFrame({ ...MACS, payload: { kind: 'raw', etherType: 0x88cc, data: Buffer.alloc(10) } });
    expect(summarizeFrame(lldp)).toContain('ethertype LLDP (0x88cc), len 24');
    const odd = buildFrame({ ...MACS, payload: { kind: 'raw', etherType: 0x1234, data: Buffer.alloc(1) } });
    expect(summarizeFrame(odd)).toContain('ethertype 0x1234, len 15');
  });
  it('VXLAN with the inner summary in brackets', () => {
    const f = buildVxlan({ outer: { dst: '02:00:00:00:00:aa', src: '02:00:00:00:00:bb', ipSrc: '192.168.0.1', ipDst: '192.168.0.2', sport: 40000 }, vni: 42, inner: ping });
    expect(summarizeFrame(f)).toBe(`02:00:00:00:00:bb > 02:00:00:00:00:aa, IPv4 192.168.0.1.40000 > 192.168.0.2.4789 UDP VXLAN vni 42 [${summarizeFrame(ping)}], len ${ping.length + 50}`);
  });
  it('names where a frame is cut short', () => {
    expect(summarizeFrame(Buffer.alloc(10))).toBe('runt (10 bytes)');
    expect(summarizeFrame(arp, 0, 16)).toBe('02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, truncated 802.1Q tag, len 16');
    expect(summarizeFrame(arp, 0, 30)).toContain('ARP truncated (12 of 28 bytes)');
    expect(summarizeFrame(ping, 0, 30)).toContain('IPv4 truncated (16 of 20 bytes)');
    // 26 of 84 IPv4 bytes: the ICMP header (6 bytes of it) is still named, and the cut is reported.
    expect(summarizeFrame(ping, 0, 40)).toContain('IPv4 10.0.0.1 > 10.0.0.2 ICMP echo request (truncated, 26 of 84 bytes), len 40');
    expect(summarizeFrame(ping, 0, 37)).toContain('ICMP truncated (3 of 4 bytes)');
  });
  it('respects off and len inside a larger buffer, and never throws on any prefix', () => {
    const big = Buffer.concat([Buffer.alloc(7, 0xee), ping, Buffer.alloc(9, 0xee)]);
    expect(summarizeFrame(big, 7, ping.length)).toBe(summarizeFrame(ping));
    const vx = buildVxlan({ outer: { dst: MACS.dst, src: MACS.src, ipSrc: '1.1.1.1', ipDst: '2.2.2.2' }, vni: 1, inner: arp });
    for (const f of [arp, ping, vx]) for (let n = 0; n <= f.length; n++) expect(typeof summarizeFrame(f, 0, n)).toBe('string');
  });
});
