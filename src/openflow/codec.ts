// OpenFlow 1.3 message codec: decodeMessage (bytes -> OfpMessage, throws only OfpError with the
// offending bytes attached), encodeMessage / encodeMessageInto / encodingLength (one encoder
// that either writes or measures), and the 8-byte header helpers.
import { OFPBRC, OFPET, OFPT, OFP_HEADER_LEN, OFP_VERSION } from './constants.js';
import { actionsEncodingLength, decodeActions, decodeInstructions, encodeActions, encodeInstructions } from './actions.js';
import { OfpError } from './errors.js';
import type { AsyncConfig, OfpMessage, OfpMessageType } from './messages.js';
import { MULTIPART_CODES, decodeMultipartReply, decodeMultipartRequest, encodeMultipartReply, encodeMultipartRequest } from './multipart.js';
import { decodeMatch, encodeMatch } from './oxm.js';
import { decodeBands, decodeBuckets, decodeHelloElements, decodePort, decodeQueues, encodeBands, encodeBuckets, encodeHelloElements, encodePort, encodeQueues } from './structs.js';
import { Reader, Writer } from './wire.js';

export interface OfpHeader { version: number; type: number; length: number; xid: number }

/** Read the 8-byte header at `off` (caller guarantees 8 bytes). */
export function readHeader(buf: Buffer, off = 0): OfpHeader {
  return { version: buf[off]!, type: buf[off + 1]!, length: buf.readUInt16BE(off + 2), xid: buf.readUInt32BE(off + 4) };
}
export function writeHeader(buf: Buffer, off: number, h: OfpHeader): void {
  buf[off] = h.version; buf[off + 1] = h.type; buf.writeUInt16BE(h.length, off + 2); buf.writeUInt32BE(h.xid, off + 4);
}

/** Wire type (OFPT_*) of each message name. */
export const MESSAGE_CODES: Record<OfpMessageType, number> = {
  hello: OFPT.HELLO, error: OFPT.ERROR, echo_request: OFPT.ECHO_REQUEST, echo_reply: OFPT.ECHO_REPLY,
  experimenter: OFPT.EXPERIMENTER, features_request: OFPT.FEATURES_REQUEST, features_reply: OFPT.FEATURES_REPLY,
  get_config_request: OFPT.GET_CONFIG_REQUEST, get_config_reply: OFPT.GET_CONFIG_REPLY, set_config: OFPT.SET_CONFIG,
  packet_in: OFPT.PACKET_IN, flow_removed: OFPT.FLOW_REMOVED, port_status: OFPT.PORT_STATUS,
  packet_out: OFPT.PACKET_OUT, flow_mod: OFPT.FLOW_MOD, group_mod: OFPT.GROUP_MOD, port_mod: OFPT.PORT_MOD,
  table_mod: OFPT.TABLE_MOD, multipart_request: OFPT.MULTIPART_REQUEST, multipart_reply: OFPT.MULTIPART_REPLY,
  barrier_request: OFPT.BARRIER_REQUEST, barrier_reply: OFPT.BARRIER_REPLY,
  queue_get_config_request: OFPT.QUEUE_GET_CONFIG_REQUEST, queue_get_config_reply: OFPT.QUEUE_GET_CONFIG_REPLY,
  role_request: OFPT.ROLE_REQUEST, role_reply: OFPT.ROLE_REPLY, get_async_request: OFPT.GET_ASYNC_REQUEST,
  get_async_reply: OFPT.GET_ASYNC_REPLY, set_async: OFPT.SET_ASYNC, meter_mod: OFPT.METER_MOD,
};
const NAMES: OfpMessageType[] = [];
for (const [k, v] of Object.entries(MESSAGE_CODES)) NAMES[v] = k as OfpMessageType;

const badLen = (msg: string): OfpError => new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_LEN, msg);
function fixed(r: Reader, n: number, what: string): void {
  if (r.left !== n) throw badLen(`${what} body is ${r.left} bytes, expected ${n}`);
}
function decodeAsync(r: Reader): AsyncConfig {
  fixed(r, 24, 'async config');
  return { packetInMask: [r.u32(), r.u32()], portStatusMask: [r.u32(), r.u32()], flowRemovedMask: [r.u32(), r.u32()] };
}

