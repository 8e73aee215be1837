// e2e: Sluice to Sluice over VXLAN, standalone (flood-and-learn): hosts are namespaces on an
// underlay Linux bridge, each running `sluice switch` with one vxlan port carrying two networks
// (blue VNI 5001 <-> VLAN 100, red VNI 5002 <-> VLAN 200) and a VM namespace per network. The whole
// reachability matrix (same network across hosts works, across networks never; a red VM sees no
// blue frame); a VM that moves to another host is relearned behind its new VTEP; then BFD: sessions
// come up, a host killed is detected (its VTEP leaves the flood lists and its MACs are flushed, the
// port goes down when no session is left), and it comes back.
import { expect, it } from 'vitest';
import { describePrivileged, itWithTools } from '../helpers/privileged.js';
import type { NetnsLab } from '../helpers/netns.js';
import { switchTestKit, ping, tcpdump, type SwitchProc } from './switch-harness.js';

const { lab, start } = switchTestKit();

interface Vm { ns: string; dev: string; ip: string; net: 'blue' | 'red' }
interface HostBed { ns: string; ul: string; ip: string; vms: Vm[]; yaml: string }

const NETS = { blue: { vni: 5001, vid: 100, subnet: '10.60.0' }, red: { vni: 5002, vid: 200, subnet: '10.61.0' } } as const;

