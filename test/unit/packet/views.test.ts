// Header views, smoltcp style: deconstruct (getters against known bytes), construct (setters into
// a 0xa5-filled buffer, byte for byte), and a truncation sweep over every fixture.
import { describe, expect, it } from 'vitest';
import { ArpView, emitArp, parseArp } from '../../../src/packet/arp.js';
import { EthernetView, emitEthernet, parseEthernet } from '../../../src/packet/ethernet.js';
import { formatIpv4, parseIpv4 } from '../../../src/packet/flow-key.js';
import { Icmpv6View, IcmpView } from '../../../src/packet/icmp.js';
import { Ipv4View } from '../../../src/packet/ipv4.js';
import { formatIpv6, Ipv6View, parseIpv6 } from '../../../src/packet/ipv6.js';
import { TcpFlag, TcpView, formatTcpFlags } from '../../../src/packet/tcp.js';
import { UdpView } from '../../../src/packet/udp.js';
import { emitVlanTag, parseVlanTag, VlanTagView } from '../../../src/packet/vlan.js';
import { VxlanView } from '../../../src/packet/vxlan.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const ETH = hex('ffffffffffff 020000000001 0806');
const TAG = hex('8100 b064 0800');                       // pcp 5, dei 1, vid 100, then IPv4
const ARP = hex('0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002');
const IPV4 = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');   // the classic RFC 1071 worked example header
const IPV6 = hex('6abb986b 100a 06 40 fd000000000000000000000000000002 fd000000000000000000000000000001');
const UDP = hex('b05d 12b5 0080 0000');
const TCP = hex('90eb a24b 72c5d578 9bd3a673 8018 00a6 9ec8 0000 0101080a dd7d5faf 35a5a046');
const ICMP = hex('0800 f2f2 050c 0001');   // 0x0800 + 0x050c + 0x0001 = 0x0d0d, complement 0xf2f2
const VXLAN = hex('08000000 00006400');

