// e2e: operating a running `sluice switch`: ports added and removed while two other namespaces
// ping (no loss, for as long as the commands take), a veth deleted under a system port (logged,
// listed as gone, no crash), SIGHUP reloads (a changed rate applies, a broken file changes
// nothing) and `sluice config save`.
import { expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/agent/config.js';
import { describePrivileged } from '../helpers/privileged.js';
import { waitFor } from '../helpers/netns.js';
import { switchTestKit, addHost, ping, pingUntilStopped } from './switch-harness.js';

const { lab, start, defer } = switchTestKit();

/** For tests that run a dozen `sluice` commands, each starting node + tsx: about 1 s on an idle machine, several on a busy one. */
const MANY_COMMANDS = { timeout: 180_000 };

interface PortsReply { ports: Array<{ name: string; link: string; reason?: string; type: string }> }
interface ChannelsReply { channels: Array<{ name: string; rate: string }> }

/** Poll an async condition. */
async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describePrivileged('sluice switch: operations on a running switch', () => {
  it('port add/del (system and tap) while two other namespaces ping: no loss on that pair', MANY_COMMANDS, async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.95.0.1'), b = addHost(l, 'b', '10.95.0.2'), c = addHost(l, 'c', '10.95.0.3');
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\n`);
    const pinger = pingUntilStopped(l, a, b.ip);               // until every command below is done
    defer(() => pinger.stop());                                  // also when the test fails first
    await pinger.ready;
    const tap = l.name('t');
    let r = await sw.cli(['port', 'add', 'pc', '--ofport', '3', '--type', 'system', '--device', c.root, '--vlan', 'trunk']);
    expect(r.code, r.stderr).toBe(0);
    r = await sw.cli(['port', 'add', 'pt', '--ofport', '4', '--type', 'tap', '--device', tap]);
    expect(r.code, r.stderr).toBe(0);
    l.track(tap);
    const mid = await sw.cliJson<PortsReply>(['port', 'list']);
    expect(mid.ports.map((p) => p.name)).toEqual(['pa', 'pb', 'pc', 'pt']);
    const pc = await ping(l, c, a.ip, 2);                      // the new port forwards
    expect(pc.code, pc.stdout).toBe(0);
    expect((await sw.cli(['port', 'del', 'pc'])).code).toBe(0);
    expect((await sw.cli(['port', 'del', 'pt'])).code).toBe(0);
    const bad = await sw.cli(['port', 'del', 'pt']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sluice: no port "pt"/);
    await new Promise((r) => setTimeout(r, 500));            // a few more pings after the last change
    const p = await pinger.stop();
    console.log(`[ops] a -> b: ${p.sent} pings across the port changes, lost before the last: ${p.lost.length}`);
    expect(p.sent, p.output).toBeGreaterThan(5);
    expect(p.lost, p.output).toEqual([]);
    const after = await sw.cliJson<PortsReply>(['port', 'list']);
    expect(after.ports.map((x) => x.name)).toEqual(['pa', 'pb']);
    expect(l.ip(null, ['-o', 'link'])).not.toContain(`${tap}:`);   // the TAP Sluice created is gone
  });

  it('a veth deleted under a system port: logged, listed as gone, the rest keeps forwarding', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.96.0.1'), b = addHost(l, 'b', '10.96.0.2'), c = addHost(l, 'c', '10.96.0.3');
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\n      pc: { ofport: 3, type: system, device: ${c.root} }\n`);
    expect((await ping(l, c, a.ip, 2)).code).toBe(0);
    l.ip(null, ['link', 'del', c.root]);
    await until(async () => (await sw.cliJson<PortsReply>(['port', 'list'])).ports.find((p) => p.name === 'pc')?.link === 'gone', 5000, 'pc to be listed as gone');
    expect(sw.stderr).toMatch(/"port":"pc".*port device is gone/);
    // The MACs learned behind the dead port are forgotten at once (not left to age out).
    const fdb = await sw.cliJson<{ fdb: Array<{ port: string; ofport: number }> }>(['fdb', 'show']);
    expect(fdb.fdb.filter((e) => e.ofport === 3)).toEqual([]);
    expect(fdb.fdb.length).toBeGreaterThan(0);   // a's MAC (learned from the ping) is still there
    const p = await ping(l, a, b.ip, 5);
    expect(p.code, p.stdout).toBe(0);
    expect(sw.exited).toBeNull();
    const st = await sw.cli(['stats']);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/pc\s+│ 3\s+│ gone/);
  });

  it('SIGHUP applies a changed rate, a broken config changes nothing, config save loads back equal', MANY_COMMANDS, async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.97.0.1'), b = addHost(l, 'b', '10.97.0.2');
    const yaml = (rate: string): string => `bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root}, channel: c }\n      pb: { ofport: 2, type: system, device: ${b.root} }\nchannels:\n  c: { rate: ${rate} }\n`;
    const sw = await start(yaml('20mbit'));
    writeFileSync(sw.configPath, yaml('5mbit'));
    sw.signal('SIGHUP');
    await until(async () => (await sw.cliJson<ChannelsReply>(['channel', 'list'])).channels[0].rate === '5mbit', 5000, 'the new rate');
    expect(sw.stderr).toContain('channel c reconfigured');

    writeFileSync(sw.configPath, yaml('7mbit').replace('ofport: 2', 'ofport: 1'));   // duplicate ofport
    sw.signal('SIGHUP');
    await waitFor(() => sw.stderr.includes('config reload failed'), 5000, 'the reload failure');
    const line = sw.stderr.split('\n').find((x) => x.includes('config reload failed'))!;
    expect(line).toMatch(/ofport 1 is already used by port pa/);
    expect((await sw.cliJson<ChannelsReply>(['channel', 'list'])).channels[0].rate).toBe('5mbit');
    expect((await sw.cliJson<PortsReply>(['port', 'list'])).ports.map((p) => p.name)).toEqual(['pa', 'pb']);
    expect((await ping(l, a, b.ip, 2)).code).toBe(0);

    // Runtime changes, then save over the (broken) file: what loads back is the running state.
    expect((await sw.cli(['channel', 'create', 'gold', '--rate', '50mbit', '--burst', '64kb', '--mode', 'shape'])).code).toBe(0);
    expect((await sw.cli(['port', 'set', 'pb', '--egress-channel', 'gold'])).code).toBe(0);
    expect((await sw.cli(['port', 'set', 'pa', '--no-channel'])).code).toBe(0);
    expect((await sw.cli(['flows', 'add', 'priority=100,arp,actions=NORMAL'])).code).toBe(0);
    const s = await sw.cli(['config', 'save']);
    expect(s.code, s.stderr).toBe(0);
    const saved = await loadConfig(sw.configPath);
    const br = saved.bridges.br0;
    expect(br.ports.pa).toEqual({ name: 'pa', ofport: 1, type: 'system', device: a.root });
    expect(br.ports.pb).toEqual({ name: 'pb', ofport: 2, type: 'system', device: b.root, egressChannel: 'gold' });
    expect(br.flows).toEqual(['priority=100,arp,actions=NORMAL']);
    expect(saved.channels).toEqual({ c: { name: 'c', rate: '5mbit', mode: 'police' }, gold: { name: 'gold', rate: '50mbit', burst: '64kb', mode: 'shape' } });
    // Reloading the saved file changes nothing.
    const rl = await sw.cliJson<{ changes: string[] }>(['config', 'reload']);
    expect(rl.changes).toEqual([]);
    const fl = await sw.cli(['flows', 'dump']);
    expect(fl.stdout).toMatch(/priority=100,arp actions=NORMAL/);
  });
}, { tools: ['ping'] });
