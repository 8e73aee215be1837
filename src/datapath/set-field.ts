// Header rewrites of set_field, dec_ttl/set_nw_ttl and the tunnel/queue metadata actions, with the
// IPv4 header and TCP/UDP checksums fixed incrementally (RFC 1624: HC' = ~(~HC + ~m + m')). Each
// edit keeps the flow key in step with the frame. Hot path: byte math on the packet, no allocation.
import type { Packet } from '../packet/packet.js';
import { K, VID_PRESENT } from '../packet/flow-key.js';
import { setVlanVid, setVlanPcp } from '../vlan/tag.js';
import { OP } from './actions.js';
import { DROP } from './counters.js';

const IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_SCTP = 132;
const ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd;
/** editField's "done" (not a DROP code: those start at 0). */
export const EDIT_OK = -1;

function csumFold(s: number): number { while (s > 0xffff) s = (s & 0xffff) + (s >>> 16); return s; }

/** Fix the 16-bit ones-complement checksum at csumOff for one 16-bit word changing oldW -> newW. */
export function csumUpdate16(buf: Buffer, csumOff: number, oldW: number, newW: number): void {
  const hc = (buf[csumOff] << 8) | buf[csumOff + 1];
  const s = csumFold((~hc & 0xffff) + (~oldW & 0xffff) + (newW & 0xffff));
  const r = ~s & 0xffff;
  buf[csumOff] = r >>> 8; buf[csumOff + 1] = r & 0xff;
}

/** The same for a 32-bit value (an IPv4 address): two 16-bit updates. */
export function csumUpdate32(buf: Buffer, csumOff: number, oldV: number, newV: number): void {
  csumUpdate16(buf, csumOff, oldV >>> 16, newV >>> 16);
  csumUpdate16(buf, csumOff, oldV & 0xffff, newV & 0xffff);
}

/** TCP/UDP checksums cover the IPv4 addresses through the pseudo-header (UDP checksum 0 stays 0). */
function fixL4Pseudo(p: Packet, w: Uint32Array, old: number, v: number): void {
  if (w[K.L4_OFF] === 0) return;
  const l4 = p.off + w[K.L4_OFF], buf = p.buf, proto = w[K.IP_PROTO];
  if (proto === IPPROTO_TCP && w[K.L4_OFF] + 18 <= p.len) csumUpdate32(buf, l4 + 16, old, v);
  else if (proto === IPPROTO_UDP && w[K.L4_OFF] + 8 <= p.len && (buf[l4 + 6] | buf[l4 + 7]) !== 0) csumUpdate32(buf, l4 + 6, old, v);
}

/**
 * Apply one field edit (`op` from SET_VLAN_VID .. SET_QUEUE, DEC_NW_TTL, SET_NW_TTL; arguments a, b)
 * to the frame and the key words `w`. Returns EDIT_OK, or a DROP code when the frame must be dropped
 * (dec_ttl at TTL <= 1: ttl-exceeded). An edit that does not apply to the frame (set_field:ipv4_src
 * on ARP, vlan_vid on an untagged frame) leaves it as it is, as Open vSwitch does.
 */
