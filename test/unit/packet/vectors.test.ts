// Cross-checks against third-party captures (tcpdump's test suite, in ../shared/vectors): our
// reader finds as many frames as tcpdump decoded, and our views/extraction agree with the values
// parsed out of tcpdump's own text beside each capture (.tcpdump.txt).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArpView } from '../../../src/packet/arp.js';
import { parseCapture, type CaptureRecord } from '../../../src/packet/capture.js';
import { extractFlowKey } from '../../../src/packet/extract.js';
import { FlowKey, formatIpv4, formatMac, K, macJoin, ParseError, VID_PRESENT } from '../../../src/packet/flow-key.js';
import { formatIpv6 } from '../../../src/packet/ipv6.js';
import { summarizeFrame } from '../../../src/packet/summary.js';
import { formatTcpFlags } from '../../../src/packet/tcp.js';
import { VlanTagView } from '../../../src/packet/vlan.js';
import { VxlanView } from '../../../src/packet/vxlan.js';
import { CAPTURES_DIR, vectorsPresent } from '../../helpers/pcap.js';

if (!vectorsPresent) console.log(`skipping third-party capture cross-checks: ${CAPTURES_DIR} is absent`);

interface Decoded { ts: string; text: string }
/** Split tcpdump's output into frames: a line starting "   N  YYYY-MM-DD hh:mm:ss.uuuuuu" opens one. */
function tcpdumpFrames(name: string): Decoded[] {
  const out: Decoded[] = [];
  for (const line of readFileSync(`${CAPTURES_DIR}${name.replace(/\.pcap(ng)?$/, "")}.tcpdump.txt`, 'utf8').split('\n')) {
    const m = /^\s*\d+\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) (.*)$/.exec(line);
    if (m) out.push({ ts: m[1], text: m[2] });
    else if (out.length > 0 && line.trim() !== "") out[out.length - 1].text += `\n${line}`;
  }
  return out;
}
function load(name: string): { recs: CaptureRecord[]; dec: Decoded[] } {
  return { recs: parseCapture(readFileSync(`${CAPTURES_DIR}${name}`), name), dec: tcpdumpFrames(name) };
}
/** tcpdump prints UTC "YYYY-MM-DD hh:mm:ss.uuuuuu". */
function tsText(r: CaptureRecord): string {
  return `${new Date(r.tsSec * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(Math.floor(r.tsNsec / 1000)).padStart(6, '0')}`;
}
function keyOf(buf: Buffer, off = 0, len = buf.length - off): FlowKey {
  const k = new FlowKey();
  extractFlowKey(buf, off, len, k);
  return k;
}
function ipv6Of(w: Uint32Array, first: number): string {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32BE(w[first + i], 4 * i);
  return formatIpv6(b);
}
const mac = (w: Uint32Array, hi: number): string => formatMac(macJoin(w[hi], w[hi + 1]));

