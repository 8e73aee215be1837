// e2e: `sluice switch` as a child process forwarding between namespaces: system ports on veths
// (ping + a 2 s TCP transfer), TAP ports Sluice creates and the test moves into namespaces, VLAN
// isolation (access 100/100/200: no unicast across, no broadcast leaking into VLAN 200), and a frame
// over the egress device's MTU counted tx-too-big (not tx-full).
import { expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import { waitFor } from '../helpers/netns.js';
import { switchTestKit, addHost, iperf, mbit, ping, tcpdump } from './switch-harness.js';

const { lab, start, defer } = switchTestKit();

describePrivileged('sluice switch: forwarding between namespaces', () => {
  it('system ports: ping and a TCP transfer between two namespaces', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.91.0.1'), b = addHost(l, 'b', '10.91.0.2');
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\n`);
    const p = await ping(l, a, b.ip, 5);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const r = await iperf(l, a, b, ['-t', '2']);
    const bps = r.client.end.sum_received!.bits_per_second;
    console.log(`[switch] TCP through system ports: ${mbit(bps)} Mbit/s`);
    expect(bps).toBeGreaterThan(10e6);
    const ports = await sw.cliJson<{ ports: Array<{ name: string; link: string; rxPackets: number }> }>(['port', 'list']);
    expect(ports.ports.map((x) => [x.name, x.link])).toEqual([['pa', 'up'], ['pb', 'up']]);
    expect(ports.ports[0].rxPackets).toBeGreaterThan(0);
    const fdb = await sw.cliJson<{ fdb: Array<{ port: string; mac: string }> }>(['fdb', 'show']);
    expect(fdb.fdb.map((e) => e.mac)).toContain(l.mac(a.ns, a.inner).toString('hex').replace(/(..)(?!$)/g, '$1:'));
    expect(await sw.stop()).toBe(0);
    expect(sw.stderr).toContain('switch stopped');
  });

  it('tap ports: Sluice creates the TAPs, the namespaces use them, ping and TCP work', async () => {
    const l = lab();
    const nsA = l.addNs('a'), nsB = l.addNs('b');
    const ta = l.name('ta'), tb = l.name('tb');
    const sw = await start(`bridges:\n  br0:\n    ports:\n      ta: { ofport: 1, type: tap, device: ${ta} }\n      tb: { ofport: 2, type: tap, device: ${tb} }\n`);
    for (const [dev, ns, ip] of [[ta, nsA, '10.92.0.1'], [tb, nsB, '10.92.0.2']] as const) {
      l.moveLink(dev, ns);
      l.offloadsOff(ns, dev);
      l.addr(ns, dev, `${ip}/24`);
      l.up(ns, dev);
    }
    const p = await ping(l, nsA, '10.92.0.2', 5);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const r = await iperf(l, { ns: nsA, root: '', inner: ta, ip: '10.92.0.1' }, { ns: nsB, root: '', inner: tb, ip: '10.92.0.2' }, ['-t', '2']);
    const bps = r.client.end.sum_received!.bits_per_second;
    console.log(`[switch] TCP through tap ports: ${mbit(bps)} Mbit/s`);
    expect(bps).toBeGreaterThan(10e6);
    // Clean shutdown deletes the (non-persistent) TAP devices, wherever they are.
    expect(await sw.stop()).toBe(0);
    await waitFor(() => !l.ip(nsA, ['-o', 'link']).includes(ta), 3000, 'the TAP to disappear');
  });

  it('VLAN isolation: access 100/100/200 — ping within 100 works, across fails, no broadcast leaks into 200', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.93.0.1'), b = addHost(l, 'b', '10.93.0.2'), c = addHost(l, 'c', '10.93.0.3');
    await start(`bridges:\n  br0:\n    ports:\n` +
      `      pa: { ofport: 1, type: system, device: ${a.root}, vlan: { mode: access, vid: 100 } }\n` +
      `      pb: { ofport: 2, type: system, device: ${b.root}, vlan: { mode: access, vid: 100 } }\n` +
      `      pc: { ofport: 3, type: system, device: ${c.root}, vlan: { mode: access, vid: 200 } }\n`);
    // tcpdump on c from before the first ping to after the last one, however slowly it starts.
    const cap = tcpdump(l, c.ns, c.inner, ['-nn', '-e', 'not ip6']);
    defer(() => cap.stop());
    await cap.ready;
    const inside = await ping(l, a, b.ip, 3);
    expect(inside.code, inside.stdout).toBe(0);
    const across = await ping(l, a, c.ip, 2);
    expect(across.code).not.toBe(0);
    const across2 = await ping(l, b, c.ip, 2);
    expect(across2.code).not.toBe(0);
    const r = await cap.stop();
    const macA = l.mac(a.ns, a.inner).toString('hex').replace(/(..)(?!$)/g, '$1:');
    const macB = l.mac(b.ns, b.inner).toString('hex').replace(/(..)(?!$)/g, '$1:');
    // c's own ARP requests are sent; nothing from a or b (their ARP broadcasts included) arrives.
    expect(r.stdout).not.toContain(macA);
    expect(r.stdout).not.toContain(macB);
    expect(r.stdout + r.stderr).toMatch(/packets captured/);
  });

  it('a frame longer than the egress MTU is counted tx-too-big on that port, not tx-full', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.96.0.1'), b = addHost(l, 'b', '10.96.0.2');
    // a's link carries jumbo frames, b's stays at 1500: a 4000-byte ping cannot leave on b's port.
    l.ip(null, ['link', 'set', a.root, 'mtu', '9000']);
    l.ip(a.ns, ['link', 'set', a.inner, 'mtu', '9000']);
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\n`);
    const small = await ping(l, a, b.ip, 1);
    expect(small.code, small.stdout + small.stderr).toBe(0);
    const big = await ping(l, a, b.ip, 3, ['-s', '4000', '-M', 'do']);
    expect(big.code).not.toBe(0);
    const st = await sw.cliJson<{ drops: Record<string, number>; ports: Array<{ name: string; drops: Record<string, number> }> }>(['stats']);
    const pb = st.ports.find((x) => x.name === 'pb')!;
    expect(pb.drops['tx-too-big']).toBe(3);
    expect(pb.drops['tx-full'] ?? 0).toBe(0);
    expect(st.drops['tx-too-big']).toBe(3);
    const text = await sw.cli(['stats']);
    expect(text.stdout).toMatch(/tx-too-big/);
  });
}, { tools: ['ping', 'iperf3', 'ethtool', 'tcpdump'] });
