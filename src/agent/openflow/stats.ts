// MULTIPART replies of the switch agent: builds each reply body from the datapath (flows, tables,
// ports, groups) and the agent's meters, and splits array replies over several messages with
// OFPMPF_REPLY_MORE so that no message exceeds MAX_REPLY_BYTES. Cold path.
import { createHash } from 'node:crypto';
import {
  OFPAT, OFPBRC, OFPET, OFPGT, OFPIT, OFPMBT, OFPMF, OFPMPF_REPLY_MORE, OFPP, OFPPC, OFPPF, OFPPS, OFPTFFC,
  OFPTFPT, OFPTT_ALL, OFPTT_MAX, OFPG_ALL, OFPG_ANY, OFPM_ALL, OfpError, encodingLength, oxmHeader,
} from '../../openflow/index.js';
import type {
  FlowStatsRequestBody, GroupDesc, GroupStats, MeterConfig, MeterStats, MultipartReply, MultipartReplyBody,
  MultipartRequestBody, Port, PortStats, TableFeatures, TableStats,
} from '../../openflow/messages.js';
import { FIELDS } from '../../flow/types.js';
import type { FieldName } from '../../flow/types.js';
import type { PortInfo } from '../../datapath/bridge.js';
import type { DatapathHandle, MeterCounters } from '../datapath-handle.js';
import type { FlowFilter } from '../../datapath/pipeline.js';
import { MeterBandType } from '../../qos/meter.js';
import { epochNowMs } from '../../datapath/clock.js';
import type { Meter } from '../../qos/meter.js';
import { flowStatsToOf, matchToSpec, specToBuckets, splitDuration } from '../../flow/openflow.js';

/** Replies above this many bytes are split (OFPMPF_REPLY_MORE). */
export const MAX_REPLY_BYTES = 64_000;
/** Tables reported by table stats / table features: 0..OFPTT_MAX, as Open vSwitch does. */
export const N_TABLES = OFPTT_MAX;   // 254 (ids 0..253)
/** OFPPC_NO_FLOOD (OpenFlow 1.0's bit 4); accepted in PORT_MOD and reported in port config. */
export const OFPPC_NO_FLOOD = 1 << 4;
const CURR_FEATURES = OFPPF['10GB_FD'] | OFPPF.COPPER;
const SPEED_KBPS = 10_000_000;

export interface MeterEntry { meter: Meter; createdMs: number }

export interface StatsContext {
  dp: DatapathHandle;
  meters: ReadonlyMap<number, MeterEntry>;
  nowMs: number;
  portCreatedMs: (ofport: number) => number;
  swDesc: string;
  dpDesc: string;
  hwDesc?: string;
}

/** A stable locally administered MAC derived from the port name (backends have no MAC here). */
export function portHwAddr(name: string): string {
  const h = createHash('sha256').update(`sluice-port:${name}`).digest();
  h[0] = (h[0]! & 0xfe) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function portConfigBits(p: Pick<PortInfo, 'config'>): number {
  const c = p.config;
  return (c.down ? OFPPC.PORT_DOWN : 0) | (c.noRecv ? OFPPC.NO_RECV : 0) | (c.noFlood ? OFPPC_NO_FLOOD : 0)
    | (c.noForward ? OFPPC.NO_FWD : 0) | (c.noPacketIn ? OFPPC.NO_PACKET_IN : 0);
}

/** ofp_port for a bridge port. Link is down when the port is administratively down. */
export function portDesc(p: Pick<PortInfo, 'ofport' | 'name' | 'config'>): Port {
  const down = p.config.down;
  return {
    portNo: p.ofport, hwAddr: portHwAddr(p.name), name: p.name.slice(0, 15), config: portConfigBits(p),
    state: down ? OFPPS.LINK_DOWN : OFPPS.LIVE, curr: CURR_FEATURES, advertised: 0, supported: 0, peer: 0,
    currSpeed: SPEED_KBPS, maxSpeed: SPEED_KBPS,
  };
}

/** Flow filter of a flow/aggregate stats request (non-strict). */
export function flowFilterOf(b: FlowStatsRequestBody): FlowFilter {
  if (b.tableId !== OFPTT_ALL && b.tableId >= OFPTT_MAX + 1) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_TABLE_ID, `Bad table id ${b.tableId}`);
  const f: FlowFilter = { match: matchToSpec(b.match) };
  if (b.tableId !== OFPTT_ALL) f.tableId = b.tableId;
  if (b.outPort !== OFPP.ANY) f.outPort = b.outPort;
  if (b.outGroup !== OFPG_ANY) f.outGroup = b.outGroup;
  if (b.cookieMask !== 0n) { f.cookie = b.cookie & b.cookieMask; f.cookieMask = b.cookieMask; }
  return f;
}

