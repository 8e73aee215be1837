// VxlanPort (datapath/ports/vxlan.ts) through real sockets on loopback: ports on 127.77.0.1/2/3
// (all of 127.0.0.0/8 is local) sending to each other through the raw socket, and node:dgram
// peers that capture what goes on the wire or send hand-made datagrams. The loopback is shared
// with whatever else runs on the host (other suites, benchmarks sending VXLAN to 127.0.0.x:4789),
// so the suite keeps off the usual addresses and uses its own UDP port (dstPort); the default
// 4789 is checked without sockets. Covers decap
// (tunnel_id, tun_src, learning), head-end replication and learned unicast, networks (VLAN <-> VNI),
// every tunnel-* drop through countDrop, `remote: flow` / `vni: flow`, the underlay MTU, BFD gating
// the VTEPs and the link (real timers, polled), and an IPv6
// underlay on ::1 (a port sending to itself: the only IPv6 loopback address a test can count on).
// The raw socket needs root: the suite is gated. Arrival is polled, never slept for.
import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { describePrivileged } from '../../helpers/privileged.js';
import { VxlanPort } from '../../../src/datapath/ports/vxlan.js';
import type { VxlanPortOptions } from '../../../src/datapath/ports/vxlan.js';
import { Batch } from '../../../src/packet/batch.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { HEADROOM } from '../../../src/packet/packet.js';
import { DROP, DROP_NAMES } from '../../../src/datapath/counters.js';
import { buildFrame } from '../../../src/packet/build.js';
import { vxlanSourcePort } from '../../../src/vlan/vxlan-encap.js';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { udpFrame, BCAST, MAC } from './helpers.js';

const IP_A = '127.77.0.1', IP_B = '127.77.0.2', IP_C = '127.77.0.3', IP_W = '127.77.0.9';
const W_A = 0x7f4d_0001, W_B = 0x7f4d_0002, W_C = 0x7f4d_0003, W_W = 0x7f4d_0009;
/**
 * The suite's own VXLAN UDP port (every port and peer of a test uses it, as 4789 would be), drawn
 * per run so two runs on one machine (a developer's and a helper's) never meet on a socket.
 */
const PORT = 40000 + Math.floor(Math.random() * 20000);
const macNum = (n: number): number => 0x0200_0000_0000 + n;

interface Got { frame: Buffer; tunnelId: number; tunIpv4Src: number; tunIpv4Dst: number; off: number }

const pool = new PacketPool(1024);
const open: Array<VxlanPort | dgram.Socket> = [];

async function port(name: string, opts: VxlanPortOptions): Promise<VxlanPort & { drops: Array<[string, number]> }> {
  const p = new VxlanPort(name, { dstPort: PORT, ...opts }) as VxlanPort & { drops: Array<[string, number]> };
  p.drops = [];
  p.countDrop = (code, n) => { p.drops.push([DROP_NAMES[code], n]); };
  await p.open();
  open.push(p);
  return p;
}

/** Send `frames` (with per-packet metadata) in one batch; returns how many send() accepted. */
function send(p: VxlanPort, frames: Uint8Array[], meta: { tunnelId?: number; tunIpv4Dst?: number } = {}): number {
  const b = new Batch();
  for (const f of frames) {
    const pkt = pool.alloc()!;
    pkt.load(f, 0, f.length);
    pkt.tunnelId = meta.tunnelId ?? 0; pkt.tunIpv4Dst = meta.tunIpv4Dst ?? 0;
    b.push(pkt);
  }
  const count = b.count;
  const n = p.send(b);
  for (let i = 0; i < count; i++) pool.release(b.pkts[i]);
  b.clear();
  return n;
}

/** Whatever `p` has received so far (decapsulated), drained in bursts. */
function drain(p: VxlanPort, into: Got[]): void {
  const b = new Batch();
  for (;;) {
    const n = p.recv(b, pool);
    for (let i = 0; i < b.count; i++) {
      const q = b.pkts[i];
      into.push({ frame: Buffer.from(q.frame()), tunnelId: q.tunnelId, tunIpv4Src: q.tunIpv4Src, tunIpv4Dst: q.tunIpv4Dst, off: q.off });
      pool.release(q);
    }
    b.clear();
    if (n === 0) return;
  }
}

