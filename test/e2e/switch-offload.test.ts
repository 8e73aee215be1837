// e2e: `sluice switch` between namespaces whose veths keep their default offloads (tx checksum,
// TSO/GSO on): TCP (iperf3) connects and moves data through system ports (ring and recvmmsg
// receive) and between a veth and a TAP port, and the receiver sees only correct TCP checksums.
import { expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import type { ExecResult, NetnsLab } from '../helpers/netns.js';
import { switchTestKit, addHost, iperf, mbit, ping, type Host } from './switch-harness.js';

const { lab, start } = switchTestKit();

interface StatsJson {
  drops: Record<string, number>;
  ports: Array<{ name: string; drops: Record<string, number>; io?: Record<string, number> }>;
}

/** ethtool's "tx-checksumming: on|off" for a device. */
function txChecksumming(l: NetnsLab, ns: string, dev: string): string | null {
  const outText = l.exec(ns, ['ethtool', '-k', dev]);
  return /^tx-checksumming: (\w+)/m.exec(outText)?.[1] ?? null;
}

/** tcpdump -vv of TCP arriving (-Q in) on `dev` in `ns`: stops after `count` segments or `secs`. */
function captureIn(l: NetnsLab, ns: string, dev: string, count = 40, secs = 12): Promise<ExecResult> | null {
  return l.execAsync(ns, ['timeout', String(secs), 'tcpdump', '-i', dev, '-Q', 'in', '-nn', '-vv', '-l', '-c', String(count), 'tcp'], (secs + 5) * 1000);
}

/** The receiver saw TCP segments, every one with a correct checksum. */
function expectGoodChecksums(cap: ExecResult): void {
  const text = cap.stdout + cap.stderr;
  expect(text, text.slice(0, 2000)).toMatch(/cksum 0x[0-9a-f]+ \(correct\)/);
  expect(text.match(/.*incorrect.*/g) ?? [], 'segments with a bad checksum').toEqual([]);
}

async function tcpThrough(l: NetnsLab, from: Host, to: Host, label: string): Promise<void> {
  const cap = captureIn(l, to.ns, to.inner);
  await new Promise((r) => setTimeout(r, 600));          // let tcpdump attach
  const r = await iperf(l, from, to, ['-t', '2']);
  const bytes = r.client.end.sum_received?.bytes ?? 0;
  console.log(`[offload] ${label}: ${bytes} bytes received, ${mbit(r.client.end.sum_received!.bits_per_second)} Mbit/s`);
  expect(bytes).toBeGreaterThan(0);
  if (cap) expectGoodChecksums(await cap);
}

describePrivileged('sluice switch with veth offloads left on (partial checksums)', () => {
  for (const rx of ['ring', 'mmsg'] as const) {
    it(`system ports (${rx} receive): TCP connects and transfers; the receiver sees only correct checksums`, async () => {
      const l = lab();
      const a = addHost(l, 'a', '10.94.0.1', { offloads: true }), b = addHost(l, 'b', '10.94.0.2', { offloads: true });
      const tx = txChecksumming(l, a.ns, a.inner);
      if (tx !== null) expect(tx, 'the sender veth offloads its checksums (kernel default)').toBe('on');
      const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\n`,
        [], { SLUICE_SYSTEM_RX: rx });
      const p = await ping(l, a, b.ip, 2);
      expect(p.code, p.stdout + p.stderr).toBe(0);
      await tcpThrough(l, a, b, `TCP a -> b, system ports, ${rx}`);
      const st = await sw.cliJson<StatsJson>(['stats']);
      expect(st.drops['csum-incomplete'] ?? 0).toBe(0);
      // TSO/GSO super-frames are not carried yet (a later issue): too big for a ring slot they are
      // rx-drops; read by recvmmsg into a 10 KiB packet they leave as tx-too-big. TCP gets through
      // on the MSS-sized retransmissions, slowly.
      const io = st.ports.find((x) => x.name === 'pa')?.io ?? {};
      console.log(`[offload] super-frames: rx-drops on pa ${io['rx-drops'] ?? '?'}, tx-too-big on pb ${st.drops['tx-too-big'] ?? 0}`);
    });
  }

  it('veth (system port) -> TAP port: checksums completed before the TAP; TCP both ways', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.95.0.1', { offloads: true });
    const nsB = l.addNs('b'), tb = l.name('tb');
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      tb: { ofport: 2, type: tap, device: ${tb} }\n`);
    l.moveLink(tb, nsB);
    l.addr(nsB, tb, '10.95.0.2/24');
    l.up(nsB, tb);
    const b: Host = { ns: nsB, root: '', inner: tb, ip: '10.95.0.2' };
    // Without IFF_VNET_HDR a TAP has no tx checksum offload (and ethtool cannot turn it on): what
    // the namespace sends through it is complete by the time Sluice reads it.
    const tx = txChecksumming(l, nsB, tb);
    if (tx !== null) expect(tx).toBe('off');
    const p = await ping(l, a, b.ip, 2);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    await tcpThrough(l, a, b, 'TCP veth -> TAP');
    await tcpThrough(l, b, a, 'TCP TAP -> veth');
    const st = await sw.cliJson<StatsJson>(['stats']);
    expect(st.drops['csum-incomplete'] ?? 0).toBe(0);
  });
}, { tools: ['iperf3', 'ethtool', 'tcpdump', 'ping'] });
