// extractFlowKey: every field for each frame kind, the ParseError codes, what it must not touch,
// and a truncation sweep proving it never throws and never reads outside [off, off+len).
import { describe, expect, it } from 'vitest';
import { buildFrame, buildVxlan, type FrameSpec } from '../../../src/packet/build.js';
import { extractFlowKey } from '../../../src/packet/extract.js';
import { FlowKey, K, ParseError, VID_PRESENT, macJoin, parseIpv4, parseMac } from '../../../src/packet/flow-key.js';
import { TcpFlag } from '../../../src/packet/tcp.js';

const MACS = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01' };
const udp4: FrameSpec = { ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', tos: 0xb9, ttl: 33, l4: { kind: 'udp', sport: 1234, dport: 53, payload: Buffer.from('hello') } } };
const FIXTURES: Record<string, Buffer> = {
  udp4: buildFrame(udp4),
  udp4Padded: buildFrame({ ...udp4, padTo60: true }),
  vlanTcp4: buildFrame({ ...MACS, vlans: [{ vid: 100, pcp: 5 }], payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'tcp', sport: 40000, dport: 80, flags: TcpFlag.SYN | TcpFlag.ACK } } }),
  qinqArp: buildFrame({ ...MACS, vlans: [{ tpid: 0x88a8, vid: 200, pcp: 3 }, { vid: 2001 }], payload: { kind: 'arp', op: 2, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '02:00:00:00:00:02', tpa: '10.0.0.2' } }),
  icmp4: buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'icmp', type: 8, code: 0, id: 1, seq: 2, payload: Buffer.alloc(56) } } }),
  tcp6: buildFrame({ ...MACS, payload: { kind: 'ipv6', src: '2001:db8::1', dst: 'fd00::2', trafficClass: 0x2e, flowLabel: 0xb986b, hopLimit: 7, l4: { kind: 'tcp', sport: 43583, dport: 44175, flags: TcpFlag.ACK | TcpFlag.NS } } }),
  icmp6: buildFrame({ ...MACS, payload: { kind: 'ipv6', src: 'fe80::1', dst: 'ff02::1', l4: { kind: 'icmp', type: 135, code: 0 } } }),
  sctp4: buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', proto: 132, l4: { kind: 'raw', data: Buffer.from('0b5904d2000000000000000000000000', 'hex') } } }),
  vxlan: buildVxlan({ outer: { ...MACS, ipSrc: '192.168.0.1', ipDst: '192.168.0.2', sport: 5000 }, vni: 5001, inner: buildFrame({ ...MACS, payload: { kind: 'arp', op: 1, sha: MACS.src, spa: '1.1.1.1', tha: '00:00:00:00:00:00', tpa: '1.1.1.2' } }) }),
  lldp: buildFrame({ dst: '01:80:c2:00:00:0e', src: MACS.src, payload: { kind: 'raw', etherType: 0x88cc, data: Buffer.alloc(30, 1) } }),
};

function extract(frame: Buffer, key = new FlowKey()): FlowKey {
  extractFlowKey(frame, 0, frame.length, key);
  return key;
}