const SUPPORTED_ACTIONS = [OFPAT.OUTPUT, OFPAT.COPY_TTL_OUT, OFPAT.COPY_TTL_IN, OFPAT.SET_MPLS_TTL, OFPAT.DEC_MPLS_TTL,
  OFPAT.PUSH_VLAN, OFPAT.POP_VLAN, OFPAT.SET_QUEUE, OFPAT.GROUP, OFPAT.SET_NW_TTL, OFPAT.DEC_NW_TTL, OFPAT.SET_FIELD];
const SUPPORTED_INSTRUCTIONS = [OFPIT.GOTO_TABLE, OFPIT.WRITE_METADATA, OFPIT.WRITE_ACTIONS, OFPIT.APPLY_ACTIONS, OFPIT.CLEAR_ACTIONS, OFPIT.METER];
const MATCH_FIELDS = (Object.keys(FIELDS) as FieldName[]).filter((f) => !f.startsWith('tun_ipv4'));
const actionBitmap = SUPPORTED_ACTIONS.reduce<number>((a, c) => (a | (1 << c)) >>> 0, 0);

function tableFeatures(): TableFeatures[] {
  const ids = (list: number[]): { type: number }[] => list.map((type) => ({ type }));
  const oxm = MATCH_FIELDS.map((f) => oxmHeader(f, false));
  const oxmMaskable = MATCH_FIELDS.map((f) => oxmHeader(f, FIELDS[f].maskable));
  const out: TableFeatures[] = [];
  for (let t = 0; t < N_TABLES; t++) {
    const next = Array.from({ length: N_TABLES - t - 1 }, (_, i) => t + 1 + i);
    const inst = t === N_TABLES - 1 ? SUPPORTED_INSTRUCTIONS.filter((i) => i !== OFPIT.GOTO_TABLE) : SUPPORTED_INSTRUCTIONS;
    out.push({
      tableId: t, name: `table${t}`, metadataMatch: 0xffff_ffff_ffff_ffffn, metadataWrite: 0xffff_ffff_ffff_ffffn,
      config: 0, maxEntries: 1_000_000,
      properties: [
        { kind: 'instructions', ids: ids(inst) }, { kind: 'instructions_miss', ids: ids(inst) },
        { kind: 'next_tables', tableIds: next }, { kind: 'next_tables_miss', tableIds: next },
        { kind: 'write_actions', ids: ids(SUPPORTED_ACTIONS) }, { kind: 'write_actions_miss', ids: ids(SUPPORTED_ACTIONS) },
        { kind: 'apply_actions', ids: ids(SUPPORTED_ACTIONS) }, { kind: 'apply_actions_miss', ids: ids(SUPPORTED_ACTIONS) },
        { kind: 'match', oxmIds: oxmMaskable }, { kind: 'wildcards', oxmIds: oxm },
        { kind: 'write_setfield', oxmIds: oxm }, { kind: 'write_setfield_miss', oxmIds: oxm },
        { kind: 'apply_setfield', oxmIds: oxm }, { kind: 'apply_setfield_miss', oxmIds: oxm },
      ],
    });
  }
  return out;
}
let TABLE_FEATURES: TableFeatures[] | null = null;

