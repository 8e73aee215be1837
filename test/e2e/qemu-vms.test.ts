// e2e: two real QEMU guests (Debian kernel + busybox initramfs, TCG) on a real `sluice switch`,
// attached the way a KVM host attaches them: VM1 through `-netdev tap` (QEMU owns the TAP, the
// switch opens the host side of it as a `system` port), VM2 through `-netdev stream,server=on`
// on a Unix socket that the switch connects to (`qemu-stream`, role connect). Both ports are
// access ports of one VLAN; VM1 pings VM2 and the test reads the result on VM1's serial console.
// Then the switch restarts: VM2's QEMU accepts the new connection and ping works again.
// VM1's TAP has vnet_hdr=on, so its guest negotiates checksum and TSO offloads with QEMU: the
// switch's system port (PACKET_VNET_HDR) reads VM1's TSO super-frames whole and cuts them for
// VM2's stream port (which carries plain frames); an HTTP download from VM1 to VM2 checks that.
import { expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, waitFor } from '../helpers/netns.js';
import { buildInitramfs, describeWithQemu, extractVmlinux, mib, QemuVm, vmMac } from '../helpers/qemu.js';
import { switchTestKit, type SwitchProc } from './switch-harness.js';

const VM1_IP = '10.97.0.1', VM2_IP = '10.97.0.2', VID = 42;

const { lab: newLab, start, defer } = switchTestKit();

/** ping from `vm` to `ip`; the guest prints PING-RESULT ok|fail on its console. */
async function vmPing(vm: QemuVm, ip: string, count = 3, deadlineS = 15): Promise<{ ok: boolean; received: number; output: string; ms: number }> {
  const t = Date.now();
  const r = await vm.run(`ping -c ${count} -W 2 -w ${deadlineS} ${ip} > /tmp/p 2>&1; rc=$?; cat /tmp/p; if [ $rc = 0 ]; then echo PING-RESULT ok; else echo PING-RESULT fail; fi`, 25_000);
  const m = /(\d+) packets received/.exec(r.output);
  return { ok: /PING-RESULT ok/.test(r.output), received: m ? Number(m[1]) : 0, output: r.output, ms: Date.now() - t };
}