/** `n` hosts on an underlay bridge (10.202.0.i/24), each with a blue and a red VM (10.60.0.i, 10.61.0.i). */
function testbed(l: NetnsLab, n: number, bfd: string | null): HostBed[] {
  const ul = l.addNs('ul');
  const br = l.name('ubr');
  l.ip(ul, ['link', 'add', br, 'type', 'bridge']);
  l.up(ul, br);
  const hosts: HostBed[] = [];
  for (let i = 1; i <= n; i++) {
    const ns = l.addNs(`h${i}`);
    const a = l.name(`u${i}`), b = l.name(`U${i}`);
    l.ip(ns, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', ul]);
    l.ip(ul, ['link', 'set', b, 'master', br]); l.up(ul, b);
    const ip = `10.202.0.${i}`;
    l.addr(ns, a, `${ip}/24`); l.up(ns, a);
    hosts.push({ ns, ul: a, ip, vms: [], yaml: '' });
  }
  for (const [i, h] of hosts.entries()) {
    let ports = '';
    let ofport = 1;
    for (const net of ['blue', 'red'] as const) {
      const vmNs = l.addNs(`${net[0]}${i + 1}`);
      const dev = l.name(`${net[0]}v${i + 1}`), port = l.name(`${net[0]}p${i + 1}`);
      l.ip(vmNs, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', port, 'netns', h.ns]);
      l.up(h.ns, port);
      const ip = `${NETS[net].subnet}.${i + 1}`;
      l.ip(vmNs, ['link', 'set', dev, 'mtu', '1450']);
      l.addr(vmNs, dev, `${ip}/24`); l.up(vmNs, dev);
      h.vms.push({ ns: vmNs, dev, ip, net });
      ports += `      ${net}: { ofport: ${ofport++}, type: system, device: ${port}, vlan: { mode: access, vid: ${NETS[net].vid} } }\n`;
    }
    const remotes = hosts.filter((o) => o !== h).map((o) => o.ip).join(', ');
    ports += `      vx: { ofport: 10, type: vxlan, local: ${h.ip}, remote: [${remotes}], networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200 }]${bfd ? `, bfd: ${bfd}` : ''} }\n`;
    h.yaml = `bridges:\n  br0:\n    ports:\n${ports}`;
  }
  return hosts;
}

interface TunnelView { tunnel: { endpoints: Array<{ vtep: string; up: boolean }>; vteps: Array<{ vni: number; mac: string; vtep: string }>; bfd?: Array<{ vtep: string; state: string; forwarding: boolean; diagnostic: string }> }; link: string }
async function tunnel(sw: SwitchProc): Promise<TunnelView> {
  const r = await sw.cliJson<{ ports: Array<TunnelView & { name: string }> }>(['port', 'list']);
  return r.ports.find((p) => p.name === 'vx')!;
}

describePrivileged('VXLAN between Sluice switches (standalone, flood-and-learn)', () => {
  it('three hosts, two networks: every VM pair of a network reaches each other both ways; none across networks; red never sees blue', async () => {
    const l = lab();
    const hosts = testbed(l, 3, null);
    for (const h of hosts) await start(h.yaml, [], {}, h.ns);
    const vms = hosts.flatMap((h) => h.vms);
    // a capture on one red VM for the whole matrix: nothing of blue may reach it
    const red1 = vms.find((v) => v.net === 'red')!;
    const cap = tcpdump(l, red1.ns, red1.dev, ['-n', '--immediate-mode', 'net', NETS.blue.subnet + '.0/24']);
    await cap.ready;
    const results: string[] = [];
    for (const a of vms) {
      for (const b of vms) {
        if (a === b) continue;
        const r = await ping(l, a.ns, b.ip, 1, ['-W', a.net === b.net ? '2' : '1']);
        const ok = r.code === 0;
        // the first packet of a pair may meet an empty ARP cache on every hop: retry once before calling it lost
        const ok2 = ok || (a.net === b.net && (await ping(l, a.ns, b.ip, 2)).code === 0);
        results.push(`${a.ip}->${b.ip}:${ok2 ? 'ok' : 'no'}`);
        expect(ok2, `${a.net} ${a.ip} -> ${b.net} ${b.ip}`).toBe(a.net === b.net);
      }
    }
    const seen = await cap.stop();
    expect(seen.stdout.trim(), 'blue frames on a red VM').toBe('');
    expect(results.filter((r) => r.endsWith('ok'))).toHaveLength(2 * 3 * 2);
  });

  it('a VM that moves to another host (same MAC and address) is relearned behind its new VTEP by the others', async () => {
    const l = lab();
    const hosts = testbed(l, 3, null);
    const sws: SwitchProc[] = [];
    for (const h of hosts) sws.push(await start(h.yaml, [], {}, h.ns));
    const b1 = hosts[0].vms.find((v) => v.net === 'blue')!, b3 = hosts[2].vms.find((v) => v.net === 'blue')!;
    expect((await ping(l, b3.ns, b1.ip, 2)).code).toBe(0);
    const mac = l.mac(b1.ns, b1.dev).toString('hex').replace(/(..)(?!$)/g, '$1:');
    const behind = async (): Promise<string | undefined> => (await tunnel(sws[2]!)).tunnel.vteps.find((e) => e.mac === mac && e.vni === 5001)?.vtep;
    expect(await behind()).toBe('10.202.0.1');
    // migrate: the VM leaves host 1 and comes up on host 2 with the same MAC and address
    l.ip(b1.ns, ['link', 'del', b1.dev]);
    const mig = l.addNs('mg'), dev = l.name('mgv'), port = l.name('mgp');
    l.ip(mig, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', port, 'netns', hosts[1].ns]);
    l.up(hosts[1].ns, port);
    l.ip(mig, ['link', 'set', dev, 'address', mac, 'mtu', '1450']);
    l.addr(mig, dev, `${b1.ip}/24`); l.up(mig, dev);
    const added = await sws[1]!.cli(['port', 'add', 'mig', '--ofport', '5', '--type', 'system', '--device', port, '--vlan', 'access:100']);
    expect(added.code, added.stderr).toBe(0);
    // its first frames (ARP, a ping) go out from host 2: host 3 relearns the MAC behind host 2's VTEP
    const there = await ping(l, mig, b3.ip, 3);
    expect(there.code, there.stdout + there.stderr).toBe(0);
    expect(await behind()).toBe('10.202.0.2');
    const back = await ping(l, b3.ns, b1.ip, 2);
    expect(back.code, back.stdout + back.stderr).toBe(0);
  });

  it('IPv6 underlay: two hosts, VNI 5001, VMs ping both ways (UDP checksums computed, as IPv6 requires)', async () => {
    const l = lab();
    const ul = l.addNs('ul');
    const br = l.name('ubr');
    l.ip(ul, ['link', 'add', br, 'type', 'bridge']);
    l.up(ul, br);
    const hostIps = ['fd00:202::1', 'fd00:202::2'];
    const vms: Vm[] = [];
    for (const [i, ip] of hostIps.entries()) {
      const ns = l.addNs(`h${i + 1}`);
      const a = l.name(`u${i + 1}`), b = l.name(`U${i + 1}`);
      l.ip(ns, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', ul]);
      l.ip(ul, ['link', 'set', b, 'master', br]); l.up(ul, b);
      l.ip(ns, ['addr', 'add', `${ip}/64`, 'dev', a, 'nodad']); l.up(ns, a);
      const vmNs = l.addNs(`b${i + 1}`), dev = l.name(`bv${i + 1}`), port = l.name(`bp${i + 1}`);
      l.ip(vmNs, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', port, 'netns', ns]);
      l.up(ns, port);
      l.ip(vmNs, ['link', 'set', dev, 'mtu', '1430']);   // 1500 - 70
      l.addr(vmNs, dev, `10.64.0.${i + 1}/24`); l.up(vmNs, dev);
      vms.push({ ns: vmNs, dev, ip: `10.64.0.${i + 1}`, net: 'blue' });
      await start(`bridges:\n  br0:\n    ports:\n      vm: { ofport: 1, type: system, device: ${port}, vlan: { mode: access, vid: 100 } }\n` +
        `      vx: { ofport: 2, type: vxlan, local: "${ip}", remote: ["${hostIps[1 - i]}"], vni: 5001, vlan: { mode: access, vid: 100 } }\n`, [], {}, ns);
    }
    const there = await ping(l, vms[0]!.ns, vms[1]!.ip, 3);
    expect(there.code, there.stdout + there.stderr).toBe(0);
    expect((await ping(l, vms[1]!.ns, vms[0]!.ip, 3)).code).toBe(0);
    // the kernel of the receiving host dropped nothing for a bad UDP checksum
    const snmp = l.exec(l.name('h2'), ['cat', '/proc/net/snmp6']);
    expect(Number(/Udp6InCsumErrors\s+(\d+)/.exec(snmp)?.[1] ?? 0)).toBe(0);
  });

  itWithTools('remote: flow, vni: flow programmed with ovs-ofctl: set_field tun_id/tun_dst to send, match tun_id/tun_src to receive', ['ovs-ofctl'], async () => {
    const l = lab();
    const ul = l.addNs('ul');
    const br = l.name('ubr');
    l.ip(ul, ['link', 'add', br, 'type', 'bridge']);
    l.up(ul, br);
    const vms: Vm[] = [];
    for (let i = 1; i <= 2; i++) {
      const ns = l.addNs(`h${i}`);
      const a = l.name(`u${i}`), b = l.name(`U${i}`);
      l.ip(ns, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', ul]);
      l.ip(ul, ['link', 'set', b, 'master', br]); l.up(ul, b);
      l.addr(ns, a, `10.202.0.${i}/24`); l.up(ns, a);
      const vmNs = l.addNs(`b${i}`), dev = l.name(`bv${i}`), port = l.name(`bp${i}`);
      l.ip(vmNs, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', port, 'netns', ns]);
      l.up(ns, port);
      l.ip(vmNs, ['link', 'set', dev, 'mtu', '1450']);
      l.addr(vmNs, dev, `10.65.0.${i}/24`); l.up(vmNs, dev);
      vms.push({ ns: vmNs, dev, ip: `10.65.0.${i}`, net: 'blue' });
      await start(`bridges:\n  br0:\n    fail-mode: secure\n    listen: "ptcp:6634:127.0.0.1"\n    ports:\n      vm: { ofport: 1, type: system, device: ${port} }\n` +
        `      vx: { ofport: 2, type: vxlan, local: 10.202.0.${i}, remote: flow, vni: flow }\n`, [], {}, ns);
      const other = 3 - i;
      for (const f of [`in_port=1,actions=set_field:7777->tun_id,set_field:10.202.0.${other}->tun_dst,output:2`, `in_port=2,tun_id=7777,tun_src=10.202.0.${other},actions=output:1`]) {
        l.exec(ns, ['ovs-ofctl', '-O', 'OpenFlow13', 'add-flow', 'tcp:127.0.0.1:6634', f]);
      }
    }
    const r = await ping(l, vms[0]!.ns, vms[1]!.ip, 3);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // the receiving flow counted the frames: it matched on tun_id and tun_src
    const dump = l.exec(l.name('h2'), ['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', 'tcp:127.0.0.1:6634']);
    const rx = dump.split('\n').find((x) => /tun_id=0x1e61/.test(x) && /tun_src=10\.202\.0\.1/.test(x));
    expect(rx, dump).toBeDefined();
    expect(Number(/n_packets=(\d+)/.exec(rx!)?.[1] ?? 0)).toBeGreaterThanOrEqual(3);
  });

  it('BFD: sessions come up; a host killed is detected, its VTEP leaves the flood lists and its MACs are flushed; it comes back', async () => {
    const l = lab();
    const hosts = testbed(l, 2, '{ enable: true, min-tx: 100, min-rx: 100, multiplier: 3 }');
    const sw1 = await start(hosts[0].yaml, ['--metrics-port', '9477'], {}, hosts[0].ns);
    /** Prometheus text of host 1's switch (its metrics listen on 127.0.0.1 inside the host's namespace). */
    const metrics = async (): Promise<string> => (await l.execAsync(hosts[0].ns, [process.execPath, '-e', 'fetch("http://127.0.0.1:9477/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))'], 15_000)).stdout;
    // alone, host 1's session cannot come up and its tunnel port stays down
    let t = await tunnel(sw1);
    expect(t.tunnel.bfd?.[0].state).toBe('down');
    expect(t.link).toBe('down');
    let sw2 = await start(hosts[1].yaml, [], {}, hosts[1].ns);
    for (const sw of [sw1, sw2]) {
      const end = Date.now() + 15_000;
      while ((await tunnel(sw)).tunnel.bfd?.[0].state !== 'up') {
        if (Date.now() > end) throw new Error(`BFD did not come up: ${JSON.stringify((await tunnel(sw)).tunnel.bfd)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    t = await tunnel(sw1);
    expect(t.link).toBe('up');
    expect(await metrics()).toMatch(/^sluice_tunnel_bfd_up\{[^}]*port="vx"[^}]*vtep="10\.202\.0\.2"[^}]*state="up"[^}]*\} 1$/m);
    const st = await sw1.cli(['stats']);
    expect(st.stdout).toMatch(/vx\W+10\.202\.0\.2\W+yes\W+up\b/);
    expect(t.tunnel.endpoints).toEqual([{ vtep: '10.202.0.2', up: true }]);
    const blue = (i: number): Vm => hosts[i].vms.find((v) => v.net === 'blue')!;
    expect((await ping(l, blue(0).ns, blue(1).ip, 3)).code).toBe(0);
    expect((await tunnel(sw1)).tunnel.vteps.some((e) => e.vtep === '10.202.0.2')).toBe(true);

    // host 2 dies: host 1 detects it (detection time 3 x 100 ms; measured on the switch's clock, polled with slack)
    const t0 = Date.now();
    sw2.signal('SIGKILL');
    let down: TunnelView | null = null;
    while (Date.now() - t0 < 10_000) {
      const v = await tunnel(sw1);
      if (v.tunnel.bfd?.[0].state === 'down') { down = v; break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(down, 'BFD down after the peer died').not.toBeNull();
    console.log(`[vxlan] BFD detected the dead peer after ~${Date.now() - t0} ms (detection time 300 ms)`);
    expect(down!.tunnel.bfd![0].diagnostic).toMatch(/Control Detection Time Expired/i);
    expect(down!.tunnel.endpoints).toEqual([{ vtep: '10.202.0.2', up: false }]);
    expect(down!.tunnel.vteps.filter((e) => e.vtep === '10.202.0.2')).toEqual([]);
    expect(down!.link).toBe('down');
    expect(await metrics()).toMatch(/^sluice_tunnel_bfd_up\{[^}]*vtep="10\.202\.0\.2"[^}]*state="down"[^}]*\} 0$/m);
    expect(await metrics()).toMatch(/^sluice_port_up\{[^}]*port="vx"[^}]*\} 0$/m);
    await sw2.stop();

    // it comes back
    sw2 = await start(hosts[1].yaml, [], {}, hosts[1].ns);
    const end = Date.now() + 15_000;
    while ((await tunnel(sw1)).tunnel.bfd?.[0].state !== 'up') {
      if (Date.now() > end) throw new Error('BFD did not come back up');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await ping(l, blue(0).ns, blue(1).ip, 3)).code).toBe(0);
  });
}, { tools: ['ip', 'ping', 'tcpdump'] });
