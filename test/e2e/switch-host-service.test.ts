// e2e: `sluice switch` as a host service. Devices attached as system ports are brought up the way
// Open vSwitch brings up the interfaces it adds: a veth left down and a TAP created down by
// `ip tuntap add` (held by no one, as before QEMU starts) come up and carry a ping; `port list`
// shows admin and link state. A device belongs to one switch: a second `sluice switch` (another
// socket) naming the same device says which switch holds it and exits 2; `port add` of a held
// device is a 409 with the same words; a switch killed with SIGKILL leaves no claim behind.
import { afterEach, expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runAsync, waitFor } from '../helpers/netns.js';
import { ROOT } from '../helpers/cli.js';
import { PacketPool } from '../../src/packet/pool.js';
import { SystemPort } from '../../src/datapath/ports/system.js';
import { TapPort } from '../../src/datapath/ports/tap.js';
import type { PortBackend } from '../../src/datapath/port.js';
import { relay } from '../helpers/relay.js';
import { DeviceClaims } from '../../src/agent/device-claims.js';
import { switchTestKit, addHost, ping } from './switch-harness.js';

const { lab, start, defer } = switchTestKit();
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
    expect(table.stdout).toMatch(/│ admin\s*│/);
    expect(table.stdout).toMatch(/vmq.*│ up, no carrier\s*│ down/);

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

/** POST JSON on a switch's management socket: status and body as they came. */
function post(socket: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({ socketPath: socket, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describePrivileged('sluice switch as a host service: one switch per device', () => {
  /** Run a second `sluice switch` to its end (it should not start), with its own socket. */
  async function secondSwitch(yaml: string): Promise<{ code: number; stderr: string; socket: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sw2-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'sluice.yaml'), yaml);
    const socket = join(dir, 'other.sock');
    const r = await runAsync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'switch', '-c', join(dir, 'sluice.yaml'), '--socket', socket], 30_000);
    return { code: r.code, stderr: r.stderr, socket };
  }

  it('a second switch on another socket refuses the first one\'s devices, naming it; port add of a held device is a 409; kill -9 frees them', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.98.0.1'), b = addHost(l, 'b', '10.98.0.2'), c = addHost(l, 'c', '10.98.0.3');
    const yaml1 = `bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\n`;
    const sw1 = await start(yaml1);
    const pid1 = sw1.child.pid!;

    // Same devices, another bridge name and socket: refused before anything opens, one line, exit 2.
    const yaml2 = `bridges:\n  br9:\n    ports:\n      pc: { ofport: 1, type: system, device: ${c.root} }\n      pb2: { ofport: 2, type: system, device: ${b.root} }\n`;
    const r = await secondSwitch(yaml2);
    expect(r.code, r.stderr).toBe(2);
    const held = `device ${b.root} is held by switch br0 (socket ${sw1.socket}, pid ${pid1}, port pb)`;
    const lines = r.stderr.trim().split('\n').filter((x) => x.includes('held by'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`Cannot open port "pb2" (system ${b.root}): ${held}`);
    // The first switch still forwards.
    const p = await ping(l, a, b.ip, 3);
    expect(p.code, p.stdout + p.stderr).toBe(0);

    // A third switch on the free device only; then `port add` of the first one's device: 409, same words.
    const sw3 = await start(`bridges:\n  br7:\n    ports:\n      pc: { ofport: 1, type: system, device: ${c.root} }\n`);
    const add = await sw3.cli(['port', 'add', 'pa3', '--ofport', '2', '--type', 'system', '--device', a.root]);
    expect(add.code).not.toBe(0);
    expect(add.stderr).toContain(`device ${a.root} is held by switch br0 (socket ${sw1.socket}, pid ${pid1}, port pa)`);
    const raw = await post(sw3.socket, '/ports', { name: 'pa4', ofport: 3, type: 'system', device: a.root });
    expect(raw.status).toBe(409);
    expect(JSON.parse(raw.body)).toEqual({ error: 'SW_ERR_CONFLICT', message: `Cannot open port "pa4" (system ${a.root}): device ${a.root} is held by switch br0 (socket ${sw1.socket}, pid ${pid1}, port pa)` });
    const ports3 = await sw3.cliJson<{ ports: Array<{ name: string }> }>(['port', 'list']);
    expect(ports3.ports.map((x) => x.name)).toEqual(['pc']);

    // kill -9 the first switch: its claims go with it, and the device can be added at once.
    sw1.signal('SIGKILL');
    // Its claim files stay (unheld) until a switch starts and sweeps them; this test's go now.
    defer(() => { for (const dev of [a.root, b.root]) rmSync(new DeviceClaims({ bridge: '-', socket: '-', pid: 0 }).pathOf(dev), { force: true }); });
    await waitFor(() => sw1.exited !== null, 10_000, 'the first switch to die');
    const add2 = await sw3.cli(['port', 'add', 'pa3', '--ofport', '2', '--type', 'system', '--device', a.root]);
    expect(add2.code, add2.stderr).toBe(0);
    const p2 = await ping(l, c, a.ip, 3);
    expect(p2.code, p2.stdout + p2.stderr).toBe(0);
  });
});
