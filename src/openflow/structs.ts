// Codecs for the structures shared by several OpenFlow 1.3 messages: ofp_port, group buckets,
// meter bands, packet queues, table-features entries and hello elements. Each decoder reads from a
// Reader (bounds-checked, throws OfpError); each encoder writes through a Writer (or measures).
import { OFPBRC, OFPET, OFPGMFC, OFPHET, OFPMBT, OFPMMFC, OFPQT, OFPTFPT, OFP_MAX_PORT_NAME_LEN, OFP_MAX_TABLE_NAME_LEN } from './constants.js';
import { decodeActions, encodeActions } from './actions.js';
import { OfpError } from './errors.js';
import type { Bucket, FeatureId, HelloElement, MeterBand, PacketQueue, Port, QueueProperty, TableFeatureProp, TableFeatures } from './messages.js';
import { Reader, Writer, pad8 } from './wire.js';

const badLen = (msg: string): OfpError => new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_LEN, msg);

export const OFP_PORT_LEN = 64;
export function decodePort(r: Reader): Port {
  r.need(OFP_PORT_LEN);
  const portNo = r.u32(); r.skip(4);
  const hwAddr = r.mac(); r.skip(2);
  const name = r.str(OFP_MAX_PORT_NAME_LEN);
  return {
    portNo, hwAddr, name, config: r.u32(), state: r.u32(), curr: r.u32(), advertised: r.u32(),
    supported: r.u32(), peer: r.u32(), currSpeed: r.u32(), maxSpeed: r.u32(),
  };
}
export function encodePort(p: Port, w: Writer): void {
  w.u32(p.portNo); w.zeros(4); w.mac(p.hwAddr); w.zeros(2); w.str(p.name, OFP_MAX_PORT_NAME_LEN);
  w.u32(p.config); w.u32(p.state); w.u32(p.curr); w.u32(p.advertised); w.u32(p.supported);
  w.u32(p.peer); w.u32(p.currSpeed); w.u32(p.maxSpeed);
}

export function decodeBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.left > 0) {
    if (r.left < 16) throw new OfpError(OFPET.GROUP_MOD_FAILED, OFPGMFC.BAD_BUCKET, `Truncated bucket: ${r.left} bytes left`);
    const len = r.u16();
    if (len < 16 || len - 2 > r.left) throw new OfpError(OFPET.GROUP_MOD_FAILED, OFPGMFC.BAD_BUCKET, `Bad bucket length ${len}`);
    const b = r.sub(len - 2);
    const weight = b.u16(); const watchPort = b.u32(); const watchGroup = b.u32(); b.skip(4);
    out.push({ weight, watchPort, watchGroup, actions: decodeActions(b) });
  }
  return out;
}
export function encodeBuckets(buckets: readonly Bucket[], w: Writer): void {
  for (const b of buckets) {
    const start = w.pos;
    w.u16(0); w.u16(b.weight); w.u32(b.watchPort); w.u32(b.watchGroup); w.zeros(4);
    encodeActions(b.actions, w);
    w.patchU16(start, w.pos - start);
  }
}

export function decodeBands(r: Reader): MeterBand[] {
  const out: MeterBand[] = [];
  while (r.left > 0) {
    if (r.left < 16) throw badLen(`Truncated meter band: ${r.left} bytes left`);
    const type = r.u16(); const len = r.u16();
    if (len < 16 || len - 4 > r.left) throw badLen(`Bad meter band length ${len}`);
    const b = r.sub(len - 4);
    const rate = b.u32(); const burstSize = b.u32();
    switch (type) {
      case OFPMBT.DROP: if (len !== 16) throw badLen(`Drop band length ${len}`); out.push({ kind: 'drop', rate, burstSize }); break;
      case OFPMBT.DSCP_REMARK: if (len !== 16) throw badLen(`DSCP band length ${len}`); out.push({ kind: 'dscp_remark', rate, burstSize, precLevel: b.u8() }); break;
      case OFPMBT.EXPERIMENTER: { const experimenter = b.u32(); out.push({ kind: 'experimenter', rate, burstSize, experimenter, data: b.rest() }); break; }
      default: throw new OfpError(OFPET.METER_MOD_FAILED, OFPMMFC.BAD_BAND, `Unknown meter band type ${type}`);
    }
  }
  return out;
}
export function encodeBands(bands: readonly MeterBand[], w: Writer): void {
  for (const b of bands) {
    const start = w.pos;
    w.u16(b.kind === 'drop' ? OFPMBT.DROP : b.kind === 'dscp_remark' ? OFPMBT.DSCP_REMARK : OFPMBT.EXPERIMENTER);
    w.u16(0); w.u32(b.rate); w.u32(b.burstSize);
    if (b.kind === 'drop') w.zeros(4);
    else if (b.kind === 'dscp_remark') { w.u8(b.precLevel); w.zeros(3); }
    else { w.u32(b.experimenter); w.bytes(b.data); }
    w.patchU16(start + 2, w.pos - start);
  }
}

