// The bridge and offloaded checksums: frames that arrive marked csumPartial (as a SystemPort reports
// TP_STATUS_CSUMNOTREADY) leave every port with complete checksums — unicast, flooded, tagged,
// rewritten by set_field, released by a shaper, sent to the controller; frames that cannot be
// completed are dropped as csum-incomplete.
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { sumBytes } from '../../../src/packet/bytes.js';
import type { Packet } from '../../../src/packet/packet.js';
import { DROP, DROP_NAMES } from '../../../src/datapath/counters.js';
import { flow, out, apply, MAC, BCAST, makeBridge, FakeLimiter, OFPP } from './helpers.js';

/** Known-good TCP (or UDP) frame from port `src`'s host to `dst`'s, IPv4 or IPv6, odd payload. */
function good(src: number, dst: number, o: { v6?: boolean; udp?: boolean; vid?: number; dstMac?: string; len?: number } = {}): Buffer {
  const payload = Uint8Array.from({ length: o.len ?? 333 }, (_, i) => (i * 13 + src) & 0xff);
  const l4 = o.udp ? { kind: 'udp' as const, sport: 5353, dport: 9999, payload } : { kind: 'tcp' as const, sport: 40000 + src, dport: 5201, seq: 7, ack: 9, flags: 0x18, payload };
  return buildFrame({
    dst: o.dstMac ?? MAC(dst), src: MAC(src), vlans: o.vid !== undefined ? [{ vid: o.vid }] : undefined,
    payload: o.v6 ? { kind: 'ipv6', src: `fd00::${src}`, dst: `fd00::${dst}`, l4 } : { kind: 'ipv4', src: `10.0.0.${src}`, dst: `10.0.0.${dst}`, l4 },
  });
}

/** The checksum field as a sender with tx offload leaves it: the folded pseudo-header sum only. */
function partial(f: Buffer): Buffer {
  const g = Buffer.from(f);
  let o = 12;
  while (g.readUInt16BE(o) === 0x8100) o += 4;
  const v6 = g.readUInt16BE(o) === 0x86dd, ip = o + 2;
  const proto = v6 ? g[ip + 6] : g[ip + 9], l4 = v6 ? ip + 40 : ip + 20;
  const l4Len = v6 ? g.readUInt16BE(ip + 4) : g.readUInt16BE(ip + 2) - 20;
  let s = sumBytes(g, v6 ? ip + 8 : ip + 12, v6 ? 32 : 8) + proto + l4Len;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  g.writeUInt16BE(s, l4 + (proto === 6 ? 16 : 6));
  return g;
}

/** Inject a partial-checksum frame on `inPort`, poll, return what each port sent. */
function sendPartial(t: ReturnType<typeof makeBridge>, inPort: number, frame: Buffer, nowMs = 0): Buffer[][] {
  t.ports[inPort - 1].inject(frame, true);
  t.br.poll(nowMs);
  return t.ports.map((p) => p.takeSent().map((s) => s.frame));
}

