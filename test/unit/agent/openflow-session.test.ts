// OpenFlow agent sessions over real TCP on 127.0.0.1, driven by our codec (OfClient): HELLO and
// version negotiation, echo, features, flow_mod -> forwarding, packet-in/out, flow-removed on a fake
// clock, barrier ordering, roles, async masks, malformed input -> OFPT_ERROR with the offending bytes.
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import type { Server, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { FAIL_OPEN_COOKIE, OpenFlowAgent } from '../../../src/agent/openflow/agent.js';
import { OfClient } from '../../../src/agent/openflow/client.js';
import { MULTIPART_MAX_PARTS, MULTIPART_MAX_PENDING } from '../../../src/agent/openflow/session.js';
import { buildFrame } from '../../../src/packet/build.js';
import {
  OFPBAC, OFPBMC, OFPBRC, OFPCR, OFPET, OFPFC, OFPFF, OFPFMFC, OFPHFC, OFPMMFC, OFPMPF_REPLY_MORE, OFPMPF_REQ_MORE, OFPP, OFPR, OFPRR,
  OFPRRFC, OFPTFFC, OFP_NO_BUFFER, OfpFramer, decodeMessage, encodeMessage, oxmHeader,
} from '../../../src/openflow/index.js';
import type { Instruction, Match } from '../../../src/openflow/index.js';
import type { FlowMod, OfpMessage } from '../../../src/openflow/messages.js';

const A = '02:00:00:00:00:0a', B = '02:00:00:00:00:0b';
const frameAB = buildFrame({ dst: B, src: A, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1000, dport: 2000, payload: Buffer.alloc(200, 7) } } });

function flowMod(p: Partial<FlowMod> & { match?: Match; instructions?: Instruction[] }): FlowMod {
  return {
    type: 'flow_mod', xid: 0, cookie: 0n, cookieMask: 0n, tableId: 0, command: OFPFC.ADD, idleTimeout: 0, hardTimeout: 0,
    priority: 100, bufferId: OFP_NO_BUFFER, outPort: OFPP.ANY, outGroup: 0xffffffff, flags: 0, match: [], instructions: [], ...p,
  };
}
const output = (port: number, maxLen = 0xffff): Instruction => ({ type: 'apply_actions', actions: [{ type: 'output', port, maxLen }] });
const isErr = (m: OfpMessage): m is Extract<OfpMessage, { type: 'error' }> => m.type === 'error';