describe.skipIf(!vectorsPresent)('third-party captures', () => {
  it.each(['vxlan.pcap', 'vxlan_port_8472.pcap'])('%s: frames, outer and inner headers, VNI', (name) => {
    const { recs, dec } = load(name);
    expect(recs.length).toBe(dec.length);
    expect(recs.length).toBeGreaterThan(0);
    recs.forEach((r, i) => {
      const t = dec[i].text;
      expect(tsText(r)).toBe(dec[i].ts);
      const m = /^(\S+) > (\S+), ethertype IPv4 \(0x0800\), length (\d+): ([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): VXLAN, flags \[I\] \(0x08\), vni (\d+)\n(\S+) > (\S+), ethertype \S+ \((0x[0-9a-f]+)\), length (\d+): (.*)$/.exec(t);
      expect(m, t).not.toBeNull();
      const [, src, dst, flen, ipSrc, sport, ipDst, dport, vni, iSrc, iDst, iType, iLen, rest] = m!;
      const w = keyOf(r.data).w;
      expect([mac(w, K.ETH_SRC_HI), mac(w, K.ETH_DST_HI), r.origLen]).toEqual([src, dst, Number(flen)]);
      expect([formatIpv4(w[K.IPV4_SRC]), formatIpv4(w[K.IPV4_DST]), w[K.TP_SRC], w[K.TP_DST]]).toEqual([ipSrc, ipDst, Number(sport), Number(dport)]);
      const vx = new VxlanView().reset(r.data, w[K.L4_OFF] + 8, r.data.length - w[K.L4_OFF] - 8);
      expect([vx.checkLen(), vx.vniValid, vx.vni]).toEqual([true, true, Number(vni)]);
      const innerOff = vx.payloadOff, innerLen = r.data.length - innerOff;
      expect(innerLen).toBe(Number(iLen));
      const k = keyOf(r.data, innerOff, innerLen);
      const iw = k.w;
      expect([k.error, mac(iw, K.ETH_SRC_HI), mac(iw, K.ETH_DST_HI), iw[K.ETH_TYPE]]).toEqual([ParseError.None, iSrc, iDst, Number(iType)]);
      const icmp = /^([\d.]+) > ([\d.]+): ICMP echo (request|reply), id (\d+), seq (\d+)/.exec(rest);
      const arpReq = /^Request who-has ([\d.]+) tell ([\d.]+)/.exec(rest);
      const arpRep = /^Reply ([\d.]+) is-at (\S+),/.exec(rest);
      if (icmp) {
        expect([formatIpv4(iw[K.IPV4_SRC]), formatIpv4(iw[K.IPV4_DST]), iw[K.ICMP_TYPE]]).toEqual([icmp[1], icmp[2], icmp[3] === 'request' ? 8 : 0]);
        expect(summarizeFrame(r.data)).toContain(`VXLAN vni ${vni} [${iSrc} > ${iDst}, IPv4 ${icmp[1]} > ${icmp[2]} ICMP echo ${icmp[3]} id ${icmp[4]} seq ${icmp[5]}`);
      } else if (arpReq) {
        expect([iw[K.ARP_OP], formatIpv4(iw[K.ARP_TPA]), formatIpv4(iw[K.ARP_SPA])]).toEqual([1, arpReq[1], arpReq[2]]);
      } else if (arpRep) {
        expect([iw[K.ARP_OP], formatIpv4(iw[K.ARP_SPA]), mac(iw, K.ARP_SHA_HI)]).toEqual([2, arpRep[1], arpRep[2]]);
      } else {
        throw new Error(`unexpected inner decoding in ${name} frame ${i + 1}: ${rest}`);
      }
    });
  });

  it('gso-ipv4-vxlan-ipv4.pcap: outer IPv4/UDP, VNI, inner TCP', () => {
    const { recs, dec } = load('gso-ipv4-vxlan-ipv4.pcap');
    expect(recs.length).toBe(dec.length);
    const t = dec[0].text;
    const outer = /^IP \(tos 0x(\w+), ttl (\d+),.*length (\d+)\)\n\s+([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): VXLAN, flags \[I\] \(0x08\), vni (\d+)/.exec(t)!;
    const inner = /\nIP \(tos 0x\w+, ttl (\d+),.*proto TCP.*\)\n\s+([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): Flags \[([^\]]+)\], .*length (\d+)$/m.exec(t)!;
    expect(outer, t).not.toBeNull();
    expect(inner, t).not.toBeNull();
    const r = recs[0];
    const k = keyOf(r.data), w = k.w;
    expect(k.error).toBe(ParseError.None);
    expect([w[K.IP_DSCP] << 2 | w[K.IP_ECN], w[K.IP_TTL], r.data.length - 14]).toEqual([parseInt(outer[1], 16), Number(outer[2]), Number(outer[3])]);
    expect([formatIpv4(w[K.IPV4_SRC]), w[K.TP_SRC], formatIpv4(w[K.IPV4_DST]), w[K.TP_DST]]).toEqual([outer[4], Number(outer[5]), outer[6], Number(outer[7])]);
    const vx = new VxlanView().reset(r.data, w[K.L4_OFF] + 8, 8);
    expect(vx.vni).toBe(Number(outer[8]));
    const ik = keyOf(r.data, vx.payloadOff, r.data.length - vx.payloadOff), iw = ik.w;
    expect(ik.error).toBe(ParseError.None);
    expect([iw[K.IP_TTL], formatIpv4(iw[K.IPV4_SRC]), iw[K.TP_SRC], formatIpv4(iw[K.IPV4_DST]), iw[K.TP_DST], formatTcpFlags(iw[K.TCP_FLAGS])])
      .toEqual([Number(inner[1]), inner[2], Number(inner[3]), inner[4], Number(inner[5]), inner[6]]);
  });

  it('gso-ipv6-vxlan-ipv6.pcap: outer IPv6 addresses, VNI, inner IPv6 flow label and ports', () => {
    const { recs, dec } = load('gso-ipv6-vxlan-ipv6.pcap');
    expect(recs.length).toBe(dec.length);
    const t = dec[0].text;
    const outer = /^IP6 \(hlim (\d+), next-header UDP \(17\), payload length (\d+)\) ([0-9a-f:]+)\.(\d+) > ([0-9a-f:]+)\.(\d+): .*VXLAN, flags \[I\] \(0x08\), vni (\d+)/.exec(t)!;
    const inner = /\nIP6 \(flowlabel 0x([0-9a-f]+), hlim (\d+), next-header TCP \(6\), payload length (\d+)\) ([0-9a-f:]+)\.(\d+) > ([0-9a-f:]+)\.(\d+): Flags \[([^\]]+)\]/.exec(t)!;
    expect(outer, t).not.toBeNull();
    expect(inner, t).not.toBeNull();
    const r = recs[0];
    const w = keyOf(r.data).w;
    expect([w[K.ETH_TYPE], w[K.IP_TTL], r.data.length - 54]).toEqual([0x86dd, Number(outer[1]), Number(outer[2])]);
    expect([ipv6Of(w, K.IPV6_SRC_0), w[K.TP_SRC], ipv6Of(w, K.IPV6_DST_0), w[K.TP_DST]]).toEqual([outer[3], Number(outer[4]), outer[5], Number(outer[6])]);
    const vx = new VxlanView().reset(r.data, w[K.L4_OFF] + 8, 8);
    expect(vx.vni).toBe(Number(outer[7]));
    const ik = keyOf(r.data, vx.payloadOff, r.data.length - vx.payloadOff), iw = ik.w;
    expect(ik.error).toBe(ParseError.None);
    expect([iw[K.IPV6_FLABEL], iw[K.IP_TTL], ipv6Of(iw, K.IPV6_SRC_0), iw[K.TP_SRC], ipv6Of(iw, K.IPV6_DST_0), iw[K.TP_DST], formatTcpFlags(iw[K.TCP_FLAGS])])
      .toEqual([parseInt(inner[1], 16), Number(inner[2]), inner[4], Number(inner[5]), inner[6], Number(inner[7]), inner[8]]);
    expect(summarizeFrame(r.data)).toContain(`IPv6 ${outer[3]}.${outer[4]} > ${outer[5]}.${outer[6]} UDP VXLAN vni ${outer[7]} [`);
  });

  it('802.1ad_QinQ.pcap: stacked tag TPIDs and VIDs, ARP', () => {
    const { recs, dec } = load('802.1ad_QinQ.pcap');
    expect(recs.length).toBe(dec.length);
    recs.forEach((r, i) => {
      const t = dec[i].text;
      const types = [...t.matchAll(/ethertype [^(]*\((0x[0-9a-f]{4})\)/g)].map((m) => Number(m[1]));
      const vids = [...t.matchAll(/vlan (\d+), p (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(types.length).toBe(3);                 // S-tag, C-tag, ARP
      expect(vids.length).toBe(2);
      const tag = new VlanTagView();
      const seen: number[][] = [];
      for (let p = 12, n = 0; n < 2; n++, p += 4) {
        tag.reset(r.data, p, r.data.length - p);
        seen.push([tag.tpid, tag.vid, tag.pcp, tag.etherType]);
      }
      expect(seen).toEqual([[types[0], vids[0][0], vids[0][1], types[1]], [types[1], vids[1][0], vids[1][1], types[2]]]);
      const w = keyOf(r.data).w;
      expect([w[K.VLAN_VID], w[K.VLAN_PCP], w[K.VLAN_OUTER_TPID], w[K.ETH_TYPE], w[K.L3_OFF]]).toEqual([VID_PRESENT | vids[0][0], vids[0][1], types[0], types[2], 22]);
      const req = /Request who-has ([\d.]+) tell ([\d.]+)/.exec(t);
      const rep = /Reply ([\d.]+) is-at (\S+),/.exec(t);
      if (req) expect([w[K.ARP_OP], formatIpv4(w[K.ARP_TPA]), formatIpv4(w[K.ARP_SPA])]).toEqual([1, req[1], req[2]]);
      else expect([w[K.ARP_OP], formatIpv4(w[K.ARP_SPA]), mac(w, K.ARP_SHA_HI)]).toEqual([2, rep![1], rep![2]]);
      expect(summarizeFrame(r.data)).toContain(`802.1ad vlan ${vids[0][0]} p ${vids[0][1]}, 802.1Q vlan ${vids[1][0]} p ${vids[1][1]}, ARP`);
    });
  });

  it('arp-too-long-tha.pcap: the malformed ARP is reported, not parsed as Ethernet/IPv4', () => {
    const { recs, dec } = load('arp-too-long-tha.pcap');
    expect(recs.length).toBe(dec.length);
    const m = /ARP, Unknown Hardware \((\d+)\) \(len (\d+)\), IPv4 \(len (\d+)\), Request .*, length (\d+)$/.exec(dec[0].text)!;
    expect(m, dec[0].text).not.toBeNull();
    const r = recs[0];
    const k = keyOf(r.data);
    expect([k.error, k.w[K.ETH_TYPE], k.w[K.ARP_OP], k.w[K.ARP_SPA]]).toEqual([ParseError.None, 0x0806, 0, 0]);
    const a = new ArpView().reset(r.data, k.w[K.L3_OFF], r.data.length - k.w[K.L3_OFF]);
    expect([a.htype, a.hlen, a.plen, a.isEthIpv4()]).toEqual([Number(m[1]), Number(m[2]), Number(m[3]), false]);
    expect(r.origLen - k.w[K.L3_OFF]).toBe(Number(m[4]));   // tcpdump's ARP length from the original frame length
    expect(summarizeFrame(r.data)).toContain(`ARP malformed: htype ${m[1]} ptype 0x0800 hlen ${m[2]} plen ${m[3]}`);
  });

  it('lldp-app-priority.pcap: one LLDP frame of the right length', () => {
    const { recs, dec } = load('lldp-app-priority.pcap');
    expect(recs.length).toBe(dec.length);
    const len = Number(/^LLDP, length (\d+)/.exec(dec[0].text)![1]);
    const k = keyOf(recs[0].data);
    expect([k.error, k.w[K.ETH_TYPE], recs[0].data.length - 14]).toEqual([ParseError.None, 0x88cc, len]);
    expect(summarizeFrame(recs[0].data)).toContain('ethertype LLDP (0x88cc)');
  });

  it('of13_ericsson.pcapng: every frame, its TCP ports, flags and payload length agree with tcpdump', () => {
    const { recs, dec } = load('of13_ericsson.pcapng');
    expect(recs.length).toBe(dec.length);
    // The controller's port is the one in every frame; tcpdump's text and our extraction must agree on it.
    let ours: number[] | null = null, theirs: number[] | null = null;
    recs.forEach((r, i) => {
      expect(tsText(r)).toBe(dec[i].ts);
      const m = /^IP ([\d.]+)\.(\d+) > ([\d.]+)\.(\d+): Flags \[([^\]]+)\], .*length (\d+)/.exec(dec[i].text)!;
      expect(m, dec[i].text).not.toBeNull();
      const k = keyOf(r.data), w = k.w;
      expect(k.error).toBe(ParseError.None);
      const ipTot = r.data.readUInt16BE(w[K.L3_OFF] + 2);
      const tcpHl = (r.data[w[K.L4_OFF] + 12] >> 4) * 4;
      const payload = ipTot - (w[K.L4_OFF] - w[K.L3_OFF]) - tcpHl;
      expect([formatIpv4(w[K.IPV4_SRC]), w[K.TP_SRC], formatIpv4(w[K.IPV4_DST]), w[K.TP_DST], formatTcpFlags(w[K.TCP_FLAGS]), payload])
        .toEqual([m[1], Number(m[2]), m[3], Number(m[4]), m[5], Number(m[6])]);
      const pair = [w[K.TP_SRC], w[K.TP_DST]], tpair = [Number(m[2]), Number(m[4])];
      ours = ours === null ? pair : ours.filter((p) => pair.includes(p));
      theirs = theirs === null ? tpair : theirs.filter((p) => tpair.includes(p));
    });
    expect(ours).toEqual(theirs);
    expect(ours!.length).toBe(1);
    // This capture's controller listens on 6633 (the pre-IANA OpenFlow port), not 6653.
    expect([6633, 6653]).toContain(ours![0]);
  });
});
