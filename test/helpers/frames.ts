// Checker-style assertions on frames (gVisor's `checker`): state the fields you care about,
// every one given is compared against what the header views read from the bytes.
import { expect } from 'vitest';
import { ArpView } from '../../src/packet/arp.js';
import { ETH_HEADER_LEN, EthernetView } from '../../src/packet/ethernet.js';
import { formatIpv4, formatMac } from '../../src/packet/flow-key.js';
import { IcmpView } from '../../src/packet/icmp.js';
import { Ipv4View } from '../../src/packet/ipv4.js';
import { UdpView } from '../../src/packet/udp.js';
import { isVlanTpid, VLAN_TAG_LEN, VlanTagView } from '../../src/packet/vlan.js';
import { VXLAN_HEADER_LEN, VxlanView } from '../../src/packet/vxlan.js';

export interface EthernetExpect {
  dst?: string; src?: string;
  /** Innermost EtherType, after all tags. */
  etherType?: number;
  /** Outermost tag; `vid: null` means "untagged". */
  vid?: number | null; pcp?: number; tpid?: number;
  /** Every tag, outermost first. */
  tags?: Array<{ tpid: number; vid: number; pcp?: number }>;
  len?: number;
}

/** Offset of the L3 header (after all tags) and the innermost EtherType. */
export function l3Of(frame: Buffer): { off: number; etherType: number } {
  let p = 12;
  let t = frame.readUInt16BE(p);
  while (isVlanTpid(t) && p + 6 <= frame.length) { p += VLAN_TAG_LEN; t = frame.readUInt16BE(p); }
  return { off: p + 2, etherType: t };
}

export function expectEthernet(frame: Buffer, want: EthernetExpect): void {
  const eth = new EthernetView().reset(frame, 0, frame.length);
  expect(eth.checkLen(), `frame of ${frame.length} bytes has no Ethernet header`).toBe(true);
  if (want.dst !== undefined) expect(formatMac(eth.dstMac), 'eth dst').toBe(want.dst);
  if (want.src !== undefined) expect(formatMac(eth.srcMac), 'eth src').toBe(want.src);
  if (want.len !== undefined) expect(frame.length, 'frame length').toBe(want.len);
  const tags: Array<{ tpid: number; vid: number; pcp: number }> = [];
  const tag = new VlanTagView();
  let p = 12;
  while (isVlanTpid(frame.readUInt16BE(p))) {
    tag.reset(frame, p, frame.length - p);
    expect(tag.checkLen(), `tag at ${p} truncated`).toBe(true);
    tags.push({ tpid: tag.tpid, vid: tag.vid, pcp: tag.pcp });
    p += VLAN_TAG_LEN;
  }
  if (want.vid === null) expect(tags.length, 'expected an untagged frame').toBe(0);
  else if (want.vid !== undefined) expect(tags[0]?.vid, 'outer vid').toBe(want.vid);
  if (want.pcp !== undefined) expect(tags[0]?.pcp, 'outer pcp').toBe(want.pcp);
  if (want.tpid !== undefined) expect(tags[0]?.tpid, 'outer tpid').toBe(want.tpid);
  if (want.tags !== undefined) {
    expect(tags.length, 'tag count').toBe(want.tags.length);
    want.tags.forEach((t, i) => {
      expect(tags[i].tpid, `tag ${i} tpid`).toBe(t.tpid);
      expect(tags[i].vid, `tag ${i} vid`).toBe(t.vid);
      if (t.pcp !== undefined) expect(tags[i].pcp, `tag ${i} pcp`).toBe(t.pcp);
    });
  }
  if (want.etherType !== undefined) expect(frame.readUInt16BE(p), 'ethertype').toBe(want.etherType);
}

export interface Ipv4Expect { src?: string; dst?: string; proto?: number; ttl?: number; tos?: number; totalLen?: number; checksumOk?: boolean }
/** Check the IPv4 header after the Ethernet header and tags; returns the header's offset. */
export function expectIpv4(frame: Buffer, want: Ipv4Expect): number {
  const { off, etherType } = l3Of(frame);
  expect(etherType, 'ethertype').toBe(0x0800);
  const ip = new Ipv4View().reset(frame, off, frame.length - off);
  expect(ip.checkLen(), 'IPv4 header').toBe(true);
  if (want.src !== undefined) expect(formatIpv4(ip.src), 'ipv4 src').toBe(want.src);
  if (want.dst !== undefined) expect(formatIpv4(ip.dst), 'ipv4 dst').toBe(want.dst);
  if (want.proto !== undefined) expect(ip.protocol, 'ipv4 proto').toBe(want.proto);
  if (want.ttl !== undefined) expect(ip.ttl, 'ipv4 ttl').toBe(want.ttl);
  if (want.tos !== undefined) expect(ip.tos, 'ipv4 tos').toBe(want.tos);
  if (want.totalLen !== undefined) expect(ip.totalLen, 'ipv4 total length').toBe(want.totalLen);
  if (want.checksumOk !== undefined) expect(ip.verifyChecksum(), 'ipv4 checksum ok').toBe(want.checksumOk);
  return off;
}