describe('OpenFlow agent session', () => {
  let clock = 1_000_000;
  let bridge: Bridge;
  let p1: MemoryPort, p2: MemoryPort, p3: MemoryPort;
  let agent: OpenFlowAgent;
  const clients: OfClient[] = [];
  const connect = async (hello = true): Promise<OfClient> => { const c = await OfClient.connect(agent.listeningPort, '127.0.0.1', hello); clients.push(c); return c; };
  const barrier = async (c: OfClient): Promise<void> => { await c.request({ type: 'barrier_request', xid: 0 }); };

  beforeEach(async () => {
    clock = 1_000_000;
    bridge = new Bridge({ name: 'br-test', datapathId: 0xabcdn });
    p1 = new MemoryPort('p1'); p2 = new MemoryPort('p2'); p3 = new MemoryPort('p3');
    bridge.addPort({ ofport: 1, name: 'p1', backend: p1 });
    bridge.addPort({ ofport: 2, name: 'p2', backend: p2 });
    bridge.addPort({ ofport: 3, name: 'p3', backend: p3 });
    // Default liveness (echo after 5 s idle, dead after 15 s): a busy machine must not close a test's
    // session; the one test of liveness makes its own agent with short intervals.
    agent = new OpenFlowAgent(bridge, { listen: 'ptcp:0', failMode: 'secure', now: () => clock });
    await agent.start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await agent.stop();
  });

  it('negotiates 1.3 and answers echo and features', async () => {
    const c = await connect();
    expect(await c.ping()).toBe(true);
    const f = await c.request({ type: 'features_request', xid: 0 });
    expect(f).toMatchObject({ type: 'features_reply', datapathId: 0xabcdn, nBuffers: 0, nTables: 254 });
    expect(agent.sessions()).toHaveLength(1);
    expect(agent.sessions()[0]).toMatchObject({ kind: 'passive', state: 'open', role: 'equal' });
  });

  it('refuses a peer offering only OpenFlow 1.0 with HELLO_FAILED/INCOMPATIBLE and closes', async () => {
    const c = await connect(false);
    const err = c.waitFor(isErr);
    c.sendRaw(Buffer.from([0x01, 0x00, 0x00, 0x08, 0, 0, 0, 9]));
    const e = await err;
    expect(e).toMatchObject({ type: 'error', errType: OFPET.HELLO_FAILED, code: OFPHFC.INCOMPATIBLE, xid: 9 });
    await new Promise<void>((r) => (c.closed ? r() : c.socket.once('close', () => r())));
    expect(c.closed).toBe(true);
  });

  it('negotiates through a version bitmap offering 1.0 and 1.3 (header version 1.5)', async () => {
    const c = await connect(false);
    c.sendRaw(encodeMessage({ type: 'hello', xid: 1, version: 6, elements: [{ kind: 'versionbitmap', bitmaps: [(1 << 1) | (1 << 4)] }] }));
    expect(await c.ping()).toBe(true);
  });

  it('flow_mod ADD forwards injected frames; counters move', async () => {
    const c = await connect();
    c.send(flowMod({ priority: 200, match: [{ field: 'in_port', value: 1n }], instructions: [output(3)] }));
    await barrier(c);
    p1.inject(frameAB);
    bridge.poll(clock);
    expect(p3.takeSent().map((s) => s.frame)).toEqual([frameAB]);
    expect(p2.sent).toHaveLength(0);
    const r = await c.request({ type: 'multipart_request', xid: 0, flags: 0, body: { kind: 'flow', tableId: 0, outPort: OFPP.ANY, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: [{ field: 'in_port', value: 1n }] } });
    expect(r.type === 'multipart_reply' && r.body.kind === 'flow' && r.body.flows.map((f) => [f.priority, f.packetCount, f.byteCount])).toEqual([[200, 1n, BigInt(frameAB.length)]]);
  });

  it('sends PACKET_IN on a table miss to CONTROLLER, and PACKET_OUT sends the frame', async () => {
    const c = await connect();
    c.send(flowMod({ priority: 0, command: OFPFC.ADD, instructions: [output(OFPP.CONTROLLER, 0xffff)], cookie: 0x77n }));
    await barrier(c);
    const pin = c.waitFor((m) => m.type === 'packet_in');
    p2.inject(frameAB);
    bridge.poll(clock);
    const m = await pin;
    expect(m).toMatchObject({ type: 'packet_in', bufferId: OFP_NO_BUFFER, reason: OFPR.NO_MATCH, tableId: 0, cookie: 0x77n, totalLen: frameAB.length });
    if (m.type !== 'packet_in') throw new Error('unreachable');
    expect(m.match).toEqual([{ field: 'in_port', value: 2n }]);
    expect(m.data).toEqual(frameAB);
    // not a table-miss entry: ACTION, also when its cookie is the table-miss entry's and CONTROLLER is reached through a group
    c.send({ type: 'group_mod', xid: 0, command: 0, groupType: 0, groupId: 7, buckets: [{ weight: 0, watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 0xffff }] }] });
    c.send(flowMod({ priority: 10, cookie: 0x77n, match: [{ field: 'in_port', value: 3n }], instructions: [{ type: 'apply_actions', actions: [{ type: 'group', groupId: 7 }] }] }));
    c.send(flowMod({ priority: 10, cookie: 0x78n, match: [{ field: 'in_port', value: 1n }], instructions: [output(OFPP.CONTROLLER)] }));
    await barrier(c);
    for (const [port, pn, cookie] of [[p3, 3n, 0x77n], [p1, 1n, 0x78n]] as const) {
      const pa = c.waitFor((x) => x.type === 'packet_in');
      port.inject(frameAB); bridge.poll(clock);
      expect(await pa).toMatchObject({ type: 'packet_in', reason: OFPR.ACTION, tableId: 0, cookie, match: [{ field: 'in_port', value: pn }] });
    }
    c.send(flowMod({ command: OFPFC.DELETE, tableId: 0xff, cookie: 0x78n, cookieMask: ~0n & 0xffff_ffff_ffff_ffffn }));
    c.send(flowMod({ command: OFPFC.DELETE_STRICT, priority: 10, match: [{ field: 'in_port', value: 3n }] }));
    await barrier(c);
    // truncated packet-in (max_len 64)
    c.send(flowMod({ priority: 0, command: OFPFC.MODIFY_STRICT, instructions: [output(OFPP.CONTROLLER, 64)] }));
    await barrier(c);
    const pin2 = c.waitFor((x) => x.type === 'packet_in');
    p1.inject(frameAB); bridge.poll(clock);
    const m2 = await pin2;
    expect(m2.type === 'packet_in' && [m2.data.length, m2.totalLen]).toEqual([64, frameAB.length]);
    // packet-out from CONTROLLER to port 3
    c.send({ type: 'packet_out', xid: 5, bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions: [{ type: 'output', port: 3, maxLen: 0 }], data: frameAB });
    await barrier(c);
    expect(p3.takeSent().map((s) => s.frame)).toEqual([frameAB]);
    // buffer ids are unknown
    const e = await c.request({ type: 'packet_out', xid: 0, bufferId: 7, inPort: OFPP.CONTROLLER, actions: [], data: frameAB });
    expect(e).toMatchObject({ type: 'error', errType: OFPET.BAD_REQUEST, code: OFPBRC.BUFFER_UNKNOWN });
  });

  it('sends FLOW_REMOVED when an idle timeout expires on the fake clock', async () => {
    const c = await connect();
    c.send(flowMod({ priority: 300, idleTimeout: 2, flags: OFPFF.SEND_FLOW_REM, cookie: 0x99n, match: [{ field: 'in_port', value: 1n }], instructions: [output(2)] }));
    await barrier(c);
    const fr = c.waitFor((m) => m.type === 'flow_removed');
    clock += 3000;
    bridge.expire(clock);
    const m = await fr;
    expect(m).toMatchObject({ type: 'flow_removed', reason: OFPRR.IDLE_TIMEOUT, cookie: 0x99n, priority: 300, idleTimeout: 2, match: [{ field: 'in_port', value: 1n }] });
    // with the async mask cleared, no FLOW_REMOVED
    c.send({ type: 'set_async', xid: 0, packetInMask: [3, 0], portStatusMask: [7, 7], flowRemovedMask: [0, 0] });
    c.send(flowMod({ priority: 301, idleTimeout: 1, flags: OFPFF.SEND_FLOW_REM, instructions: [output(2)] }));
    await barrier(c);
    clock += 5000; bridge.expire(clock);
    await barrier(c);
    expect(c.received.filter((x) => x.type === 'flow_removed')).toHaveLength(1);
    const ga = await c.request({ type: 'get_async_request', xid: 0 });
    expect(ga).toMatchObject({ flowRemovedMask: [0, 0], packetInMask: [3, 0] });
  });

  it('answers a barrier only after the messages before it, in order', async () => {
    const c = await connect();
    const buf = Buffer.concat([
      ...Array.from({ length: 200 }, (_, i) => encodeMessage(flowMod({ xid: 1000 + i, priority: 1000 + i, match: [{ field: 'in_port', value: 1n }, { field: 'eth_type', value: 0x800n }, { field: 'ip_proto', value: 17n }, { field: 'udp_dst', value: BigInt(i) }], instructions: [output(2)] }))),
      encodeMessage({ type: 'barrier_request', xid: 42 }),
      encodeMessage({ type: 'echo_request', xid: 43, data: Buffer.alloc(0) }),
    ]);
    const done = c.waitFor((m) => m.xid === 43);
    c.sendRaw(buf);
    await done;
    expect(c.received.map((m) => m.xid)).toEqual([0, 42, 43]);   // hello, barrier, echo; no errors
    expect(bridge.dumpFlows({ tableId: 0 }).length).toBe(201);
  });

  it('handles messages split across TCP writes at every byte', async () => {
    const c = await connect();
    const msg = encodeMessage(flowMod({ xid: 77, priority: 5, match: [{ field: 'eth_dst', value: 0x0200000000bbn }], instructions: [output(2)] }));
    const all = Buffer.concat([msg, encodeMessage({ type: 'echo_request', xid: 78, data: Buffer.from('x') })]);
    const done = c.waitFor((m) => m.xid === 78);
    for (let i = 0; i < all.length; i++) { c.sendRaw(all.subarray(i, i + 1)); if (i % 16 === 0) await new Promise((r) => setImmediate(r)); }
    await done;
    expect(bridge.dumpFlows({ tableId: 0 }).some((f) => f.priority === 5)).toBe(true);
  });

  it('enforces roles: generation ids, slaves refused, a new master demotes the old', async () => {
    const a = await connect(), b = await connect();
    const ra = await a.request({ type: 'role_request', xid: 0, role: OFPCR.ROLE_MASTER, generationId: 10n });
    expect(ra).toMatchObject({ type: 'role_reply', role: OFPCR.ROLE_MASTER, generationId: 10n });
    const stale = await b.request({ type: 'role_request', xid: 0, role: OFPCR.ROLE_MASTER, generationId: 9n });
    expect(stale).toMatchObject({ type: 'error', errType: OFPET.ROLE_REQUEST_FAILED, code: OFPRRFC.STALE });
    const rb = await b.request({ type: 'role_request', xid: 0, role: OFPCR.ROLE_MASTER, generationId: 11n });
    expect(rb).toMatchObject({ type: 'role_reply', role: OFPCR.ROLE_MASTER });
    expect(agent.sessions().map((s) => s.role).sort()).toEqual(['master', 'slave']);
    const e = await a.request(flowMod({ instructions: [output(2)] }));
    expect(e).toMatchObject({ type: 'error', errType: OFPET.BAD_REQUEST, code: OFPBRC.IS_SLAVE });
    expect(isErr(e) && e.data.subarray(0, 8)).toEqual(encodeMessage(flowMod({ xid: e.xid, instructions: [output(2)] })).subarray(0, 8));
    // slaves still read state
    const f = await a.request({ type: 'multipart_request', xid: 0, flags: 0, body: { kind: 'desc' } });
    expect(f).toMatchObject({ type: 'multipart_reply', body: { kind: 'desc', mfrDesc: 'Sluice', dpDesc: `${hostname()}/br-test` } });
    const nochange = await a.request({ type: 'role_request', xid: 0, role: OFPCR.ROLE_NOCHANGE, generationId: 0n });
    expect(nochange).toMatchObject({ role: OFPCR.ROLE_SLAVE });
    const bad = await a.request({ type: 'role_request', xid: 0, role: 7, generationId: 0n });
    expect(bad).toMatchObject({ errType: OFPET.ROLE_REQUEST_FAILED, code: OFPRRFC.BAD_ROLE });
    // slaves get no packet-in by default, the master does
    b.send(flowMod({ priority: 0, instructions: [output(OFPP.CONTROLLER)] }));
    await barrier(b);
    const pin = b.waitFor((m) => m.type === 'packet_in');
    p1.inject(frameAB); bridge.poll(clock);
    await pin;
    await barrier(a);
    expect(a.received.some((m) => m.type === 'packet_in')).toBe(false);
  });

  it('answers malformed messages with the right error and the offending bytes; the session survives', async () => {
    const c = await connect();
    const cases: Array<{ raw: Buffer; type: number; code: number }> = [];
    // unknown message type 99
    cases.push({ raw: Buffer.from([4, 99, 0, 8, 0, 0, 1, 1]), type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE });
    // echo with wrong version
    cases.push({ raw: Buffer.from([3, 2, 0, 8, 0, 0, 1, 2]), type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_VERSION });
    // features_request with a body (bad length)
    cases.push({ raw: Buffer.from([4, 5, 0, 12, 0, 0, 1, 3, 1, 2, 3, 4]), type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN });
    // flow_mod with an OXM whose length is wrong (in_port with length 2)
    const good = encodeMessage(flowMod({ xid: 0x104, match: [{ field: 'in_port', value: 1n }], instructions: [output(2)] }));
    const badOxm = Buffer.from(good);
    const oxmOff = 8 + 40 + 4;   // header + flow_mod fixed part + ofp_match type/len
    expect(badOxm.readUInt32BE(oxmOff)).toBe(oxmHeader('in_port', false));
    badOxm[oxmOff + 3] = 2;
    cases.push({ raw: badOxm, type: OFPET.BAD_MATCH, code: OFPBMC.BAD_LEN });
    // prerequisite missing: tcp_dst without ip_proto
    cases.push({ raw: encodeMessage(flowMod({ xid: 0x105, match: [{ field: 'tcp_dst', value: 80n }], instructions: [output(2)] })), type: OFPET.BAD_MATCH, code: OFPBMC.BAD_PREREQ });
    // output to port 0 (invalid; a missing port number is accepted, as in Open vSwitch)
    cases.push({ raw: encodeMessage(flowMod({ xid: 0x106, instructions: [output(0)] })), type: OFPET.BAD_ACTION, code: OFPBAC.BAD_OUT_PORT });
    // meter instruction to an unknown meter
    cases.push({ raw: encodeMessage(flowMod({ xid: 0x107, instructions: [{ type: 'meter', meterId: 5 }, output(2)] })), type: OFPET.METER_MOD_FAILED, code: OFPMMFC.UNKNOWN_METER });
    // bad table id and overlap
    cases.push({ raw: encodeMessage(flowMod({ xid: 0x108, tableId: 0xff, instructions: [output(2)] })), type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.BAD_TABLE_ID });
    cases.push({ raw: encodeMessage(flowMod({ xid: 0x109, flags: OFPFF.CHECK_OVERLAP, priority: 0, instructions: [output(2)] })), type: OFPET.FLOW_MOD_FAILED, code: OFPFMFC.OVERLAP });
    cases.push({ raw: encodeMessage({ type: 'experimenter', xid: 0x10a, experimenter: 0x2320, expType: 1, data: Buffer.alloc(0) }), type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_EXPERIMENTER });
    for (const k of cases) {
      const xid = k.raw.readUInt32BE(4);
      const p = c.waitFor((m) => m.xid === xid);
      c.sendRaw(k.raw);
      const e = await p.catch(() => { throw new Error(`no reply to xid 0x${xid.toString(16)}`); });
      expect(e, `xid 0x${xid.toString(16)}`).toMatchObject({ type: 'error', errType: k.type, code: k.code });
      if (!isErr(e)) throw new Error('unreachable');
      expect(e.data).toEqual(k.raw.subarray(0, Math.min(64, k.raw.length)));
      expect(await c.ping()).toBe(true);
    }
  });

  it('assembles multipart requests sent with OFPMPF_REQ_MORE; bounded, one type per xid', async () => {
    const c = await connect();
    const mp = (xid: number, flags: number, body: Extract<OfpMessage, { type: 'multipart_request' }>['body']): Buffer =>
      encodeMessage({ type: 'multipart_request', xid, flags, body });
    const replies = (xid: number): OfpMessage[] => c.received.filter((m) => m.xid === xid);
    // table_features "get" in three parts: nothing until the last, then the 254 tables once
    c.sendRaw(mp(0x301, OFPMPF_REQ_MORE, { kind: 'table_features', tables: [] }));
    c.sendRaw(mp(0x301, OFPMPF_REQ_MORE, { kind: 'table_features', tables: [] }));
    await barrier(c);
    expect(replies(0x301)).toEqual([]);
    const last = c.waitFor((m) => m.xid === 0x301 && m.type === 'multipart_reply' && (m.flags & OFPMPF_REPLY_MORE) === 0);
    c.sendRaw(mp(0x301, 0, { kind: 'table_features', tables: [] }));
    await last;
    const tables = replies(0x301).flatMap((m) => (m.type === 'multipart_reply' && m.body.kind === 'table_features' ? m.body.tables.map((t) => t.tableId) : [-1]));
    expect(tables).toEqual(Array.from({ length: 254 }, (_, i) => i));
    // table_features "set" spread over two parts: TABLE_FEATURES_FAILED/EPERM once, after the last part
    const tf = (tableId: number) => ({ tableId, name: `t${tableId}`, metadataMatch: 0n, metadataWrite: 0n, config: 0, maxEntries: 10, properties: [] });
    c.sendRaw(mp(0x302, OFPMPF_REQ_MORE, { kind: 'table_features', tables: [tf(0)] }));
    const setErr = c.waitFor((m) => m.xid === 0x302);
    const lastSet = mp(0x302, 0, { kind: 'table_features', tables: [tf(1)] });
    c.sendRaw(lastSet);
    expect(await setErr).toMatchObject({ type: 'error', errType: OFPET.TABLE_FEATURES_FAILED, code: OFPTFFC.EPERM, data: lastSet.subarray(0, 64) });
    await barrier(c);
    expect(replies(0x302)).toHaveLength(1);
    // a part of another type under the same xid: BAD_MULTIPART, and the assembly is dropped
    c.sendRaw(mp(0x303, OFPMPF_REQ_MORE, { kind: 'table_features', tables: [] }));
    const bad = c.waitFor((m) => m.xid === 0x303);
    c.sendRaw(mp(0x303, 0, { kind: 'port_desc' }));
    expect(await bad).toMatchObject({ type: 'error', errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_MULTIPART });
    const desc = await c.request({ type: 'multipart_request', xid: 0x303, flags: 0, body: { kind: 'desc' } });
    expect(desc).toMatchObject({ type: 'multipart_reply', body: { kind: 'desc' } });
    // too many parts: MULTIPART_BUFFER_OVERFLOW (once), then the xid is free again
    const over = c.waitFor((m) => m.xid === 0x304);
    const part = mp(0x304, OFPMPF_REQ_MORE, { kind: 'desc' });
    c.sendRaw(Buffer.concat(Array.from({ length: MULTIPART_MAX_PARTS + 1 }, () => part)));
    expect(await over).toMatchObject({ type: 'error', errType: OFPET.BAD_REQUEST, code: OFPBRC.MULTIPART_BUFFER_OVERFLOW });
    // too many unfinished requests on one connection: overflow for the one past the bound
    for (let i = 0; i < MULTIPART_MAX_PENDING; i++) c.sendRaw(mp(0x400 + i, OFPMPF_REQ_MORE, { kind: 'desc' }));
    const tooMany = c.waitFor((m) => m.xid === 0x4ff);
    c.sendRaw(mp(0x4ff, OFPMPF_REQ_MORE, { kind: 'desc' }));
    expect(await tooMany).toMatchObject({ type: 'error', errType: OFPET.BAD_REQUEST, code: OFPBRC.MULTIPART_BUFFER_OVERFLOW });
    // finishing one of them answers it
    expect(await c.request({ type: 'multipart_request', xid: 0x400, flags: 0, body: { kind: 'desc' } })).toMatchObject({ type: 'multipart_reply', body: { kind: 'desc' } });
    await barrier(c);
    expect(c.received.filter((m) => m.xid === 0x304)).toHaveLength(1);
    expect(await c.ping()).toBe(true);
  });

  it('a burst longer than the per-turn message budget is answered over several turns, in order', async () => {
    const a = await connect(), b = await connect();
    const n = 3000;   // ~12 turns of 256 messages
    const burst = Buffer.concat([...Array.from({ length: n }, (_, i) => encodeMessage({ type: 'echo_request', xid: 5000 + i, data: Buffer.alloc(0) })), encodeMessage({ type: 'barrier_request', xid: 9 })]);
    const done = a.waitFor((m) => m.xid === 9, 20_000);
    a.sendRaw(burst);
    expect(await b.ping()).toBe(true);   // the other session is served meanwhile (no order asserted)
    await done;
    expect(a.received.slice(1).map((m) => m.xid)).toEqual([...Array.from({ length: n }, (_, i) => 5000 + i), 9]);
    expect(await a.ping()).toBe(true);   // the socket was resumed
  });

  it('a framing error found in a later turn (after the budget) still answers and closes', async () => {
    const c = await connect();
    const e = c.waitFor(isErr, 20_000);
    c.sendRaw(Buffer.concat([...Array.from({ length: 600 }, (_, i) => encodeMessage({ type: 'echo_request', xid: 100 + i, data: Buffer.alloc(0) })), Buffer.from([4, 2, 0, 4, 0, 0, 0, 5])]));
    expect(await e).toMatchObject({ errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN, xid: 5 });
    expect(c.received.filter((m) => m.type === 'echo_reply').length).toBe(600);
    await new Promise<void>((r) => (c.closed ? r() : c.socket.once('close', () => r())));
  });

  it('closes the connection on a framing error (length < 8)', async () => {
    const c = await connect();
    const e = c.waitFor(isErr);
    c.sendRaw(Buffer.from([4, 2, 0, 4, 0, 0, 0, 5]));
    expect(await e).toMatchObject({ errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_LEN });
    await new Promise<void>((r) => (c.closed ? r() : c.socket.once('close', () => r())));
    const d = await connect();
    expect(await d.ping()).toBe(true);
  });

  it('sends echo requests when idle and drops a silent peer', async () => {
    const quick = new OpenFlowAgent(bridge, { listen: 'ptcp:0', failMode: 'secure', now: () => clock, echoIntervalS: 0.2, deadAfterS: 0.6 });
    await quick.start();
    try {
      const c = await OfClient.connect(quick.listeningPort, '127.0.0.1', true);
      clients.push(c);
      c.answerEcho = false;   // a silent peer: the agent probes, then closes after deadAfterS (0.6 s)
      await c.waitFor((m) => m.type === 'echo_request', 10_000);
      await new Promise<void>((r) => c.socket.once('close', () => r()));
      expect(quick.sessions()).toHaveLength(0);
    } finally { await quick.stop(); }
  });
});