export function decodeQueues(r: Reader): PacketQueue[] {
  const out: PacketQueue[] = [];
  while (r.left > 0) {
    r.need(16);
    const queueId = r.u32(); const port = r.u32(); const len = r.u16();
    if (len < 16 || len - 10 > r.left) throw badLen(`Bad packet queue length ${len}`);
    const q = r.sub(len - 10); q.skip(6);
    const properties: QueueProperty[] = [];
    while (q.left > 0) {
      q.need(8);
      const property = q.u16(); const plen = q.u16();
      if (plen < 8 || plen - 4 > q.left) throw badLen(`Bad queue property length ${plen}`);
      const p = q.sub(plen - 4); p.skip(4);
      if ((property === OFPQT.MIN_RATE || property === OFPQT.MAX_RATE) && plen === 16) {
        const rate = p.u16(); p.skip(6);
        properties.push({ kind: property === OFPQT.MIN_RATE ? 'min_rate' : 'max_rate', rate });
      } else if (property === OFPQT.EXPERIMENTER && plen >= 16) {
        const experimenter = p.u32(); p.skip(4);
        properties.push({ kind: 'experimenter', experimenter, data: p.rest() });
      } else {
        properties.push({ kind: 'unknown', property, data: p.rest() });
      }
    }
    out.push({ queueId, port, properties });
  }
  return out;
}
export function encodeQueues(queues: readonly PacketQueue[], w: Writer): void {
  for (const q of queues) {
    const start = w.pos;
    w.u32(q.queueId); w.u32(q.port); w.u16(0); w.zeros(6);
    for (const p of q.properties) {
      const ps = w.pos;
      w.u16(p.kind === 'min_rate' ? OFPQT.MIN_RATE : p.kind === 'max_rate' ? OFPQT.MAX_RATE : p.kind === 'experimenter' ? OFPQT.EXPERIMENTER : p.property);
      w.u16(0); w.zeros(4);
      if (p.kind === 'min_rate' || p.kind === 'max_rate') { w.u16(p.rate); w.zeros(6); }
      else if (p.kind === 'experimenter') { w.u32(p.experimenter); w.zeros(4); w.bytes(p.data); }
      else w.bytes(p.data);
      w.patchU16(ps + 2, w.pos - ps);
    }
    w.patchU16(start + 8, w.pos - start);
  }
}

const TFP_NAMES: Record<number, TableFeatureProp['kind']> = {
  [OFPTFPT.INSTRUCTIONS]: 'instructions', [OFPTFPT.INSTRUCTIONS_MISS]: 'instructions_miss',
  [OFPTFPT.NEXT_TABLES]: 'next_tables', [OFPTFPT.NEXT_TABLES_MISS]: 'next_tables_miss',
  [OFPTFPT.WRITE_ACTIONS]: 'write_actions', [OFPTFPT.WRITE_ACTIONS_MISS]: 'write_actions_miss',
  [OFPTFPT.APPLY_ACTIONS]: 'apply_actions', [OFPTFPT.APPLY_ACTIONS_MISS]: 'apply_actions_miss',
  [OFPTFPT.MATCH]: 'match', [OFPTFPT.WILDCARDS]: 'wildcards',
  [OFPTFPT.WRITE_SETFIELD]: 'write_setfield', [OFPTFPT.WRITE_SETFIELD_MISS]: 'write_setfield_miss',
  [OFPTFPT.APPLY_SETFIELD]: 'apply_setfield', [OFPTFPT.APPLY_SETFIELD_MISS]: 'apply_setfield_miss',
  [OFPTFPT.EXPERIMENTER]: 'experimenter', [OFPTFPT.EXPERIMENTER_MISS]: 'experimenter_miss',
};
const TFP_CODES = Object.fromEntries(Object.entries(TFP_NAMES).map(([k, v]) => [v, Number(k)])) as Record<string, number>;

function decodeIds(p: Reader): FeatureId[] {
  const ids: FeatureId[] = [];
  while (p.left > 0) {
    const type = p.u16(); const len = p.u16();
    if (len < 4) throw badLen(`Bad feature id length ${len}`);
    ids.push(len === 4 ? { type } : { type, data: p.bytes(len - 4) });
  }
  return ids;
}

function decodeTableFeatureProp(type: number, p: Reader): TableFeatureProp {
  const kind = TFP_NAMES[type];
  switch (kind) {
    case 'instructions': case 'instructions_miss': case 'write_actions': case 'write_actions_miss':
    case 'apply_actions': case 'apply_actions_miss':
      return { kind, ids: decodeIds(p) };
    case 'next_tables': case 'next_tables_miss': {
      const tableIds: number[] = [];
      while (p.left > 0) tableIds.push(p.u8());
      return { kind, tableIds };
    }
    case 'match': case 'wildcards': case 'write_setfield': case 'write_setfield_miss':
    case 'apply_setfield': case 'apply_setfield_miss': {
      if (p.left % 4 !== 0) throw badLen(`OXM id list of ${p.left} bytes is not a multiple of 4`);
      const oxmIds: number[] = [];
      while (p.left > 0) oxmIds.push(p.u32());
      return { kind, oxmIds };
    }
    case 'experimenter': case 'experimenter_miss': {
      const experimenter = p.u32(); const expType = p.u32();
      return { kind, experimenter, expType, data: p.rest() };
    }
    default:
      return { kind: 'unknown', propType: type, data: p.rest() };
  }
}

