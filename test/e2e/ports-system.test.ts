// e2e: SystemPort (AF_PACKET) on veths into throwaway namespaces: frames both ways, no loop-back
// of our own sends, 802.1Q tags restored from auxdata, 64 frames in one native call, a JS relay
// carrying ping between two namespaces, link down/up/removal reported through onStatus, partial
// checksums flagged per frame (ring and recvmmsg), and frames over the MTU refused one by one.
import { afterAll, afterEach, expect, it } from 'vitest';
import { Batch, MAX_BURST } from '../../src/packet/batch.js';
import { Packet } from '../../src/packet/packet.js';
import { PacketPool } from '../../src/packet/pool.js';
import type { PortBackend } from '../../src/datapath/port.js';
import { SystemPort } from '../../src/datapath/ports/system.js';
import type { PortStatusEvent } from '../../src/datapath/ports/io-counters.js';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab, run, waitFor } from '../helpers/netns.js';
import { completeChecksum, CsumResult } from '../../src/packet/complete-checksum.js';
import { arpRequest, collect, collectFlagged, relay, UDP_PY } from './ports-util.js';

const labs: NetnsLab[] = [];
const ports: PortBackend[] = [];
function lab(): NetnsLab { const l = new NetnsLab(); labs.push(l); return l; }
function track<T extends PortBackend>(p: T): T { ports.push(p); return p; }

type RxMode = ConstructorParameters<typeof SystemPort>[1];
/** A veth pair a <-> z in a new lab, a SystemPort open on each end. */
async function vethPorts(rxA?: RxMode, rxZ: RxMode = rxA): Promise<{ l: NetnsLab; a: string; z: string; pa: SystemPort; pz: SystemPort }> {
  const l = lab();
  const a = l.name('a'), z = l.name('z');
  l.addVeth(a, z);
  const pa = track(new SystemPort(a, rxA)), pz = track(new SystemPort(z, rxZ));
  await pa.open();
  await pz.open();
  return { l, a, z, pa, pz };
}
afterEach(async () => { for (const p of ports.splice(0)) await p.close(); for (const l of labs.splice(0)) l.cleanup(); });
afterAll(async () => { for (const p of ports.splice(0)) await p.close(); for (const l of labs.splice(0)) l.cleanup(); });

const OUR_MAC = Buffer.from('02000000aa01', 'hex');

/** Send one frame a -> z and read it back until z's receive time is the kernel's (at most ~5 s). */
async function untilStamped(pa: SystemPort, pz: SystemPort, pool: PacketPool): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const b = new Batch();
    const p = pool.alloc()!;
    p.load(arpRequest(OUR_MAC, [10, 77, 0, 2], [10, 77, 0, 99]), 0, 42);
    b.push(p);
    pa.send(b);
    pool.release(p);
    await new Promise((r) => setTimeout(r, 100));
    const into = new Batch();
    const readAt = performance.timeOrigin + performance.now();
    pz.recv(into, pool);
    let stamped = false;
    for (let i = 0; i < into.count; i++) { if (into.pkts[i].tsMs < readAt - 50) stamped = true; pool.release(into.pkts[i]); }
    if (stamped) return;
  }
  throw new Error('no frame carried a kernel receive time within 5 s');
}

