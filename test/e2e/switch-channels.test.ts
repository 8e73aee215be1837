// e2e: channel rates measured with iperf3 through `sluice switch`: a 20 Mbit/s policing channel on
// the sender's port (UDP offered at 40M; TCP reported), a 20 Mbit/s shaping egress channel for TCP,
// and a live `sluice channel set C --rate 5mbit` during a UDP run, seen in the receiver's intervals.
import { expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab } from '../helpers/netns.js';
import { SwitchProc, switchTestKit, addHost, iperf, mbit, type Host } from './switch-harness.js';

const { lab, start } = switchTestKit();

/** UDP payload 1472 B -> 1514 B Ethernet frames: iperf3 counts 1472/1514 of what the channel counts. */
const UDP_LEN = 1472;
const WIRE = 1514 / UDP_LEN;

async function topo(channels: string, pa: string, pb: string): Promise<{ l: NetnsLab; a: Host; b: Host; sw: SwitchProc }> {
  const l = lab();
  const a = addHost(l, 'a', '10.94.0.1'), b = addHost(l, 'b', '10.94.0.2');
  const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root}${pa} }\n      pb: { ofport: 2, type: system, device: ${b.root}${pb} }\nchannels:\n${channels}`);
  // warm up ARP/MAC learning so the measured run starts clean
  await l.execAsync(a.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '1', b.ip]);
  return { l, a, b, sw };
}

describePrivileged('sluice switch: channel rates measured with iperf3', () => {
  it('a 20 Mbit/s policing channel on the sender: UDP within 5 %, TCP below the rate', async () => {
    const { l, a, b, sw } = await topo('  c20: { rate: 20mbit }\n', ', channel: c20', '');
    const u = await iperf(l, a, b, ['-u', '-b', '40M', '-l', String(UDP_LEN), '-t', '3']);
    const got = u.server.end.sum_received!.bits_per_second;
    console.log(`[channel] UDP 40M offered into 20mbit police: received ${mbit(got)} Mbit/s goodput, ${mbit(got * WIRE)} Mbit/s as Ethernet frames`);
    expect(Math.abs(got - 20e6) / 20e6).toBeLessThan(0.05);
    expect(Math.abs(got * WIRE - 20e6) / 20e6).toBeLessThan(0.05);
    const t = await iperf(l, a, b, ['-t', '3']);
    const tcp = t.client.end.sum_received!.bits_per_second;
    console.log(`[channel] TCP into 20mbit police: ${mbit(tcp)} Mbit/s (policing drops make TCP back off: expected below the rate)`);
    expect(tcp).toBeLessThan(20e6 * 1.05);
    expect(tcp).toBeGreaterThan(1e6);
    const ch = await sw.cliJson<{ channels: Array<{ name: string; droppedPackets: number; passedPackets: number }> }>(['channel', 'list']);
    expect(ch.channels[0].droppedPackets).toBeGreaterThan(0);
  });

  it('a 20 Mbit/s shaping egress channel: TCP within 5 %', async () => {
    const { l, a, b } = await topo('  s20: { rate: 20mbit, burst: 32kb, mode: shape, queue: 200 }\n', '', ', egress-channel: s20');
    const t = await iperf(l, a, b, ['-t', '3']);
    const tcp = t.client.end.sum_received!.bits_per_second;
    // TCP goodput with MSS 1448 in 1514-byte frames is 95.6 % of the wire rate.
    console.log(`[channel] TCP through 20mbit shape: ${mbit(tcp)} Mbit/s goodput, ${mbit(tcp * 1514 / 1448)} Mbit/s as Ethernet frames`);
    expect(Math.abs(tcp * 1514 / 1448 - 20e6) / 20e6).toBeLessThan(0.05);
    expect(Math.abs(tcp - 20e6) / 20e6).toBeLessThan(0.05);
  });

  it('`sluice channel set C --rate 5mbit` during a UDP run changes the received rate within 1 s', async () => {
    const { l, a, b, sw } = await topo('  c: { rate: 20mbit }\n', ', channel: c', '');
    let changedAtS = 0;
    const r = await iperf(l, a, b, ['-u', '-b', '40M', '-l', String(UDP_LEN), '-t', '5'], async (startedAt) => {
      await new Promise((res) => setTimeout(res, 1500));
      const c = await sw.cli(['channel', 'set', 'c', '--rate', '5mbit']);
      expect(c.code, c.stderr).toBe(0);
      changedAtS = (Date.now() - startedAt) / 1000;
    });
    const iv = r.server.intervals.map((x) => ({ start: x.sum.start, end: x.sum.end, bps: x.sum.bits_per_second }));
    console.log(`[channel] live change (CLI returned at ${changedAtS.toFixed(2)} s): ${iv.map((x) => `${x.start.toFixed(0)}-${x.end.toFixed(0)}s ${mbit(x.bps)}`).join(', ')} Mbit/s`);
    expect(Math.abs(iv[0].bps - 20e6) / 20e6).toBeLessThan(0.05);
    // Every interval that starts at least 1 s after the command returned runs at the new rate.
    const after = iv.filter((x) => x.start >= changedAtS + 1 - 0.05 && x.end - x.start > 0.9);
    expect(after.length).toBeGreaterThan(0);
    for (const x of after) expect(Math.abs(x.bps - 5e6) / 5e6).toBeLessThan(0.05);
    // The first full interval after the command returned is already far below the old rate (it
    // may read a little under 5M: a 10 ms default burst at 5 Mbit/s wastes tokens when the loop
    // is descheduled on a busy 2-core machine).
    const first = iv.find((x) => x.start >= changedAtS - 0.05);
    expect(first).toBeDefined();
    expect(first!.bps).toBeLessThan(5e6 * 1.05);
    expect(first!.bps).toBeGreaterThan(5e6 * 0.8);
  });
}, { tools: ['ping', 'iperf3', 'ethtool'] });
