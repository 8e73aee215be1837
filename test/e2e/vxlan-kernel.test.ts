// e2e: a Sluice switch with a VXLAN tunnel port in standalone mode (flood-and-learn) against the
// Linux kernel's vxlan device on another "host" (namespaces joined by an underlay veth): VMs
// (namespaces) on either side ping each other over VNI 5001, in the kernel's learning mode and in
// `nolearning` mode with static `bridge fdb` entries; Sluice learns the remote VM's MAC behind the
// kernel's VTEP; a frame over the underlay MTU is counted tunnel-too-big, one that arrives in
// fragments tunnel-fragment; and a capture of the underlay decodes in tshark as VXLAN with the right VNI, source ports in 49152-65535, DF set,
// zero UDP checksums, and no malformed or expert-error items.
import { expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describePrivileged } from '../helpers/privileged.js';
import type { NetnsLab } from '../helpers/netns.js';
import { run } from '../helpers/netns.js';
import { switchTestKit, ping, tcpdump } from './switch-harness.js';

const { lab, start } = switchTestKit();

interface Bed { l: NetnsLab; hA: string; hB: string; vmA: string; vmB: string; vmAPort: string; ulB: string; vmAIf: string; vmBIf: string }

/**
 * hA (Sluice) and hB (kernel vxlan + a Linux bridge) joined by an underlay veth 10.201.0.1/.2;
 * vmA behind hA's switch, vmB behind hB's bridge, both 10.50.0.x/24 with MTU 1450 (1500 - 50).
 */