export function editField(p: Packet, w: Uint32Array, op: number, a: number, b: number): number {
  const buf = p.buf;
  switch (op) {
    case OP.SET_VLAN_VID:
      if (setVlanVid(p, a)) w[K.VLAN_VID] = VID_PRESENT | a;
      return EDIT_OK;
    case OP.SET_VLAN_PCP:
      if (setVlanPcp(p, a)) w[K.VLAN_PCP] = a;
      return EDIT_OK;
    case OP.SET_ETH_SRC: case OP.SET_ETH_DST: {
      const o = p.off + (op === OP.SET_ETH_SRC ? 6 : 0);
      const hi = Math.floor(a / 0x1_0000_0000), lo = a >>> 0;
      buf[o] = hi >>> 8; buf[o + 1] = hi & 0xff;
      buf[o + 2] = lo >>> 24; buf[o + 3] = (lo >>> 16) & 0xff; buf[o + 4] = (lo >>> 8) & 0xff; buf[o + 5] = lo & 0xff;
      if (op === OP.SET_ETH_SRC) { w[K.ETH_SRC_HI] = hi; w[K.ETH_SRC_LO] = lo; } else { w[K.ETH_DST_HI] = hi; w[K.ETH_DST_LO] = lo; }
      return EDIT_OK;
    }
    case OP.SET_IPV4_SRC: case OP.SET_IPV4_DST: {
      if (w[K.ETH_TYPE] !== ETH_IPV4 || w[K.L3_OFF] === 0) return EDIT_OK;
      const l3 = p.off + w[K.L3_OFF], fo = l3 + (op === OP.SET_IPV4_SRC ? 12 : 16);
      const old = ((buf[fo] << 24) | (buf[fo + 1] << 16) | (buf[fo + 2] << 8) | buf[fo + 3]) >>> 0;
      const v = a >>> 0;
      buf[fo] = v >>> 24; buf[fo + 1] = (v >>> 16) & 0xff; buf[fo + 2] = (v >>> 8) & 0xff; buf[fo + 3] = v & 0xff;
      csumUpdate32(buf, l3 + 10, old, v);
      fixL4Pseudo(p, w, old, v);
      w[op === OP.SET_IPV4_SRC ? K.IPV4_SRC : K.IPV4_DST] = v;
      return EDIT_OK;
    }
    case OP.SET_IP_DSCP: {
      if (w[K.L3_OFF] === 0) return EDIT_OK;
      const l3 = p.off + w[K.L3_OFF];
      if (w[K.ETH_TYPE] === ETH_IPV4) {
        const oldW = (buf[l3] << 8) | buf[l3 + 1];
        buf[l3 + 1] = (a << 2) | (buf[l3 + 1] & 3);
        csumUpdate16(buf, l3 + 10, oldW, (buf[l3] << 8) | buf[l3 + 1]);
      } else if (w[K.ETH_TYPE] === ETH_IPV6) {
        // traffic class spans bytes 0-1: version(4) tc(8) flow(4..)
        const tc = (a << 2) | (((buf[l3 + 1] >>> 4) & 3));
        buf[l3] = (buf[l3] & 0xf0) | (tc >>> 4); buf[l3 + 1] = ((tc & 0xf) << 4) | (buf[l3 + 1] & 0x0f);
      } else return EDIT_OK;
      w[K.IP_DSCP] = a;
      return EDIT_OK;
    }
    case OP.SET_TP_SRC: case OP.SET_TP_DST: {
      if (w[K.L4_OFF] === 0) return EDIT_OK;
      const proto = w[K.IP_PROTO];
      if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_SCTP) return EDIT_OK;
      const l4 = p.off + w[K.L4_OFF], fo = l4 + (op === OP.SET_TP_SRC ? 0 : 2);
      const old = (buf[fo] << 8) | buf[fo + 1];
      buf[fo] = a >>> 8; buf[fo + 1] = a & 0xff;
      if (proto === IPPROTO_TCP) csumUpdate16(buf, l4 + 16, old, a);
      else if (proto === IPPROTO_UDP && ((buf[l4 + 6] | buf[l4 + 7]) !== 0)) csumUpdate16(buf, l4 + 6, old, a);
      // SCTP's CRC32c is not updated (documented limitation)
      w[op === OP.SET_TP_SRC ? K.TP_SRC : K.TP_DST] = a;
      return EDIT_OK;
    }
    case OP.DEC_NW_TTL: case OP.SET_NW_TTL: return editTtl(p, w, op === OP.DEC_NW_TTL, a);
    case OP.SET_TUNNEL_ID:
      p.tunnelId = a * 0x1_0000_0000 + b;
      w[K.TUNNEL_ID_HI] = a; w[K.TUNNEL_ID_LO] = b;
      return EDIT_OK;
    case OP.SET_TUN_IPV4_SRC: p.tunIpv4Src = a; w[K.TUN_IPV4_SRC] = a; return EDIT_OK;
    case OP.SET_TUN_IPV4_DST: p.tunIpv4Dst = a; w[K.TUN_IPV4_DST] = a; return EDIT_OK;
    case OP.SET_QUEUE: p.queueId = a; return EDIT_OK;
    default: return EDIT_OK;
  }
}

/** dec_ttl (`dec` true) or set_nw_ttl:`ttl` on IPv4 (header checksum fixed) or IPv6 (hop limit). */
function editTtl(p: Packet, w: Uint32Array, dec: boolean, ttl: number): number {
  if (w[K.L3_OFF] === 0) return EDIT_OK;
  const buf = p.buf, l3 = p.off + w[K.L3_OFF];
  if (w[K.ETH_TYPE] === ETH_IPV4) {
    const old = buf[l3 + 8];
    if (dec && old <= 1) return DROP.TtlExceeded;
    const nt = dec ? old - 1 : ttl;
    const oldW = (old << 8) | buf[l3 + 9];
    buf[l3 + 8] = nt;
    csumUpdate16(buf, l3 + 10, oldW, (nt << 8) | buf[l3 + 9]);
    w[K.IP_TTL] = nt;
  } else if (w[K.ETH_TYPE] === ETH_IPV6) {
    const hl = buf[l3 + 7];
    if (dec && hl <= 1) return DROP.TtlExceeded;
    buf[l3 + 7] = dec ? hl - 1 : ttl;
    w[K.IP_TTL] = buf[l3 + 7];
  }
  return EDIT_OK;
}