describeWithQemu('sluice switch with real QEMU guests', (getKit) => {
  it('VM1 (tap + system port) pings VM2 (stream server + qemu-stream connect) on one access VLAN, also after a switch restart', { timeout: 90_000 }, async () => {
    const kit = getKit();
    const timings: string[] = [];
    const t0 = Date.now();
    const lap = (what: string, since: number): void => { timings.push(`${what} ${((Date.now() - since) / 1000).toFixed(1)} s`); };

    const dir = mkdtempSync(join(tmpdir(), 'sluice-vms-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    let t = Date.now();
    const vmlinux = extractVmlinux(kit.vmlinuz, join(dir, 'vmlinux'));
    const kernel = vmlinux ?? kit.vmlinuz; // bzImage boots too, about twice as slowly under TCG
    lap(`kernel ${kit.kernelVersion} (${vmlinux ? `vmlinux ${mib(vmlinux)} MiB extracted` : 'vmlinuz, extraction failed'})`, t);
    t = Date.now();
    const initrd1 = buildInitramfs(kit, { ip: VM1_IP, prefix: 24 }, join(dir, 'vm1.cpio'));
    const initrd2 = buildInitramfs(kit, { ip: VM2_IP, prefix: 24 }, join(dir, 'vm2.cpio'));
    lap(`initramfs ${mib(initrd1)} MiB x2`, t);

    const lab = newLab();
    const tap = lab.name('vm1');
    lab.track(tap); // QEMU deletes its TAP on exit; this covers a QEMU that was killed
    const sock = join(dir, 'vm2.sock');
    const seed = Math.floor(Math.random() * 0xffff);

    t = Date.now();
    const vm1 = new QemuVm(kit, { name: 'vm1', kernel, initrd: initrd1, mac: vmMac(seed, 1), netdev: `tap,ifname=${tap},script=no,downscript=no,vnet_hdr=on` });
    const vm2 = new QemuVm(kit, { name: 'vm2', kernel, initrd: initrd2, mac: vmMac(seed, 2), netdev: `stream,server=on,addr.type=unix,addr.path=${sock}` });
    defer(() => Promise.all([vm1.stop(), vm2.stop()]));
    await waitFor(() => (existsSync(`/sys/class/net/${tap}`) && existsSync(sock)) || vm1.exited !== null || vm2.exited !== null, 10_000, 'QEMU to create the TAP and the socket')
      .catch((e: Error) => { throw new Error(`${e.message}\nvm1: ${vm1.tail(800)}\nvm2: ${vm2.tail(800)}`); });
    expect(vm1.exited, vm1.tail()).toBeNull();
    expect(vm2.exited, vm2.tail()).toBeNull();
    // With script=no nobody brings the host side up: do what libvirt's or QEMU's ifup script does.
    run('ip', ['link', 'set', tap, 'up']);

    const yaml = `bridges:
  br0:
    ports:
      vm1: { ofport: 1, type: system, device: ${tap}, vlan: { mode: access, vid: ${VID} } }
      vm2: { ofport: 2, type: qemu-stream, path: ${sock}, role: connect, vlan: { mode: access, vid: ${VID} } }
`;
    let sw: SwitchProc = await start(yaml);
    const [boot1, boot2] = await Promise.all([vm1.waitReady(40_000), vm2.waitReady(40_000)]);
    timings.push(`vm1 boot ${(boot1 / 1000).toFixed(1)} s, vm2 boot ${(boot2 / 1000).toFixed(1)} s`);
    lap('QEMU start to both guests ready (switch started meanwhile)', t);

    const p1 = await vmPing(vm1, VM2_IP);
    timings.push(`ping #1 ${(p1.ms / 1000).toFixed(1)} s (${p1.received}/3 received)`);
    expect(p1.ok, `${p1.output}\nswitch stderr: ${sw.stderr.slice(-2000)}`).toBe(true);
    expect(p1.received).toBe(3);

    const ports = await sw.cliJson<{ ports: Array<{ name: string; link: string; rxPackets: number; txPackets?: number }> }>(['port', 'list']);
    expect(ports.ports.map((p) => [p.name, p.link])).toEqual([['vm1', 'up'], ['vm2', 'up']]);
    const fdb = await sw.cliJson<{ fdb: Array<{ port: string; mac: string; vlan?: number }> }>(['fdb', 'show']);
    expect(fdb.fdb.map((e) => [e.port, e.mac]).sort()).toEqual([['vm1', vmMac(seed, 1)], ['vm2', vmMac(seed, 2)]]);

    // Guest TSO end to end: VM1 negotiated VIRTIO_NET_F_CSUM (bit 0) and HOST_TSO4 (bit 11) with
    // QEMU (the negotiated features as a bit string); its TCP goes out as super-frames that the
    // switch reads whole on VM1's port and cuts for VM2.
    t = Date.now();
    const feat = await vm1.run('cat /sys/bus/virtio/devices/*/features', 10_000);
    const bits = /^[01]{32,}$/m.exec(feat.output)?.[0] ?? '';
    expect(bits[0], feat.output).toBe('1');
    expect(bits[11], feat.output).toBe('1');
    const serve = await vm1.run('mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/f bs=1024 count=3072 2>/dev/null && httpd -p 8080 -h /tmp/www', 10_000);
    expect(serve.code, serve.output).toBe(0);
    const before = await sw.cliJson<{ ports: Array<{ name: string; rxPackets: number; rxBytes: number; txPackets: number; txBytes: number }> }>(['port', 'list']);
    const get = await vm2.run(`wget -q -O /dev/null http://${VM1_IP}:8080/f`, 60_000);
    expect(get.code, `${get.output}\nswitch stderr: ${sw.stderr.slice(-2000)}`).toBe(0);
    const afterGet = await sw.cliJson<{ ports: Array<{ name: string; rxPackets: number; rxBytes: number; txPackets: number; txBytes: number }> }>(['port', 'list']);
    const d = (list: typeof before, name: string, k: 'rxPackets' | 'rxBytes' | 'txPackets' | 'txBytes'): number =>
      (afterGet.ports.find((p) => p.name === name)?.[k] ?? 0) - (list.ports.find((p) => p.name === name)?.[k] ?? 0);
    const inFrames = d(before, 'vm1', 'rxPackets'), inBytes = d(before, 'vm1', 'rxBytes'), outFrames = d(before, 'vm2', 'txPackets');
    timings.push(`3 MiB VM1 -> VM2: ${inFrames} frames in from VM1 (${(inBytes / Math.max(1, inFrames)).toFixed(0)} B average), ${outFrames} frames out to VM2 (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    expect(inBytes).toBeGreaterThan(3 * 1024 * 1024);
    expect(inBytes / inFrames, 'VM1 sent super-frames (TSO): more bytes per frame than an MTU holds').toBeGreaterThan(1514);
    expect(outFrames, 'the switch cut them for VM2').toBeGreaterThan(inFrames);
    const drops = await sw.cliJson<{ drops: Record<string, number> }>(['stats']);
    expect(drops.drops['gso-failed'] ?? 0).toBe(0);
    expect(drops.drops['csum-incomplete'] ?? 0).toBe(0);

    // The switch restarts. VM2's QEMU keeps listening and accepts the new connection; the TAP
    // of VM1 stays (QEMU holds it), and the new switch reopens its host side.
    t = Date.now();
    expect(await sw.stop()).toBe(0);
    sw = await start(yaml);
    let link = '';
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      const l = await sw.cliJson<{ ports: Array<{ name: string; link: string }> }>(['port', 'list']);
      link = l.ports.find((p) => p.name === 'vm2')?.link ?? '';
      if (link === 'up') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(link, sw.stderr.slice(-2000)).toBe('up');
    lap('switch restart to vm2 link up', t);
    const p2 = await vmPing(vm1, VM2_IP);
    timings.push(`ping #2 after restart ${(p2.ms / 1000).toFixed(1)} s (${p2.received}/3 received)`);
    expect(p2.ok, `${p2.output}\nswitch stderr: ${sw.stderr.slice(-2000)}`).toBe(true);
    expect(p2.received).toBe(3);
    const after = await sw.cliJson<{ ports: Array<{ name: string; rxPackets: number; txPackets: number }> }>(['port', 'list']);
    const vm2Port = after.ports.find((p) => p.name === 'vm2')!;
    expect(vm2Port.rxPackets).toBeGreaterThanOrEqual(3);
    expect(vm2Port.txPackets).toBeGreaterThanOrEqual(3);

    // The VLAN is what joins them: VM2's port moved to another VLAN, VM1's pings go nowhere.
    t = Date.now();
    const set = await sw.cli(['port', 'set', 'vm2', '--vlan', `access:${VID + 1}`]);
    expect(set.code, set.stderr).toBe(0);
    const p3 = await vmPing(vm1, VM2_IP, 2, 3);
    expect(p3.received, p3.output).toBe(0);
    expect(p3.ok).toBe(false);
    lap('VM2 moved to another VLAN: ping fails', t);

    t = Date.now();
    await Promise.all([vm1.stop(), vm2.stop()]);
    lap('guests powered off', t);
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
    lap('total', t0);
    console.log(`[qemu-vms] ${timings.join('; ')}`);
    if (process.env.SLUICE_QEMU_DUMP) console.log(`switch stderr:\n${sw.stderr}\nvm1 console:\n${vm1.console}\nvm2 console:\n${vm2.console}`);
  });
});