function meterStats(id: number, e: MeterEntry, c: MeterCounters | null, nowMs: number, askedMs: number): MeterStats {
  // The duration ends when the counters were read (in the datapath's thread, maybe well after the
  // request came in on a busy switch: `askedMs`, same clock as readMs), so counters / duration is a
  // rate over the right interval.
  const endMs = nowMs + (c === null ? 0 : Math.max(0, c.readMs - askedMs));
  const [durationSec, durationNsec] = splitDuration(Math.max(0, endMs - e.createdMs) / 1000);
  return {
    meterId: id, flowCount: c?.flowCount ?? 0, packetInCount: BigInt(c?.packetInCount ?? 0), byteInCount: BigInt(c?.byteInCount ?? 0), durationSec, durationNsec,
    bandStats: e.meter.bands.map((_, i) => ({ packetBandCount: BigInt(c?.packetBandCount[i] ?? 0), byteBandCount: BigInt(c?.byteBandCount[i] ?? 0) })),
  };
}
function meterConfig(id: number, e: MeterEntry): MeterConfig {
  const m = e.meter;
  return {
    flags: m.flags, meterId: id,
    bands: m.bands.map((b) => (b.type === MeterBandType.DSCP_REMARK
      ? { kind: 'dscp_remark' as const, rate: b.rate, burstSize: b.burstSize, precLevel: b.precLevel ?? 1 }
      : { kind: 'drop' as const, rate: b.rate, burstSize: b.burstSize })),
  };
}
function selectMeters<T>(ctx: StatsContext, id: number, f: (id: number, e: MeterEntry) => T): T[] {
  const ids = id === OFPM_ALL ? [...ctx.meters.keys()].sort((a, b) => a - b) : ctx.meters.has(id) ? [id] : [];
  return ids.map((i) => f(i, ctx.meters.get(i)!));
}

/** Build the reply body (one logical reply; split later). Rejects with OfpError for bad requests. */
export async function buildReply(ctx: StatsContext, body: MultipartRequestBody): Promise<MultipartReplyBody> {
  const { dp, nowMs } = ctx;
  switch (body.kind) {
    case 'desc':
      return { kind: 'desc', mfrDesc: 'Sluice', hwDesc: ctx.hwDesc ?? 'Sluice software switch (Node.js)', swDesc: ctx.swDesc, serialNum: 'None', dpDesc: ctx.dpDesc };
    case 'flow':
      return { kind: 'flow', flows: (await dp.dumpFlows(flowFilterOf(body), nowMs)).map(flowStatsToOf) };
    case 'aggregate': {
      const a = await dp.aggregate(flowFilterOf(body));
      return { kind: 'aggregate', packetCount: BigInt(a.packetCount), byteCount: BigInt(a.byteCount), flowCount: a.flowCount };
    }
    case 'table': {
      const byId = new Map((await dp.tableStats()).map((t) => [t.tableId, t]));
      const tables: TableStats[] = [];
      for (let t = 0; t < N_TABLES; t++) {
        const s = byId.get(t);
        tables.push({ tableId: t, activeCount: s?.activeCount ?? 0, lookupCount: BigInt(s?.lookupCount ?? 0), matchedCount: BigInt(s?.matchedCount ?? 0) });
      }
      return { kind: 'table', tables };
    }
    case 'port_stats': {
      if (body.portNo !== OFPP.ANY && !dp.ports().some((p) => p.ofport === body.portNo)) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_PORT, `No port ${body.portNo}`);
      const ports = (await dp.portStats()).filter((p) => body.portNo === OFPP.ANY || p.ofport === body.portNo);
      return {
        kind: 'port_stats', ports: ports.map((p): PortStats => {
          const s = p.stats;
          let rxDropped = 0, txDropped = 0;
          for (const [k, v] of Object.entries(s.drops)) { if (k.startsWith('tx') || k === 'egress-policed' || k === 'shaper-queue-full' || k === 'csum-incomplete') txDropped += v; else rxDropped += v; }
          const [durationSec, durationNsec] = splitDuration((nowMs - ctx.portCreatedMs(p.ofport)) / 1000);
          return {
            portNo: p.ofport, rxPackets: BigInt(s['rx-packets']), txPackets: BigInt(s['tx-packets']), rxBytes: BigInt(s['rx-bytes']),
            txBytes: BigInt(s['tx-bytes']), rxDropped: BigInt(rxDropped), txDropped: BigInt(txDropped), rxErrors: 0n, txErrors: 0n,
            rxFrameErr: 0n, rxOverErr: 0n, rxCrcErr: 0n, collisions: 0n, durationSec, durationNsec,
          };
        }),
      };
    }
    case 'port_desc': return { kind: 'port_desc', ports: dp.ports().map(portDesc) };
    case 'queue': return { kind: 'queue', queues: [] };
    case 'group': {
      const gs = (await dp.groups()).filter((g) => body.groupId === OFPG_ALL || g.spec.groupId === body.groupId);
      return {
        kind: 'group', groups: gs.map((g): GroupStats => {
          const [durationSec, durationNsec] = splitDuration(g.durationS);
          return {
            groupId: g.spec.groupId, refCount: 0, packetCount: BigInt(g.packetCount), byteCount: BigInt(g.byteCount), durationSec, durationNsec,
            bucketStats: g.buckets.map((b) => ({ packetCount: BigInt(b.packetCount), byteCount: BigInt(b.byteCount) })),
          };
        }),
      };
    }
    case 'group_desc':
      return { kind: 'group_desc', groups: (await dp.groups()).map((g): GroupDesc => ({ groupType: g.spec.type, groupId: g.spec.groupId, buckets: specToBuckets(g.spec.buckets) })) };
    case 'group_features': {
      const types = (1 << OFPGT.ALL) | (1 << OFPGT.SELECT) | (1 << OFPGT.INDIRECT) | (1 << OFPGT.FF);
      return { kind: 'group_features', types, capabilities: 1 | 2 | 4, maxGroups: [0xffff, 0xffff, 0xffff, 0xffff], actions: [actionBitmap, actionBitmap, actionBitmap, actionBitmap] };
    }
    case 'meter': {
      const ids = selectMeters(ctx, body.meterId, (id) => id);
      const askedMs = epochNowMs();
      const counters = await dp.meterCounters(ids);
      return { kind: 'meter', meters: selectMeters(ctx, body.meterId, (id, e) => meterStats(id, e, counters[ids.indexOf(id)] ?? null, nowMs, askedMs)) };
    }
    case 'meter_config': return { kind: 'meter_config', meters: selectMeters(ctx, body.meterId, meterConfig) };
    case 'meter_features':
      return { kind: 'meter_features', maxMeter: 0xffff, bandTypes: 1 << OFPMBT.DROP, capabilities: OFPMF.KBPS | OFPMF.PKTPS | OFPMF.BURST | OFPMF.STATS, maxBands: 16, maxColor: 0 };
    case 'table_features':
      if (body.tables.length > 0) throw new OfpError(OFPET.TABLE_FEATURES_FAILED, OFPTFFC.EPERM, 'Setting table features is not supported');
      TABLE_FEATURES ??= tableFeatures();
      return { kind: 'table_features', tables: TABLE_FEATURES };
    case 'experimenter':
      throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_EXPERIMENTER, `Experimenter multipart 0x${body.experimenter.toString(16)} is not supported`);
  }
}