/**
 * Decode one message at buf[off, off+len) (len defaults to the header's length). Throws
 * OfpError only, with `data` = the first (at most 64) bytes of the message.
 */
export function decodeMessage(buf: Buffer, off = 0, len?: number): OfpMessage {
  const avail = (len ?? buf.length - off);
  try {
    return decodeUnchecked(buf, off, len);
  } catch (e) {
    if (e instanceof OfpError && e.data === undefined) throw e.withData(buf, off, Math.max(0, avail));
    throw e;
  }
}

function decodeUnchecked(buf: Buffer, off: number, len: number | undefined): OfpMessage {
  if (off < 0 || off > buf.length) throw badLen(`Offset ${off} is outside the ${buf.length}-byte buffer`);
  const avail = Math.min(len ?? buf.length - off, buf.length - off);
  if (avail < OFP_HEADER_LEN) throw badLen(`Message of ${avail} bytes is shorter than the 8-byte header`);
  // header fields read in place (no OfpHeader object per message)
  const version = buf[off]!, type = buf[off + 1]!, length = buf.readUInt16BE(off + 2), xid = buf.readUInt32BE(off + 4);
  if (length < OFP_HEADER_LEN) throw badLen(`Header length ${length} is below 8`);
  if (length > avail || (len !== undefined && length !== len)) throw badLen(`Header length ${length} does not match the ${avail} bytes given`);
  if (version !== OFP_VERSION && type !== OFPT.HELLO) {
    throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_VERSION, `Unsupported OpenFlow version ${version}`);
  }
  const r = new Reader(buf, off + OFP_HEADER_LEN, off + length);
  if (type === OFPT.FLOW_MOD) return decodeFlowMod(r, xid);   // the bulk of a controller's traffic: no name switch
  const name = NAMES[type];
  if (name === undefined) throw new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE, `Unknown message type ${type}`);
  switch (name) {
    case 'hello': return { type: name, xid, version, elements: decodeHelloElements(r) };
    case 'error': {
      r.need(4);
      const errType = r.u16(); const code = r.u16();
      if (errType === OFPET.EXPERIMENTER) { const experimenter = r.u32(); return { type: name, xid, errType, code, experimenter, data: r.rest() }; }
      return { type: name, xid, errType, code, data: r.rest() };
    }
    case 'echo_request': case 'echo_reply': return { type: name, xid, data: r.rest() };
    case 'experimenter': { r.need(8); const experimenter = r.u32(); const expType = r.u32(); return { type: name, xid, experimenter, expType, data: r.rest() }; }
    case 'features_request': case 'get_config_request': case 'barrier_request': case 'barrier_reply': case 'get_async_request':
      fixed(r, 0, name); return { type: name, xid };
    case 'features_reply': {
      fixed(r, 24, name);
      const datapathId = r.u64(); const nBuffers = r.u32(); const nTables = r.u8(); const auxiliaryId = r.u8(); r.skip(2);
      return { type: name, xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities: r.u32(), reserved: r.u32() };
    }
    case 'get_config_reply': case 'set_config': { fixed(r, 4, name); const flags = r.u16(); return { type: name, xid, flags, missSendLen: r.u16() }; }
    case 'packet_in': {
      r.need(16);
      const bufferId = r.u32(); const totalLen = r.u16(); const reason = r.u8(); const tableId = r.u8(); const cookie = r.u64();
      const match = decodeMatch(r); r.skip(2);
      return { type: name, xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.rest() };
    }
    case 'flow_removed': {
      r.need(40);
      const cookie = r.u64(); const priority = r.u16(); const reason = r.u8(); const tableId = r.u8();
      const durationSec = r.u32(); const durationNsec = r.u32(); const idleTimeout = r.u16(); const hardTimeout = r.u16();
      const packetCount = r.u64(); const byteCount = r.u64(); const match = decodeMatch(r);
      if (r.left !== 0) throw badLen(`${r.left} trailing bytes after flow_removed`);
      return { type: name, xid, cookie, priority, reason, tableId, durationSec, durationNsec, idleTimeout, hardTimeout, packetCount, byteCount, match };
    }
    case 'port_status': { fixed(r, 72, name); const reason = r.u8(); r.skip(7); return { type: name, xid, reason, desc: decodePort(r) }; }
    case 'packet_out': {
      r.need(16);
      const bufferId = r.u32(); const inPort = r.u32(); const actionsLen = r.u16(); r.skip(6);
      const actions = decodeActions(r, actionsLen);
      return { type: name, xid, bufferId, inPort, actions, data: r.rest() };
    }
    case 'flow_mod': return decodeFlowMod(r, xid);
    case 'group_mod': {
      r.need(8);
      const command = r.u16(); const groupType = r.u8(); r.skip(1); const groupId = r.u32();
      return { type: name, xid, command, groupType, groupId, buckets: decodeBuckets(r) };
    }
    case 'port_mod': {
      fixed(r, 32, name);
      const portNo = r.u32(); r.skip(4); const hwAddr = r.mac(); r.skip(2);
      const config = r.u32(); const mask = r.u32(); const advertise = r.u32();
      return { type: name, xid, portNo, hwAddr, config, mask, advertise };
    }
    case 'table_mod': { fixed(r, 8, name); const tableId = r.u8(); r.skip(3); return { type: name, xid, tableId, config: r.u32() }; }
    case 'multipart_request': case 'multipart_reply': {
      r.need(8);
      const mpType = r.u16(); const flags = r.u16(); r.skip(4);
      if (name === 'multipart_request') return { type: name, xid, flags, body: decodeMultipartRequest(mpType, r) };
      return { type: name, xid, flags, body: decodeMultipartReply(mpType, r) };
    }
    case 'queue_get_config_request': { fixed(r, 8, name); return { type: name, xid, port: r.u32() }; }
    case 'queue_get_config_reply': { r.need(8); const port = r.u32(); r.skip(4); return { type: name, xid, port, queues: decodeQueues(r) }; }
    case 'role_request': case 'role_reply': { fixed(r, 16, name); const role = r.u32(); r.skip(4); return { type: name, xid, role, generationId: r.u64() }; }
    case 'get_async_reply': case 'set_async': return { type: name, xid, ...decodeAsync(r) };
    case 'meter_mod': {
      r.need(8);
      const command = r.u16(); const flags = r.u16(); const meterId = r.u32();
      return { type: name, xid, command, flags, meterId, bands: decodeBands(r) };
    }
  }
}

