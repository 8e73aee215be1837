// Test helper: renders our decoded messages in Ryu's JSON vocabulary (snake_case names, numeric
// type codes, OXMTlv-shaped match fields) and compares them with Ryu's .packet.json on every key
// both sides have, so the vectors check values as well as bytes.
import { expect } from 'vitest';
import { ACTION_CODES, INSTRUCTION_CODES, MULTIPART_CODES, OFPMBT, OFPQT, helloVersions, oxmFieldName, type OfpMessage } from '../../../src/openflow/index.js';

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const TFP: Record<string, number> = {
  instructions: 0, instructions_miss: 1, next_tables: 2, next_tables_miss: 3, write_actions: 4, write_actions_miss: 5,
  apply_actions: 6, apply_actions_miss: 7, match: 8, wildcards: 10, write_setfield: 12, write_setfield_miss: 13,
  apply_setfield: 14, apply_setfield_miss: 15, experimenter: 0xfffe, experimenter_miss: 0xffff,
};

/** Generic conversion of a nested value; `ctx` says what kind of object we are in. */
function conv(v: unknown, ctx: string): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) {
    if (ctx === 'match') return { oxm_fields: v.map((f) => (f.field === 'raw' ? {} /* experimenter OXM (e.g. ONF pbb_uca): bytes only */ : { field: f.field, value: f.value, mask: f.mask ?? null })) };
    if (ctx === 'actions' && v.every((x) => typeof x === 'object')) return v.map((a) => action(a));
    if (ctx === 'instructions') return v.map((i) => {
      const o = obj(i, 'instruction');
      o.type = INSTRUCTION_CODES[i.type as keyof typeof INSTRUCTION_CODES];
      if (i.type === 'goto_table') o.table_id = i.tableId;
      return o;
    });
    if (ctx === 'bands') return v.map((b) => ({ ...obj(b, 'band'), type: b.kind === 'drop' ? OFPMBT.DROP : b.kind === 'dscp_remark' ? OFPMBT.DSCP_REMARK : OFPMBT.EXPERIMENTER }));
    if (ctx === 'properties') return v.map((p) => prop(p));
    return v.map((x) => conv(x, ctx));
  }
  if (v !== null && typeof v === 'object') return obj(v as Record<string, unknown>, ctx);
  return v;
}
function obj(o: Record<string, unknown>, _ctx: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(o)) {
    if (k === 'groupType') { out.type = val; continue; }
    out[snake(k)] = conv(val, k);
  }
  return out;
}
function action(a: { type: string } & Record<string, unknown>): unknown {
  const o = obj(a, 'action');
  o.type = ACTION_CODES[a.type as keyof typeof ACTION_CODES];
  if (a.type === 'set_field') o.field = a.field === 'raw' ? {} : { field: a.field, value: a.value, mask: a.mask ?? null };
  if (a.type === 'set_mpls_ttl') o.mpls_ttl = a.ttl;
  if (a.type === 'experimenter' && a.experimenter === 0x2320) { // Ryu splits Nicira's u16 subtype off the data
    const d = a.data as Buffer;
    o.subtype = d.readUInt16BE(0);
    o.data = d.subarray(2).toString('base64');
  }
  if (a.type === 'set_nw_ttl') o.nw_ttl = a.ttl;
  return o;
}
function prop(p: Record<string, unknown>): unknown {
  const o = obj(p, 'prop');
  if ('kind' in p && typeof p.kind === 'string' && p.kind in TFP) {
    o.type = TFP[p.kind];
    if (Array.isArray(p.ids)) o[String(p.kind).includes('instructions') ? 'instruction_ids' : 'action_ids'] = p.ids.map((id: { type: number }) => ({ type: id.type }));
    if (Array.isArray(p.oxmIds)) o.oxm_ids = p.oxmIds.map((h: number) => ({ type: oxmFieldName(h) ?? h, hasmask: (h >>> 8) & 1 }));
  } else {
    o.property = p.kind === 'min_rate' ? OFPQT.MIN_RATE : p.kind === 'max_rate' ? OFPQT.MAX_RATE : p.kind === 'experimenter' ? OFPQT.EXPERIMENTER : p.property;
  }
  return o;
}