export const OFP_TABLE_FEATURES_LEN = 64;
export function decodeTableFeatures(r: Reader): TableFeatures[] {
  const out: TableFeatures[] = [];
  while (r.left > 0) {
    r.need(OFP_TABLE_FEATURES_LEN);
    const len = r.u16();
    if (len < OFP_TABLE_FEATURES_LEN || len - 2 > r.left) throw badLen(`Bad table features length ${len}`);
    const t = r.sub(len - 2);
    const tableId = t.u8(); t.skip(5);
    const name = t.str(OFP_MAX_TABLE_NAME_LEN);
    const metadataMatch = t.u64(); const metadataWrite = t.u64(); const config = t.u32(); const maxEntries = t.u32();
    const properties: TableFeatureProp[] = [];
    while (t.left > 0) {
      t.need(4);
      const type = t.u16(); const plen = t.u16();
      if (plen < 4 || pad8(plen) - 4 > t.left) throw badLen(`Bad table feature property length ${plen}`);
      properties.push(decodeTableFeatureProp(type, t.sub(plen - 4)));
      t.skip(pad8(plen) - plen);
    }
    out.push({ tableId, name, metadataMatch, metadataWrite, config, maxEntries, properties });
  }
  return out;
}
export function encodeTableFeatures(tables: readonly TableFeatures[], w: Writer): void {
  for (const t of tables) {
    const start = w.pos;
    w.u16(0); w.u8(t.tableId); w.zeros(5); w.str(t.name, OFP_MAX_TABLE_NAME_LEN);
    w.u64(t.metadataMatch); w.u64(t.metadataWrite); w.u32(t.config); w.u32(t.maxEntries);
    for (const p of t.properties) {
      const ps = w.pos;
      w.u16(p.kind === 'unknown' ? p.propType : TFP_CODES[p.kind]!); w.u16(0);
      if ('ids' in p) for (const id of p.ids) { w.u16(id.type); w.u16(4 + (id.data?.length ?? 0)); if (id.data) w.bytes(id.data); }
      else if ('tableIds' in p) for (const id of p.tableIds) w.u8(id);
      else if ('oxmIds' in p) for (const id of p.oxmIds) w.u32(id);
      else if (p.kind === 'unknown') w.bytes(p.data);
      else { w.u32(p.experimenter); w.u32(p.expType); w.bytes(p.data); }
      w.patchU16(ps + 2, w.pos - ps);
      w.pad8(ps);
    }
    w.patchU16(start, w.pos - start);
  }
}

export function decodeHelloElements(r: Reader): HelloElement[] {
  const out: HelloElement[] = [];
  while (r.left > 0) {
    r.need(4);
    const type = r.u16(); const len = r.u16();
    if (len < 4 || len - 4 > r.left) throw badLen(`Bad hello element length ${len}`);
    const e = r.sub(len - 4);
    if (type === OFPHET.VERSIONBITMAP) {
      if (e.left % 4 !== 0) throw badLen(`Version bitmap of ${e.left} bytes is not a multiple of 4`);
      const bitmaps: number[] = [];
      while (e.left > 0) bitmaps.push(e.u32());
      out.push({ kind: 'versionbitmap', bitmaps });
    } else {
      out.push({ kind: 'unknown', elemType: type, data: e.rest() });
    }
    r.skip(Math.min(pad8(len) - len, r.left));
  }
  return out;
}
export function encodeHelloElements(elements: readonly HelloElement[], w: Writer): void {
  for (const e of elements) {
    const start = w.pos;
    w.u16(e.kind === 'versionbitmap' ? OFPHET.VERSIONBITMAP : e.elemType); w.u16(0);
    if (e.kind === 'versionbitmap') for (const b of e.bitmaps) w.u32(b);
    else w.bytes(e.data);
    w.patchU16(start + 2, w.pos - start);
    w.pad8(start);
  }
}
/** Versions announced by a version-bitmap element list (bit n of word i = version 32*i+n). */
export function helloVersions(elements: readonly HelloElement[]): number[] {
  const out: number[] = [];
  for (const e of elements) {
    if (e.kind !== 'versionbitmap') continue;
    e.bitmaps.forEach((word, i) => { for (let b = 0; b < 32; b++) if ((word >>> b) & 1) out.push(i * 32 + b); });
  }
  return out;
}
/** A version-bitmap element announcing exactly `versions`. */
export function versionBitmap(versions: readonly number[]): HelloElement {
  const bitmaps: number[] = [];
  for (const v of versions) {
    const i = v >> 5;
    while (bitmaps.length <= i) bitmaps.push(0);
    bitmaps[i] = (bitmaps[i]! | (1 << (v & 31))) >>> 0;
  }
  return { kind: 'versionbitmap', bitmaps };
}
