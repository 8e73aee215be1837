// MULTIPART_REQUEST / MULTIPART_REPLY bodies (OFPMP_*): decode a body of a given multipart type,
// encode one back. Array replies (flow, table, port stats...) hold every entry of one message;
// the OFPMPF_*_MORE flag lives on the message. Unknown types raise OFPBRC_BAD_MULTIPART.
import { OFPBRC, OFPET, OFPMP, DESC_STR_LEN, SERIAL_NUM_LEN } from './constants.js';
import { decodeInstructions, encodeInstructions } from './actions.js';
import { OfpError } from './errors.js';
import type { BucketCounter, FlowStatsRequestBody, MeterBandStats, MultipartKind, MultipartReplyBody, MultipartRequestBody } from './messages.js';
import { decodeMatch, encodeMatch } from './oxm.js';
import { decodeBands, decodeBuckets, decodePort, decodeTableFeatures, encodeBands, encodeBuckets, encodePort, encodeTableFeatures } from './structs.js';
import { Reader, Writer } from './wire.js';

export const MULTIPART_CODES: Record<MultipartKind, number> = {
  desc: OFPMP.DESC, flow: OFPMP.FLOW, aggregate: OFPMP.AGGREGATE, table: OFPMP.TABLE,
  port_stats: OFPMP.PORT_STATS, queue: OFPMP.QUEUE, group: OFPMP.GROUP, group_desc: OFPMP.GROUP_DESC,
  group_features: OFPMP.GROUP_FEATURES, meter: OFPMP.METER, meter_config: OFPMP.METER_CONFIG,
  meter_features: OFPMP.METER_FEATURES, table_features: OFPMP.TABLE_FEATURES, port_desc: OFPMP.PORT_DESC,
  experimenter: OFPMP.EXPERIMENTER,
};
const KINDS = new Map<number, MultipartKind>(Object.entries(MULTIPART_CODES).map(([k, v]) => [v, k as MultipartKind]));

const badLen = (msg: string): OfpError => new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_LEN, msg);
function kindOf(mpType: number): MultipartKind {
  const k = KINDS.get(mpType);
  if (k === undefined) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_MULTIPART, `Unknown multipart type ${mpType}`);
  return k;
}
function exactly(r: Reader, n: number, what: string): void {
  if (r.left !== n) throw badLen(`${what} body is ${r.left} bytes, expected ${n}`);
}
/** Decode fixed-size entries until the body ends; a partial trailing entry is BAD_LEN. */
function entries<T>(r: Reader, size: number, what: string, one: (e: Reader) => T): T[] {
  if (r.left % size !== 0) throw badLen(`${what} body of ${r.left} bytes is not a multiple of ${size}`);
  const out: T[] = [];
  while (r.left > 0) out.push(one(r.sub(size)));
  return out;
}

function decodeFlowStatsRequest(r: Reader): FlowStatsRequestBody {
  r.need(32);
  const tableId = r.u8(); r.skip(3);
  const outPort = r.u32(); const outGroup = r.u32(); r.skip(4);
  const cookie = r.u64(); const cookieMask = r.u64();
  const match = decodeMatch(r);
  if (r.left !== 0) throw badLen(`${r.left} trailing bytes after flow stats request`);
  return { tableId, outPort, outGroup, cookie, cookieMask, match };
}
function encodeFlowStatsRequest(b: FlowStatsRequestBody, w: Writer): void {
  w.u8(b.tableId); w.zeros(3); w.u32(b.outPort); w.u32(b.outGroup); w.zeros(4);
  w.u64(b.cookie); w.u64(b.cookieMask); encodeMatch(b.match, w);
}