describePrivileged('SystemPort (AF_PACKET) on veth', () => {
  it('offloads auto: vnet headers and recvmmsg on a veth with its default offloads, the ring on one with every offload off', async () => {
    const l = lab();
    const a = l.name('a'), z = l.name('z');
    l.addVeth(a, z);
    const on = track(new SystemPort(a, { offloads: 'auto', rx: undefined }));
    await on.open();
    expect([on.offloads, on.rxMode]).toEqual([true, 'mmsg']);
    l.offloadsOff(null, z);
    const off = track(new SystemPort(z, { offloads: 'auto', rx: undefined }));
    await off.open();
    expect([off.offloads, off.rxMode]).toEqual([false, 'ring']);
  });

  for (const opts of [{ rx: 'ring', offloads: false }, { rx: 'mmsg', offloads: true }, { rx: 'mmsg', offloads: false }] as const) {
    it(`receive times (${opts.rx}${opts.offloads ? ', vnet headers' : ''}): frames read late carry the kernel's receive time on the loop's clock`, async () => {
      const { pa, pz } = await vethPorts(opts);
      expect(pz.rxMode).toBe(opts.rx);
      const pool = new PacketPool(256);
      // The kernel turns receive timestamping on for the system through deferred work after the
      // first socket asks (net_enable_timestamp): until it has run, recvmmsg stamps frames when they
      // are read. Wait for a stamped frame first, as a switch's first milliseconds may go unstamped.
      if (opts.rx === 'mmsg') await untilStamped(pa, pz, pool);
      const b = new Batch();
      const sentAt = performance.timeOrigin + performance.now();
      for (let i = 0; i < 4; i++) {
        const p = pool.alloc()!;
        p.load(arpRequest(OUR_MAC, [10, 77, 0, 2], [10, 77, 0, 1 + i]), 0, 42);
        b.push(p);
      }
      expect(pa.send(b)).toBe(4);
      for (let i = 0; i < b.count; i++) pool.release(b.pkts[i]);
      await new Promise((r) => setTimeout(r, 300));
      const into = new Batch();
      const readAt = performance.timeOrigin + performance.now();
      pz.recv(into, pool);
      let ours = 0;
      for (let i = 0; i < into.count; i++) {
        const p = into.pkts[i];
        // only our ARP requests: IPv6 neighbour discovery of the new veths may arrive any time
        if (p.buf.readUInt16BE(p.off + 12) !== 0x0806 || !p.buf.subarray(p.off + 6, p.off + 12).equals(OUR_MAC)) { pool.release(p); continue; }
        ours++;
        const ts = p.tsMs;
        // stamped when the kernel received it (right after the send), not when we read it
        expect(ts).toBeGreaterThan(sentAt - 50);
        expect(ts).toBeLessThan(readAt - 200);
        pool.release(p);
      }
      expect(ours).toBe(4);
    });
  }

  it('exchanges frames with a namespace and never receives its own transmissions', async () => {
    const l = lab();
    const ns = l.addNs('a');
    const root = l.name('r'), inner = l.name('n');
    l.addVeth(root, inner, ns);
    l.addr(ns, inner, '10.77.0.1/24');
    const port = track(new SystemPort(root));
    await port.open();
    expect(port.ifindex).toBeGreaterThan(0);
    expect(port.rcvbufBytes).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    const pool = new PacketPool(256);
    const got = collect(port, pool);

    const b = new Batch();
    const p = pool.alloc()!;
    expect(p.load(arpRequest(OUR_MAC, [10, 77, 0, 2], [10, 77, 0, 1]), 0, 42)).toBe(true);
    b.push(p);
    expect(port.send(b)).toBe(1);
    pool.release(p);

    // The namespace answers our ARP request: a frame we sent arrived, and its reply came back.
    await waitFor(() => got.some((f) => f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 2 && f.subarray(0, 6).equals(OUR_MAC)), 3000, 'ARP reply');
    expect(l.ip(ns, ['neigh', 'show', '10.77.0.2'])).toContain('02:00:00:00:aa:01');
    // Our own ARP request (source MAC = OUR_MAC) must not have looped back into our socket.
    expect(got.filter((f) => f.subarray(6, 12).equals(OUR_MAC))).toHaveLength(0);
    expect(port.counters.rxFrames).toBe(got.length);
    expect(port.counters.txFrames).toBe(1);
    expect(port.up).toBe(true);
  });

  it('restores 802.1Q and 802.1ad tags (TPID, PCP, VID) that the kernel moved into auxdata', async () => {
    // The receiving kernel untags every 0x8100/0x88a8 frame into skb metadata before packet taps
    // see it (this kernel has no 8021q module for vlan subinterfaces, so the tagged frames come
    // from a SystemPort on the other end of the veth).
    const { l, a, z, pa, pz } = await vethPorts();
    const pool = new PacketPool(256);
    const atZ = collect(pz, pool);
    const mk = (tpid: number, tci: number, seq: number): Buffer => {
      const f = Buffer.alloc(64, 0xa5);
      f.fill(0xff, 0, 6); OUR_MAC.copy(f, 6);
      f.writeUInt16BE(tpid, 12); f.writeUInt16BE(tci, 14); f.writeUInt16BE(0x88b5, 16); f.writeUInt32BE(seq, 18);
      return f;
    };
    const sent = [mk(0x8100, (5 << 13) | 100, 1), mk(0x88a8, 200, 2), mk(0x8100, 0, 3)];
    const b = new Batch();
    for (const f of sent) { const p = pool.alloc()!; p.load(f, 0, f.length); b.push(p); }
    expect(pa.send(b)).toBe(3);
    for (let i = 0; i < b.count; i++) pool.release(b.pkts[i]);

    const ours = (): Buffer[] => atZ.filter((f) => f.subarray(6, 12).equals(OUR_MAC));
    await waitFor(() => ours().length >= 3, 3000, 'three tagged frames');
    // Byte-exact: tag back between the MACs and the EtherType, frame length unchanged.
    expect(ours().map((f) => f.toString('hex'))).toEqual(sent.map((f) => f.toString('hex')));
  });

  it('sends 64 frames in one native call; all arrive in order on the peer, none loop back', async () => {
    const { l, a, z, pa, pz } = await vethPorts();
    const pool = new PacketPool(512);
    const atA = collect(pa, pool), atZ = collect(pz, pool);

    const b = new Batch(MAX_BURST);
    for (let i = 0; i < 64; i++) {
      const p = pool.alloc()!;
      const f = Buffer.alloc(64, 0xa5);
      Buffer.from('ffffffffffff', 'hex').copy(f, 0);
      OUR_MAC.copy(f, 6);
      f.writeUInt16BE(0x88b5, 12);   // IEEE local experimental EtherType
      f.writeUInt32BE(i, 14);
      p.load(f, 0, f.length);
      b.push(p);
    }
    const calls = pa.counters.nativeCalls;
    expect(pa.send(b)).toBe(64);
    expect(pa.counters.nativeCalls - calls).toBe(1);
    for (let i = 0; i < b.count; i++) pool.release(b.pkts[i]);

    const ours = (fs: Buffer[]): Buffer[] => fs.filter((f) => f.length === 64 && f.readUInt16BE(12) === 0x88b5);
    await waitFor(() => ours(atZ).length >= 64, 3000, '64 frames at the peer');
    expect(ours(atZ).map((f) => f.readUInt32BE(14))).toEqual(Array.from({ length: 64 }, (_, i) => i));
    await new Promise((r) => setTimeout(r, 50));
    expect(ours(atA)).toHaveLength(0);
    expect(pz.counters.nativeCalls).toBeLessThan(64);   // received in batches, not one call a frame
  });

  it('relays ping between two namespaces through two SystemPorts', async () => {
    const l = lab();
    const ns1 = l.addNs('1'), ns2 = l.addNs('2');
    const p1 = l.name('p1'), v1 = l.name('v1'), p2 = l.name('p2'), v2 = l.name('v2');
    l.addVeth(p1, v1, ns1);
    l.addVeth(p2, v2, ns2);
    l.addr(ns1, v1, '10.79.0.1/24');
    l.addr(ns2, v2, '10.79.0.2/24');
    const s1 = track(new SystemPort(p1)), s2 = track(new SystemPort(p2));
    await s1.open();
    await s2.open();
    relay(s1, s2, new PacketPool(512));
    const r = await l.execAsync(ns1, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.79.0.2']);
    expect(r.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(r.code).toBe(0);
    expect(s1.counters.rxFrames).toBeGreaterThanOrEqual(4);   // ARP + 3 echo requests at least
    expect(s2.counters.txFrames).toBeGreaterThanOrEqual(4);
  });

  it('reports link down, up and device removal through onStatus, without throwing', async () => {
    const l = lab();
    const a = l.name('a'), z = l.name('z');
    l.addVeth(a, z);
    const port = track(new SystemPort(a));
    await port.open();
    const events: PortStatusEvent[] = [];
    port.onStatus = (ev) => events.push(ev);
    const pool = new PacketPool(64);
    collect(port, pool);

    l.ip(null, ['link', 'set', a, 'down']);
    await waitFor(() => events.some((e) => !e.up && !e.gone), 3000, 'link down event');
    expect(port.up).toBe(false);
    l.ip(null, ['link', 'set', a, 'up']);
    await waitFor(() => events.length >= 2 && events[events.length - 1].up, 3000, 'link up event');
    expect(port.up).toBe(true);

    l.ip(null, ['link', 'del', a]);
    await waitFor(() => events.some((e) => e.gone), 3000, 'gone event');
    const last = events[events.length - 1];
    expect(last).toMatchObject({ up: false, gone: true });
    expect(last.reason).toContain(a);
    const b = new Batch();
    const p = new Packet();
    p.load(arpRequest(OUR_MAC, [10, 0, 0, 1], [10, 0, 0, 2]), 0, 42);
    b.push(p);
    expect(port.send(b)).toBe(0);
    expect(port.recv(new Batch(), pool)).toBe(0);
    await port.close();
    await port.close();   // idempotent
  });

  it('rejects opening a missing device with a message naming it and the errno', async () => {
    const name = `${new NetnsLab().id}none`;
    const port = new SystemPort(name);
    await expect(port.open()).rejects.toMatchObject({ code: 'ENODEV', message: expect.stringMatching(new RegExp(`^${name}: if_nametoindex: ENODEV`)) });
    expect(() => new SystemPort('a-name-that-is-way-too-long')).toThrow(RangeError);
  });
}, { tools: ['ping'] });

describePrivileged('SystemPort receive modes (TPACKET_V2 RX ring, recvmmsg)', () => {
  for (const mode of ['ring', 'mmsg'] as const) {
    it(`${mode}: restores 802.1Q/802.1ad tags byte-exact and relays ping`, async () => {
      const { l, a, z, pa, pz } = await vethPorts({ rx: mode });
      expect(pz.rxMode).toBe(mode);
      expect(pz.ringFrames > 0).toBe(mode === 'ring');
      const pool = new PacketPool(256);
      const atZ = collect(pz, pool);
      const mk = (tpid: number, tci: number, seq: number, len: number): Buffer => {
        const f = Buffer.alloc(len, 0x5a);
        f.fill(0xff, 0, 6); OUR_MAC.copy(f, 6);
        f.writeUInt16BE(tpid, 12); f.writeUInt16BE(tci, 14); f.writeUInt16BE(0x88b5, 16); f.writeUInt32BE(seq, 18);
        return f;
      };
      // Tagged frames up to the MTU (1500 + 14 + 4): the ring slot must hold the tag put back.
      const sent = [mk(0x8100, (3 << 13) | 42, 1, 64), mk(0x8100, 4094, 2, 1518), mk(0x88a8, 7, 3, 60)];
      const b = new Batch();
      for (const f of sent) { const p = pool.alloc()!; p.load(f, 0, f.length); b.push(p); }
      expect(pa.send(b)).toBe(3);
      for (let i = 0; i < b.count; i++) pool.release(b.pkts[i]);
      const ours = (): Buffer[] => atZ.filter((f) => f.subarray(6, 12).equals(OUR_MAC));
      await waitFor(() => ours().length >= 3, 3000, 'three tagged frames');
      expect(ours().map((f) => f.toString('hex'))).toEqual(sent.map((f) => f.toString('hex')));
      expect(pz.counters.rxDrops).toBe(0);

      const ns1 = l.addNs('1'), ns2 = l.addNs('2');
      const p1 = l.name('p1'), v1 = l.name('v1'), p2 = l.name('p2'), v2 = l.name('v2');
      l.addVeth(p1, v1, ns1);
      l.addVeth(p2, v2, ns2);
      l.addr(ns1, v1, '10.78.0.1/24');
      l.addr(ns2, v2, '10.78.0.2/24');
      const s1 = track(new SystemPort(p1, { rx: mode })), s2 = track(new SystemPort(p2, { rx: mode }));
      await s1.open();
      await s2.open();
      relay(s1, s2, new PacketPool(512));
      await l.execAsync(ns1, ['ping', '-c', '1', '-W', '2', '10.78.0.2']);   // ARP, IPv6 DAD settle
      const r = await l.execAsync(ns1, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.78.0.2']);
      expect(r.stdout).toMatch(/3 packets transmitted, 3 received/);
      // Ring reads make no syscall: only the sends (one sendmmsg per batch) are counted.
      if (mode === 'ring') expect(s1.counters.syscalls).toBeLessThanOrEqual(s1.counters.txFrames);
      else expect(s1.counters.syscalls).toBeGreaterThan(s1.counters.txFrames);
    });
  }

  it('ring: frames the kernel could not queue (ring full, nobody reading) show as kernel-drops', async () => {
    const { l, a, z, pa, pz } = await vethPorts({ rx: 'mmsg' }, { rx: 'ring' });
    const pool = new PacketPool(MAX_BURST);
    const b = new Batch(MAX_BURST);
    const f = Buffer.alloc(60, 0);
    f.fill(0xff, 0, 6); OUR_MAC.copy(f, 6); f.writeUInt16BE(0x88b5, 12);
    for (let i = 0; i < MAX_BURST; i++) { const p = pool.alloc()!; p.load(f, 0, f.length); b.push(p); }
    let sent = 0;
    const want = pz.ringFrames + 500;
    while (sent < want) { const n = pa.send(b); sent += n; if (n === 0) await new Promise((r) => setTimeout(r, 1)); }
    // The veth hands frames over in a softirq, which a busy machine may leave to ksoftirqd: wait
    // for the count rather than a fixed time.
    const dropsAtLeast = sent - pz.ringFrames - 50;
    await waitFor(() => pz.counters.snapshot()['kernel-drops'] >= dropsAtLeast, 3000, 'the kernel drops to be counted').catch(() => {});
    const snap = pz.counters.snapshot();
    expect(snap['kernel-drops']).toBeGreaterThanOrEqual(dropsAtLeast);
    // Reading drains exactly what the ring held.
    const got = collect(pz, new PacketPool(1024));
    await waitFor(() => got.length >= pz.ringFrames - 50, 3000, 'ring drained');
  });
}, { tools: ['ping'] });

describePrivileged('SystemPort: partial checksums (TP_STATUS_CSUMNOTREADY)', () => {
  for (const mode of ['ring', 'mmsg'] as const) {
    it(`${mode}: a datagram the veth left to checksum offload is marked csumPartial; a verified one (TP_STATUS_CSUM_VALID) is not`, async () => {
      const l = lab();
      const ns = l.addNs('a');
      const root = l.name('r'), inner = l.name('n');
      l.addVeth(root, inner, ns);
      l.addr(ns, inner, '10.76.0.1/24');
      l.ip(ns, ['neigh', 'add', '10.76.0.2', 'lladdr', '02:00:00:00:aa:02', 'dev', inner]);
      const port = track(new SystemPort(root, { rx: mode }));
      await port.open();
      const got = collectFlagged(port, new PacketPool(256));
      const udp = (tag: number) => got.find((g) => g.frame.length >= 75 && g.frame.readUInt16BE(12) === 0x0800 && g.frame[23] === 17 && g.frame[42] === tag);

      // Kernel defaults: tx checksumming on, so the UDP checksum field holds only the pseudo-header sum.
      l.exec(ns, ['python3', '-c', UDP_PY, '10.76.0.2', '1']);
      await waitFor(() => udp(1) !== undefined, 3000, 'the first datagram');
      const first = udp(1)!;
      expect(first.csumPartial).toBe(true);
      const done = Buffer.from(first.frame);
      expect(completeChecksum(done, 0, done.length)).toBe(CsumResult.Completed);
      expect(done.readUInt16BE(40)).not.toBe(first.frame.readUInt16BE(40));

      // Sender computes its checksum; GRO on our veth marks it verified (tp_status 0x81: USER |
      // CSUM_VALID, checked with an auxdata reader): not partial, and already complete.
      l.exec(ns, ['ethtool', '-K', inner, 'tx', 'off']);
      run('ethtool', ['-K', root, 'gro', 'on']);
      l.exec(ns, ['python3', '-c', UDP_PY, '10.76.0.2', '2']);
      await waitFor(() => udp(2) !== undefined, 3000, 'the second datagram');
      const second = udp(2)!;
      expect(second.csumPartial).toBe(false);
      const same = Buffer.from(second.frame);
      expect(completeChecksum(same, 0, same.length)).toBe(CsumResult.Completed);
      expect(same.equals(second.frame)).toBe(true);
    });
  }

}, { tools: ['python3', 'ethtool'] });

describePrivileged('SystemPort: frames over the device MTU', () => {
  it('a frame longer than the device MTU is refused (lastSendTooBig); the rest of the batch still goes; bytes count what left', async () => {
    const { l, a, z, pa, pz } = await vethPorts();
    const pool = new PacketPool(64);
    const atZ = collect(pz, pool);
    const mk = (len: number, seq: number): Buffer => {
      const f = Buffer.alloc(len, 0x5a);
      f.fill(0xff, 0, 6); OUR_MAC.copy(f, 6); f.writeUInt16BE(0x88b5, 12); f.writeUInt32BE(seq, 14);
      return f;
    };
    const b = new Batch();
    for (const f of [mk(100, 1), mk(2000, 2), mk(60, 3)]) { const p = pool.alloc()!; p.load(f, 0, f.length); b.push(p); }
    expect(pa.send(b)).toBe(2);
    for (let i = 0; i < b.count; i++) pool.release(b.pkts[i]);
    expect(pa.lastSendTooBig).toBe(1);
    expect(pa.counters.txFrames).toBe(2);
    expect(pa.counters.txBytes).toBe(160);
    expect(pa.counters.txDrops).toBe(1);
    const ours = (): Buffer[] => atZ.filter((f) => f.subarray(6, 12).equals(OUR_MAC));
    await waitFor(() => ours().length >= 2, 3000, 'the two frames that fit');
    expect(ours().map((f) => f.readUInt32BE(14))).toEqual([1, 3]);
  });
}, { tools: ['ping'] });