function bed(kernelMode: 'learning' | 'nolearning', opts: { boundToDev?: boolean } = {}): Bed {
  const l = lab();
  const hA = l.addNs('ha'), hB = l.addNs('hb'), vmA = l.addNs('va'), vmB = l.addNs('vb');
  const ulA = l.name('ua'), ulB = l.name('ub');
  l.ip(hA, ['link', 'add', ulA, 'type', 'veth', 'peer', 'name', ulB, 'netns', hB]);
  l.addr(hA, ulA, '10.201.0.1/24'); l.up(hA, ulA);
  l.addr(hB, ulB, '10.201.0.2/24'); l.up(hB, ulB);
  // vmA <-> hA (the switch's system port)
  const vmAIf = l.name('ai'), vmAPort = l.name('ap');
  l.ip(vmA, ['link', 'add', vmAIf, 'type', 'veth', 'peer', 'name', vmAPort, 'netns', hA]);
  l.up(hA, vmAPort);
  // vmB <-> hB's bridge, with the kernel vxlan device
  const vmBIf = l.name('bi'), vmBPort = l.name('bp'), br = l.name('br'), vx = l.name('vx');
  l.ip(vmB, ['link', 'add', vmBIf, 'type', 'veth', 'peer', 'name', vmBPort, 'netns', hB]);
  l.ip(hB, ['link', 'add', br, 'type', 'bridge']);
  // bound to the underlay device unless told not to (unbound, its MTU may exceed the underlay's less 50)
  const vxArgs = ['link', 'add', vx, 'type', 'vxlan', 'id', '5001', 'dstport', '4789', 'local', '10.201.0.2', ...(opts.boundToDev === false ? [] : ['dev', ulB])];
  l.ip(hB, kernelMode === 'learning' ? [...vxArgs, 'remote', '10.201.0.1'] : [...vxArgs, 'nolearning']);
  for (const d of [vmBPort, vx]) { l.ip(hB, ['link', 'set', d, 'master', br]); l.up(hB, d); }
  l.up(hB, br);
  for (const [ns, dev, ip] of [[vmA, vmAIf, '10.50.0.1'], [vmB, vmBIf, '10.50.0.2']] as const) {
    l.ip(ns, ['link', 'set', dev, 'mtu', '1450']);
    l.addr(ns, dev, `${ip}/24`);
    l.up(ns, dev);
  }
  if (kernelMode === 'nolearning') {
    // static entries, as an orchestrator would write them: vmA's MAC and the flood entry both at hA
    const macA = l.mac(vmA, vmAIf).toString('hex').replace(/(..)(?!$)/g, '$1:');
    l.exec(hB, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', vx, 'dst', '10.201.0.1']);
    l.exec(hB, ['bridge', 'fdb', 'add', macA, 'dev', vx, 'dst', '10.201.0.1']);
  }
  return { l, hA, hB, vmA, vmB, vmAPort, ulB, vmAIf, vmBIf };
}

function switchYaml(b: Bed): string {
  return 'bridges:\n  br0:\n    ports:\n' +
    `      vm: { ofport: 1, type: system, device: ${b.vmAPort}, vlan: { mode: access, vid: 100 } }\n` +
    '      vx: { ofport: 2, type: vxlan, local: 10.201.0.1, remote: [10.201.0.2], vni: 5001, vlan: { mode: access, vid: 100 } }\n';
}

interface PortDetail { name: string; drops: Record<string, number>; io?: Record<string, number>; tunnel?: { vteps: Array<{ vni: number; mac: string; vtep: string }> } }

describePrivileged('VXLAN against the Linux kernel vxlan device', () => {
  for (const mode of ['learning', 'nolearning'] as const) {
    it(`kernel in ${mode} mode: VMs on two hosts ping over VNI 5001, Sluice learns the remote MAC behind its VTEP`, async () => {
      const b = bed(mode);
      const sw = await start(switchYaml(b), [], {}, b.hA);
      const p = await ping(b.l, b.vmA, '10.50.0.2', 5);
      expect(p.code, p.stdout + p.stderr + sw.stderr).toBe(0);
      const back = await ping(b.l, b.vmB, '10.50.0.1', 3);
      expect(back.code, back.stdout + back.stderr).toBe(0);
      const ports = await sw.cliJson<{ ports: PortDetail[] }>(['port', 'list']);
      const vx = ports.ports.find((x) => x.name === 'vx')!;
      const macB = b.l.mac(b.vmB, b.vmBIf).toString('hex').replace(/(..)(?!$)/g, '$1:');
      expect(vx.tunnel?.vteps).toContainEqual({ vni: 5001, mac: macB, vtep: '10.201.0.2', ageS: expect.any(Number) });
      // the kernel learned vmA behind Sluice's VTEP (learning mode) or was told (nolearning)
      const fdb = b.l.exec(b.hB, ['bridge', 'fdb', 'show', 'dev', b.l.name('vx')]);
      expect(fdb).toContain('dst 10.201.0.1');
    });
  }

  it('a frame larger than the underlay MTU allows is dropped and counted tunnel-too-big, never fragmented', async () => {
    const b = bed('learning');
    const sw = await start(switchYaml(b), [], {}, b.hA);
    expect((await ping(b.l, b.vmA, '10.50.0.2', 2)).code).toBe(0);
    // vmA may send 1500-byte IP packets: inner frame 1514 + 36 > 1500
    b.l.ip(b.vmA, ['link', 'set', b.vmAIf, 'mtu', '1500']);
    const big = await ping(b.l, b.vmA, '10.50.0.2', 3, ['-s', '1472', '-M', 'do']);
    expect(big.code).not.toBe(0);
    const ports = await sw.cliJson<{ ports: PortDetail[] }>(['port', 'list']);
    expect(ports.ports.find((x) => x.name === 'vx')!.drops['tunnel-too-big']).toBeGreaterThanOrEqual(3);
    // small frames still pass
    expect((await ping(b.l, b.vmA, '10.50.0.2', 2)).code).toBe(0);
  });

  it('datagrams that arrive in IP fragments (the kernel does not set DF) are dropped and counted tunnel-fragment', async () => {
    const b = bed('learning', { boundToDev: false });
    const sw = await start(switchYaml(b), [], {}, b.hA);
    expect((await ping(b.l, b.vmB, '10.50.0.1', 2)).code).toBe(0);
    // vmB and the kernel's vxlan device take 1500-byte packets: encapsulated they are 1550 bytes and
    // leave hB in two fragments (the kernel's vxlan device does not set DF unless told to)
    b.l.ip(b.hB, ['link', 'set', b.l.name('vx'), 'mtu', '1500']);
    b.l.ip(b.vmB, ['link', 'set', b.vmBIf, 'mtu', '1500']);
    const big = await ping(b.l, b.vmB, '10.50.0.1', 3, ['-s', '1472', '-M', 'dont']);   // inner DF clear, or the kernel answers frag-needed itself
    expect(big.code).not.toBe(0);
    const ports = await sw.cliJson<{ ports: PortDetail[] }>(['port', 'list']);
    expect(ports.ports.find((x) => x.name === 'vx')!.drops['tunnel-fragment']).toBeGreaterThanOrEqual(3);
    expect((await ping(b.l, b.vmB, '10.50.0.1', 2)).code).toBe(0);
  });
}, { tools: ['ip', 'ping', 'bridge'] });

describePrivileged('VXLAN underlay capture decoded by tshark', () => {
  it('tshark sees VXLAN with VNI 5001, hashed source ports, DF, zero UDP checksum, no malformed or expert errors', async () => {
    const b = bed('learning');
    await start(switchYaml(b), [], {}, b.hA);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-vxcap-'));
    try {
      const file = join(dir, 'underlay.pcap');
      const cap = tcpdump(b.l, b.hB, b.ulB, ['-Z', 'root', '--immediate-mode', '-w', file, '-U', 'udp', 'port', '4789']);
      await cap.ready;
      const p = await ping(b.l, b.vmA, '10.50.0.2', 4);
      expect(p.code, p.stdout + p.stderr).toBe(0);
      await cap.stop();
      const fields = run('tshark', ['-r', file, '-Y', 'vxlan && ip.src == 10.201.0.1', '-T', 'fields', '-E', 'occurrence=f', '-e', 'vxlan.vni', '-e', 'udp.srcport', '-e', 'ip.flags.df', '-e', 'udp.checksum', '-e', 'vxlan.flags', '-e', 'icmp.type'], 30_000)
        .trim().split('\n').filter(Boolean).map((line) => line.split('\t'));
      expect(fields.length).toBeGreaterThanOrEqual(4);   // at least the echo requests
      for (const [vni, sport, df, csum, flags] of fields) {
        expect(vni).toBe('5001');
        expect(Number(sport)).toBeGreaterThanOrEqual(49152);
        expect(['1', 'True', 'true']).toContain(df);
        expect(Number(csum)).toBe(0);
        expect(parseInt(flags, 16) & 0x0800).toBe(0x0800);   // the I flag (first byte 0x08)
      }
      const expert = run('tshark', ['-r', file, '-z', 'expert,warn', '-q'], 30_000);
      expect(expert).not.toMatch(/Malformed|Error\s+\(/);
      const malformed = run('tshark', ['-r', file, '-Y', '_ws.malformed || _ws.expert.severity >= warning'], 30_000).trim();
      expect(malformed).toBe('');
      // one ICMP flow (the echo requests): one source port for all its datagrams
      const echo = fields.filter((f) => f[5] === '8');
      expect(echo.length).toBeGreaterThanOrEqual(4);
      expect(new Set(echo.map((f) => f[1])).size).toBe(1);
      expect(readFileSync(file).length).toBeGreaterThan(24);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}, { tools: ['ip', 'ping', 'bridge', 'tcpdump', 'tshark'] });