export function decodeMultipartRequest(mpType: number, r: Reader): MultipartRequestBody {
  const kind = kindOf(mpType);
  switch (kind) {
    case 'desc': case 'table': case 'group_desc': case 'group_features': case 'meter_features': case 'port_desc':
      exactly(r, 0, kind); return { kind };
    case 'flow': case 'aggregate': return { kind, ...decodeFlowStatsRequest(r) };
    case 'port_stats': { exactly(r, 8, kind); const portNo = r.u32(); return { kind, portNo }; }
    case 'queue': { exactly(r, 8, kind); const portNo = r.u32(); return { kind, portNo, queueId: r.u32() }; }
    case 'group': { exactly(r, 8, kind); return { kind, groupId: r.u32() }; }
    case 'meter': case 'meter_config': { exactly(r, 8, kind); return { kind, meterId: r.u32() }; }
    case 'table_features': return { kind, tables: decodeTableFeatures(r) };
    case 'experimenter': { r.need(8); const experimenter = r.u32(); const expType = r.u32(); return { kind, experimenter, expType, data: r.rest() }; }
  }
}

export function encodeMultipartRequest(b: MultipartRequestBody, w: Writer): void {
  switch (b.kind) {
    case 'desc': case 'table': case 'group_desc': case 'group_features': case 'meter_features': case 'port_desc': return;
    case 'flow': case 'aggregate': encodeFlowStatsRequest(b, w); return;
    case 'port_stats': w.u32(b.portNo); w.zeros(4); return;
    case 'queue': w.u32(b.portNo); w.u32(b.queueId); return;
    case 'group': w.u32(b.groupId); w.zeros(4); return;
    case 'meter': case 'meter_config': w.u32(b.meterId); w.zeros(4); return;
    case 'table_features': encodeTableFeatures(b.tables, w); return;
    case 'experimenter': w.u32(b.experimenter); w.u32(b.expType); w.bytes(b.data); return;
  }
}

function counters<T>(r: Reader, one: (e: Reader) => T): T[] {
  if (r.left % 16 !== 0) throw badLen(`Counter list of ${r.left} bytes is not a multiple of 16`);
  const out: T[] = [];
  while (r.left > 0) out.push(one(r));
  return out;
}
const bucketCounter = (e: Reader): BucketCounter => { const packetCount = e.u64(); return { packetCount, byteCount: e.u64() }; };
const bandStats = (e: Reader): MeterBandStats => { const packetBandCount = e.u64(); return { packetBandCount, byteBandCount: e.u64() }; };

/** Entries that start with their own u16 length at `lenAt` within the entry. */
function sized<T>(r: Reader, min: number, lenAt: number, what: string, one: (e: Reader) => T): T[] {
  const out: T[] = [];
  while (r.left > 0) {
    r.need(min);
    const len = r.buf.readUInt16BE(r.pos + lenAt);
    if (len < min || len > r.left) throw badLen(`Bad ${what} length ${len}`);
    out.push(one(r.sub(len)));
  }
  return out;
}

