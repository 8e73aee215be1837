// e2e: `sluice switch` as a host service. Devices attached as system ports are brought up the way
// Open vSwitch brings up the interfaces it adds: a veth left down and a TAP created down by
// `ip tuntap add` (held by no one, as before QEMU starts) come up and carry a ping; `port list`
// shows admin and link state.
import { afterEach, expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import { run } from '../helpers/netns.js';
import { PacketPool } from '../../src/packet/pool.js';
import { SystemPort } from '../../src/datapath/ports/system.js';
import { TapPort } from '../../src/datapath/ports/tap.js';
import type { PortBackend } from '../../src/datapath/port.js';
import { relay } from '../helpers/relay.js';
import { switchTestKit, addHost, ping } from './switch-harness.js';

const { lab, start } = switchTestKit();
const opened: PortBackend[] = [];
afterEach(async () => { for (const p of opened.splice(0)) await p.close(); });

interface PortRow { name: string; link: string; admin?: string; carrier?: boolean; reason?: string }
type Sw = Awaited<ReturnType<typeof start>>;

/** Poll `port list` until port `name` has link `link` (the link watch runs every 250 ms). */
async function waitLink(sw: Sw, name: string, link: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: PortRow | undefined;
  for (;;) {
    last = (await sw.cliJson<{ ports: PortRow[] }>(['port', 'list'])).ports.find((p) => p.name === name);
    if (last?.link === link) return;
    if (Date.now() > end) throw new Error(`port ${name} not ${link} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describePrivileged('sluice switch as a host service: devices', () => {
  it('a veth left down and a TAP made down by `ip tuntap add` come up when attached as system ports, and carry a ping', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.96.0.1');
    l.ip(null, ['link', 'set', a.root, 'down']);
    const tap = l.name('tq');
    run('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    l.track(tap);
    expect(l.ip(null, ['-o', 'link', 'show', tap])).not.toMatch(/[<,]UP[,>]/);
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      vmq: { ofport: 2, type: system, device: ${tap} }\n`);
    expect(l.ip(null, ['-o', 'link', 'show', a.root])).toMatch(/[<,]UP[,>]/);
    expect(l.ip(null, ['-o', 'link', 'show', tap])).toMatch(/[<,]UP[,>]/);
    // The TAP is up but nobody holds it yet: admin up, no carrier, link down (and says why).
    await waitLink(sw, 'pa', 'up');
    const before = await sw.cliJson<{ ports: PortRow[] }>(['port', 'list']);
    expect(before.ports.find((p) => p.name === 'pa')).toMatchObject({ link: 'up', admin: 'up', carrier: true });
    expect(before.ports.find((p) => p.name === 'vmq')).toMatchObject({ link: 'down', admin: 'up', carrier: false });
    const table = await sw.cli(['port', 'list']);
    expect(table.stdout).toMatch(/vmq.*down \(.*\)/);

    // The "guest": this process holds the TAP's fd (as QEMU would) and relays it to a namespace.
    const b = addHost(l, 'b', '10.96.0.2');
    const guest = new TapPort(tap, { persist: true }), wire = new SystemPort(b.root);
    opened.push(guest, wire);
    await guest.open();
    await wire.open();
    relay(guest, wire, new PacketPool(512));
    await waitLink(sw, 'vmq', 'up');
    const p = await ping(l, a, b.ip, 3);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const after = await sw.cliJson<{ ports: PortRow[] }>(['port', 'list']);
    expect(after.ports.find((x) => x.name === 'vmq')).toMatchObject({ link: 'up', admin: 'up', carrier: true });
  });

  it('`port add` at runtime brings a down device up too', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.97.0.1'), b = addHost(l, 'b', '10.97.0.2');
    l.ip(null, ['link', 'set', b.root, 'down']);
    const sw = await start(`bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n`);
    const r = await sw.cli(['port', 'add', 'pb', '--ofport', '2', '--type', 'system', '--device', b.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(l.ip(null, ['-o', 'link', 'show', b.root])).toMatch(/[<,]UP[,>]/);
    const p = await ping(l, a, b.ip, 3);
    expect(p.code, p.stdout + p.stderr).toBe(0);
  });
});
