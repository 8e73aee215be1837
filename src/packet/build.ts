// Frame builders for tests, fixtures and tools (cold path): describe a frame as a plain object,
// get a Buffer with correct lengths and checksums. Built on the header views so the two agree.
import { ArpView, emitArp } from './arp.js';
import { EtherType, ETH_HEADER_LEN, ETH_MIN_FRAME_LEN, EthernetView } from './ethernet.js';
import { parseIpv4, parseMac } from './flow-key.js';
import { Icmpv6View, ICMP_HEADER_LEN, IcmpView } from './icmp.js';
import { IpProto, Ipv4View, IPV4_FLAG_DF, IPV4_FLAG_MF, IPV4_MIN_HEADER_LEN } from './ipv4.js';
import { IPV6_HEADER_LEN, Ipv6View, parseIpv6 } from './ipv6.js';
import { TcpView, TCP_MIN_HEADER_LEN } from './tcp.js';
import { UDP_HEADER_LEN, UdpView } from './udp.js';
import { makeTci, VLAN_TAG_LEN } from './vlan.js';
import { VXLAN_HEADER_LEN, VXLAN_PORT, VxlanView } from './vxlan.js';

export interface VlanSpec { tpid?: number; vid: number; pcp?: number; dei?: number }
export type L4Spec =
  | { kind: 'udp'; sport: number; dport: number; payload?: Uint8Array; /** default true (false: 0) */ checksum?: boolean }
  | { kind: 'tcp'; sport: number; dport: number; flags?: number; seq?: number; ack?: number; window?: number; payload?: Uint8Array }
  | { kind: 'icmp'; type: number; code: number; id?: number; seq?: number; payload?: Uint8Array }
  | { kind: 'raw'; data: Uint8Array };
export interface ArpSpec { kind: 'arp'; op: number; sha: string; spa: string; tha: string; tpa: string }
export interface Ipv4Spec {
  kind: 'ipv4'; src: string; dst: string; proto?: number; ttl?: number; tos?: number; id?: number;
  df?: boolean; mf?: boolean; fragOffset?: number; l4?: L4Spec;
}
export interface Ipv6Spec {
  kind: 'ipv6'; src: string; dst: string; nextHeader?: number; hopLimit?: number; trafficClass?: number;
  flowLabel?: number; l4?: L4Spec;
}
export interface RawSpec { kind: 'raw'; etherType: number; data: Uint8Array }
export type PayloadSpec = ArpSpec | Ipv4Spec | Ipv6Spec | RawSpec;
export interface FrameSpec {
  dst: string; src: string; vlans?: VlanSpec[]; payload: PayloadSpec;
  /** Zero-pad to the 60-byte Ethernet minimum (default false). */
  padTo60?: boolean;
}

function l4Proto(l4: L4Spec | undefined, v6: boolean): number {
  if (!l4) return 0;
  switch (l4.kind) {
    case 'udp': return IpProto.UDP;
    case 'tcp': return IpProto.TCP;
    case 'icmp': return v6 ? IpProto.ICMPV6 : IpProto.ICMP;
    case 'raw': return 0;
  }
}
function l4Len(l4: L4Spec | undefined): number {
  if (!l4) return 0;
  switch (l4.kind) {
    case 'udp': return UDP_HEADER_LEN + (l4.payload?.length ?? 0);
    case 'tcp': return TCP_MIN_HEADER_LEN + (l4.payload?.length ?? 0);
    case 'icmp': return ICMP_HEADER_LEN + (l4.payload?.length ?? 0);
    case 'raw': return l4.data.length;
  }
}
function payloadLen(p: PayloadSpec): number {
  switch (p.kind) {
    case 'arp': return 28;
    case 'ipv4': return IPV4_MIN_HEADER_LEN + l4Len(p.l4);
    case 'ipv6': return IPV6_HEADER_LEN + l4Len(p.l4);
    case 'raw': return p.data.length;
  }
}

/** Write the L4 header and payload at `o` (ip header at ipOff) and fill its checksum. */
function writeL4(buf: Buffer, o: number, l4: L4Spec, ipOff: number, v6: boolean): void {
  const len = l4Len(l4);
  switch (l4.kind) {
    case 'udp': {
      const u = new UdpView().reset(buf, o, len);
      u.srcPort = l4.sport; u.dstPort = l4.dport; u.length = len; u.checksum = 0;
      if (l4.payload) buf.set(l4.payload, o + UDP_HEADER_LEN);
      if (l4.checksum !== false || v6) { if (v6) u.fillChecksumV6(ipOff); else u.fillChecksumV4(ipOff); }
      break;
    }
    case 'tcp': {
      const t = new TcpView().reset(buf, o, len);
      t.srcPort = l4.sport; t.dstPort = l4.dport; t.seq = l4.seq ?? 0; t.ack = l4.ack ?? 0;
      buf[o + 12] = 0; t.headerLen = TCP_MIN_HEADER_LEN; t.flags = l4.flags ?? 0x002;
      t.window = l4.window ?? 65535; t.urgent = 0;
      if (l4.payload) buf.set(l4.payload, o + TCP_MIN_HEADER_LEN);
      if (v6) t.fillChecksumV6(ipOff); else t.fillChecksumV4(ipOff);
      break;
    }
    case 'icmp': {
      const c = v6 ? new Icmpv6View().reset(buf, o, len) : new IcmpView().reset(buf, o, len);
      c.type = l4.type; c.code = l4.code; c.ident = l4.id ?? 0; c.seq = l4.seq ?? 0;
      if (l4.payload) buf.set(l4.payload, o + ICMP_HEADER_LEN);
      if (c instanceof Icmpv6View) c.fillChecksumV6(ipOff); else c.fillChecksum();
      break;
    }
    case 'raw': buf.set(l4.data, o); break;
  }
}