export function decodeMultipartReply(mpType: number, r: Reader): MultipartReplyBody {
  const kind = kindOf(mpType);
  switch (kind) {
    case 'desc': {
      exactly(r, 4 * DESC_STR_LEN + SERIAL_NUM_LEN, kind);
      const mfrDesc = r.str(DESC_STR_LEN); const hwDesc = r.str(DESC_STR_LEN); const swDesc = r.str(DESC_STR_LEN);
      const serialNum = r.str(SERIAL_NUM_LEN);
      return { kind, mfrDesc, hwDesc, swDesc, serialNum, dpDesc: r.str(DESC_STR_LEN) };
    }
    case 'flow':
      return {
        kind, flows: sized(r, 56, 0, 'flow stats', (e) => {
          e.skip(2);
          const tableId = e.u8(); e.skip(1);
          const durationSec = e.u32(); const durationNsec = e.u32(); const priority = e.u16();
          const idleTimeout = e.u16(); const hardTimeout = e.u16(); const flags = e.u16(); e.skip(4);
          const cookie = e.u64(); const packetCount = e.u64(); const byteCount = e.u64();
          const match = decodeMatch(e);
          return { tableId, durationSec, durationNsec, priority, idleTimeout, hardTimeout, flags, cookie, packetCount, byteCount, match, instructions: decodeInstructions(e) };
        }),
      };
    case 'aggregate': {
      exactly(r, 24, kind);
      const packetCount = r.u64(); const byteCount = r.u64();
      return { kind, packetCount, byteCount, flowCount: r.u32() };
    }
    case 'table':
      return { kind, tables: entries(r, 24, kind, (e) => { const tableId = e.u8(); e.skip(3); const activeCount = e.u32(); const lookupCount = e.u64(); return { tableId, activeCount, lookupCount, matchedCount: e.u64() }; }) };
    case 'port_stats':
      return {
        kind, ports: entries(r, 112, kind, (e) => {
          const portNo = e.u32(); e.skip(4);
          const c = Array.from({ length: 12 }, () => e.u64());
          return {
            portNo, rxPackets: c[0]!, txPackets: c[1]!, rxBytes: c[2]!, txBytes: c[3]!, rxDropped: c[4]!, txDropped: c[5]!,
            rxErrors: c[6]!, txErrors: c[7]!, rxFrameErr: c[8]!, rxOverErr: c[9]!, rxCrcErr: c[10]!, collisions: c[11]!,
            durationSec: e.u32(), durationNsec: e.u32(),
          };
        }),
      };
    case 'queue':
      return {
        kind, queues: entries(r, 40, kind, (e) => {
          const portNo = e.u32(); const queueId = e.u32(); const txBytes = e.u64(); const txPackets = e.u64(); const txErrors = e.u64();
          return { portNo, queueId, txBytes, txPackets, txErrors, durationSec: e.u32(), durationNsec: e.u32() };
        }),
      };
    case 'group':
      return {
        kind, groups: sized(r, 40, 0, 'group stats', (e) => {
          e.skip(4);
          const groupId = e.u32(); const refCount = e.u32(); e.skip(4);
          const packetCount = e.u64(); const byteCount = e.u64(); const durationSec = e.u32(); const durationNsec = e.u32();
          return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, bucketStats: counters(e, bucketCounter) };
        }),
      };
    case 'group_desc':
      return { kind, groups: sized(r, 8, 0, 'group desc', (e) => { e.skip(2); const groupType = e.u8(); e.skip(1); const groupId = e.u32(); return { groupType, groupId, buckets: decodeBuckets(e) }; }) };
    case 'group_features': {
      exactly(r, 40, kind);
      const types = r.u32(); const capabilities = r.u32();
      const maxGroups: [number, number, number, number] = [r.u32(), r.u32(), r.u32(), r.u32()];
      const actions: [number, number, number, number] = [r.u32(), r.u32(), r.u32(), r.u32()];
      return { kind, types, capabilities, maxGroups, actions };
    }
    case 'meter':
      return {
        kind, meters: sized(r, 40, 4, 'meter stats', (e) => {
          const meterId = e.u32(); e.skip(8);
          const flowCount = e.u32(); const packetInCount = e.u64(); const byteInCount = e.u64();
          const durationSec = e.u32(); const durationNsec = e.u32();
          return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bandStats: counters(e, bandStats) };
        }),
      };
    case 'meter_config':
      return { kind, meters: sized(r, 8, 0, 'meter config', (e) => { e.skip(2); const flags = e.u16(); const meterId = e.u32(); return { flags, meterId, bands: decodeBands(e) }; }) };
    case 'meter_features': {
      exactly(r, 16, kind);
      const maxMeter = r.u32(); const bandTypes = r.u32(); const capabilities = r.u32(); const maxBands = r.u8(); const maxColor = r.u8();
      return { kind, maxMeter, bandTypes, capabilities, maxBands, maxColor };
    }
    case 'table_features': return { kind, tables: decodeTableFeatures(r) };
    case 'port_desc': return { kind, ports: entries(r, 64, kind, decodePort) };
    case 'experimenter': { r.need(8); const experimenter = r.u32(); const expType = r.u32(); return { kind, experimenter, expType, data: r.rest() }; }
  }
}

