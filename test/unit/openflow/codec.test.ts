// Codec unit tests without third-party data: layout sizes, encode-at-offset, malformed input
// (truncations, bad lengths, bad OXM, unknown type, bad version -> the spec's OfpError), match
// checks, the framer's fatal error and the one-line formatter.
import { describe, expect, it } from 'vitest';
import {
  OFPBAC, OFPBIC, OFPBMC, OFPBRC, OFPET, OFPFC, OFPP, OFPVID_PRESENT, OFP_NO_BUFFER, OFPTT_ALL, OFPG_ANY,
  OfpError, OfpFramer, checkMatch, checkPrerequisites, decodeMessage, encodeMessage, encodeMessageInto,
  encodingLength, formatMessage, matchEncodingLength, readHeader, versionBitmap, helloVersions, type OfpMessage, type FlowMod,
} from '../../../src/openflow/index.js';

const flowMod = (over: Partial<FlowMod> = {}): FlowMod => ({
  type: 'flow_mod', xid: 5, cookie: 1n, cookieMask: 0n, tableId: 0, command: OFPFC.ADD, idleTimeout: 0,
  hardTimeout: 0, priority: 100, bufferId: OFP_NO_BUFFER, outPort: OFPP.ANY, outGroup: OFPG_ANY, flags: 0,
  match: [{ field: 'eth_type', value: 0x806n }],
  instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.NORMAL, maxLen: 0 }] }], ...over,
});
const port = { portNo: 1, hwAddr: '02:00:00:00:00:01', name: 'tap-vm1', config: 0, state: 4, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 };

function expectOfpError(fn: () => unknown, type: number, code: number): OfpError {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(OfpError);
  const e = err as OfpError;
  expect([e.type, e.code], e.message).toEqual([type, code]);
  return e;
}

describe('layout sizes', () => {
  const cases: Array<[string, OfpMessage, number]> = [
    ['header only (barrier)', { type: 'barrier_request', xid: 1 }, 8],
    ['hello with one bitmap element', { type: 'hello', xid: 1, version: 4, elements: [versionBitmap([4])] }, 16],
    ['features_reply', { type: 'features_reply', xid: 1, datapathId: 1n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0, reserved: 0 }, 32],
    ['flow_mod with empty match, no instructions', flowMod({ match: [], instructions: [] }), 56],
    ['port_status (ofp_port is 64)', { type: 'port_status', xid: 1, reason: 0, desc: port }, 80],
    ['port_mod', { type: 'port_mod', xid: 1, portNo: 1, hwAddr: '02:00:00:00:00:01', config: 0, mask: 0, advertise: 0 }, 40],
    ['packet_out without actions or data', { type: 'packet_out', xid: 1, bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions: [], data: Buffer.alloc(0) }, 24],
    ['packet_in with empty match', { type: 'packet_in', xid: 1, bufferId: 0, totalLen: 0, reason: 0, tableId: 0, cookie: 0n, match: [], data: Buffer.alloc(0) }, 34],
    ['flow_removed with empty match', { type: 'flow_removed', xid: 1, cookie: 0n, priority: 0, reason: 0, tableId: 0, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, packetCount: 0n, byteCount: 0n, match: [] }, 56],
    ['multipart desc request', { type: 'multipart_request', xid: 1, flags: 0, body: { kind: 'desc' } }, 16],
    ['role_request', { type: 'role_request', xid: 1, role: 2, generationId: 0n }, 24],
    ['set_async', { type: 'set_async', xid: 1, packetInMask: [1, 0], portStatusMask: [7, 0], flowRemovedMask: [15, 0] }, 32],
    ['meter_mod with one drop band', { type: 'meter_mod', xid: 1, command: 0, flags: 1, meterId: 1, bands: [{ kind: 'drop', rate: 1000, burstSize: 0 }] }, 32],
  ];
  it.each(cases)('%s', (_n, msg, size) => {
    expect(encodingLength(msg)).toBe(size);
    const b = encodeMessage(msg);
    expect(b.length).toBe(size);
    expect(readHeader(b, 0)).toEqual({ version: 4, type: b[1], length: size, xid: 1 === msg.xid ? 1 : msg.xid });
    expect(decodeMessage(b)).toEqual(msg);
  });

  it('pads ofp_match to 8 bytes and the flow_mod grows by match + instructions', () => {
    expect(matchEncodingLength([])).toBe(8);
    expect(matchEncodingLength([{ field: 'eth_type', value: 0x800n }])).toBe(16); // 4 + 6 -> 10 -> 16
    const fm = flowMod();
    expect(encodingLength(fm)).toBe(48 + 16 + 8 + 16);
  });

  it('encodes into an offset of a larger buffer and reports bytes written', () => {
    const fm = flowMod({ match: [{ field: 'vlan_vid', value: BigInt(OFPVID_PRESENT | 10), mask: 0x1fffn }] });
    const big = Buffer.alloc(200, 0xa5);
    const n = encodeMessageInto(fm, big, 13);
    expect(n).toBe(encodingLength(fm));
    expect(big[12]).toBe(0xa5);
    expect(big[13 + n]).toBe(0xa5);
    expect(decodeMessage(big, 13, n)).toEqual(fm);
    expect(() => encodeMessageInto(fm, Buffer.alloc(10), 0)).toThrow(RangeError);
  });
});

