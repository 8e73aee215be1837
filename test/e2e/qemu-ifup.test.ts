// e2e: QEMU's own tap scripts attach a real guest to a running `sluice switch`:
// `-netdev tap,ifname=X,script=packaging/qemu/sluice-ifup,downscript=packaging/qemu/sluice-ifdown`
// with SLUICE_SOCKET in QEMU's environment and SLUICE_VLAN, SLUICE_CHANNEL in qemu.d/IFNAME.conf. The guest lands on its VLAN (pings a
// namespace host on that VLAN, not one with the same subnet on another VLAN), and when QEMU exits
// its down-script takes the port off the switch.
import { expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/netns.js';
import { buildInitramfs, describeWithQemu, extractVmlinux, QemuVm, vmMac } from '../helpers/qemu.js';
import { addHost, switchTestKit } from './switch-harness.js';
import { readmeShellLines } from '../helpers/readme.js';

const { lab: newLab, start, defer } = switchTestKit();
const VM_IP = '10.96.0.1', A_IP = '10.96.0.2', B_IP = '10.96.0.3';

async function vmPing(vm: QemuVm, ip: string): Promise<{ ok: boolean; output: string }> {
  const r = await vm.run(`ping -c 2 -W 2 -w 8 ${ip} > /tmp/p 2>&1; rc=$?; cat /tmp/p; if [ $rc = 0 ]; then echo PING-RESULT ok; else echo PING-RESULT fail; fi`, 25_000);
  return { ok: /PING-RESULT ok/.test(r.output), output: r.output };
}

/** The `-netdev` of README "Attach VMs (QEMU, libvirt)", with our TAP name and the scripts in this checkout. */
function readmeNetdev(tap: string): string {
  const line = readmeShellLines('Attach VMs (QEMU, libvirt)').find((l) => l.includes('qemu-system-x86_64'));
  const m = line ? /-netdev (\S+)/.exec(line) : null;
  if (!m) throw new Error('README "Attach VMs" has no qemu-system-x86_64 -netdev line');
  const nd = m[1].replace(/^(tap),id=n0,/, '$1,').replace(/vm1tap/g, tap).replace(/\/usr\/local\/libexec\/sluice/g, join(ROOT, 'packaging/qemu'));
  expect(nd).toBe(`tap,ifname=${tap},script=${join(ROOT, 'packaging/qemu/sluice-ifup')},downscript=${join(ROOT, 'packaging/qemu/sluice-ifdown')}`);
  return nd;
}

describeWithQemu('QEMU tap scripts sluice-ifup / sluice-ifdown', (getKit) => {
  it('a guest started with script=sluice-ifup is an access port of $SLUICE_VLAN with channel $SLUICE_CHANNEL, and leaves the switch when QEMU exits', { timeout: 120_000 }, async () => {
    const kit = getKit();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ifup-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const kernel = extractVmlinux(kit.vmlinuz, join(dir, 'vmlinux')) ?? kit.vmlinuz;
    const initrd = buildInitramfs(kit, { ip: VM_IP, prefix: 24 }, join(dir, 'vm.cpio'));

    const lab = newLab();
    const a = addHost(lab, 'a', A_IP), b = addHost(lab, 'b', B_IP);
    const sw = await start(`bridges:
  br0:
    ports:
      a: { ofport: 1, type: system, device: ${a.root}, vlan: { mode: access, vid: 42 } }
      b: { ofport: 2, type: system, device: ${b.root}, vlan: { mode: access, vid: 43 } }
channels:
  gold: { rate: 50mbit }
`);
    const tap = lab.name('vm');
    lab.track(tap);

    // The VLAN comes from the per-interface config file, the socket from QEMU's environment (QEMU
    // passes its environment to the scripts).
    const conf = readmeShellLines('Attach VMs (QEMU, libvirt)').find((l) => l.includes('/etc/sluice/qemu.d/vm1tap.conf'));
    expect(conf).toMatch(/^echo 'SLUICE_VLAN=42' \|/);   // the README's line, written here to our config dir
    writeFileSync(join(dir, `${tap}.conf`), 'SLUICE_VLAN=42\nSLUICE_CHANNEL=gold\n');
    const env = { SLUICE_SOCKET: sw.socket, SLUICE_QEMU_CONF: join(dir, 'none.conf'), SLUICE_QEMU_CONF_DIR: dir,
      SLUICE_CMD: `${process.execPath} --import tsx ${join(ROOT, 'src/cli/main.ts')}`, SLUICE_LOG_LEVEL: 'warn' };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    let vm: QemuVm;
    try {
      vm = new QemuVm(kit, { name: 'vm', kernel, initrd, mac: vmMac(Math.floor(Math.random() * 0xffff), 1), netdev: readmeNetdev(tap) });
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    }
    defer(() => vm.stop());
    await vm.waitReady(60_000);

    const ports = await sw.cliJson<{ ports: Array<{ name: string; ofport: number; type: string; device?: string; vlan?: { mode: string; vid?: number }; channel?: string; link: string }> }>(['port', 'list']);
    const p = ports.ports.find((x) => x.name === tap);
    expect(p, JSON.stringify(ports)).toBeDefined();
    expect(p).toMatchObject({ ofport: 3, type: 'system', device: tap, vlan: { mode: 'access', vid: 42 }, channel: 'gold', link: 'up' });

    const toA = await vmPing(vm, A_IP);
    expect(toA.ok, `${toA.output}\nswitch: ${sw.stderr.slice(-1500)}`).toBe(true);
    const toB = await vmPing(vm, B_IP);
    expect(toB.ok, toB.output).toBe(false);

    await vm.stop(10_000);
    // QEMU ran sluice-ifdown before it exited.
    const after = await sw.cliJson<{ ports: Array<{ name: string }> }>(['port', 'list']);
    expect(after.ports.map((x) => x.name)).toEqual(['a', 'b']);
    await waitFor(() => !existsSync(`/sys/class/net/${tap}`), 5000, 'QEMU to delete its TAP');
  });
});
