// e2e: a real QEMU guest (the Debian kernel + busybox initramfs of qemu-vms, under TCG) on one
// host reaches a namespace VM on another host over a VXLAN overlay (VNI 5001).
//   host A (a namespace): QEMU runs inside it (`ip netns exec`), so its `-netdev tap` TAP is
//     there; `sluice switch` runs there too, with the host side of that TAP as a `system` port and
//     a `vxlan` port to host B, both access ports of one VLAN.
//   host B (a namespace): the Linux kernel's vxlan device (learning mode) and a Linux bridge, with
//     a namespace VM behind it. Not a second Sluice: the frames Sluice encapsulates are then
//     decapsulated and checked by an independent implementation, and only one switch process
//     competes with QEMU's emulation for the machine's two cores.
//   An underlay veth joins the hosts (10.203.0.1 <-> .2, MTU 1500); host B's end has tx
//   checksumming off, as a NIC that fills in checksums (see below).
// The TAP has vnet_hdr=on, so the guest negotiates checksum and TSO offloads: its TCP leaves as
// super-frames that Sluice's system port reads whole, and the bridge must cut them (the vxlan port
// takes no offloads) before each piece is encapsulated. With the guest's MTU at its boot value of
// 1500 a full-sized frame cannot cross the tunnel (1514 + 36 bytes of outer headers > 1500): it is
// dropped and counted tunnel-too-big. With `ip link set eth0 mtu 1450` in the guest, full-sized
// pings cross both ways and an HTTP download of 3 MiB of random bytes from the guest (busybox
// httpd) to the namespace VM (busybox wget) arrives whole (same md5 on both sides), with the
// guest's super-frames cut before the tunnel and none dropped.
import { expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/netns.js';
import { buildInitramfs, describeWithQemu, extractVmlinux, QemuVm, vmMac } from '../helpers/qemu.js';
import { switchTestKit, ping, type SwitchProc } from './switch-harness.js';

const UL_A = '10.203.0.1', UL_B = '10.203.0.2';
const GUEST_IP = '10.98.0.1', NSVM_IP = '10.98.0.2';
const VNI = 5001, VID = 42;
const FILE_KIB = 3072;

const { lab: newLab, start, defer } = switchTestKit();

/** ping from the guest; it prints PING-RESULT ok|fail on its console (as in qemu-vms). */
async function vmPing(vm: QemuVm, ip: string, opts: { count?: number; size?: number; deadlineS?: number } = {}): Promise<{ ok: boolean; received: number; output: string }> {
  const count = opts.count ?? 3, deadlineS = opts.deadlineS ?? 15;
  const size = opts.size !== undefined ? `-s ${opts.size} ` : '';
  const r = await vm.run(`ping -c ${count} ${size}-W 2 -w ${deadlineS} ${ip} > /tmp/p 2>&1; rc=$?; cat /tmp/p; if [ $rc = 0 ]; then echo PING-RESULT ok; else echo PING-RESULT fail; fi`, (deadlineS + 10) * 1000);
  const m = /(\d+) packets received/.exec(r.output);
  return { ok: /PING-RESULT ok/.test(r.output), received: m ? Number(m[1]) : 0, output: r.output };
}

interface PortView { name: string; link: string; rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; drops: Record<string, number>; tunnel?: { vteps: Array<{ vni: number; mac: string; vtep: string }> } }
async function ports(sw: SwitchProc): Promise<Map<string, PortView>> {
  const r = await sw.cliJson<{ ports: PortView[] }>(['port', 'list']);
  return new Map(r.ports.map((p) => [p.name, p]));
}

describeWithQemu('QEMU guest over a VXLAN overlay', (getKit) => {
  it('a real VM on host A (TAP + system port, sluice vxlan port VNI 5001) and a namespace VM on host B (kernel vxlan + Linux bridge) ping both ways; full-sized frames need guest MTU 1450 (else tunnel-too-big); the guest\'s TSO super-frames are cut before the tunnel', { timeout: 240_000 }, async () => {
    const kit = getKit();
    const log: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'sluice-qvx-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const kernel = extractVmlinux(kit.vmlinuz, join(dir, 'vmlinux')) ?? kit.vmlinuz;
    const initrd = buildInitramfs(kit, { ip: GUEST_IP, prefix: 24 }, join(dir, 'guest.cpio'));

    // ---- the two hosts, their underlay, host B's kernel VTEP + bridge and its namespace VM
    const l = newLab();
    const hA = l.addNs('ha'), hB = l.addNs('hb'), vmB = l.addNs('vb');
    const ulA = l.name('ua'), ulB = l.name('ub');
    l.ip(hA, ['link', 'add', ulA, 'type', 'veth', 'peer', 'name', ulB, 'netns', hB]);
    l.addr(hA, ulA, `${UL_A}/24`); l.up(hA, ulA);
    l.addr(hB, ulB, `${UL_B}/24`); l.up(hB, ulB);
    // Host B's underlay veth keeps tx checksumming on (its default): the kernel VTEP's datagrams
    // reach host A with the inner TCP checksum left unfinished (CHECKSUM_PARTIAL crosses the veth)
    // and Sluice, reading a UDP socket, recognises the pseudo-header seed and completes it.
    const vmBIf = l.name('bi'), vmBPort = l.name('bp'), br = l.name('br'), vx = l.name('vx');
    l.ip(vmB, ['link', 'add', vmBIf, 'type', 'veth', 'peer', 'name', vmBPort, 'netns', hB]);
    l.ip(hB, ['link', 'add', br, 'type', 'bridge']);
    l.ip(hB, ['link', 'add', vx, 'type', 'vxlan', 'id', String(VNI), 'dstport', '4789', 'local', UL_B, 'remote', UL_A, 'dev', ulB]);
    for (const d of [vmBPort, vx]) { l.ip(hB, ['link', 'set', d, 'master', br]); l.up(hB, d); }
    l.up(hB, br);
    l.ip(vmB, ['link', 'set', vmBIf, 'mtu', '1450']);
    l.addr(vmB, vmBIf, `${NSVM_IP}/24`); l.up(vmB, vmBIf);

    // ---- the guest, its QEMU inside host A (the TAP is created there; deleted when QEMU exits,
    // and with host A's namespace at the latest)
    const tap = l.name('tap');
    const seed = Math.floor(Math.random() * 0xffff);
    const guestMac = vmMac(seed, 1);
    const vm = new QemuVm(kit, { name: 'guest', kernel, initrd, mac: guestMac, netns: hA, netdev: `tap,ifname=${tap},script=no,downscript=no,vnet_hdr=on` });
    defer(() => vm.stop());
    // /proc/<pid>/net/dev lists the devices of the process's namespace: host A's once QEMU runs
    // (one line per device, the name right-aligned in 6 columns, then a colon)
    const tapInA = (): boolean => { try { return readFileSync(`/proc/${vm.pid}/net/dev`, 'utf8').split('\n').some((x) => x.trimStart().startsWith(`${tap}:`)); } catch { return false; } };
    await waitFor(() => tapInA() || vm.exited !== null, 15_000, 'QEMU to create its TAP in host A')
      .catch((e: Error) => { throw new Error(`${e.message}\n${vm.tail(800)}`); });
    expect(vm.exited, vm.tail()).toBeNull();
    l.up(hA, tap);   // script=no: nobody else brings the host side up

    const sw = await start(`bridges:
  br0:
    ports:
      guest: { ofport: 1, type: system, device: ${tap}, vlan: { mode: access, vid: ${VID} } }
      vx: { ofport: 2, type: vxlan, local: ${UL_A}, remote: [${UL_B}], vni: ${VNI}, vlan: { mode: access, vid: ${VID} } }
`, [], {}, hA);
    const bootMs = await vm.waitReady(60_000);
    log.push(`guest boot ${(bootMs / 1000).toFixed(1)} s`);
    const why = (): string => `\nswitch stderr: ${sw.stderr.slice(-2000)}\nguest console: ${vm.tail(1500)}`;

    // The guest negotiated VIRTIO_NET_F_CSUM (bit 0) and HOST_TSO4 (bit 11) with QEMU: its TCP
    // leaves as super-frames with partial checksums.
    const feat = await vm.run('cat /sys/bus/virtio/devices/*/features', 10_000);
    const bits = /^[01]{32,}$/m.exec(feat.output)?.[0] ?? '';
    expect(bits[0], feat.output).toBe('1');
    expect(bits[11], feat.output).toBe('1');

    // ---- small frames cross at the boot MTU (1500); the first resolves ARP across the overlay
    const p1 = await vmPing(vm, NSVM_IP);
    expect(p1.ok, p1.output + why()).toBe(true);
    expect(p1.received).toBe(3);

    // ---- a full-sized frame at MTU 1500 (1472 bytes of ICMP payload: a 1514-byte frame) cannot
    // be encapsulated within the underlay's 1500: dropped as tunnel-too-big, never fragmented
    const mtu0 = await vm.run('cat /sys/class/net/eth0/mtu', 10_000);
    expect(mtu0.output.trim()).toBe('1500');
    const tooBig0 = (await ports(sw)).get('vx')!.drops['tunnel-too-big'] ?? 0;
    const big = await vmPing(vm, NSVM_IP, { count: 2, size: 1472, deadlineS: 5 });
    expect(big.received, big.output).toBe(0);
    const tooBig1 = (await ports(sw)).get('vx')!.drops['tunnel-too-big'] ?? 0;
    expect(tooBig1 - tooBig0, 'both echo requests were refused by the tunnel').toBeGreaterThanOrEqual(2);
    log.push(`MTU 1500: ${tooBig1 - tooBig0} tunnel-too-big`);

    // ---- busybox's `ip link set ... mtu` in the guest: 1450 leaves room for the 50 bytes of VXLAN
    const setMtu = await vm.run('ip link set eth0 mtu 1450 && cat /sys/class/net/eth0/mtu', 10_000);
    expect(setMtu.code, setMtu.output).toBe(0);
    expect(setMtu.output.trim()).toBe('1450');
    const p2 = await vmPing(vm, NSVM_IP, { size: 1422 });   // 1422 + 8 + 20 = 1450: a 1464-byte frame, a 1500-byte datagram
    expect(p2.ok, p2.output + why()).toBe(true);
    expect(p2.received).toBe(3);
    const back = await ping(l, vmB, GUEST_IP, 3, ['-s', '1422', '-M', 'do']);
    expect(back.code, back.stdout + back.stderr + why()).toBe(0);

    // each side learned the other's VM behind the other's VTEP
    let pv = await ports(sw);
    expect(pv.get('guest')!.link).toBe('up');
    expect(pv.get('vx')!.link).toBe('up');
    const nsMac = l.mac(vmB, vmBIf).toString('hex').replace(/(..)(?!$)/g, '$1:');
    expect(pv.get('vx')!.tunnel?.vteps).toContainEqual({ vni: VNI, mac: nsMac, vtep: UL_B, ageS: expect.any(Number) });
    const fdb = await sw.cliJson<{ fdb: Array<{ port: string; mac: string }> }>(['fdb', 'show']);
    // (host B's bridge and devices may appear behind vx too: their IPv6 link-local chatter floods the VNI)
    const learned = fdb.fdb.map((e) => [e.port, e.mac]);
    expect(learned).toContainEqual(['guest', guestMac]);
    expect(learned).toContainEqual(['vx', nsMac]);
    expect(learned.filter(([port]) => port === 'guest'), 'only the guest behind its port').toEqual([['guest', guestMac]]);
    const kfdb = l.exec(hB, ['bridge', 'fdb', 'show', 'dev', vx]);
    expect(kfdb, 'the kernel learned the guest behind host A').toMatch(new RegExp(`^${guestMac} dst ${UL_A.replace(/\./g, '\\.')}`, 'm'));
    expect(pv.get('vx')!.drops['tunnel-too-big'] ?? 0).toBe(tooBig1);

    // ---- TCP from the guest: 3 MiB of random bytes over HTTP, guest (busybox httpd) -> namespace
    // VM (busybox wget). The guest's TSO super-frames arrive whole on the guest port and leave the
    // vxlan port cut to MSS-sized segments, each encapsulated within the underlay MTU.
    const serve = await vm.run(`mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/f bs=1024 count=${FILE_KIB} 2>/dev/null && md5sum /tmp/www/f && httpd -p 8080 -h /tmp/www`, 30_000);
    expect(serve.code, serve.output).toBe(0);
    const guestMd5 = /^([0-9a-f]{32})\s/m.exec(serve.output)?.[1];
    expect(guestMd5, serve.output).toBeDefined();
    const before = await ports(sw);
    const out = join(dir, 'f');
    const get = await l.execAsync(vmB, [kit.busybox, 'wget', '-q', '-O', out, `http://${GUEST_IP}:8080/f`], 120_000);
    expect(get.code, get.stdout + get.stderr + why()).toBe(0);
    expect(statSync(out).size).toBe(FILE_KIB * 1024);
    expect(createHash('md5').update(readFileSync(out)).digest('hex'), 'the file arrived intact').toBe(guestMd5);
    pv = await ports(sw);
    const d = (port: string, k: 'rxPackets' | 'rxBytes' | 'txPackets' | 'txBytes'): number => pv.get(port)![k] - before.get(port)![k];
    const inFrames = d('guest', 'rxPackets'), inBytes = d('guest', 'rxBytes'), outFrames = d('vx', 'txPackets'), outBytes = d('vx', 'txBytes');
    log.push(`${FILE_KIB} KiB guest -> namespace VM: ${inFrames} frames in from the guest (${(inBytes / Math.max(1, inFrames)).toFixed(0)} B average), ${outFrames} frames into the tunnel (${(outBytes / Math.max(1, outFrames)).toFixed(0)} B average)`);
    expect(inBytes).toBeGreaterThan(FILE_KIB * 1024);
    expect(inBytes / inFrames, 'the guest sent super-frames (TSO): more bytes per frame than an MTU holds').toBeGreaterThan(1514);
    expect(outFrames, 'the switch cut them before the tunnel').toBeGreaterThan(inFrames);
    expect(outBytes / outFrames, 'frames into the tunnel average no more than a full frame at the guest MTU (1464 B)').toBeLessThanOrEqual(1464);
    for (const [name, p] of pv) {
      for (const k of ['gso-failed', 'csum-incomplete', 'pool-exhausted', 'tx-too-big', 'tx-full']) expect(p.drops[k] ?? 0, `${name} ${k}`).toBe(before.get(name)!.drops[k] ?? 0);
    }
    expect(pv.get('vx')!.drops['tunnel-too-big'] ?? 0, 'no segment was too big for the tunnel').toBe(tooBig1);

    // the guest's console still answers, and its shell saw no error from the network
    const after = await vmPing(vm, NSVM_IP, { count: 1 });
    expect(after.ok, after.output + why()).toBe(true);
    await vm.stop();
    expect(vm.exited).not.toBeNull();
    console.log(`[qemu-vxlan] ${log.join('; ')}`);
    if (process.env.SLUICE_QEMU_DUMP) console.log(`switch stderr:\n${sw.stderr}\nguest console:\n${vm.console}`);
  });
}, { tools: ['ip', 'ping', 'bridge'] });