describe('fail-mode standalone (an active controller connection)', () => {
  // A controller the agent connects to: accepts, says HELLO, records and answers by xid.
  let server: Server;
  let sock: Socket | null = null;
  const got: OfpMessage[] = [];
  const listen = (port: number): Promise<number> => new Promise((resolve) => {
    server = createServer((c) => {
      sock = c;
      const framer = new OfpFramer((buf, off, len) => got.push(decodeMessage(buf, off, len)));
      c.on('data', (d: Buffer) => framer.push(d));
      c.on('error', () => undefined);
      c.write(encodeMessage({ type: 'hello', xid: 1, version: 4, elements: [] }));
    });
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
    const t0 = Date.now();
    while (!cond()) { if (Date.now() - t0 > ms) throw new Error('condition not met in time'); await new Promise((r) => setTimeout(r, 5)); }
  };
  const flows = (b: Bridge): string[] => b.dumpFlows({}).map((f) => `${f.tableId}/${f.priority}/0x${f.cookie.toString(16)}/${f.instructions.applyActions?.map((a) => (a.type === 'output' ? a.port : a.type)).join(',')}`);
  const NORMAL = 0xfffffffa, CONTROLLER = 0xfffffffd;
  const ctlSend = async (m: OfpMessage): Promise<void> => {
    sock!.write(encodeMessage(m));
    sock!.write(encodeMessage({ type: 'barrier_request', xid: 0xbb00 + got.length }));
    const x = 0xbb00 + got.length;
    await until(() => got.some((r) => r.type === 'barrier_reply' && r.xid === x));
  };

  it('fails open after 3 echo intervals without a controller (flush + NORMAL), recovers on admission', async () => {
    const port = await listen(0);
    const bridge = new Bridge({ name: 'br-fail', datapathId: 0xfa11n });
    const p1 = new MemoryPort('p1'), p2 = new MemoryPort('p2');
    bridge.addPort({ ofport: 1, name: 'p1', backend: p1 });
    bridge.addPort({ ofport: 2, name: 'p2', backend: p2 });
    // Fail-open after 3 x 1 s: room for a busy machine between the controller leaving and the check that its flows are still there.
    const agent = new OpenFlowAgent(bridge, { controllers: [`tcp:127.0.0.1:${port}`], failMode: 'standalone', echoIntervalS: 1, deadAfterS: 3, reconnectMs: { min: 20, max: 40 } });
    await agent.start();
    try {
      // at start: the bridge's NORMAL entry is the fail-open flow
      expect(agent.failOpenActive).toBe(true);
      expect(flows(bridge)).toEqual([`0/0/0x${FAIL_OPEN_COOKIE.toString(16)}/${NORMAL}`]);
      await until(() => sock !== null && agent.sessions().some((s) => s.state === 'open'));
      // the handshake (features, table features) does not admit the controller; its first flow_mod does, before being applied
      sock!.write(encodeMessage({ type: 'features_request', xid: 2 }));
      sock!.write(encodeMessage({ type: 'multipart_request', xid: 3, flags: 0, body: { kind: 'table_features', tables: [] } }));
      await until(() => got.some((r) => r.xid === 3 && r.type === 'multipart_reply' && r.flags === 0));
      expect(agent.failOpenActive).toBe(true);
      await ctlSend(flowMod({ xid: 3, priority: 0, cookie: 0x77n, instructions: [output(CONTROLLER)] }));
      await ctlSend(flowMod({ xid: 4, priority: 100, cookie: 0x78n, match: [{ field: 'in_port', value: 1n }], instructions: [output(2)] }));
      expect(agent.failOpenActive).toBe(false);
      expect(flows(bridge).sort()).toEqual([`0/0/0x77/${CONTROLLER}`, `0/100/0x78/2`]);
      // the controller goes away: its flows stay for 3 echo intervals (it may come back) ...
      await new Promise<void>((r) => server.close(() => r()) && sock!.destroy());
      sock = null;
      await until(() => !agent.sessions().some((s) => s.kind === 'active'));
      expect(flows(bridge)).toHaveLength(2);
      // ... then every flow is flushed and table 0 is NORMAL: a MAC-learning switch
      await until(() => agent.failOpenActive, 15_000);
      expect(flows(bridge)).toEqual([`0/0/0x${FAIL_OPEN_COOKIE.toString(16)}/${NORMAL}`]);
      p1.inject(frameAB); bridge.poll(performance.timeOrigin + performance.now());
      expect(p2.takeSent()).toHaveLength(1);
      // it reconnects: flows stay as they are until it is admitted, then only the NORMAL flow goes
      got.length = 0;
      await listen(port);
      await until(() => sock !== null && agent.sessions().some((s) => s.kind === 'active' && s.state === 'open'));
      expect(agent.failOpenActive).toBe(true);
      await ctlSend(flowMod({ xid: 5, priority: 50, cookie: 0x79n, instructions: [output(CONTROLLER)] }));
      expect(agent.failOpenActive).toBe(false);
      expect(flows(bridge)).toEqual([`0/50/0x79/${CONTROLLER}`]);
    } finally {
      await agent.stop();
      sock?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