describe('malformed input', () => {
  const good = encodeMessage(flowMod());
  it('rejects a truncated buffer and every truncated length with BAD_LEN', () => {
    for (let n = 0; n < good.length; n++) {
      const cut = Buffer.from(good.subarray(0, n));
      expectOfpError(() => decodeMessage(cut), OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
      if (n >= 8) { // header claims the shorter length: OfpError, or (cut at a list boundary) a shorter valid flow_mod
        cut.writeUInt16BE(n, 2);
        if (n < 56) expect(() => decodeMessage(cut)).toThrow(OfpError);
        else try { expect(decodeMessage(cut).type).toBe('flow_mod'); } catch (e) { expect(e).toBeInstanceOf(OfpError); }
      }
    }
  });
  it('rejects a header length below 8 or beyond the bytes given', () => {
    const b = Buffer.from(good); b.writeUInt16BE(4, 2);
    expectOfpError(() => decodeMessage(b), OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
    const c = Buffer.from(good); c.writeUInt16BE(good.length + 8, 2);
    expectOfpError(() => decodeMessage(c), OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
  });
  it('rejects unknown types and unknown versions, but decodes any version of HELLO', () => {
    const t = Buffer.from(good); t[1] = 99;
    expectOfpError(() => decodeMessage(t), OFPET.BAD_REQUEST, OFPBRC.BAD_TYPE);
    const v = Buffer.from(good); v[0] = 1;
    const e = expectOfpError(() => decodeMessage(v), OFPET.BAD_REQUEST, OFPBRC.BAD_VERSION);
    expect(Buffer.from(e.data!)).toEqual(v.subarray(0, 64)); // the offending bytes, at most 64
    const hello = encodeMessage({ type: 'hello', xid: 7, version: 6, elements: [versionBitmap([1, 4, 6])] });
    const h = decodeMessage(hello);
    expect(h).toMatchObject({ type: 'hello', version: 6 });
    expect(helloVersions((h as Extract<OfpMessage, { type: 'hello' }>).elements)).toEqual([1, 4, 6]);
    expect(encodeMessage(h)).toEqual(hello);
  });
  it('rejects an unknown multipart type with BAD_MULTIPART', () => {
    const b = encodeMessage({ type: 'multipart_request', xid: 1, flags: 0, body: { kind: 'desc' } });
    b.writeUInt16BE(77, 8);
    expectOfpError(() => decodeMessage(b), OFPET.BAD_REQUEST, OFPBRC.BAD_MULTIPART);
  });
  it('reports bad OXM lengths, unknown fields, masks and match types as BAD_MATCH', () => {
    // match starts at offset 48: type(2) length(2) then the eth_type OXM header at 52
    const len = Buffer.from(good); len[55] = 3; // oxm_length 2 -> 3
    expectOfpError(() => decodeMessage(len), OFPET.BAD_MATCH, OFPBMC.BAD_LEN);
    const field = Buffer.from(good); field[54] = 60 << 1; // unknown basic field 60
    expectOfpError(() => decodeMessage(field), OFPET.BAD_MATCH, OFPBMC.BAD_FIELD);
    const mask = encodeMessage(flowMod({ match: [{ field: 'raw', header: 0x80000b00, body: Buffer.from('08000fff', 'hex') }] })); // eth_type is not maskable
    expectOfpError(() => decodeMessage(mask), OFPET.BAD_MATCH, OFPBMC.BAD_MASK);
    const mtype = Buffer.from(good); mtype.writeUInt16BE(0, 48); // OFPMT_STANDARD
    expectOfpError(() => decodeMessage(mtype), OFPET.BAD_MATCH, OFPBMC.BAD_TYPE);
    const mlen = Buffer.from(good); mlen.writeUInt16BE(200, 50);
    expectOfpError(() => decodeMessage(mlen), OFPET.BAD_MATCH, OFPBMC.BAD_LEN);
  });
  it('reports bad actions and instructions with their own error types', () => {
    // instructions start at 64: apply_actions(type 4, len 24), pad, output action at 72
    const inst = Buffer.from(good); inst.writeUInt16BE(42, 64);
    expectOfpError(() => decodeMessage(inst), OFPET.BAD_INSTRUCTION, OFPBIC.UNKNOWN_INST);
    const ilen = Buffer.from(good); ilen.writeUInt16BE(12, 66);
    expectOfpError(() => decodeMessage(ilen), OFPET.BAD_INSTRUCTION, OFPBIC.BAD_LEN);
    const act = Buffer.from(good); act.writeUInt16BE(7, 72);
    expectOfpError(() => decodeMessage(act), OFPET.BAD_ACTION, OFPBAC.BAD_TYPE);
    const alen = Buffer.from(good); alen.writeUInt16BE(8, 74);
    expectOfpError(() => decodeMessage(alen), OFPET.BAD_ACTION, OFPBAC.BAD_LEN);
  });
});

describe('match checks', () => {
  it('requires the spec prerequisites', () => {
    expect(() => checkPrerequisites([{ field: 'eth_type', value: 0x800n }, { field: 'ip_proto', value: 6n }, { field: 'tcp_dst', value: 80n }])).not.toThrow();
    expectOfpError(() => checkPrerequisites([{ field: 'tcp_dst', value: 80n }]), OFPET.BAD_MATCH, OFPBMC.BAD_PREREQ);
    expectOfpError(() => checkPrerequisites([{ field: 'ip_proto', value: 6n }, { field: 'tcp_dst', value: 80n }]), OFPET.BAD_MATCH, OFPBMC.BAD_PREREQ);
    expectOfpError(() => checkPrerequisites([{ field: 'eth_type', value: 0x86ddn }, { field: 'ipv4_src', value: 1n }]), OFPET.BAD_MATCH, OFPBMC.BAD_PREREQ);
    expectOfpError(() => checkPrerequisites([{ field: 'vlan_pcp', value: 3n }]), OFPET.BAD_MATCH, OFPBMC.BAD_PREREQ);
    expect(() => checkPrerequisites([{ field: 'vlan_vid', value: BigInt(OFPVID_PRESENT | 5) }, { field: 'vlan_pcp', value: 3n }])).not.toThrow();
    expect(() => checkPrerequisites([{ field: 'eth_type', value: 0x806n }, { field: 'arp_tpa', value: 0x0a000001n }])).not.toThrow();
  });
  it('rejects duplicate fields and value bits outside the mask', () => {
    expectOfpError(() => checkMatch([{ field: 'in_port', value: 1n }, { field: 'in_port', value: 2n }]), OFPET.BAD_MATCH, OFPBMC.DUP_FIELD);
    expectOfpError(() => checkMatch([{ field: 'eth_dst', value: 0xffn, mask: 0xf0n }]), OFPET.BAD_MATCH, OFPBMC.BAD_WILDCARDS);
  });
  it('round-trips masked, 128-bit and experimenter OXMs', () => {
    const fm = flowMod({
      tableId: OFPTT_ALL, command: OFPFC.DELETE,
      match: [
        { field: 'eth_type', value: 0x86ddn },
        { field: 'ipv6_src', value: 0xfe80n << 112n, mask: 0xffffn << 112n },
        { field: 'tun_ipv4_dst', value: 0x0a000002n },
        { field: 'raw', header: 0xffff0a08, body: Buffer.from('4f4e4600000000ab', 'hex') },
      ],
      instructions: [{ type: 'write_metadata', metadata: 1n << 63n, metadataMask: ~0n & 0xffffffffffffffffn }, { type: 'goto_table', tableId: 3 }],
    });
    expect(decodeMessage(encodeMessage(fm))).toEqual(fm);
  });
});

describe('framer errors', () => {
  it('treats a header length below 8 as fatal', () => {
    const f = new OfpFramer(() => {});
    f.push(Buffer.from('0400', 'hex'));
    expect(f.buffered).toBe(2);
    expectOfpError(() => f.push(Buffer.from('000400000000', 'hex')), OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
    expectOfpError(() => f.push(Buffer.alloc(8)), OFPET.BAD_REQUEST, OFPBRC.BAD_LEN);
  });
});

describe('formatMessage', () => {
  it('renders a flow_mod on one line', () => {
    expect(formatMessage(flowMod({ cookie: 1n }))).toBe('FLOW_MOD xid=5 ADD table=0 priority=100 cookie=0x1 match=eth_type=0x806 instructions=apply_actions(output:NORMAL)');
  });
  it('renders addresses readably', () => {
    const s = formatMessage({ type: 'packet_in', xid: 2, bufferId: OFP_NO_BUFFER, totalLen: 60, reason: 0, tableId: 0, cookie: 0n, data: Buffer.alloc(60),
      match: [{ field: 'in_port', value: 3n }, { field: 'eth_src', value: 0x020000000001n }, { field: 'ipv4_dst', value: 0x0a000001n }] });
    expect(s).toContain('match=in_port=3,eth_src=02:00:00:00:00:01,ipv4_dst=10.0.0.1');
    expect(s).not.toContain('\n');
  });
});
