// One-line, tcpdump -e style description of a frame for humans (`sluice replay --expect` diffs,
// `sluice trace`). Cold path: allocates strings freely, but like extraction it never throws on
// frame content and says where a frame is cut short ("runt (10 bytes)", "truncated 802.1Q tag").
import { ArpOp, ArpView } from './arp.js';
import { EtherType, ETH_HEADER_LEN, ETH_TYPE_MIN, EthernetView, etherTypeName } from './ethernet.js';
import { formatIpv4, formatMac } from './flow-key.js';
import { ICMP_HEADER_LEN, Icmpv4Type, Icmpv6Type, IcmpView } from './icmp.js';
import { IpProto, IPV4_MIN_HEADER_LEN, Ipv4View } from './ipv4.js';
import { formatIpv6, IPV6_DST_OFF, IPV6_HEADER_LEN, IPV6_SRC_OFF, Ipv6View } from './ipv6.js';
import { formatTcpFlags, TCP_MIN_HEADER_LEN, TcpView } from './tcp.js';
import { UDP_HEADER_LEN, UdpView } from './udp.js';
import { isVlanTpid, VLAN_TAG_LEN, VlanTagView } from './vlan.js';
import { VXLAN_HEADER_LEN, VXLAN_PORT, VXLAN_PORT_LINUX_OLD, VxlanView } from './vxlan.js';

const MAX_TAGS = 4;
const MAX_DEPTH = 3;   // VXLAN inside VXLAN inside VXLAN is enough for a human

/** Describe buf[off, off+len) in one line ending with ", len N". */
export function summarizeFrame(buf: Buffer, off = 0, len: number = buf.length - off): string {
  return describeEthernet(buf, off, Math.max(0, Math.min(len, buf.length - off)), 0);
}

function describeEthernet(buf: Buffer, off: number, len: number, depth: number): string {
  if (len < ETH_HEADER_LEN) return `runt (${len} bytes)`;
  const eth = new EthernetView().reset(buf, off, len);
  const parts: string[] = [`${formatMac(eth.srcMac)} > ${formatMac(eth.dstMac)}`];
  let p = off + 12;
  const end = off + len;
  let type = eth.etherType;
  const tag = new VlanTagView();
  for (let i = 0; i < MAX_TAGS && isVlanTpid(type); i++) {
    const name = type === EtherType.VLAN ? '802.1Q' : type === EtherType.QINQ ? '802.1ad' : 'QinQ 0x9100';
    tag.reset(buf, p, end - p);
    if (!tag.checkLen()) return `${parts.join(', ')}, truncated ${name} tag, len ${len}`;
    parts.push(`${name} vlan ${tag.vid} p ${tag.pcp}${tag.dei ? ' dei' : ''}`);
    type = tag.etherType;
    p += VLAN_TAG_LEN;
  }
  p += 2;
  parts.push(describeL3(buf, p, end - p, type, depth));
  return `${parts.join(', ')}, len ${len}`;
}

function describeL3(buf: Buffer, p: number, left: number, type: number, depth: number): string {
  if (type < ETH_TYPE_MIN) return `802.3 length ${type}`;
  switch (type) {
    case EtherType.ARP: case EtherType.RARP: return describeArp(buf, p, left, type === EtherType.RARP ? 'RARP' : 'ARP');
    case EtherType.IPV4: return describeIpv4(buf, p, left, depth);
    case EtherType.IPV6: return describeIpv6(buf, p, left, depth);
    default: return `ethertype ${etherTypeName(type)}${etherTypeName(type).startsWith('0x') ? '' : ` (0x${type.toString(16).padStart(4, '0')})`}`;
  }
}

function describeArp(buf: Buffer, p: number, left: number, name: string): string {
  const a = new ArpView().reset(buf, p, left);
  if (left < 8) return `${name} truncated (${left} of 8 bytes)`;
  if (!a.isEthIpv4()) {
    const need = 8 + 2 * (a.hlen + a.plen);
    return `${name} malformed: htype ${a.htype} ptype 0x${a.ptype.toString(16).padStart(4, '0')} hlen ${a.hlen} plen ${a.plen} op ${a.op}` +
      (left < need ? ` (truncated, ${left} of ${need} bytes)` : '');
  }
  if (!a.checkLen()) return `${name} truncated (${left} of 28 bytes)`;
  switch (a.op) {
    case ArpOp.REQUEST: return `${name} who-has ${formatIpv4(a.tpa)} tell ${formatIpv4(a.spa)}`;
    case ArpOp.REPLY: return `${name} reply ${formatIpv4(a.spa)} is-at ${formatMac(a.sha)}`;
    default: return `${name} op ${a.op} ${formatIpv4(a.spa)} > ${formatIpv4(a.tpa)}`;
  }
}

