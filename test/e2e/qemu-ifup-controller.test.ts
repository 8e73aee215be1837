// e2e: sluice-ifup / sluice-ifdown in controller mode (SLUICE_NET, SLUICE_SWITCH), run the way QEMU
// runs them (`script IFNAME`, settings in the environment), without a guest: a veth's root end
// stands in for the TAP, its peer in a namespace for the guest. ifup adds the port to the local
// switch and attaches it to network blue through the controller; the "guest" then pings a host
// already on blue. ifdown detaches it and takes the port off the switch.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { describePrivileged } from '../helpers/privileged.js';
import { runAsync, waitFor } from '../helpers/netns.js';
import { addHost, freePort, ping, switchTestKit } from './switch-harness.js';

const { lab: newLab, start, defer } = switchTestKit();

describePrivileged('sluice-ifup / sluice-ifdown with a controller', () => {
  it('attaches the new port to $SLUICE_NET and detaches it again', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ifupc-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const ofPort = await freePort(), apiPort = await freePort();
    let ctlErr = '';
    const ctl = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', dir, '--openflow', `ptcp:${ofPort}:127.0.0.1`,
      '--api', `127.0.0.1:${apiPort}`, '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    ctl.stderr!.on('data', (d: Buffer) => { ctlErr += d.toString(); });
    defer(async () => { ctl.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); if (ctl.exitCode === null) ctl.kill('SIGKILL'); });
    await waitFor(() => ctlErr.includes('controller running') || ctl.exitCode !== null, 30_000, 'the controller');
    const env = { ...process.env, SLUICE_CONTROLLER: `http://127.0.0.1:${apiPort}`, SLUICE_TOKEN: readFileSync(join(dir, 'api-token'), 'utf8').trim(), SLUICE_LOG_LEVEL: 'warn' };
    const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      runAsync('env', [`SLUICE_CONTROLLER=${env.SLUICE_CONTROLLER}`, `SLUICE_TOKEN=${env.SLUICE_TOKEN}`, process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], 30_000);

    const lab = newLab();
    const a = addHost(lab, 'a', '10.95.0.2'), vm = addHost(lab, 'v', '10.95.0.1');
    const sw = await start(`bridges:
  br0:
    description: ${lab.id}/br0
    fail-mode: secure
    controllers: ["tcp:127.0.0.1:${ofPort}"]
    ports:
      a: { ofport: 1, type: system, device: ${a.root} }
`);
    expect((await cli(['net', 'create', 'blue', '--vid', '100'])).code).toBe(0);
    const at = await cli(['attach', 'blue', `${lab.id}/br0:a`]);
    expect(at.code, at.stderr).toBe(0);

    const scriptEnv = { ...env, SLUICE_SOCKET: sw.socket, SLUICE_NET: 'blue', SLUICE_SWITCH: `${lab.id}/br0`, SLUICE_QEMU_CONF: join(dir, 'none'), SLUICE_QEMU_CONF_DIR: dir,
      SLUICE_CMD: `${process.execPath} --import tsx ${join(ROOT, 'src/cli/main.ts')}` };
    const runScript = (name: string, ifname: string): Promise<{ code: number; out: string }> => new Promise((resolve) => {
      const c = spawn(join(ROOT, 'packaging/qemu', name), [ifname], { cwd: ROOT, env: scriptEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      c.on('exit', (code) => resolve({ code: code ?? -1, out }));
    });
    const up = await runScript('sluice-ifup', vm.root);
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(new RegExp(`${lab.id}/br0:${vm.root} attached to blue`));

    let ok = false;
    for (let i = 0; i < 10 && !ok; i++) ok = (await ping(lab, vm, a.ip, 1)).code === 0;
    expect(ok, `controller: ${ctlErr.slice(-1500)}\nswitch: ${sw.stderr.slice(-1500)}`).toBe(true);

    const down = await runScript('sluice-ifdown', vm.root);
    expect(down.code, down.out).toBe(0);
    const ports = await sw.cliJson<{ ports: Array<{ name: string }> }>(['port', 'list']);
    expect(ports.ports.map((p) => p.name)).toEqual(['a']);
    const again = await cli(['detach', `${lab.id}/br0:${vm.root}`]);
    expect(again.code).not.toBe(0);                   // the attachment is gone already
  });
});