function decodeFlowMod(r: Reader, xid: number): OfpMessage {
  r.need(40);
  const cookie = r.u64(); const cookieMask = r.u64(); const tableId = r.u8(); const command = r.u8();
  const idleTimeout = r.u16(); const hardTimeout = r.u16(); const priority = r.u16(); const bufferId = r.u32();
  const outPort = r.u32(); const outGroup = r.u32(); const flags = r.u16(); r.skip(2);
  const match = decodeMatch(r);
  return { type: 'flow_mod', xid, cookie, cookieMask, tableId, command, idleTimeout, hardTimeout, priority, bufferId, outPort, outGroup, flags, match, instructions: decodeInstructions(r) };
}

function encodeBody(m: OfpMessage, w: Writer): void {
  switch (m.type) {
    case 'hello': encodeHelloElements(m.elements, w); return;
    case 'error': w.u16(m.errType); w.u16(m.code); if (m.errType === OFPET.EXPERIMENTER) w.u32(m.experimenter ?? 0); w.bytes(m.data); return;
    case 'echo_request': case 'echo_reply': w.bytes(m.data); return;
    case 'experimenter': w.u32(m.experimenter); w.u32(m.expType); w.bytes(m.data); return;
    case 'features_request': case 'get_config_request': case 'barrier_request': case 'barrier_reply': case 'get_async_request': return;
    case 'features_reply':
      w.u64(m.datapathId); w.u32(m.nBuffers); w.u8(m.nTables); w.u8(m.auxiliaryId); w.zeros(2); w.u32(m.capabilities); w.u32(m.reserved); return;
    case 'get_config_reply': case 'set_config': w.u16(m.flags); w.u16(m.missSendLen); return;
    case 'packet_in':
      w.u32(m.bufferId); w.u16(m.totalLen); w.u8(m.reason); w.u8(m.tableId); w.u64(m.cookie);
      encodeMatch(m.match, w); w.zeros(2); w.bytes(m.data); return;
    case 'flow_removed':
      w.u64(m.cookie); w.u16(m.priority); w.u8(m.reason); w.u8(m.tableId); w.u32(m.durationSec); w.u32(m.durationNsec);
      w.u16(m.idleTimeout); w.u16(m.hardTimeout); w.u64(m.packetCount); w.u64(m.byteCount); encodeMatch(m.match, w); return;
    case 'port_status': w.u8(m.reason); w.zeros(7); encodePort(m.desc, w); return;
    case 'packet_out':
      w.u32(m.bufferId); w.u32(m.inPort); w.u16(actionsEncodingLength(m.actions)); w.zeros(6);
      encodeActions(m.actions, w); w.bytes(m.data); return;
    case 'flow_mod':
      w.u64(m.cookie); w.u64(m.cookieMask); w.u8(m.tableId); w.u8(m.command); w.u16(m.idleTimeout); w.u16(m.hardTimeout);
      w.u16(m.priority); w.u32(m.bufferId); w.u32(m.outPort); w.u32(m.outGroup); w.u16(m.flags); w.zeros(2);
      encodeMatch(m.match, w); encodeInstructions(m.instructions, w); return;
    case 'group_mod': w.u16(m.command); w.u8(m.groupType); w.zeros(1); w.u32(m.groupId); encodeBuckets(m.buckets, w); return;
    case 'port_mod': w.u32(m.portNo); w.zeros(4); w.mac(m.hwAddr); w.zeros(2); w.u32(m.config); w.u32(m.mask); w.u32(m.advertise); w.zeros(4); return;
    case 'table_mod': w.u8(m.tableId); w.zeros(3); w.u32(m.config); return;
    case 'multipart_request': w.u16(MULTIPART_CODES[m.body.kind]); w.u16(m.flags); w.zeros(4); encodeMultipartRequest(m.body, w); return;
    case 'multipart_reply': w.u16(MULTIPART_CODES[m.body.kind]); w.u16(m.flags); w.zeros(4); encodeMultipartReply(m.body, w); return;
    case 'queue_get_config_request': w.u32(m.port); w.zeros(4); return;
    case 'queue_get_config_reply': w.u32(m.port); w.zeros(4); encodeQueues(m.queues, w); return;
    case 'role_request': case 'role_reply': w.u32(m.role); w.zeros(4); w.u64(m.generationId); return;
    case 'get_async_reply': case 'set_async':
      for (const v of [...m.packetInMask, ...m.portStatusMask, ...m.flowRemovedMask]) w.u32(v); return;
    case 'meter_mod': w.u16(m.command); w.u16(m.flags); w.u32(m.meterId); encodeBands(m.bands, w); return;
  }
}

