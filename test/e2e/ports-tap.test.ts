// e2e: TapPort — Sluice creates the TAP and owns its fd; the netdev is moved into a namespace
// (the fd keeps working). Frames both ways, a two-TAP relay carrying ping, persistence, the
// device's deletion reported through onStatus instead of a throw, and complete checksums on read.
import { afterAll, afterEach, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { Batch } from '../../src/packet/batch.js';
import { PacketPool } from '../../src/packet/pool.js';
import type { PortBackend } from '../../src/datapath/port.js';
import { TapPort } from '../../src/datapath/ports/tap.js';
import type { PortStatusEvent } from '../../src/datapath/ports/io-counters.js';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab, waitFor } from '../helpers/netns.js';
import { completeChecksum, CsumResult } from '../../src/packet/complete-checksum.js';
import { arpRequest, collect, collectFlagged, relay, UDP_PY } from './ports-util.js';

const labs: NetnsLab[] = [];
const ports: PortBackend[] = [];
function lab(): NetnsLab { const l = new NetnsLab(); labs.push(l); return l; }
function track<T extends PortBackend>(p: T): T { ports.push(p); return p; }
/**
 * Move two open TapPorts into new namespaces of `l` as NET.1 and NET.2, relay between them, and
 * ping NET.2 three times from NET.1.
 */
async function pingThrough(l: NetnsLab, t1: TapPort, t2: TapPort, net: string): Promise<{ stdout: string }> {
  const ns1 = l.addNs('p1'), ns2 = l.addNs('p2');
  l.track(t1.name); l.track(t2.name);
  l.moveLink(t1.name, ns1);
  l.moveLink(t2.name, ns2);
  l.addr(ns1, t1.name, `${net}.1/24`);
  l.addr(ns2, t2.name, `${net}.2/24`);
  l.up(ns1, t1.name);
  l.up(ns2, t2.name);
  relay(t1, t2, new PacketPool(512));
  return l.execAsync(ns1, ['ping', '-c', '3', '-i', '0.2', '-W', '2', `${net}.2`]);
}

async function cleanup(): Promise<void> { for (const p of ports.splice(0)) await p.close(); for (const l of labs.splice(0)) l.cleanup(); }
afterEach(cleanup);
afterAll(cleanup);

const OUR_MAC = Buffer.from('02000000bb01', 'hex');