type ArrayKey = 'flows' | 'tables' | 'ports' | 'queues' | 'groups' | 'meters';
const ARRAY_KEY: Partial<Record<MultipartReplyBody['kind'], ArrayKey>> = {
  flow: 'flows', table: 'tables', port_stats: 'ports', port_desc: 'ports', queue: 'queues', group: 'groups',
  group_desc: 'groups', meter: 'meters', meter_config: 'meters', table_features: 'tables',
};

/** One reply body -> one or more MULTIPART_REPLY messages, each at most MAX_REPLY_BYTES. */
export function splitReply(xid: number, body: MultipartReplyBody, maxBytes = MAX_REPLY_BYTES): MultipartReply[] {
  const key = ARRAY_KEY[body.kind];
  const whole: MultipartReply = { type: 'multipart_reply', xid, flags: 0, body };
  if (key === undefined) return [whole];
  const items = (body as unknown as Record<ArrayKey, unknown[]>)[key];
  const mk = (list: unknown[], flags: number): MultipartReply => ({ type: 'multipart_reply', xid, flags, body: { ...body, [key]: list } as MultipartReplyBody });
  const base = encodingLength(mk([], 0));
  // Fast path: everything fits.
  if (items.length < 64 && encodingLength(whole) <= maxBytes) return [whole];
  const out: MultipartReply[] = [];
  let cur: unknown[] = [];
  let size = base;
  for (const it of items) {
    const n = encodingLength(mk([it], 0)) - base;
    if (cur.length > 0 && size + n > maxBytes) { out.push(mk(cur, OFPMPF_REPLY_MORE)); cur = []; size = base; }
    cur.push(it); size += n;
  }
  out.push(mk(cur, 0));
  return out;
}