describe('partial checksums are completed at egress', () => {
  it.each([
    ['tcp/ipv4', {}], ['udp/ipv4', { udp: true }], ['tcp/ipv6', { v6: true }], ['udp/ipv6', { v6: true, udp: true }],
  ] as const)('%s unicast: leaves with the known-good bytes; no drop counted', (_n, o) => {
    const t = makeBridge(2);
    sendPartial(t, 2, partial(good(2, 1, o)));                     // learn host 2 behind port 2
    const want = good(1, 2, o);
    const s = sendPartial(t, 1, partial(want));
    expect(s[1].map((f) => f.toString('hex'))).toEqual([want.toString('hex')]);
    expect(t.br.stats().drops).toEqual({});
    expect(t.pool.available).toBe(t.pool.capacity);
  });

  it('a flooded frame is completed on every copy', () => {
    const t = makeBridge(4);
    const want = good(1, 9, { dstMac: BCAST });
    const s = sendPartial(t, 1, partial(want));
    expect(s.map((p) => p.map((f) => f.toString('hex')))).toEqual([[], [want.toString('hex')], [want.toString('hex')], [want.toString('hex')]]);
  });

  it('access -> trunk: completed with the pushed tag in front; trunk -> access: completed untagged', () => {
    const t = makeBridge(2, { 1: { mode: 'access', vid: 10 }, 2: { mode: 'trunk', vids: [10] } });
    const s1 = sendPartial(t, 1, partial(good(1, 9)));
    expect(s1[1][0].toString('hex')).toBe(good(1, 9, { vid: 10 }).toString('hex'));
    const s2 = sendPartial(t, 2, partial(good(9, 1, { vid: 10, v6: true })));
    expect(s2[0][0].toString('hex')).toBe(good(9, 1, { v6: true }).toString('hex'));
  });

  it('set_field of addresses and ports on a partial frame: the checksum is computed for the rewritten frame', () => {
    const t = makeBridge(2);
    t.br.addFlow(flow({ match: [{ field: 'eth_type', value: 0x0800n }, { field: 'ip_proto', value: 6n }], instructions: apply(
      { type: 'set_field', field: 'ipv4_dst', value: 0x0a000063n },   // 10.0.0.99
      { type: 'set_field', field: 'tcp_dst', value: 80n },
      out(2)) }), 0);
    const s = sendPartial(t, 1, partial(good(1, 2)));
    const want = buildFrame({
      dst: MAC(2), src: MAC(1),
      payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.99', l4: { kind: 'tcp', sport: 40001, dport: 80, seq: 7, ack: 9, flags: 0x18, payload: Uint8Array.from({ length: 333 }, (_, i) => (i * 13 + 1) & 0xff) } },
    });
    expect(s[1][0].toString('hex')).toBe(want.toString('hex'));
  });

  it('frames a shaper holds are completed when released', () => {
    const t = makeBridge(2);
    const sh = new FakeLimiter(true, 8);
    t.br.setPortLimiter(2, 'egress', sh);
    t.br.addFlow(flow({ instructions: apply(out(2)) }), 0);
    sh.releaseAtMs = Infinity;
    expect(sendPartial(t, 1, partial(good(1, 2)), 0)[1]).toEqual([]);
    sh.releaseAtMs = 10;
    t.br.poll(10);
    expect(t.ports[1].takeSent().map((x) => x.frame.toString('hex'))).toEqual([good(1, 2).toString('hex')]);
  });

  it('the controller gets PACKET_IN with the checksum completed', () => {
    const t = makeBridge(2);
    t.br.addFlow(flow({ instructions: apply(out(OFPP.CONTROLLER)) }), 0);
    const seen: string[] = [];
    t.br.onPacketIn = (p: Packet) => { seen.push(p.frame().toString('hex')); };
    sendPartial(t, 1, partial(good(1, 2, { v6: true, udp: true })));
    expect(seen).toEqual([good(1, 2, { v6: true, udp: true }).toString('hex')]);
  });

  it('frames not marked partial are forwarded as they are, even with a wrong checksum', () => {
    const t = makeBridge(2);
    t.br.addFlow(flow({ instructions: apply(out(2)) }), 0);
    const bad = partial(good(1, 2));
    const s = t.ports[0];
    s.inject(bad);
    t.br.poll(0);
    expect(t.ports[1].takeSent().map((x) => x.frame.toString('hex'))).toEqual([bad.toString('hex')]);
  });

  it('csum-incomplete has its own DROP code and name', () => {
    expect(DROP_NAMES[DROP.CsumIncomplete]).toBe('csum-incomplete');
  });

  it('a partial frame that cannot be completed (cut short, SCTP) is dropped as csum-incomplete on the egress port', () => {
    const t = makeBridge(3);
    t.br.addFlow(flow({ instructions: apply(out(2), out(3)) }), 0);
    const cut = partial(good(1, 2)).subarray(0, 60);
    const sctp = Buffer.from(good(1, 2, { udp: true })); sctp[23] = 132;
    const okFrame = good(1, 2, { len: 10 });
    t.ports[0].inject(cut, true);
    t.ports[0].inject(sctp, true);
    t.ports[0].inject(partial(okFrame), true);
    t.br.poll(0);
    expect(t.ports[1].takeSent().map((x) => x.frame.toString('hex'))).toEqual([okFrame.toString('hex')]);
    expect(t.ports[2].takeSent().map((x) => x.frame.toString('hex'))).toEqual([okFrame.toString('hex')]);
    expect(t.br.portStats(2).drops).toEqual({ 'csum-incomplete': 2 });
    expect(t.br.portStats(3).drops).toEqual({ 'csum-incomplete': 2 });
    expect(t.br.portStats(2)['tx-packets']).toBe(1);
    expect(t.br.stats().drops).toEqual({ 'csum-incomplete': 4 });
    expect(t.pool.available).toBe(t.pool.capacity);
  });
});