describePrivileged('TapPort', () => {
  it('creates the TAP up; frames flow both ways after moving it into a namespace', async () => {
    const l = lab();
    const ns = l.addNs('a');
    const tap = new TapPort(l.name('t'));
    track(tap);
    await tap.open();
    l.track(tap.name);
    expect(l.ip(null, ['-o', 'link', 'show', tap.name])).toMatch(/[<,]UP[,>]/);
    // The kernel's queue towards us is raised from the default 1000 frames (bursts at 250 kpps).
    expect(l.ip(null, ['-o', 'link', 'show', tap.name])).toMatch(/qlen 8192\b/);
    const pool = new PacketPool(256);
    const got = collect(tap, pool);

    l.moveLink(tap.name, ns);
    l.addr(ns, tap.name, '10.80.0.1/24');
    l.up(ns, tap.name);

    // Namespace -> us: a ping to an unknown neighbour makes the namespace ARP through the TAP.
    void l.execAsync(ns, ['ping', '-c', '1', '-W', '1', '10.80.0.9']);
    await waitFor(() => got.some((f) => f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 1 &&
      f.subarray(38, 42).equals(Buffer.from([10, 80, 0, 9]))), 3000, 'ARP who-has 10.80.0.9 from the namespace');

    // Us -> namespace: our ARP request arrives (neighbour entry) and is answered (reply via recv).
    const b = new Batch();
    const p = pool.alloc()!;
    p.load(arpRequest(OUR_MAC, [10, 80, 0, 2], [10, 80, 0, 1]), 0, 42);
    b.push(p);
    expect(tap.send(b)).toBe(1);
    pool.release(p);
    await waitFor(() => got.some((f) => f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 2 && f.subarray(0, 6).equals(OUR_MAC)), 3000, 'ARP reply');
    expect(l.ip(ns, ['neigh', 'show', '10.80.0.2'])).toContain('02:00:00:00:bb:01');
    expect(tap.counters.txFrames).toBe(1);
    expect(tap.counters.rxFrames).toBe(got.length);
    expect(tap.counters.wakeups).toBeGreaterThan(0);
  });

  it('relays ping between two namespaces through two TapPorts', async () => {
    const l = lab();
    const t1 = track(new TapPort(l.name('t1'))), t2 = track(new TapPort(l.name('t2')));
    await t1.open();
    await t2.open();
    const r = await pingThrough(l, t1, t2, '10.81.0');
    expect(r.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(t1.counters.rxFrames).toBeGreaterThanOrEqual(4);
    expect(t2.counters.txFrames).toBeGreaterThanOrEqual(4);
  });

  it('relays ping through two TapPorts with io_uring batches (io: uring), one syscall a batch', async () => {
    const l = lab();
    const t1 = track(new TapPort(l.name('u1'), { io: 'uring', offloads: false })), t2 = track(new TapPort(l.name('u2'), { io: 'uring', offloads: false }));
    await t1.open();
    await t2.open();
    // io_uring may be disabled (sysctl kernel.io_uring_disabled, seccomp): the port falls back.
    if (t1.io !== 'uring') { l.track(t1.name); l.track(t2.name); expect(t1.uringError).toMatch(/io_uring|sluice_uring/); return; }
    const r = await pingThrough(l, t1, t2, '10.82.0');
    expect(r.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(t2.counters.txFrames).toBeGreaterThanOrEqual(4);
    expect(t1.counters.syscalls).toBe(t1.counters.nativeCalls);   // one io_uring_enter per batch
  });

  it('keeps a persistent TAP after close and attaches to it again', async () => {
    const l = lab();
    const name = l.name('p');
    const a = new TapPort(name, { persist: true });
    await a.open();
    l.track(name);
    await a.close();
    expect(existsSync(`/sys/class/net/${name}`)).toBe(true);
    const b = track(new TapPort(name, { persist: true }));
    await b.open();
    expect(b.up).toBe(true);
  });

  it('reports the TAP being deleted under it through onStatus, and stops without throwing', async () => {
    const l = lab();
    const tap = track(new TapPort(l.name('d')));
    await tap.open();
    l.track(tap.name);
    const events: PortStatusEvent[] = [];
    tap.onStatus = (ev) => events.push(ev);
    const pool = new PacketPool(64);
    collect(tap, pool);
    l.ip(null, ['link', 'del', tap.name]);
    await waitFor(() => events.some((e) => e.gone), 3000, 'gone event');
    expect(events[events.length - 1]).toMatchObject({ up: false, gone: true });
    expect(tap.gone).toBe(true);
    const b = new Batch();
    const p = pool.alloc()!;
    p.load(arpRequest(OUR_MAC, [10, 0, 0, 1], [10, 0, 0, 2]), 0, 42);
    b.push(p);
    expect(tap.send(b)).toBe(0);
    expect(tap.recv(new Batch(), pool)).toBe(0);
  });

  it('validates names and reports open errors with the device and errno', async () => {
    expect(() => new TapPort('name-longer-than-15')).toThrow(RangeError);
    expect(() => new TapPort('')).toThrow(RangeError);
    // A TAP name that is taken by a veth: TUNSETIFF fails with EINVAL on a non-tun device.
    const l = lab();
    const a = l.name('x'), z = l.name('y');
    l.addVeth(a, z);
    await expect(new TapPort(a).open()).rejects.toMatchObject({ message: expect.stringMatching(new RegExp(`^${a}: TUNSETIFF: E[A-Z]+ \\(`)) });
  });

  it('reads complete checksums: without IFF_VNET_HDR the TAP has no tx checksum offload, so the kernel completes them', async () => {
    const l = lab();
    const ns = l.addNs('a');
    const tap = track(new TapPort(l.name('t'), { offloads: false }));
    await tap.open();
    l.track(tap.name);
    const got = collectFlagged(tap, new PacketPool(256));
    l.moveLink(tap.name, ns);
    l.addr(ns, tap.name, '10.82.0.1/24');
    l.up(ns, tap.name);
    l.ip(ns, ['neigh', 'add', '10.82.0.2', 'lladdr', '02:00:00:00:bb:02', 'dev', tap.name]);
    // ethtool cannot turn it on either: tun masks the feature unless TUNSETOFFLOAD was used.
    try { l.exec(ns, ['ethtool', '-K', tap.name, 'tx', 'on']); } catch { /* "Could not change any device features" */ }
    expect(l.exec(ns, ['ethtool', '-k', tap.name])).toMatch(/^tx-checksumming: off/m);
    l.exec(ns, ['python3', '-c', UDP_PY, '10.82.0.2', '7']);
    await waitFor(() => got.some((g) => g.frame.length >= 75 && g.frame[23] === 17 && g.frame[42] === 7), 3000, 'the datagram');
    const g = got.find((x) => x.frame[23] === 17 && x.frame[42] === 7)!;
    expect(g.csumPartial).toBe(false);
    const same = Buffer.from(g.frame);
    expect(completeChecksum(same, 0, same.length)).toBe(CsumResult.Completed);
    expect(same.equals(g.frame)).toBe(true);                  // the checksum on the wire was already right
  });

  it('with offloads (IFF_VNET_HDR): tx checksumming and TSO on behind the TAP; a datagram arrives partial, its vnet csum_start at the UDP header', async () => {
    const l = lab();
    const ns = l.addNs('a');
    const tap = track(new TapPort(l.name('t'), { offloads: true }));
    await tap.open();
    l.track(tap.name);
    expect(tap.offloads).toBe(true);
    const got = collectFlagged(tap, new PacketPool(256));
    l.moveLink(tap.name, ns);
    l.addr(ns, tap.name, '10.82.0.1/24');
    l.up(ns, tap.name);
    l.ip(ns, ['neigh', 'add', '10.82.0.2', 'lladdr', '02:00:00:00:bb:02', 'dev', tap.name]);
    const k = l.exec(ns, ['ethtool', '-k', tap.name]);
    expect(k).toMatch(/^tx-checksumming: on/m);
    expect(k).toMatch(/^tcp-segmentation-offload: on/m);
    l.exec(ns, ['python3', '-c', UDP_PY, '10.82.0.2', '7']);
    await waitFor(() => got.some((g) => g.frame.length >= 75 && g.frame[23] === 17 && g.frame[42] === 7), 3000, 'the datagram');
    const g = got.find((x) => x.frame[23] === 17 && x.frame[42] === 7)!;
    expect(g.csumPartial).toBe(true);
    expect(g.csumStart).toBe(14 + 20);
    const done = Buffer.from(g.frame);
    expect(completeChecksum(done, 0, done.length)).toBe(CsumResult.Completed);
    expect(done.equals(g.frame)).toBe(false);                 // it was a pseudo-header seed
  });
}, { tools: ['ping', 'python3', 'ethtool'] });