/** Build a whole Ethernet frame (no FCS) from a description. Throws TypeError on bad addresses. */
export function buildFrame(spec: FrameSpec): Buffer {
  const vlans = spec.vlans ?? [];
  const hdr = ETH_HEADER_LEN + VLAN_TAG_LEN * vlans.length;
  const body = payloadLen(spec.payload);
  const total = spec.padTo60 ? Math.max(ETH_MIN_FRAME_LEN, hdr + body) : hdr + body;
  const buf = Buffer.alloc(total);
  const eth = new EthernetView().reset(buf, 0, total);
  eth.dstMac = parseMac(spec.dst); eth.srcMac = parseMac(spec.src);
  let o = 12;
  for (const v of vlans) {
    buf.writeUInt16BE(v.tpid ?? EtherType.VLAN, o);
    buf.writeUInt16BE(makeTci(v.vid, v.pcp ?? 0, v.dei ?? 0), o + 2);
    o += VLAN_TAG_LEN;
  }
  const p = spec.payload;
  const etherType = p.kind === 'arp' ? EtherType.ARP : p.kind === 'ipv4' ? EtherType.IPV4 : p.kind === 'ipv6' ? EtherType.IPV6 : p.etherType;
  buf.writeUInt16BE(etherType, o);
  o += 2;
  switch (p.kind) {
    case 'arp':
      emitArp(p, new ArpView().reset(buf, o, 28));
      break;
    case 'raw':
      buf.set(p.data, o);
      break;
    case 'ipv4': {
      const ip = new Ipv4View().reset(buf, o, body);
      buf[o] = 0x45; ip.tos = p.tos ?? 0; ip.totalLen = body; ip.ident = p.id ?? 0;
      buf.writeUInt16BE((p.df ? IPV4_FLAG_DF : 0) | (p.mf ? IPV4_FLAG_MF : 0) | ((p.fragOffset ?? 0) & 0x1fff), o + 6);
      ip.ttl = p.ttl ?? 64; ip.protocol = p.proto ?? l4Proto(p.l4, false);
      ip.src = parseIpv4(p.src); ip.dst = parseIpv4(p.dst);
      ip.fillChecksum();
      if (p.l4) writeL4(buf, o + IPV4_MIN_HEADER_LEN, p.l4, o, false);
      break;
    }
    case 'ipv6': {
      const ip = new Ipv6View().reset(buf, o, body);
      buf[o] = 0x60; ip.trafficClass = p.trafficClass ?? 0; ip.flowLabel = p.flowLabel ?? 0;
      ip.payloadLen = body - IPV6_HEADER_LEN; ip.nextHeader = p.nextHeader ?? l4Proto(p.l4, true);
      ip.hopLimit = p.hopLimit ?? 64;
      buf.set(parseIpv6(p.src), o + 8); buf.set(parseIpv6(p.dst), o + 24);
      if (p.l4) writeL4(buf, o + IPV6_HEADER_LEN, p.l4, o, true);
      break;
    }
  }
  return buf;
}

export interface VxlanSpec {
  outer: {
    dst: string; src: string; ipSrc: string; ipDst: string; sport?: number; dport?: number;
    vlans?: VlanSpec[]; ttl?: number; /** UDP checksum over IPv4 (default false: 0, RFC 7348 §5) */ udpChecksum?: boolean;
  };
  vni: number;
  inner: Uint8Array;
}

/** VXLAN-encapsulate `inner` (an Ethernet frame): outer Ethernet/IPv4 (or IPv6 if ipSrc has ':')/UDP/VXLAN. */
export function buildVxlan(spec: VxlanSpec): Buffer {
  const data = Buffer.alloc(VXLAN_HEADER_LEN + spec.inner.length);
  new VxlanView().reset(data, 0, VXLAN_HEADER_LEN).writeHeader(spec.vni);
  data.set(spec.inner, VXLAN_HEADER_LEN);
  const o = spec.outer;
  const udp: L4Spec = { kind: 'udp', sport: o.sport ?? 49152, dport: o.dport ?? VXLAN_PORT, payload: data, checksum: o.udpChecksum ?? false };
  const payload: PayloadSpec = o.ipSrc.includes(':')
    ? { kind: 'ipv6', src: o.ipSrc, dst: o.ipDst, hopLimit: o.ttl ?? 64, l4: udp }
    : { kind: 'ipv4', src: o.ipSrc, dst: o.ipDst, ttl: o.ttl ?? 64, df: true, l4: udp };
  return buildFrame({ dst: o.dst, src: o.src, vlans: o.vlans, payload });
}
