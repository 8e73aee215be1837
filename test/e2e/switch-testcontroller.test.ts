// e2e: Open vSwitch's own learning controller (`ovs-testcontroller ptcp:`) runs a live `sluice
// switch` in secure fail-mode with TAP ports to two namespaces: while the controller is down the
// switch boots with empty tables and forwards nothing; then ping and TCP work through its flows.
import { expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describePrivileged } from '../helpers/privileged.js';
import { waitFor } from '../helpers/netns.js';
import { freePort, iperf, mbit, ping, switchTestKit } from './switch-harness.js';

const { lab, start, defer } = switchTestKit();

describePrivileged('sluice switch under ovs-testcontroller', () => {
  it('learns through PACKET_IN and forwards ping and TCP between TAP-attached namespaces', async () => {
    const port = await freePort();
    const tmp = mkdtempSync(join(tmpdir(), 'sluice-tc-'));
    defer(() => rmSync(tmp, { recursive: true, force: true }));
    const l = lab();
    const nsA = l.addNs('a'), nsB = l.addNs('b');
    const ta = l.name('ta'), tb = l.name('tb');
    const sw = await start(`bridges:\n  br0:\n    fail-mode: secure\n    controllers: ["tcp:127.0.0.1:${port}"]\n    ports:\n` +
      `      ta: { ofport: 1, type: tap, device: ${ta} }\n      tb: { ofport: 2, type: tap, device: ${tb} }\n`);
    for (const [dev, ns, ip] of [[ta, nsA, '10.94.0.1'], [tb, nsB, '10.94.0.2']] as const) {
      l.moveLink(dev, ns);
      l.offloadsOff(ns, dev);
      l.addr(ns, dev, `${ip}/24`);
      l.up(ns, dev);
    }
    // The controller is not up yet: a secure switch boots empty and forwards nothing (Open vSwitch
    // does the same; a NORMAL default would leak between networks the controller keeps apart).
    const before = await ping(l, nsA, '10.94.0.2', 3);
    expect(before.code, before.stdout).not.toBe(0);
    expect(before.stdout).toMatch(/3 packets transmitted, 0 received/);
    const empty = await sw.cli(['flows', 'dump']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe('');
    expect(sw.stderr).not.toMatch(/fail-open/);

    // A private control socket: the default lives in /var/run/openvswitch, which may not exist.
    const ctl: ChildProcess = spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `ptcp:${port}:127.0.0.1`, '--no-chdir', `--unixctl=${join(tmp, 'tc.ctl')}`, '-vconsole:off'], { stdio: 'ignore' });
    defer(() => { ctl.kill('SIGTERM'); });
    // The switch retries with backoff (1 s doubling to 8 s, +-25 %).
    await waitFor(() => sw.stderr.includes('OpenFlow 1.3 session established'), 30_000, 'the controller session');

    const p = await ping(l, nsA, '10.94.0.2', 5);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const r = await iperf(l, { ns: nsA, root: '', inner: ta, ip: '10.94.0.1' }, { ns: nsB, root: '', inner: tb, ip: '10.94.0.2' }, ['-t', '2']);
    const bps = r.client.end.sum_received!.bits_per_second;
    console.log(`[testcontroller] TCP through controller-installed flows: ${mbit(bps)} Mbit/s`);
    expect(bps).toBeGreaterThan(10e6);
    // The forwarding came from the controller's flows, not NORMAL: they are in the table.
    const flows = await sw.cli(['flows', 'dump']);
    expect(flows.code, flows.stderr).toBe(0);
    const learned = flows.stdout.split('\n').filter((line) => /actions=output:[12]\b/.test(line) && !/priority=0 /.test(line));
    expect(learned.length, flows.stdout).toBeGreaterThanOrEqual(2);
  });
}, { tools: ['ovs-testcontroller', 'ping', 'iperf3'] });