function encodeWith(m: OfpMessage, w: Writer): number {
  const start = w.pos;
  const code = MESSAGE_CODES[m.type];
  if (code === undefined) throw new TypeError(`Unknown OpenFlow message type "${String((m as { type: unknown }).type)}"`);
  w.u8(m.type === 'hello' ? m.version : OFP_VERSION);
  w.u8(code);
  w.u16(0);
  w.u32(m.xid);
  encodeBody(m, w);
  const len = w.pos - start;
  if (len > 0xffff) throw new RangeError(`${m.type} message of ${len} bytes exceeds 65535`);
  w.patchU16(start + 2, len);
  return len;
}

/** Bytes encodeMessage would produce. */
export function encodingLength(m: OfpMessage): number {
  return encodeWith(m, new Writer(null, 0));
}
/** Encode into buf at off; returns bytes written. Throws RangeError if it does not fit. */
export function encodeMessageInto(m: OfpMessage, buf: Buffer, off: number): number {
  const n = encodingLength(m);
  if (off < 0 || off + n > buf.length) throw new RangeError(`${m.type} needs ${n} bytes at offset ${off}; buffer has ${buf.length}`);
  return encodeWith(m, new Writer(buf, off));
}
export function encodeMessage(m: OfpMessage): Buffer {
  const buf = Buffer.alloc(encodingLength(m));
  encodeWith(m, new Writer(buf, 0));
  return buf;
}