export interface UdpExpect { sport?: number; dport?: number; length?: number; checksumOk?: boolean }
/** Check the UDP header of an IPv4 frame; returns the UDP header's offset. */
export function expectUdp(frame: Buffer, want: UdpExpect): number {
  const ipOff = expectIpv4(frame, { proto: 17 });
  const ip = new Ipv4View().reset(frame, ipOff, frame.length - ipOff);
  const u = new UdpView().reset(frame, ip.payloadOff, frame.length - ip.payloadOff);
  expect(u.checkLen(), 'UDP header').toBe(true);
  if (want.sport !== undefined) expect(u.srcPort, 'udp sport').toBe(want.sport);
  if (want.dport !== undefined) expect(u.dstPort, 'udp dport').toBe(want.dport);
  if (want.length !== undefined) expect(u.length, 'udp length').toBe(want.length);
  if (want.checksumOk !== undefined) expect(u.verifyChecksumV4(ipOff), 'udp checksum ok').toBe(want.checksumOk);
  return ip.payloadOff;
}

export interface ArpExpect { op?: number; sha?: string; spa?: string; tha?: string; tpa?: string }
export function expectArp(frame: Buffer, want: ArpExpect): void {
  const { off, etherType } = l3Of(frame);
  expect(etherType, 'ethertype').toBe(0x0806);
  const a = new ArpView().reset(frame, off, frame.length - off);
  expect(a.checkLen() && a.isEthIpv4(), 'Ethernet/IPv4 ARP').toBe(true);
  if (want.op !== undefined) expect(a.op, 'arp op').toBe(want.op);
  if (want.sha !== undefined) expect(formatMac(a.sha), 'arp sha').toBe(want.sha);
  if (want.spa !== undefined) expect(formatIpv4(a.spa), 'arp spa').toBe(want.spa);
  if (want.tha !== undefined) expect(formatMac(a.tha), 'arp tha').toBe(want.tha);
  if (want.tpa !== undefined) expect(formatIpv4(a.tpa), 'arp tpa').toBe(want.tpa);
}

export interface IcmpExpect { type?: number; code?: number; id?: number; seq?: number; checksumOk?: boolean }
export function expectIcmp(frame: Buffer, want: IcmpExpect): void {
  const ipOff = expectIpv4(frame, { proto: 1 });
  const ip = new Ipv4View().reset(frame, ipOff, frame.length - ipOff);
  const c = new IcmpView().reset(frame, ip.payloadOff, ip.totalLen - ip.headerLen);
  expect(c.checkLen(), 'ICMP header').toBe(true);
  if (want.type !== undefined) expect(c.type, 'icmp type').toBe(want.type);
  if (want.code !== undefined) expect(c.code, 'icmp code').toBe(want.code);
  if (want.id !== undefined) expect(c.ident, 'icmp id').toBe(want.id);
  if (want.seq !== undefined) expect(c.seq, 'icmp seq').toBe(want.seq);
  if (want.checksumOk !== undefined) expect(c.verifyChecksum(), 'icmp checksum ok').toBe(want.checksumOk);
}

/** Check a VXLAN/IPv4 frame's header and return the inner Ethernet frame (a copy). */
export function expectVxlan(frame: Buffer, want: { vni?: number; dport?: number }): Buffer {
  const udpOff = expectUdp(frame, { dport: want.dport });
  const vOff = udpOff + 8;
  const v = new VxlanView().reset(frame, vOff, frame.length - vOff);
  expect(v.checkLen(), 'VXLAN header').toBe(true);
  expect(v.vniValid, 'VXLAN I flag').toBe(true);
  if (want.vni !== undefined) expect(v.vni, 'vni').toBe(want.vni);
  const inner = Buffer.from(frame.subarray(vOff + VXLAN_HEADER_LEN));
  expect(inner.length >= ETH_HEADER_LEN, 'inner frame has an Ethernet header').toBe(true);
  return inner;
}
