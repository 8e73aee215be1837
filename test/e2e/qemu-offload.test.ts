// e2e: two real QEMU guests on TAPs with vnet_hdr=on, both attached as `system` ports (QEMU owns
// the TAPs): a guest's TSO super-frames cross the switch whole and reach the other guest as
// super-frames (its virtio-net took GUEST_TSO4), nothing cut, nothing lost. An HTTP download
// from VM1 to VM2 checks it by the switch's counters: bytes per frame in and out above the MTU.
import { expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, waitFor } from '../helpers/netns.js';
import { buildInitramfs, describeWithQemu, extractVmlinux, QemuVm, vmMac } from '../helpers/qemu.js';
import { switchTestKit } from './switch-harness.js';

const VM1_IP = '10.96.0.1', VM2_IP = '10.96.0.2';
const { lab: newLab, start, defer } = switchTestKit();

interface PortRow { name: string; rxPackets: number; rxBytes: number; txPackets: number; txBytes: number }

describeWithQemu('guest TSO end to end between two QEMU guests (vnet_hdr=on, system ports)', (getKit) => {
  it('VM1 -> VM2 HTTP: super-frames in from VM1 and out to VM2 whole, no drop', { timeout: 90_000 }, async () => {
    const kit = getKit();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-vmoff-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const kernel = extractVmlinux(kit.vmlinuz, join(dir, 'vmlinux')) ?? kit.vmlinuz;
    const initrd1 = buildInitramfs(kit, { ip: VM1_IP, prefix: 24 }, join(dir, 'vm1.cpio'));
    const initrd2 = buildInitramfs(kit, { ip: VM2_IP, prefix: 24 }, join(dir, 'vm2.cpio'));
    const lab = newLab();
    const tap1 = lab.name('o1'), tap2 = lab.name('o2');
    lab.track(tap1); lab.track(tap2);
    const seed = Math.floor(Math.random() * 0xffff);
    const vm1 = new QemuVm(kit, { name: 'vm1', kernel, initrd: initrd1, mac: vmMac(seed, 1), netdev: `tap,ifname=${tap1},script=no,downscript=no,vnet_hdr=on` });
    const vm2 = new QemuVm(kit, { name: 'vm2', kernel, initrd: initrd2, mac: vmMac(seed, 2), netdev: `tap,ifname=${tap2},script=no,downscript=no,vnet_hdr=on` });
    defer(() => Promise.all([vm1.stop(), vm2.stop()]));
    await waitFor(() => (existsSync(`/sys/class/net/${tap1}`) && existsSync(`/sys/class/net/${tap2}`)) || vm1.exited !== null || vm2.exited !== null, 10_000, 'QEMU to create the TAPs');
    expect(vm1.exited, vm1.tail()).toBeNull();
    expect(vm2.exited, vm2.tail()).toBeNull();
    run('ip', ['link', 'set', tap1, 'up']);
    run('ip', ['link', 'set', tap2, 'up']);
    const sw = await start(`bridges:\n  br0:\n    ports:\n      vm1: { ofport: 1, type: system, device: ${tap1} }\n      vm2: { ofport: 2, type: system, device: ${tap2} }\n`);
    await Promise.all([vm1.waitReady(40_000), vm2.waitReady(40_000)]);

    // both guests negotiated CSUM (bit 0), GUEST_TSO4 (bit 7) and HOST_TSO4 (bit 11) with QEMU
    for (const vm of [vm1, vm2]) {
      const feat = await vm.run('cat /sys/bus/virtio/devices/*/features', 10_000);
      const bits = /^[01]{32,}$/m.exec(feat.output)?.[0] ?? '';
      expect([bits[0], bits[7], bits[11]], feat.output).toEqual(['1', '1', '1']);
    }
    const ping = await vm2.run(`ping -c 2 -W 2 ${VM1_IP}`, 15_000);
    expect(ping.code, ping.output).toBe(0);
    const serve = await vm1.run('mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/f bs=1024 count=4096 2>/dev/null && httpd -p 8080 -h /tmp/www', 10_000);
    expect(serve.code, serve.output).toBe(0);
    const list = async (): Promise<PortRow[]> => (await sw.cliJson<{ ports: PortRow[] }>(['port', 'list'])).ports;
    const before = await list();
    const t = Date.now();
    const get = await vm2.run(`wget -q -O /dev/null http://${VM1_IP}:8080/f`, 60_000);
    expect(get.code, `${get.output}\nswitch stderr: ${sw.stderr.slice(-2000)}`).toBe(0);
    const after = await list();
    const d = (name: string, k: keyof Omit<PortRow, 'name'>): number =>
      (after.find((p) => p.name === name)?.[k] ?? 0) - (before.find((p) => p.name === name)?.[k] ?? 0);
    const inF = d('vm1', 'rxPackets'), inB = d('vm1', 'rxBytes'), outF = d('vm2', 'txPackets'), outB = d('vm2', 'txBytes');
    console.log(`[qemu-offload] 4 MiB VM1 -> VM2 in ${((Date.now() - t) / 1000).toFixed(1)} s: ${inF} frames in (${(inB / Math.max(1, inF)).toFixed(0)} B average), ${outF} out (${(outB / Math.max(1, outF)).toFixed(0)} B average)`);
    expect(inB).toBeGreaterThan(4 * 1024 * 1024);
    expect(inB / inF, 'VM1 sent super-frames').toBeGreaterThan(1514);
    expect(outB / outF, 'VM2 got them whole').toBeGreaterThan(1514);
    expect(outF, 'nothing cut on the way').toBeLessThanOrEqual(inF);
    const st = await sw.cliJson<{ drops: Record<string, number> }>(['stats']);
    expect(st.drops).toEqual({});
  });
});