function describeIpv4(buf: Buffer, p: number, left: number, depth: number): string {
  const ip = new Ipv4View().reset(buf, p, left);
  if (left < IPV4_MIN_HEADER_LEN) return `IPv4 truncated (${left} of ${IPV4_MIN_HEADER_LEN} bytes)`;
  if (ip.version !== 4 || ip.headerLen < IPV4_MIN_HEADER_LEN) return `IPv4 bad header (version ${ip.version}, ihl ${ip.headerLen / 4})`;
  if (!ip.checkLen()) return `IPv4 truncated (${left} of ${ip.headerLen} bytes)`;
  const src = formatIpv4(ip.src), dst = formatIpv4(ip.dst);
  const tot = ip.totalLen;
  if (tot < ip.headerLen) return `IPv4 ${src} > ${dst} bad total length ${tot}`;
  let l4Len = Math.min(tot, left) - ip.headerLen;
  const cut = tot > left ? ` (truncated, ${left} of ${tot} bytes)` : '';
  if (ip.fragOffset !== 0) return `IPv4 ${src} > ${dst} fragment offset ${ip.fragOffset * 8} proto ${ip.protocol}${cut}`;
  if (l4Len < 0) l4Len = 0;
  return `IPv4 ${describeL4(buf, ip.payloadOff, l4Len, ip.protocol, src, dst, false, depth)}${cut}`;
}

function describeIpv6(buf: Buffer, p: number, left: number, depth: number): string {
  const ip = new Ipv6View().reset(buf, p, left);
  if (left < IPV6_HEADER_LEN) return `IPv6 truncated (${left} of ${IPV6_HEADER_LEN} bytes)`;
  if (ip.version !== 6) return `IPv6 bad header (version ${ip.version})`;
  const src = formatIpv6(buf, p + IPV6_SRC_OFF), dst = formatIpv6(buf, p + IPV6_DST_OFF);
  const avail = left - IPV6_HEADER_LEN;
  const cut = ip.payloadLen > avail ? ` (truncated, ${avail} of ${ip.payloadLen} payload bytes)` : '';
  return `IPv6 ${describeL4(buf, ip.payloadOff, Math.min(avail, ip.payloadLen), ip.nextHeader, src, dst, true, depth)}${cut}`;
}

function describeL4(buf: Buffer, p: number, left: number, proto: number, src: string, dst: string, v6: boolean, depth: number): string {
  switch (proto) {
    case IpProto.UDP: {
      if (left < UDP_HEADER_LEN) return `${src} > ${dst} UDP truncated (${left} of ${UDP_HEADER_LEN} bytes)`;
      const u = new UdpView().reset(buf, p, left);
      const head = `${src}.${u.srcPort} > ${dst}.${u.dstPort} UDP`;
      if ((u.dstPort === VXLAN_PORT || u.dstPort === VXLAN_PORT_LINUX_OLD) && depth < MAX_DEPTH) {
        const vl = left - UDP_HEADER_LEN;
        if (vl < VXLAN_HEADER_LEN) return `${head} VXLAN truncated (${vl} of ${VXLAN_HEADER_LEN} bytes)`;
        const vx = new VxlanView().reset(buf, u.payloadOff, vl);
        const inner = describeEthernet(buf, vx.payloadOff, vl - VXLAN_HEADER_LEN, depth + 1);
        return `${head} VXLAN vni ${vx.vni}${vx.vniValid ? '' : ' (I flag clear)'} [${inner}]`;
      }
      return `${head} length ${left - UDP_HEADER_LEN}`;
    }
    case IpProto.TCP: {
      if (left < TCP_MIN_HEADER_LEN) return `${src} > ${dst} TCP truncated (${left} of ${TCP_MIN_HEADER_LEN} bytes)`;
      const t = new TcpView().reset(buf, p, left);
      const hl = t.headerLen;
      const data = hl >= TCP_MIN_HEADER_LEN && hl <= left ? `, length ${left - hl}` : `, bad data offset ${hl}`;
      return `${src}.${t.srcPort} > ${dst}.${t.dstPort} TCP [${formatTcpFlags(t.flags)}] seq ${t.seq} ack ${t.ack} win ${t.window}${data}`;
    }
    case IpProto.ICMP: case IpProto.ICMPV6: {
      const name = v6 ? 'ICMP6' : 'ICMP';
      if (left < 4) return `${src} > ${dst} ${name} truncated (${left} of 4 bytes)`;
      const c = new IcmpView().reset(buf, p, left);
      return `${src} > ${dst} ${name} ${icmpText(c, v6, left)}`;
    }
    default:
      return `${src} > ${dst} proto ${proto} length ${left}`;
  }
}

function icmpText(c: IcmpView, v6: boolean, left: number): string {
  const echo = left >= ICMP_HEADER_LEN ? ` id ${c.ident} seq ${c.seq}` : '';
  const t = c.type;
  if (!v6) {
    if (t === Icmpv4Type.ECHO_REQUEST) return `echo request${echo}`;
    if (t === Icmpv4Type.ECHO_REPLY) return `echo reply${echo}`;
    if (t === Icmpv4Type.DEST_UNREACH) return `unreachable code ${c.code}`;
    if (t === Icmpv4Type.TIME_EXCEEDED) return `time exceeded code ${c.code}`;
  } else {
    if (t === Icmpv6Type.ECHO_REQUEST) return `echo request${echo}`;
    if (t === Icmpv6Type.ECHO_REPLY) return `echo reply${echo}`;
    if (t === Icmpv6Type.NEIGHBOR_SOLICIT) return 'neighbor solicitation';
    if (t === Icmpv6Type.NEIGHBOR_ADVERT) return 'neighbor advertisement';
    if (t === Icmpv6Type.ROUTER_SOLICIT) return 'router solicitation';
    if (t === Icmpv6Type.ROUTER_ADVERT) return 'router advertisement';
  }
  return `type ${t} code ${c.code}`;
}