/** Our message in Ryu's shape (for the keys Ryu and we share). */
export function toRyu(m: OfpMessage, _cls: string): Record<string, unknown> {
  const { type: _t, xid: _x, ...rest } = m as OfpMessage & Record<string, unknown>;
  const o = obj(rest as Record<string, unknown>, 'msg');
  switch (m.type) {
    case 'hello': o.elements = [{ versions: helloVersions(m.elements) }]; break;
    case 'error': o.type = m.errType; if (m.experimenter !== undefined) { o.exp_type = m.code; o.code = null; } break;
    case 'multipart_request': {
      const { kind, ...body } = m.body as Record<string, unknown>;
      Object.assign(o, obj(body, 'body'));
      o.type = MULTIPART_CODES[kind as keyof typeof MULTIPART_CODES];
      delete o.body;
      if (kind === 'table_features') o.body = conv((m.body as { tables: unknown }).tables, 'tables');
      break;
    }
    case 'multipart_reply': {
      const { kind, ...body } = m.body as Record<string, unknown>;
      o.type = MULTIPART_CODES[kind as keyof typeof MULTIPART_CODES];
      const lists = Object.values(body).filter(Array.isArray);
      const isList = ['flow', 'table', 'port_stats', 'queue', 'group', 'group_desc', 'meter', 'meter_config', 'table_features', 'port_desc'].includes(kind as string);
      o.body = isList ? conv(lists[0], 'entries') : kind === 'meter_features' ? [obj(body, 'body')] : obj(body, 'body');
      break;
    }
    default: break;
  }
  return o;
}

function parseAddr(s: string): bigint | undefined {
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(s)) return BigInt(`0x${s.replace(/:/g, '')}`);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(s)) return s.split('.').reduce((a, p) => (a << 8n) | BigInt(p), 0n);
  if (s.includes(':')) {
    const [head, tail] = s.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return groups.reduce((a, g) => (a << 16n) | BigInt(`0x${g}`), 0n);
  }
  return undefined;
}

const unwrap = (r: unknown): unknown => {
  if (r !== null && typeof r === 'object' && !Array.isArray(r)) {
    const keys = Object.keys(r);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0]!)) return (r as Record<string, unknown>)[keys[0]!];
  }
  return r;
};

/** Compare every key present in both; returns how many leaf values were compared. */
export function compareSubset(mine: unknown, ryu: unknown, path: string): number {
  ryu = unwrap(ryu);
  if (Array.isArray(ryu)) {
    if (typeof mine === 'string' && ryu.every((x) => typeof x === 'number')) {
      const bytes = Buffer.from(mine, 'base64');
      // Ryu lists queue-property data as bytes but table-feature experimenter data as u32 words
      if (bytes.length === 4 * ryu.length && bytes.length !== ryu.length) {
        expect(Array.from({ length: ryu.length }, (_, i) => bytes.readUInt32BE(4 * i)), path).toEqual(ryu);
      } else expect([...bytes], path).toEqual(ryu);
      return 1;
    }
    expect(Array.isArray(mine), `${path} is a list`).toBe(true);
    const m = mine as unknown[];
    expect(m.length, `${path} length`).toBe(ryu.length);
    let n = 1;
    ryu.forEach((r, i) => { n += compareSubset(m[i], r, `${path}[${i}]`); });
    return n;
  }
  if (ryu !== null && typeof ryu === 'object') {
    expect(mine !== null && typeof mine === 'object', `${path} is an object`).toBe(true);
    let n = 0;
    for (const [k, r] of Object.entries(ryu)) {
      if (!(k in (mine as object))) continue;
      n += compareSubset((mine as Record<string, unknown>)[k], r, `${path}.${k}`);
    }
    return n;
  }
  if (typeof mine === 'bigint') {
    if (typeof ryu === 'string') expect(mine, path).toBe(parseAddr(ryu));
    else if (typeof ryu === 'number' && !Number.isSafeInteger(ryu)) expect(Number(mine), path).toBe(ryu);
    else expect(mine, path).toBe(BigInt(ryu as number));
    return 1;
  }
  if (typeof ryu === 'string' && typeof mine === 'number') { expect(BigInt(mine), path).toBe(parseAddr(ryu)); return 1; }
  expect(mine, path).toEqual(ryu);
  return 1;
}
