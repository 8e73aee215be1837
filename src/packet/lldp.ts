// LLDP (IEEE 802.1AB) frames, cold path: the controller sends one out of every switch port and
// reads them back in PACKET_INs to find the links between switches (as Ryu's --observe-links and
// ONOS do). A TLV is 7 bits of type and 9 of length; a frame is Chassis ID, Port ID, TTL, ..., End.
import { parseMac } from './flow-key.js';

export const ETH_TYPE_LLDP = 0x88cc;
/** Nearest-bridge group address: never forwarded by 802.1D bridges. */
export const LLDP_MULTICAST = '01:80:c2:00:00:0e';
export const LldpTlv = { END: 0, CHASSIS_ID: 1, PORT_ID: 2, TTL: 3, PORT_DESC: 4, SYSTEM_NAME: 5, SYSTEM_DESC: 6, ORG: 127 } as const;
/** Chassis/port id subtypes (802.1AB §8.5.2.2, §8.5.3.2) we read or write. */
export const ChassisSubtype = { MAC: 4, LOCAL: 7 } as const;
export const PortSubtype = { INTERFACE_NAME: 5, LOCAL: 7 } as const;

export interface LldpTlvValue { type: number; value: Buffer }
export interface LldpFields {
  chassisSubtype: number; chassisId: Buffer;
  portSubtype: number; portId: Buffer;
  ttlS: number;
  /** Every other TLV, in order (End excluded). */
  extra: LldpTlvValue[];
}

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(((type & 0x7f) << 9) | (value.length & 0x1ff));
  return Buffer.concat([head, value]);
}

/** A whole Ethernet frame carrying `f`, from `srcMac`. */
export function buildLldp(srcMac: string, f: Omit<LldpFields, 'extra'> & { extra?: LldpTlvValue[] }): Buffer {
  const eth = Buffer.alloc(14);
  writeMac(eth, 0, LLDP_MULTICAST);
  writeMac(eth, 6, srcMac);
  eth.writeUInt16BE(ETH_TYPE_LLDP, 12);
  const ttl = Buffer.alloc(2); ttl.writeUInt16BE(f.ttlS);
  const parts = [
    eth,
    tlv(LldpTlv.CHASSIS_ID, Buffer.concat([Buffer.from([f.chassisSubtype]), f.chassisId])),
    tlv(LldpTlv.PORT_ID, Buffer.concat([Buffer.from([f.portSubtype]), f.portId])),
    tlv(LldpTlv.TTL, ttl),
    ...(f.extra ?? []).map((t) => tlv(t.type, t.value)),
    tlv(LldpTlv.END, Buffer.alloc(0)),
  ];
  const frame = Buffer.concat(parts);
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]);
}

function writeMac(b: Buffer, off: number, mac: string): void {
  const n = parseMac(mac);
  b.writeUInt16BE(Math.floor(n / 0x1_0000_0000), off);
  b.writeUInt32BE(n >>> 0, off + 2);
}

/**
 * Parse the LLDP frame at buf[off, off+len): an untagged or 802.1Q-tagged Ethernet frame of type
 * 0x88cc with Chassis ID, Port ID and TTL first. Returns null for anything else; never throws.
 */
export function parseLldp(buf: Buffer, off: number, len: number): LldpFields | null {
  const end = off + Math.min(len, buf.length - off);
  let p = off + 12;
  if (end - off < 14) return null;
  let etherType = buf.readUInt16BE(p);
  if (etherType === 0x8100 || etherType === 0x88a8) {
    if (end - off < 18) return null;
    p += 4;
    etherType = buf.readUInt16BE(p);
  }
  if (etherType !== ETH_TYPE_LLDP) return null;
  p += 2;
  const tlvs: LldpTlvValue[] = [];
  while (p + 2 <= end) {
    const h = buf.readUInt16BE(p);
    const type = h >>> 9, l = h & 0x1ff;
    p += 2;
    if (p + l > end) return null;
    if (type === LldpTlv.END) break;
    tlvs.push({ type, value: buf.subarray(p, p + l) });
    p += l;
  }
  const [c, pt, ttl] = tlvs;
  if (!c || c.type !== LldpTlv.CHASSIS_ID || c.value.length < 2) return null;
  if (!pt || pt.type !== LldpTlv.PORT_ID || pt.value.length < 2) return null;
  if (!ttl || ttl.type !== LldpTlv.TTL || ttl.value.length !== 2) return null;
  return {
    chassisSubtype: c.value[0]!, chassisId: Buffer.from(c.value.subarray(1)),
    portSubtype: pt.value[0]!, portId: Buffer.from(pt.value.subarray(1)),
    ttlS: ttl.value.readUInt16BE(0),
    extra: tlvs.slice(3).map((t) => ({ type: t.type, value: Buffer.from(t.value) })),
  };
}