describe('extractFlowKey', () => {
  it('UDP/IPv4: every field', () => {
    const k = extract(FIXTURES.udp4), w = k.w;
    expect(k.error).toBe(ParseError.None);
    expect(macJoin(w[K.ETH_DST_HI], w[K.ETH_DST_LO])).toBe(parseMac(MACS.dst));
    expect(macJoin(w[K.ETH_SRC_HI], w[K.ETH_SRC_LO])).toBe(parseMac(MACS.src));
    expect([w[K.ETH_TYPE], w[K.VLAN_VID], w[K.VLAN_PCP], w[K.VLAN_OUTER_TPID]]).toEqual([0x0800, 0, 0, 0]);
    expect([w[K.IP_PROTO], w[K.IP_DSCP], w[K.IP_ECN], w[K.IP_TTL]]).toEqual([17, 46, 1, 33]);
    expect([w[K.IPV4_SRC], w[K.IPV4_DST]]).toEqual([parseIpv4('10.0.0.1'), parseIpv4('10.0.0.2')]);
    expect([w[K.TP_SRC], w[K.TP_DST], w[K.TCP_FLAGS]]).toEqual([1234, 53, 0]);
    expect([w[K.L3_OFF], w[K.L4_OFF]]).toEqual([14, 34]);
  });
  it('Ethernet padding after the IPv4 total length is ignored', () => {
    expect(FIXTURES.udp4Padded.length).toBe(60);
    expect(Array.from(extract(FIXTURES.udp4Padded).w)).toEqual(Array.from(extract(FIXTURES.udp4).w));
  });
  it('802.1Q TCP: VID with OFPVID_PRESENT, PCP, TPID and TCP flags', () => {
    const w = extract(FIXTURES.vlanTcp4).w;
    expect([w[K.VLAN_VID], w[K.VLAN_PCP], w[K.VLAN_OUTER_TPID], w[K.ETH_TYPE]]).toEqual([VID_PRESENT | 100, 5, 0x8100, 0x0800]);
    expect([w[K.IP_PROTO], w[K.TP_SRC], w[K.TP_DST], w[K.TCP_FLAGS]]).toEqual([6, 40000, 80, TcpFlag.SYN | TcpFlag.ACK]);
    expect([w[K.L3_OFF], w[K.L4_OFF]]).toEqual([18, 38]);
  });
  it('QinQ ARP: outermost tag wins, innermost ethertype, ARP fields', () => {
    const w = extract(FIXTURES.qinqArp).w;
    expect([w[K.VLAN_VID], w[K.VLAN_PCP], w[K.VLAN_OUTER_TPID], w[K.ETH_TYPE], w[K.L3_OFF]]).toEqual([VID_PRESENT | 200, 3, 0x88a8, 0x0806, 22]);
    expect([w[K.ARP_OP], w[K.ARP_SPA], w[K.ARP_TPA]]).toEqual([2, parseIpv4('10.0.0.1'), parseIpv4('10.0.0.2')]);
    expect(macJoin(w[K.ARP_SHA_HI], w[K.ARP_SHA_LO])).toBe(parseMac('02:00:00:00:00:01'));
    expect(macJoin(w[K.ARP_THA_HI], w[K.ARP_THA_LO])).toBe(parseMac('02:00:00:00:00:02'));
  });
  it('a third tag stays as the ethertype and stops parsing', () => {
    const f = buildFrame({ ...MACS, vlans: [{ vid: 1 }, { vid: 2 }, { vid: 3 }], payload: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' } });
    const k = extract(f);
    expect([k.error, k.w[K.VLAN_VID], k.w[K.ETH_TYPE], k.w[K.IPV4_SRC]]).toEqual([ParseError.None, VID_PRESENT | 1, 0x8100, 0]);
  });
  it('0x9100 is a tag too', () => {
    const f = buildFrame({ ...MACS, vlans: [{ tpid: 0x9100, vid: 7 }], payload: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2' } });
    const w = extract(f).w;
    expect([w[K.VLAN_VID], w[K.VLAN_OUTER_TPID], w[K.ETH_TYPE]]).toEqual([VID_PRESENT | 7, 0x9100, 0x0800]);
  });
  it('ICMPv4 and ICMPv6 type/code', () => {
    const w4 = extract(FIXTURES.icmp4).w;
    expect([w4[K.IP_PROTO], w4[K.ICMP_TYPE], w4[K.ICMP_CODE], w4[K.TP_SRC]]).toEqual([1, 8, 0, 0]);
    const w6 = extract(FIXTURES.icmp6).w;
    expect([w6[K.ETH_TYPE], w6[K.IP_PROTO], w6[K.ICMP_TYPE], w6[K.ICMP_CODE]]).toEqual([0x86dd, 58, 135, 0]);
  });
  it('TCP/IPv6: address words, flow label, traffic class, hop limit, NS flag', () => {
    const w = extract(FIXTURES.tcp6).w;
    expect([w[K.IPV6_SRC_0], w[K.IPV6_SRC_1], w[K.IPV6_SRC_2], w[K.IPV6_SRC_3]]).toEqual([0x20010db8, 0, 0, 1]);
    expect([w[K.IPV6_DST_0], w[K.IPV6_DST_3]]).toEqual([0xfd000000, 2]);
    expect([w[K.IPV6_FLABEL], w[K.IP_DSCP], w[K.IP_ECN], w[K.IP_TTL], w[K.IP_PROTO]]).toEqual([0xb986b, 0x2e >> 2, 2, 7, 6]);
    expect([w[K.TP_SRC], w[K.TP_DST], w[K.TCP_FLAGS]]).toEqual([43583, 44175, TcpFlag.ACK | TcpFlag.NS]);
    expect([w[K.L3_OFF], w[K.L4_OFF], w[K.IPV4_SRC]]).toEqual([14, 54, 0]);
  });
  it('SCTP ports', () => {
    const w = extract(FIXTURES.sctp4).w;
    expect([w[K.IP_PROTO], w[K.TP_SRC], w[K.TP_DST]]).toEqual([132, 2905, 1234]);
  });
  it('VXLAN is parsed as its outer UDP only', () => {
    const w = extract(FIXTURES.vxlan).w;
    expect([w[K.ETH_TYPE], w[K.IP_PROTO], w[K.TP_SRC], w[K.TP_DST]]).toEqual([0x0800, 17, 5000, 4789]);
  });
  it('later fragments carry no L4 fields; first fragments do', () => {
    const spec = (fragOffset: number, mf: boolean): FrameSpec => ({ ...MACS, payload: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2', fragOffset, mf, l4: { kind: 'udp', sport: 1, dport: 2 } } });
    const later = extract(buildFrame(spec(185, false)));
    expect([later.error, later.w[K.IP_PROTO], later.w[K.TP_SRC], later.w[K.L4_OFF]]).toEqual([ParseError.None, 17, 0, 0]);
    const first = extract(buildFrame(spec(0, true)));
    expect([first.w[K.TP_SRC], first.w[K.TP_DST]]).toEqual([1, 2]);
  });
  it('IHL < 5 and version != 4 are BadL3; total length past the frame is TruncatedL3', () => {
    const f = Buffer.from(FIXTURES.udp4);
    f[14] = 0x44;
    expect(extractFlowKey(f, 0, f.length, new FlowKey())).toBe(ParseError.BadL3);
    f[14] = 0x65;
    expect(extractFlowKey(f, 0, f.length, new FlowKey())).toBe(ParseError.BadL3);
    f[14] = 0x45; f.writeUInt16BE(1000, 16);
    const k = new FlowKey();
    expect(extractFlowKey(f, 0, f.length, k)).toBe(ParseError.TruncatedL3);
    expect(k.w[K.IPV4_SRC]).toBe(parseIpv4('10.0.0.1'));   // what was parsed stays
    expect(k.w[K.TP_SRC]).toBe(0);
    f.writeUInt16BE(10, 16);                                  // total length below the header length
    expect(extractFlowKey(f, 0, f.length, k)).toBe(ParseError.BadL3);
  });
  it('802.3 frames: ETH_TYPE 0x05ff, or the SNAP type', () => {
    const llc = buildFrame({ ...MACS, payload: { kind: 'raw', etherType: 38, data: Buffer.from('424203000000000000000000000000000000000000000000000000000000000000000000000000', 'hex') } });
    expect(extract(llc).w[K.ETH_TYPE]).toBe(0x05ff);
    const ip = buildFrame({ ...MACS, payload: { kind: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2', l4: { kind: 'udp', sport: 7, dport: 9 } } }).subarray(14);
    const snap = buildFrame({ ...MACS, payload: { kind: 'raw', etherType: 8 + ip.length, data: Buffer.concat([Buffer.from('aaaa03000000 0800'.replace(' ', ''), 'hex'), ip]) } });
    const w = extract(snap).w;
    expect([w[K.ETH_TYPE], w[K.L3_OFF], w[K.TP_DST]]).toEqual([0x0800, 22, 9]);
  });
  it('non-Ethernet/IPv4 ARP leaves the ARP words zero without an error', () => {
    const f = Buffer.concat([FIXTURES.qinqArp, Buffer.alloc(20)]);
    f[22 + 1] = 6;                                            // htype 6 (IEEE 802)
    const k = extract(f);
    expect([k.error, k.w[K.ETH_TYPE], k.w[K.ARP_OP], k.w[K.ARP_SPA]]).toEqual([ParseError.None, 0x0806, 0, 0]);
  });
  it('zeroes stale fields, keeps tunnel words and never touches IN_PORT/METADATA', () => {
    const k = new FlowKey();
    k.w.fill(0xdeadbeef);
    extractFlowKey(FIXTURES.qinqArp, 0, FIXTURES.qinqArp.length, k);
    for (const i of [K.IN_PORT, K.METADATA_HI, K.METADATA_LO, K.TUNNEL_ID_HI, K.TUNNEL_ID_LO, K.TUN_IPV4_SRC, K.TUN_IPV4_DST]) expect(k.w[i], `word ${i}`).toBe(0xdeadbeef);
    for (const i of [K.IP_PROTO, K.IPV4_SRC, K.TP_SRC, K.ICMP_TYPE, K.IPV6_SRC_0, K.IPV6_FLABEL, K.TCP_FLAGS, K.L4_OFF]) expect(k.w[i], `word ${i}`).toBe(0);
    k.w.fill(0xdeadbeef);
    expect(extractFlowKey(Buffer.alloc(5), 0, 5, k)).toBe(ParseError.TooShort);
    expect(k.error).toBe(ParseError.TooShort);
    expect([k.w[K.IN_PORT], k.w[K.ETH_DST_HI], k.w[K.L3_OFF], k.w[K.TUN_IPV4_DST]]).toEqual([0xdeadbeef, 0, 0, 0xdeadbeef]);
  });
  it('works at an offset inside a larger buffer', () => {
    const f = FIXTURES.vlanTcp4;
    const big = Buffer.concat([Buffer.alloc(128, 0x77), f, Buffer.alloc(64, 0x77)]);
    const k = new FlowKey();
    extractFlowKey(big, 128, f.length, k);
    expect(Array.from(k.w)).toEqual(Array.from(extract(f).w));
  });

  describe('truncation sweep', () => {
    it.each(Object.entries(FIXTURES))('%s: every prefix returns a code, never throws, never reads out of bounds', (_name, frame) => {
      const ka = new FlowKey(), kb = new FlowKey();
      const codes = new Set<number>();
      for (let n = 0; n <= frame.length; n++) {
        // Same prefix in two buffers that differ everywhere outside [off, off+n): the keys must agree.
        const a = Buffer.alloc(n + 80, 0x00), b = Buffer.alloc(n + 80, 0xff);
        frame.copy(a, 40, 0, n); frame.copy(b, 40, 0, n);
        let ca = -1, cb = -1;
        expect(() => { ca = extractFlowKey(a, 40, n, ka); cb = extractFlowKey(b, 40, n, kb); }).not.toThrow();
        expect(ca, `prefix ${n}`).toBe(cb);
        expect(Array.from(ka.w), `prefix ${n}`).toEqual(Array.from(kb.w));
        expect(ka.error).toBe(ca);
        if (n < 14) expect(ca).toBe(ParseError.TooShort);
        codes.add(ca);
      }
      expect(codes.has(ParseError.None)).toBe(true);        // the whole frame parses
    });
    it('reports the layer that was cut', () => {
      const f = FIXTURES.vlanTcp4;
      const code = (n: number): number => extractFlowKey(f, 0, n, new FlowKey());
      expect(code(13)).toBe(ParseError.TooShort);
      expect(code(16)).toBe(ParseError.TruncatedVlan);
      expect(code(18 + 19)).toBe(ParseError.TruncatedL3);
      expect(code(f.length)).toBe(ParseError.None);
      // The IPv4 total length says more than is there, so a cut TCP header reads as a cut L3.
      expect(code(f.length - 1)).toBe(ParseError.TruncatedL3);
      const g = Buffer.from(f);
      g.writeUInt16BE(20 + 10, 18 + 2);                     // total length leaves only 10 bytes of TCP
      expect(extractFlowKey(g, 0, g.length, new FlowKey())).toBe(ParseError.TruncatedL4);
    });
  });
});