/** Poll until `done()` (a short retry loop; the limit is only there to fail instead of hanging). */
async function until(what: string, done: () => boolean, step: () => void = () => undefined, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    step();
    if (done()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
async function receive(p: VxlanPort, n: number, got: Got[] = []): Promise<Got[]> {
  await until(`${n} frame(s) on ${p.name}`, () => got.length >= n, () => drain(p, got));
  return got;
}
async function dropped(p: VxlanPort & { drops: Array<[string, number]> }, n = 1): Promise<Array<[string, number]>> {
  await until(`${n} drop(s) counted on ${p.name}`, () => p.drops.length >= n, () => drain(p, []));
  return p.drops;
}

/** A node:dgram socket: a wire-side peer that captures datagrams or sends hand-made ones. */
async function udp(type: 'udp4' | 'udp6', address?: string, port = PORT): Promise<{ s: dgram.Socket; got: Array<{ msg: Buffer; port: number; address: string }> }> {
  const s = dgram.createSocket(type);
  const got: Array<{ msg: Buffer; port: number; address: string }> = [];
  s.on('message', (msg, rinfo) => got.push({ msg, port: rinfo.port, address: rinfo.address }));
  if (address !== undefined) { s.bind(port, address); await once(s, 'listening'); }
  open.push(s);
  return { s, got };
}
function vxlanDatagram(flags: number, vni: number, inner: Uint8Array): Buffer {
  const h = Buffer.from([flags, 0, 0, 0, (vni >>> 16) & 0xff, (vni >>> 8) & 0xff, vni & 0xff, 0]);
  return Buffer.concat([h, inner]);
}
async function sendTo(s: dgram.Socket, msg: Buffer, address: string, port = PORT): Promise<void> {
  await new Promise<void>((res, rej) => s.send(msg, port, address, (e) => (e ? rej(e) : res())));
}

afterEach(async () => {
  for (const x of open.splice(0)) {
    if (x instanceof VxlanPort) await x.close();
    else await new Promise<void>((r) => x.close(() => r()));
  }
});

describePrivileged('VxlanPort on loopback', () => {
  describe('IPv4 underlay', () => {
    it('a frame sent by A arrives at B decapsulated: same bytes, tunnel_id = VNI, tun_src = A; B learns the MAC behind A', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 5001 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const f = udpFrame(1, 2);
      expect(send(a, [f])).toBe(1);
      const [r] = await receive(b, 1);
      expect(r.frame.equals(f)).toBe(true);
      expect(r.off).toBe(HEADROOM);
      expect([r.tunnelId, r.tunIpv4Src, r.tunIpv4Dst]).toEqual([5001, W_A, W_B]);
      expect(b.vteps.lookup(5001, macNum(1), Date.now())).toBe(b.vteps.find(4, W_A, 0, 0, 0));
      expect(b.vteps.vteps[b.vteps.lookup(5001, macNum(1), Date.now())].text).toBe(IP_A);
      expect(b.tunnelInfo().vteps).toEqual([{ vni: 5001, mac: MAC(1), vtep: IP_A, ageS: 0 }]);
      expect(a.counters.snapshot()).toMatchObject({ 'tx-datagrams': 1, 'tx-floods': 0 });
      expect(b.drops).toEqual([]);
      expect(a.drops).toEqual([]);
    });

    it('a broadcast source is not learned; a frame of every size up to a jumbo one goes through whole', async () => {
      // 127.77.0.x is not an address of lo as such (lo holds 127.0.0.1/8): the MTU default is 1500, so say it
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 7, underlayMtu: 9216 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 7, underlayMtu: 9216 });
      const sizes = [14, 60, 1514, 9014];
      const frames = sizes.map((n, i) => { const f = Buffer.alloc(n, i + 1); f.fill(0xff, 0, 6); f.writeUIntBE(macNum(10 + i), 6, 6); return f; });
      frames[0].fill(0xff, 6, 12);                              // source ff:ff:..: not learned
      expect(send(a, frames)).toBe(4);
      const got = await receive(b, 4);
      expect(got.map((g) => g.frame.length)).toEqual(sizes);
      got.forEach((g, i) => expect(g.frame.equals(frames[i])).toBe(true));
      expect(b.vteps.entries(Date.now()).map((e) => e.mac)).toEqual([macNum(11), macNum(12), macNum(13)]);
    });

    it('on the wire: VXLAN header with the I flag and VNI, the frame untagged after it, source port hashed from the frame', async () => {
      const w = await udp('udp4', IP_W);
      const a = await port('vxA', { local: IP_A, remote: [IP_W], vni: 0x12_3456 });
      const frames = [udpFrame(1, 2, { sport: 1000 }), udpFrame(1, 2, { sport: 1001 }), udpFrame(1, 2, { sport: 1000, vid: 42 })];
      expect(send(a, frames)).toBe(3);
      await until('3 datagrams at the wire peer', () => w.got.length >= 3);
      expect(w.got.map((g) => g.address)).toEqual([IP_A, IP_A, IP_A]);
      for (const g of w.got) {
        expect([...g.msg.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
      }
      expect(w.got[0].msg.subarray(8).equals(frames[0])).toBe(true);
      expect(w.got[0].port).toBe(vxlanSourcePort(frames[0], 0, frames[0].length));
      expect(w.got[1].port).toBe(vxlanSourcePort(frames[1], 0, frames[1].length));
      // a tagged frame on a one-VNI port leaves untagged (the VNI names the network), same flow as the first
      expect(w.got[2].msg.subarray(8).equals(frames[0])).toBe(true);
      expect(w.got[2].port).toBe(w.got[0].port);
      for (const g of w.got) expect(g.port).toBeGreaterThanOrEqual(49152);
    });

    it('an unknown destination floods to every remote of the list (tx-floods), skipping a VTEP that is down', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B, IP_C], vni: 5001 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const c = await port('vxC', { local: IP_C, remote: [IP_A], vni: 5001 });
      const f = udpFrame(1, 9);
      expect(send(a, [f])).toBe(1);
      const [rb] = await receive(b, 1), [rc] = await receive(c, 1);
      expect(rb.frame.equals(f) && rc.frame.equals(f)).toBe(true);
      expect(a.counters.snapshot()).toMatchObject({ 'tx-datagrams': 2, 'tx-floods': 1 });
      expect(send(a, [udpFrame(1, 0, { dstMac: BCAST })])).toBe(1);
      await receive(b, 1); await receive(c, 1);
      expect(a.counters.snapshot()).toMatchObject({ 'tx-datagrams': 4, 'tx-floods': 2 });
      // C down (as BFD would mark it): the flood goes to B only, and is no flood then
      a.vteps.setAlive(a.vteps.find(4, W_C, 0, 0, 0), false);
      expect(send(a, [udpFrame(1, 9)])).toBe(1);
      await receive(b, 1);
      expect(a.counters.snapshot()).toMatchObject({ 'tx-datagrams': 5, 'tx-floods': 2 });
      expect(a.tunnelInfo().endpoints).toEqual([{ vtep: IP_B, up: true }, { vtep: IP_C, up: false }]);
    });

    it('a full burst flooded to five VTEPs (more messages than one send call takes) reaches each of them whole, in order', async () => {
      const peers = await Promise.all([10, 11, 12, 13, 14].map((n) => udp('udp4', `127.77.0.${n}`)));
      const a = await port('vxA', { local: IP_A, remote: peers.map((_, i) => `127.77.0.${10 + i}`), vni: 3 });
      const frames = Array.from({ length: 64 }, (_, i) => udpFrame(1, 0, { dstMac: BCAST, sport: 1000 + i }));
      expect(send(a, frames)).toBe(64);
      await until('64 datagrams at each of 5 peers', () => peers.every((x) => x.got.length >= 64));
      for (const x of peers) {
        expect(x.got).toHaveLength(64);
        x.got.forEach((g, i) => expect(g.msg.subarray(8).equals(frames[i])).toBe(true));
      }
      expect(a.counters.snapshot()).toMatchObject({ 'tx-datagrams': 320, 'tx-floods': 64 });
      expect(a.drops).toEqual([]);
    });

    it('a destination learned behind a VTEP goes to that VTEP only', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B, IP_C], vni: 5001 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const c = await port('vxC', { local: IP_C, remote: [IP_A], vni: 5001 });
      expect(send(b, [udpFrame(2, 1)])).toBe(1);                // B's host 2 talks: A learns it behind B
      await receive(a, 1);
      expect(a.vteps.vteps[a.vteps.lookup(5001, macNum(2), Date.now())].text).toBe(IP_B);
      const before = a.counters.snapshot();
      expect(send(a, [udpFrame(1, 2)])).toBe(1);
      const [rb] = await receive(b, 1);
      expect(rb.frame.equals(udpFrame(1, 2))).toBe(true);
      expect(a.counters.snapshot()['tx-datagrams'] - before['tx-datagrams']).toBe(1);
      expect(a.counters.snapshot()['tx-floods']).toBe(before['tx-floods']);
      // then a broadcast to both: the first thing C ever gets is that broadcast
      expect(send(a, [udpFrame(1, 0, { dstMac: BCAST })])).toBe(1);
      const gotC = await receive(c, 1);
      await receive(b, 1);
      expect(gotC.map((g) => g.frame.subarray(0, 6).toString('hex'))).toEqual(['ffffffffffff']);
    });

    it('networks: a frame tagged VLAN 100 leaves as VNI 5001 untagged and arrives tagged with the peer\'s VLAN for 5001', async () => {
      const w = await udp('udp4', IP_W), w2 = await udp('udp4', '127.77.0.10');
      // 5001 floods to the port's list (B, W); 5002 to its own (B, W2)
      const a = await port('vxA', { local: IP_A, remote: [IP_B, IP_W], networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200, remote: [IP_B, '127.77.0.10'] }] });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], networks: [{ vni: 5001, vid: 300 }, { vni: 5002, vid: 400 }] });
      expect(send(a, [udpFrame(1, 2, { vid: 100, pcp: 5 })])).toBe(1);
      const [r] = await receive(b, 1);
      expect(r.tunnelId).toBe(5001);
      expect(r.frame.equals(udpFrame(1, 2, { vid: 300 }))).toBe(true);   // PCP 0: the VNI carries no priority
      expect(r.off).toBe(HEADROOM - 4);
      expect(b.vteps.lookup(5001, macNum(1), Date.now())).toBeGreaterThanOrEqual(0);
      expect(b.vteps.lookup(5002, macNum(1), Date.now())).toBe(-1);
      expect(send(a, [udpFrame(1, 3, { vid: 200 })])).toBe(1);
      const [r2] = await receive(b, 1);
      expect([r2.tunnelId, r2.frame.equals(udpFrame(1, 3, { vid: 400 }))]).toEqual([5002, true]);
      // on the wire: untagged, the network named by the VNI only
      await until('a datagram at each wire peer', () => w.got.length >= 1 && w2.got.length >= 1);
      expect([...w.got[0].msg.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0]);
      expect(w.got[0].msg.subarray(8).equals(udpFrame(1, 2))).toBe(true);
      expect([...w2.got[0].msg.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0x00, 0x13, 0x8a, 0]);
      expect(w2.got[0].msg.subarray(8).equals(udpFrame(1, 3))).toBe(true);
      expect([w.got.length, w2.got.length]).toEqual([1, 1]);
      expect(a.tunnelInfo()).toMatchObject({ vni: null, networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200 }] });
    });

    it('networks: a VLAN not carried, or an untagged frame with no carried tunnel_id, is counted tunnel-unknown-vni', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], networks: [{ vni: 5001, vid: 100 }] });
      expect(send(a, [udpFrame(1, 2, { vid: 101 }), udpFrame(1, 2)])).toBe(0);
      expect(a.drops).toEqual([['tunnel-unknown-vni', 1], ['tunnel-unknown-vni', 1]]);
      expect(a.lastSendCounted).toBe(2);
      // untagged with a carried tunnel_id (set by a flow) goes out with it
      const b = await port('vxB', { local: IP_B, remote: [IP_A], networks: [{ vni: 5001, vid: 100 }] });
      expect(send(a, [udpFrame(1, 2)], { tunnelId: 5001 })).toBe(1);
      const [r] = await receive(b, 1);
      expect([r.tunnelId, r.frame.equals(udpFrame(1, 2, { vid: 100 }))]).toEqual([5001, true]);
    });

    it('a received VNI the port does not carry is counted tunnel-unknown-vni (and nothing is learned)', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 5002 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      expect(send(a, [udpFrame(1, 2)])).toBe(1);
      expect(await dropped(b)).toEqual([['tunnel-unknown-vni', 1]]);
      expect(b.vteps.size).toBe(0);
      expect([b.counters.rxDrops, b.counters.rxFrames]).toEqual([1, 0]);
    });

    it('vni: flow receives every VNI (tunnel_id set) and sends the packet\'s tunnel_id', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 'flow' });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 'flow' });
      expect(send(a, [udpFrame(1, 2), udpFrame(1, 2)], { tunnelId: 0xab_cdef })).toBe(2);
      const got = await receive(b, 2);
      expect(got.map((g) => g.tunnelId)).toEqual([0xab_cdef, 0xab_cdef]);
      expect(send(a, [udpFrame(1, 2)], { tunnelId: 0x100_0000 })).toBe(0);   // does not fit 24 bits
      expect(a.drops).toEqual([['tunnel-unknown-vni', 1]]);
    });

    it('an inner frame carrying an 802.1Q tag is dropped tunnel-inner-tag (RFC 7348 §6.1)', async () => {
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const s = await udp('udp4', IP_W, 0);
      await sendTo(s.s, vxlanDatagram(0x08, 5001, udpFrame(1, 2, { vid: 10 })), IP_B);
      expect(await dropped(b)).toEqual([['tunnel-inner-tag', 1]]);
      expect(b.vteps.size).toBe(0);
      // an untagged one from the same sender is taken, its sender learned as a VTEP
      await sendTo(s.s, vxlanDatagram(0x08, 5001, udpFrame(1, 2)), IP_B);
      const [r] = await receive(b, 1);
      expect([r.tunnelId, r.tunIpv4Src]).toEqual([5001, W_W]);
      expect(b.tunnelInfo().vteps).toEqual([{ vni: 5001, mac: MAC(1), vtep: IP_W, ageS: 0 }]);
    });

    it.each([
      ['the I flag clear', vxlanDatagram(0x00, 5001, udpFrame(1, 2))],
      ['only reserved flags set', vxlanDatagram(0xf7, 5001, udpFrame(1, 2))],
      ['shorter than VXLAN + Ethernet headers', vxlanDatagram(0x08, 5001, Buffer.alloc(13))],
      ['empty', Buffer.alloc(0)],
    ])('a datagram with %s is tunnel-malformed', async (_what, msg) => {
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const s = await udp('udp4', IP_W, 0);
      await sendTo(s.s, msg, IP_B);
      expect(await dropped(b)).toEqual([['tunnel-malformed', 1]]);
    });

    it('reserved bits set with the I flag are ignored: the frame is taken', async () => {
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const s = await udp('udp4', IP_W, 0);
      const msg = vxlanDatagram(0xff, 5001, udpFrame(1, 2));
      msg[1] = msg[2] = msg[3] = msg[7] = 0xff;
      await sendTo(s.s, msg, IP_B);
      const [r] = await receive(b, 1);
      expect(r.frame.equals(udpFrame(1, 2))).toBe(true);
    });

    it('a datagram longer than the underlay MTU allows whole is tunnel-fragment', async () => {
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001, underlayMtu: 1500 });
      const s = await udp('udp4', IP_W, 0);
      const inner = Buffer.alloc(1500 - 28 - 8 + 1, 0x11); inner.fill(0x02, 0, 1);
      await sendTo(s.s, vxlanDatagram(0x08, 5001, inner), IP_B);
      expect(await dropped(b)).toEqual([['tunnel-fragment', 1]]);
      await sendTo(s.s, vxlanDatagram(0x08, 5001, inner.subarray(0, inner.length - 1)), IP_B);
      await receive(b, 1);
    });

    it('remote: flow sends to the packet\'s tun_dst, and drops tunnel-no-remote when it is 0', async () => {
      const a = await port('vxA', { local: IP_A, remote: 'flow', vni: 5001 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      expect(send(a, [udpFrame(1, 2)], { tunIpv4Dst: W_B })).toBe(1);
      const [r] = await receive(b, 1);
      expect([r.tunnelId, r.tunIpv4Src, r.frame.equals(udpFrame(1, 2))]).toEqual([5001, W_A, true]);
      expect(send(a, [udpFrame(1, 2)], { tunIpv4Dst: 0 })).toBe(0);
      expect(a.drops).toEqual([['tunnel-no-remote', 1]]);
      expect(a.lastSendCounted).toBe(1);
      expect(a.tunnelInfo().remote).toBe('flow');
    });

    it('an empty flood list is tunnel-no-remote', async () => {
      const a = await port('vxA', { local: IP_A, remote: [], vni: 5001 });
      expect(send(a, [udpFrame(1, 2)])).toBe(0);
      expect(a.drops).toEqual([['tunnel-no-remote', 1]]);
    });

    it('a frame whose encapsulation exceeds underlayMtu is refused and counted tunnel-too-big; the others in the batch go', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 5001, underlayMtu: 1500 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      expect(a.mtu).toBe(1500);
      const frame = (len: number, tag: number): Buffer => { const f = Buffer.alloc(len, tag); f.fill(0x02, 0, 1); f.fill(0x02, 6, 7); return f; };
      const fits = frame(1500 - 36, 1), big = frame(1500 - 36 + 1, 2), small = frame(64, 3);
      const bt = new Batch();
      for (const f of [fits, big, small]) { const p = pool.alloc()!; p.load(f, 0, f.length); bt.push(p); }
      const pkts = bt.pkts.slice(0, 3);
      expect(a.send(bt)).toBe(2);
      // accepted frames first (the bridge takes a prefix as sent), the refused one after them
      expect([bt.pkts[0], bt.pkts[1], bt.pkts[2]]).toEqual([pkts[0], pkts[2], pkts[1]]);
      expect(a.lastSendCounted).toBe(1);
      expect(a.drops).toEqual([['tunnel-too-big', 1]]);
      for (const p of pkts) pool.release(p);
      const got = await receive(b, 2);
      expect(got.map((g) => g.frame.length)).toEqual([1464, 64]);
      expect(a.counters.snapshot()['tx-datagrams']).toBe(2);
    });

    it('bfd: no VTEP is used until its session is up; the link follows; BFD packets are no rx drops', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 5001, bfd: {} });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001, bfd: {} });
      const events: Array<[string, boolean]> = [];
      a.onStatus = (e) => events.push(['vxA', e.up]);
      expect([a.up, b.up]).toEqual([false, false]);
      expect(a.tunnelInfo().endpoints).toEqual([{ vtep: IP_B, up: false }]);
      expect(send(a, [udpFrame(1, 2)])).toBe(0);               // nobody to flood to yet
      expect(a.drops).toEqual([['tunnel-no-remote', 1]]);
      a.drops.length = 0;
      // sessions run on the ports' own timers; recv() hands them the Control packets
      await until('both BFD sessions up', () => a.up && b.up, () => { drain(a, []); drain(b, []); });
      expect(events).toEqual([['vxA', true]]);
      expect(a.tunnelInfo().endpoints).toEqual([{ vtep: IP_B, up: true }]);
      expect(a.tunnelInfo().bfd?.[0]).toMatchObject({ vtep: IP_B, state: 'up', forwarding: true });
      const bfdRx = (p: VxlanPort): number => p.tunnelInfo().bfd?.[0].counters['rx-packets'] ?? 0;
      expect(bfdRx(a)).toBeGreaterThan(0);
      expect(bfdRx(b)).toBeGreaterThan(0);
      expect([a.counters.rxDrops, b.counters.rxDrops, a.counters.rxFrames, b.counters.rxFrames]).toEqual([0, 0, 0, 0]);
      expect(a.drops.concat(b.drops)).toEqual([]);
      // data goes now, and is told apart from BFD
      expect(send(a, [udpFrame(1, 2)])).toBe(1);
      const [r] = await receive(b, 1);
      expect(r.frame.equals(udpFrame(1, 2))).toBe(true);
    });

    it('the default underlay MTU is that of the device holding the local address (lo: 127.0.0.1)', async () => {
      const a = await port('vxA', { local: '127.0.0.1', remote: [IP_B], vni: 1 });
      const { readFileSync } = await import('node:fs');
      expect(a.mtu).toBe(Number(readFileSync('/sys/class/net/lo/mtu', 'utf8').trim()));
    });
  });

  describe('in a bridge (standalone NORMAL)', () => {
    /** A bridge with memory port 1 and the tunnel port as ofport 2. */
    function bridge(name: string, tunnel: VxlanPort): { br: Bridge; m: MemoryPort } {
      const br = new Bridge({ name, pool });
      const m = new MemoryPort(`${name}-m`);
      br.addPort({ ofport: 1, name: m.name, backend: m });
      br.addPort({ ofport: 2, name: tunnel.name, backend: tunnel });
      return { br, m };
    }
    const pollUntil = (what: string, brs: Bridge[], done: () => boolean): Promise<void> =>
      until(what, done, () => { for (const br of brs) br.poll(0); });

    it('two hosts: a broadcast crosses the tunnel, the reply comes back unicast over the learned VTEP', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B, IP_C], vni: 5001 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5001 });
      const x = bridge('x', a), y = bridge('y', b);
      x.m.inject(udpFrame(1, 0, { dstMac: BCAST }));
      await pollUntil('the broadcast at host y', [x.br, y.br], () => y.m.sent.length >= 1);
      expect(y.m.takeSent()[0].frame.equals(udpFrame(1, 0, { dstMac: BCAST }))).toBe(true);
      expect(a.counters.snapshot()['tx-floods']).toBe(1);
      y.m.inject(udpFrame(2, 1));
      await pollUntil('the reply at host x', [x.br, y.br], () => x.m.sent.length >= 1);
      expect(x.m.takeSent()[0].frame.equals(udpFrame(2, 1))).toBe(true);
      expect(b.counters.snapshot()).toMatchObject({ 'tx-datagrams': 1, 'tx-floods': 0 });
      // and host x's next frame to host 2 goes to B only (its MAC was learned behind B)
      x.m.inject(udpFrame(1, 2));
      await pollUntil('the unicast at host y', [x.br, y.br], () => y.m.sent.length >= 1);
      expect(a.counters.snapshot()).toMatchObject({ 'tx-datagrams': 3, 'tx-floods': 1 });
      expect(x.br.portStats(2).drops).toEqual({});
    });

    it('tunnel drops land on the port\'s and the bridge\'s drop counters by reason, never as tx-full', async () => {
      const a = await port('vxA', { local: IP_A, remote: [IP_B], vni: 5001, underlayMtu: 1500 });
      const b = await port('vxB', { local: IP_B, remote: [IP_A], vni: 5002 });
      const x = bridge('x', a), y = bridge('y', b);
      expect(a.countDrop).not.toBeNull();                      // set by the bridge (replacing the recorder)
      x.m.inject(udpFrame(1, 0, { dstMac: BCAST }));
      const big = buildFrame({ dst: BCAST, src: MAC(1), payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(1500) } } });
      x.m.inject(big);
      await pollUntil('the unknown VNI counted at host y', [x.br, y.br], () => (y.br.portStats(2).drops['tunnel-unknown-vni'] ?? 0) >= 1);
      expect(x.br.portStats(2).drops).toEqual({ 'tunnel-too-big': 1 });
      expect(x.br.stats().drops).toEqual({ 'tunnel-too-big': 1 });
      expect(y.br.portStats(2).drops).toEqual({ 'tunnel-unknown-vni': 1 });
      expect(y.m.sent).toHaveLength(0);
    });
  });

  describe('IPv6 underlay (::1)', () => {
    // The kernel checks the UDP checksum IPv6 requires (a datagram with a bad one is dropped and
    // counted Udp6InCsumErrors), so a datagram that arrives had the checksum the shim computed right.
    it('a port on ::1 sends to ::1 and receives its own datagram: decapsulated, VNI, sender learned behind ::1', async () => {
      const a = await port('vx6', { local: '::1', remote: ['::1'], vni: 77, dstPort: 47891 });
      const f = udpFrame(5, 6);
      const odd = Buffer.concat([udpFrame(5, 7), Buffer.from([0xfe])]);   // odd length: the checksum's last half-word
      expect(send(a, [f, odd])).toBe(2);
      const [r, r2] = await receive(a, 2);
      expect(r2.frame.equals(odd)).toBe(true);
      expect(r.frame.equals(f)).toBe(true);
      expect([r.tunnelId, r.tunIpv4Src, r.tunIpv4Dst]).toEqual([77, 0, 0]);
      const lo = a.vteps.find(6, 0, 0, 0, 1);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(a.vteps.lookup(77, macNum(5), Date.now())).toBe(lo);
      expect(a.tunnelInfo()).toMatchObject({ local: '::1', dstPort: 47891, endpoints: [{ vtep: '::1', up: true }] });
    });

    it('two ports on ::1 with different UDP ports stay apart; a v6 frame with a hand-made sender is learned behind it', async () => {
      const a = await port('vx6a', { local: '::1', remote: ['::1'], vni: 10, dstPort: 47892 });
      const b = await port('vx6b', { local: '::1', remote: ['::1'], vni: 10, dstPort: 47893 });
      const fa = buildFrame({ dst: BCAST, src: '02:00:00:00:00:0a', payload: { kind: 'ipv6', src: 'fd00::a', dst: 'ff02::1', l4: { kind: 'udp', sport: 1, dport: 2 } } });
      const fb = buildFrame({ dst: BCAST, src: '02:00:00:00:00:0b', payload: { kind: 'ipv6', src: 'fd00::b', dst: 'ff02::1', l4: { kind: 'udp', sport: 1, dport: 2 } } });
      expect(send(a, [fa])).toBe(1);
      expect(send(b, [fb])).toBe(1);
      const ga = await receive(a, 1), gb = await receive(b, 1);
      expect(ga[0].frame.equals(fa)).toBe(true);
      expect(gb[0].frame.equals(fb)).toBe(true);
      const s = await udp('udp6');
      await sendTo(s.s, vxlanDatagram(0x08, 10, udpFrame(0x0c, 1)), '::1', 47892);
      const more = await receive(a, 1);
      expect(more.map((g) => g.tunnelId)).toEqual([10]);
      expect(a.vteps.lookup(10, macNum(0x0c), Date.now())).toBe(a.vteps.find(6, 0, 0, 0, 1));
      expect(b.vteps.lookup(10, macNum(0x0c), Date.now())).toBe(-1);
      expect(a.drops.concat(b.drops)).toEqual([]);
    });

    it('too big on IPv6 counts the 56-byte outer headers', async () => {
      const a = await port('vx6', { local: '::1', remote: ['::1'], vni: 1, dstPort: 47894, underlayMtu: 1500 });
      const frame = (len: number): Buffer => { const f = Buffer.alloc(len, 0x33); f[0] = 0x02; f[6] = 0x02; return f; };
      expect(send(a, [frame(1500 - 56 + 1)])).toBe(0);
      expect(a.drops).toEqual([['tunnel-too-big', 1]]);
      expect(send(a, [frame(1500 - 56)])).toBe(1);
      const [r] = await receive(a, 1);
      expect(r.frame.length).toBe(1444);
    });
  });
});