describe('EthernetView', () => {
  it('deconstructs', () => {
    const v = new EthernetView().reset(ETH, 0, ETH.length);
    expect(v.checkLen()).toBe(true);
    expect(v.dstMac).toBe(0xffff_ffff_ffff);
    expect(v.srcMac).toBe(0x0200_0000_0001);
    expect(v.etherType).toBe(0x0806);
    expect(parseEthernet(v)).toEqual({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', etherType: 0x0806 });
  });
  it('constructs at an offset', () => {
    const buf = Buffer.alloc(ETH.length + 4, 0xa5);
    emitEthernet({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', etherType: 0x0806 }, new EthernetView().reset(buf, 2, ETH.length));
    expect(buf.subarray(2, 2 + ETH.length).equals(ETH)).toBe(true);
    expect([buf[0], buf[1], buf[buf.length - 2], buf[buf.length - 1]]).toEqual([0xa5, 0xa5, 0xa5, 0xa5]);
  });
});

describe('VlanTagView', () => {
  it('deconstructs', () => {
    const v = new VlanTagView().reset(TAG, 0, TAG.length);
    expect(v.checkLen()).toBe(true);
    expect(parseVlanTag(v)).toEqual({ tpid: 0x8100, pcp: 5, dei: 1, vid: 100, etherType: 0x0800 });
    expect(v.tci).toBe(0xb064);
  });
  it('constructs', () => {
    const buf = Buffer.alloc(6, 0xa5);
    emitVlanTag({ tpid: 0x8100, pcp: 5, dei: 1, vid: 100, etherType: 0x0800 }, new VlanTagView().reset(buf, 0, 6));
    expect(buf).toEqual(TAG);
  });
  it('setters change only their bits', () => {
    const buf = Buffer.from(TAG);
    const v = new VlanTagView().reset(buf, 0, 6);
    v.vid = 4094;
    expect([v.pcp, v.dei, v.vid]).toEqual([5, 1, 4094]);
    v.pcp = 0; v.dei = 0;
    expect([v.pcp, v.dei, v.vid, v.tci]).toEqual([0, 0, 4094, 0x0ffe]);
  });
});

describe('ArpView', () => {
  it('deconstructs', () => {
    const v = new ArpView().reset(ARP, 0, ARP.length);
    expect(v.checkLen()).toBe(true);
    expect(v.isEthIpv4()).toBe(true);
    expect(parseArp(v)).toEqual({ op: 1, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' });
  });
  it('constructs', () => {
    const buf = Buffer.alloc(28, 0xa5);
    emitArp({ op: 1, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' }, new ArpView().reset(buf, 0, 28));
    expect(buf).toEqual(ARP);
  });
  it('checkLen follows hlen/plen', () => {
    const odd = Buffer.from(ARP);
    odd[4] = 14;                                   // hlen 14: needs 8 + 2 * 18 = 44 bytes
    const v = new ArpView().reset(odd, 0, odd.length);
    expect(v.checkLen()).toBe(false);
    expect(v.reset(Buffer.concat([odd, Buffer.alloc(16)]), 0, 44).checkLen()).toBe(true);
    expect(v.isEthIpv4()).toBe(false);
  });
});

describe('Ipv4View', () => {
  it('deconstructs and verifies the checksum', () => {
    const v = new Ipv4View().reset(IPV4, 0, IPV4.length);
    expect(v.checkLen()).toBe(true);
    expect([v.version, v.headerLen, v.tos, v.totalLen, v.ident]).toEqual([4, 20, 0, 0x73, 0]);
    expect([v.dontFrag, v.moreFrags, v.fragOffset, v.ttl, v.protocol]).toEqual([true, false, 0, 64, 17]);
    expect(v.checksum).toBe(0xb861);
    expect(formatIpv4(v.src)).toBe('192.168.0.1');
    expect(formatIpv4(v.dst)).toBe('192.168.0.199');
    expect(v.verifyChecksum()).toBe(true);
    expect(v.computeChecksum()).toBe(0xb861);
    expect(v.checksum).toBe(0xb861);               // compute leaves the field alone
  });
  it('constructs, checksum included', () => {
    const buf = Buffer.alloc(20, 0xa5);
    const v = new Ipv4View().reset(buf, 0, 20);
    v.version = 4; v.headerLen = 20; v.tos = 0; v.totalLen = 0x73; v.ident = 0;
    buf[6] = 0; buf[7] = 0; v.dontFrag = true; v.moreFrags = false; v.fragOffset = 0;
    v.ttl = 64; v.protocol = 17; v.src = parseIpv4('192.168.0.1'); v.dst = parseIpv4('192.168.0.199');
    v.fillChecksum();
    expect(buf).toEqual(IPV4);
  });
  it('detects a corrupted header', () => {
    const bad = Buffer.from(IPV4);
    bad[8] = 63;
    expect(new Ipv4View().reset(bad, 0, 20).verifyChecksum()).toBe(false);
  });
  it('dscp/ecn and fragment setters keep neighbouring bits', () => {
    const buf = Buffer.from(IPV4);
    const v = new Ipv4View().reset(buf, 0, 20);
    v.dscp = 46; v.ecn = 1;
    expect([v.tos, v.dscp, v.ecn]).toEqual([0xb9, 46, 1]);
    v.fragOffset = 185; v.moreFrags = true;
    expect([v.dontFrag, v.moreFrags, v.fragOffset]).toEqual([true, true, 185]);
  });
  it('checkLen rejects IHL < 5, version 6 and options past len', () => {
    const b = Buffer.from(IPV4);
    b[0] = 0x44;
    expect(new Ipv4View().reset(b, 0, 20).checkLen()).toBe(false);
    b[0] = 0x65;
    expect(new Ipv4View().reset(b, 0, 20).checkLen()).toBe(false);
    b[0] = 0x46;                                   // 24-byte header in 20 bytes
    expect(new Ipv4View().reset(b, 0, 20).checkLen()).toBe(false);
  });
});

describe('Ipv6View', () => {
  it('deconstructs', () => {
    const v = new Ipv6View().reset(IPV6, 0, IPV6.length);
    expect(v.checkLen()).toBe(true);
    expect([v.version, v.trafficClass, v.dscp, v.ecn, v.flowLabel]).toEqual([6, 0xab, 0xab >> 2, 3, 0xb986b]);
    expect([v.payloadLen, v.nextHeader, v.hopLimit]).toEqual([0x100a, 6, 64]);
    expect([v.srcWord(0), v.srcWord(3), v.dstWord(3)]).toEqual([0xfd000000, 2, 1]);
    expect(formatIpv6(IPV6, 8)).toBe('fd00::2');
  });
  it('constructs', () => {
    const buf = Buffer.alloc(40, 0xa5);
    const v = new Ipv6View().reset(buf, 0, 40);
    v.version = 6; v.trafficClass = 0xab; v.flowLabel = 0xb986b; v.payloadLen = 0x100a; v.nextHeader = 6; v.hopLimit = 64;
    buf.set(parseIpv6('fd00::2'), 8);
    for (let i = 0; i < 4; i++) v.setDstWord(i, [0xfd000000, 0, 0, 1][i]);
    expect(buf).toEqual(IPV6);
  });
  it('address text round-trips (RFC 5952 form)', () => {
    for (const s of ['::', '::1', 'fd00::1', '2604:1380:4091:ce00::b', '2001:db8:0:1:1:1:1:1', '2001:db8::1:0:0:1', 'fe80::1:2', '::ffff:10.0.0.1']) {
      const b = parseIpv6(s);
      expect(parseIpv6(formatIpv6(b)).equals(b)).toBe(true);
    }
    expect(formatIpv6(parseIpv6('2001:0db8:0000:0000:0001:0000:0000:0001'))).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6(parseIpv6('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');   // a single zero group stays
    expect(() => parseIpv6('1::2::3')).toThrow(TypeError);
    expect(() => parseIpv6('12345::')).toThrow(TypeError);
    expect(() => parseIpv6('1:2:3:4:5:6:7')).toThrow(TypeError);
  });
});

describe('UdpView / TcpView / IcmpView / VxlanView', () => {
  it('UDP deconstructs and constructs', () => {
    const v = new UdpView().reset(UDP, 0, 8);
    expect([v.srcPort, v.dstPort, v.length, v.checksum]).toEqual([45149, 4789, 128, 0]);
    const buf = Buffer.alloc(8, 0xa5);
    const w = new UdpView().reset(buf, 0, 8);
    w.srcPort = 45149; w.dstPort = 4789; w.length = 128; w.checksum = 0;
    expect(buf).toEqual(UDP);
  });
  it('TCP deconstructs and constructs', () => {
    const v = new TcpView().reset(TCP, 0, TCP.length);
    expect(v.checkLen()).toBe(true);
    expect([v.srcPort, v.dstPort, v.seq, v.ack, v.headerLen]).toEqual([37099, 41547, 1925567864, 2614339187, 32]);
    expect([v.flags, v.window, v.checksum, v.urgent]).toEqual([TcpFlag.PSH | TcpFlag.ACK, 166, 0x9ec8, 0]);
    expect(formatTcpFlags(v.flags)).toBe('P.');
    const buf = Buffer.alloc(TCP.length, 0xa5);
    const w = new TcpView().reset(buf, 0, buf.length);
    w.srcPort = 37099; w.dstPort = 41547; w.seq = 1925567864; w.ack = 2614339187;
    w.headerLen = 32; w.flags = TcpFlag.PSH | TcpFlag.ACK; w.window = 166; w.checksum = 0x9ec8; w.urgent = 0;
    TCP.copy(buf, 20, 20);                         // options are not a view field
    expect(buf).toEqual(TCP);
  });
  it('TCP checkLen rejects a data offset below 5 words or past len', () => {
    const b = Buffer.from(TCP);
    expect(new TcpView().reset(b, 0, 24).checkLen()).toBe(false);   // offset says 32
    b[12] = 0x40;
    expect(new TcpView().reset(b, 0, b.length).checkLen()).toBe(false);
  });
  it('ICMP deconstructs, constructs and checksums', () => {
    const v = new IcmpView().reset(ICMP, 0, 8);
    expect([v.type, v.code, v.checksum, v.ident, v.seq]).toEqual([8, 0, 0xf2f2, 1292, 1]);
    expect(v.verifyChecksum()).toBe(true);
    const buf = Buffer.alloc(8, 0xa5);
    const w = new IcmpView().reset(buf, 0, 8);
    w.type = 8; w.code = 0; w.ident = 1292; w.seq = 1; w.fillChecksum();
    expect(buf).toEqual(ICMP);
  });
  it('ICMPv6 checksum covers the pseudo-header', () => {
    const buf = Buffer.concat([Buffer.from(IPV6), Buffer.alloc(8)]);
    buf.writeUInt16BE(8, 4); buf[6] = 58;
    const c = new Icmpv6View().reset(buf, 40, 8);
    c.type = 128; c.code = 0; c.ident = 7; c.seq = 9; c.fillChecksumV6(0);
    expect(c.verifyChecksumV6(0)).toBe(true);
    expect(c.verifyChecksum()).toBe(false);        // without the pseudo-header it does not sum
    buf[39] ^= 1;                                  // change the destination address
    expect(c.verifyChecksumV6(0)).toBe(false);
  });
  it('VXLAN deconstructs and constructs', () => {
    const v = new VxlanView().reset(VXLAN, 0, 8);
    expect([v.flags, v.vniValid, v.vni]).toEqual([0x08, true, 100]);
    const buf = Buffer.alloc(8, 0xa5);
    new VxlanView().reset(buf, 0, 8).writeHeader(100);
    expect(buf).toEqual(VXLAN);
    const w = new VxlanView().reset(buf, 0, 8);
    w.vni = 0xabcdef;
    expect(w.vni).toBe(0xabcdef);
    expect(buf[7]).toBe(0);
  });
});

describe('truncation sweep', () => {
  type AnyView = { reset(b: Buffer, o: number, l: number): unknown; checkLen(): boolean };
  const cases: Array<[string, Buffer, AnyView, number, (v: never) => unknown]> = [
    ['ethernet', ETH, new EthernetView(), 14, (v: EthernetView) => [v.dstMac, v.srcMac, v.etherType]],
    ['vlan', TAG, new VlanTagView(), 6, (v: VlanTagView) => [v.tpid, v.vid, v.etherType]],
    ['arp', ARP, new ArpView(), 28, (v: ArpView) => [v.op, v.sha, v.tpa]],
    ['ipv4', IPV4, new Ipv4View(), 20, (v: Ipv4View) => [v.src, v.dst, v.verifyChecksum()]],
    ['ipv6', IPV6, new Ipv6View(), 40, (v: Ipv6View) => [v.flowLabel, v.dstWord(3)]],
    ['udp', UDP, new UdpView(), 8, (v: UdpView) => [v.srcPort, v.checksum]],
    ['tcp', TCP, new TcpView(), 32, (v: TcpView) => [v.flags, v.headerLen]],
    ['icmp', ICMP, new IcmpView(), 8, (v: IcmpView) => [v.seq]],
    ['vxlan', VXLAN, new VxlanView(), 8, (v: VxlanView) => [v.vni]],
  ];
  it.each(cases)('%s: checkLen is false below the header length and true from it', (_n, fixture, view, need, read) => {
    for (let n = 0; n <= fixture.length; n++) {
      // The fixture sits in a larger buffer so a view that ignored `len` would still "work".
      const big = Buffer.concat([Buffer.alloc(3), fixture.subarray(0, n), Buffer.alloc(64)]);
      view.reset(big, 3, n);
      expect(view.checkLen(), `prefix ${n}`).toBe(n >= need);
      if (view.checkLen()) expect(() => read(view as never)).not.toThrow();
    }
  });
});