export function encodeMultipartReply(b: MultipartReplyBody, w: Writer): void {
  switch (b.kind) {
    case 'desc':
      w.str(b.mfrDesc, DESC_STR_LEN); w.str(b.hwDesc, DESC_STR_LEN); w.str(b.swDesc, DESC_STR_LEN);
      w.str(b.serialNum, SERIAL_NUM_LEN); w.str(b.dpDesc, DESC_STR_LEN); return;
    case 'flow':
      for (const f of b.flows) {
        const s = w.pos;
        w.u16(0); w.u8(f.tableId); w.zeros(1); w.u32(f.durationSec); w.u32(f.durationNsec); w.u16(f.priority);
        w.u16(f.idleTimeout); w.u16(f.hardTimeout); w.u16(f.flags); w.zeros(4);
        w.u64(f.cookie); w.u64(f.packetCount); w.u64(f.byteCount);
        encodeMatch(f.match, w); encodeInstructions(f.instructions, w);
        w.patchU16(s, w.pos - s);
      }
      return;
    case 'aggregate': w.u64(b.packetCount); w.u64(b.byteCount); w.u32(b.flowCount); w.zeros(4); return;
    case 'table': for (const t of b.tables) { w.u8(t.tableId); w.zeros(3); w.u32(t.activeCount); w.u64(t.lookupCount); w.u64(t.matchedCount); } return;
    case 'port_stats':
      for (const p of b.ports) {
        w.u32(p.portNo); w.zeros(4);
        for (const c of [p.rxPackets, p.txPackets, p.rxBytes, p.txBytes, p.rxDropped, p.txDropped, p.rxErrors, p.txErrors, p.rxFrameErr, p.rxOverErr, p.rxCrcErr, p.collisions]) w.u64(c);
        w.u32(p.durationSec); w.u32(p.durationNsec);
      }
      return;
    case 'queue': for (const q of b.queues) { w.u32(q.portNo); w.u32(q.queueId); w.u64(q.txBytes); w.u64(q.txPackets); w.u64(q.txErrors); w.u32(q.durationSec); w.u32(q.durationNsec); } return;
    case 'group':
      for (const g of b.groups) {
        const s = w.pos;
        w.u16(0); w.zeros(2); w.u32(g.groupId); w.u32(g.refCount); w.zeros(4); w.u64(g.packetCount); w.u64(g.byteCount);
        w.u32(g.durationSec); w.u32(g.durationNsec);
        for (const c of g.bucketStats) { w.u64(c.packetCount); w.u64(c.byteCount); }
        w.patchU16(s, w.pos - s);
      }
      return;
    case 'group_desc':
      for (const g of b.groups) { const s = w.pos; w.u16(0); w.u8(g.groupType); w.zeros(1); w.u32(g.groupId); encodeBuckets(g.buckets, w); w.patchU16(s, w.pos - s); }
      return;
    case 'group_features':
      w.u32(b.types); w.u32(b.capabilities); for (const v of b.maxGroups) w.u32(v); for (const v of b.actions) w.u32(v); return;
    case 'meter':
      for (const m of b.meters) {
        const s = w.pos;
        w.u32(m.meterId); w.u16(0); w.zeros(6); w.u32(m.flowCount); w.u64(m.packetInCount); w.u64(m.byteInCount);
        w.u32(m.durationSec); w.u32(m.durationNsec);
        for (const c of m.bandStats) { w.u64(c.packetBandCount); w.u64(c.byteBandCount); }
        w.patchU16(s + 4, w.pos - s);
      }
      return;
    case 'meter_config':
      for (const m of b.meters) { const s = w.pos; w.u16(0); w.u16(m.flags); w.u32(m.meterId); encodeBands(m.bands, w); w.patchU16(s, w.pos - s); }
      return;
    case 'meter_features': w.u32(b.maxMeter); w.u32(b.bandTypes); w.u32(b.capabilities); w.u8(b.maxBands); w.u8(b.maxColor); w.zeros(2); return;
    case 'table_features': encodeTableFeatures(b.tables, w); return;
    case 'port_desc': for (const p of b.ports) encodePort(p, w); return;
    case 'experimenter': w.u32(b.experimenter); w.u32(b.expType); w.bytes(b.data); return;
  }
}