describe('VxlanPort options (no sockets)', () => {
  it('refuses a remote of the other family and a port with neither vni nor networks', () => {
    expect(() => new VxlanPort('x', { local: '192.0.2.1', remote: ['fd00::1'], vni: 1 })).toThrow(/remote fd00::1 is not of the local address's family/);
    expect(() => new VxlanPort('x', { local: '192.0.2.1', remote: ['192.0.2.2'] })).toThrow(RangeError);
    expect(() => new VxlanPort('x', { local: 'nope', remote: [], vni: 1 })).toThrow(RangeError);
  });
  it('defaults: UDP port 4789, MTU 1500 until open finds the device', () => {
    const p = new VxlanPort('x', { local: '192.0.2.1', remote: '192.0.2.2 192.0.2.3'.split(' '), vni: 9 });
    expect(p.tunnelInfo(0)).toEqual({
      local: '192.0.2.1', dstPort: 4789, mtu: 1500, vni: 9, networks: null, remote: ['192.0.2.2', '192.0.2.3'],
      endpoints: [{ vtep: '192.0.2.2', up: true }, { vtep: '192.0.2.3', up: true }], vteps: [],
    });
  });
  it('send before open accepts nothing (counted tx drops)', () => {
    const p = new VxlanPort('x', { local: '192.0.2.1', remote: ['192.0.2.2'], vni: 1 });
    expect(send(p, [udpFrame(1, 2)])).toBe(0);
    expect(p.counters.txDrops).toBe(1);
    expect(p.tunnel).toBe(true);
  });
});
