// e2e: a Sluice switch with a VXLAN tunnel port in standalone mode (flood-and-learn) against Open
// vSwitch 3.1's userspace (netdev) datapath on another "host" (namespaces joined by an underlay
// veth): VMs (namespaces) on either side ping each other over VNI 5001, with OVS's integration
// bridge doing NORMAL (it learns, and learns its tunnel ARP entry) or static OpenFlow flows (with a
// static tunnel route and ARP entry); Sluice learns the OVS VM's MAC behind OVS's VTEP, and OVS's
// datapath shows it encapsulated and decapsulated the traffic itself (tnl_push / tnl_pop).
//
// How OVS userspace tunnelling has to be set up (its netdev datapath routes the tunnel itself, it
// never hands VXLAN to the kernel):
//   - the underlay address sits on an OVS bridge (br-phy: its LOCAL port is a TAP device in hB),
//     the underlay veth is a port of that bridge and has no address of its own;
//   - the tunnel port (vx0, type=vxlan, options:key, options:remote_ip) sits on another bridge
//     (br-int) with the VM's port;
//   - OVS keeps its own route table (ovs/route/show: routes it cached from the kernel of the
//     namespace it runs in, plus ovs/route/add ones) and its own ARP table (tnl/arp/show: what it
//     snooped on br-phy or resolved itself, plus tnl/arp/set ones); a frame to a remote it has no
//     entry for is dropped while OVS sends the ARP request;
//   - received VXLAN is popped only when it reaches br-phy's LOCAL port (addressed to br-phy's MAC):
//     the kernel's own ARP on the underlay veth is turned off, or it answers too with the veth's
//     MAC and the hosts' kernels get VXLAN they answer with ICMP port unreachable.
// The last `it` (BFD between the two VTEPs) depends on Sluice's BFD integration, see there.
import { expect, it } from 'vitest';
import { MgmtClient } from '../../src/agent/mgmt-client.js';
import { describePrivileged } from '../helpers/privileged.js';
import type { NetnsLab } from '../helpers/netns.js';
import { startOvs, type Ovs } from '../helpers/ovs.js';
import { switchTestKit, ping, type SwitchProc } from './switch-harness.js';

const { lab, start, defer } = switchTestKit();

const UL_A = '10.202.0.1', UL_B = '10.202.0.2';
const VM_A = '10.51.0.1', VM_B = '10.51.0.2';
const VNI = 5001;
/** br-phy's MAC: fixed and unlike the underlay veth's, so the veth's kernel side never takes the tunnel's frames. */
const PHY_MAC = '02:5c:00:00:02:02';
/** OpenFlow ports on br-int. */
const OF_VM = 1, OF_VX = 2;

type OvsMode = 'normal' | 'static';

interface Bed {
  l: NetnsLab; ovs: Ovs;
  hA: string; hB: string; vmA: string; vmB: string;
  vmAPort: string; vmAIf: string; vmBIf: string; ulA: string; ulB: string;
  macA: string; macB: string; macUlA: string;
}

const macText = (b: Buffer): string => b.toString('hex').replace(/(..)(?!$)/g, '$1:');

/**
 * hA (Sluice) and hB (Open vSwitch, both daemons inside hB) joined by an underlay veth: ulA holds
 * 10.202.0.1, ulB is a port of OVS's br-phy, which holds 10.202.0.2. vmA behind hA's switch, vmB
 * behind OVS's br-int (with vx0: VNI 5001 to 10.202.0.1), both 10.51.0.x/24 with MTU 1450.
 * `normal`: br-int forwards with NORMAL (standalone) and OVS finds its tunnel route (cached from
 * hB's kernel) and ARP entry by itself; `static`: br-int has only the two flows VM <-> tunnel
 * (secure, no NORMAL), OVS is given a host route and ARP entry for the remote VTEP.
 */
async function bed(mode: OvsMode): Promise<Bed> {
  const l = lab();
  const hA = l.addNs('ha'), hB = l.addNs('hb'), vmA = l.addNs('va'), vmB = l.addNs('vb');
  const ulA = l.name('ua'), ulB = l.name('ub');
  l.ip(hA, ['link', 'add', ulA, 'type', 'veth', 'peer', 'name', ulB, 'netns', hB]);
  l.addr(hA, ulA, `${UL_A}/24`); l.up(hA, ulA);
  // no address and no ARP on hB's end: OVS owns it (see the header)
  l.ip(hB, ['link', 'set', ulB, 'arp', 'off']); l.up(hB, ulB);
  const vmAIf = l.name('ai'), vmAPort = l.name('ap');
  l.ip(vmA, ['link', 'add', vmAIf, 'type', 'veth', 'peer', 'name', vmAPort, 'netns', hA]);
  l.up(hA, vmAPort);
  const vmBIf = l.name('bi'), vmBPort = l.name('bp');
  l.ip(vmB, ['link', 'add', vmBIf, 'type', 'veth', 'peer', 'name', vmBPort, 'netns', hB]);
  l.up(hB, vmBPort);
  for (const [ns, dev, ip] of [[vmA, vmAIf, VM_A], [vmB, vmBIf, VM_B]] as const) {
    l.ip(ns, ['link', 'set', dev, 'mtu', '1450']);
    l.addr(ns, dev, `${ip}/24`);
    l.up(ns, dev);
  }

  const ovs = await startOvs({ netns: hB, prefix: 'sluice-ovsvx-' });
  defer(() => ovs.stop());   // before the lab's namespaces go (the kit runs deferred clean-ups first)
  ovs.vsctl(['add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev', 'fail-mode=standalone', `other_config:hwaddr="${PHY_MAC}"`]);
  ovs.vsctl(['add-port', 'br-phy', ulB]);
  l.addr(hB, 'br-phy', `${UL_B}/24`); l.up(hB, 'br-phy');
  ovs.vsctl(['add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', `fail-mode=${mode === 'normal' ? 'standalone' : 'secure'}`]);
  ovs.vsctl(['add-port', 'br-int', vmBPort, '--', 'set', 'interface', vmBPort, `ofport_request=${OF_VM}`]);
  ovs.vsctl(['add-port', 'br-int', 'vx0', '--', 'set', 'interface', 'vx0', 'type=vxlan', `options:key=${VNI}`, `options:remote_ip=${UL_A}`, `ofport_request=${OF_VX}`]);
  const macUlA = macText(l.mac(hA, ulA));
  if (mode === 'static') {
    ovs.ofctl(['add-flow', 'br-int', `priority=100,in_port=${OF_VM},actions=output:${OF_VX}`]);
    ovs.ofctl(['add-flow', 'br-int', `priority=100,in_port=${OF_VX},actions=output:${OF_VM}`]);
    ovs.appctl(['ovs/route/add', `${UL_A}/32`, 'br-phy']);
    ovs.appctl(['tnl/arp/set', 'br-phy', UL_A, macUlA]);
  }
  return { l, ovs, hA, hB, vmA, vmB, vmAPort, vmAIf, vmBIf, ulA, ulB, macA: macText(l.mac(vmA, vmAIf)), macB: macText(l.mac(vmB, vmBIf)), macUlA };
}

interface BfdYaml { minTx: number; minRx: number; multiplier: number }

function switchYaml(b: Bed, bfd?: BfdYaml): string {
  const bfdKey = bfd ? `, bfd: { enable: true, min-tx: ${bfd.minTx}, min-rx: ${bfd.minRx}, multiplier: ${bfd.multiplier} }` : '';
  return 'bridges:\n  br0:\n    ports:\n' +
    `      vm: { ofport: 1, type: system, device: ${b.vmAPort}, vlan: { mode: access, vid: 100 } }\n` +
    `      vx: { ofport: 2, type: vxlan, local: ${UL_A}, remote: [${UL_B}], vni: ${VNI}, vlan: { mode: access, vid: 100 }${bfdKey} }\n`;
}

interface BfdEntry { vtep: string; state: 'up' | 'down' | 'init' | 'admin-down'; diagnostic: string }
interface PortDetail {
  name: string; drops: Record<string, number>;
  tunnel?: { endpoints: Array<{ vtep: string; up: boolean }>; vteps: Array<{ vni: number; mac: string; vtep: string; ageS: number }>; bfd?: BfdEntry[] };
}

/** What OVS knows of the tunnel, for failure messages. */
function ovsState(b: Bed): string {
  const parts: string[] = [];
  for (const args of [['ovs/route/show'], ['tnl/arp/show'], ['tnl/ports/show'], ['dpctl/dump-flows'], ['fdb/show', 'br-int']]) {
    try { parts.push(`$ ovs-appctl ${args.join(' ')}\n${b.ovs.appctl(args)}`); } catch (e) { parts.push(`ovs-appctl ${args.join(' ')}: ${(e as Error).message}`); }
  }
  try { parts.push(`$ ovs-ofctl dump-flows br-int\n${b.ovs.ofctl(['dump-flows', 'br-int'])}`); } catch { /* OVS gone */ }
  return parts.join('\n');
}

/** Poll `probe` (every ~50 ms plus its own run time) until it returns a value; that value and the wall-clock ms it was seen at. */
async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<{ value: T; atMs: number }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    const atMs = Date.now();
    if (v !== undefined) return { value: v, atMs };
    if (atMs > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An OVSDB map as ovs-vsctl prints it: {diagnostic="No Diagnostic", state=up, ...}. */
function parseOvsdbMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.trim().replace(/^\{|\}$/g, '').matchAll(/([\w-]+)=("(?:[^"\\]|\\.)*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

describePrivileged('VXLAN against Open vSwitch 3.1 userspace (netdev) tunnels', () => {
  for (const mode of ['normal', 'static'] as const) {
    const what = mode === 'normal'
      ? 'OVS with NORMAL (flood-and-learn), tunnel route and ARP found by OVS itself'
      : 'OVS with static flows, a static tunnel route and ARP entry';
    it(`${what}: VMs on two hosts ping over VNI ${VNI}, Sluice learns the OVS VM's MAC behind OVS's VTEP`, async () => {
      const b = await bed(mode);
      const sw = await start(switchYaml(b), [], {}, b.hA);
      const p = await ping(b.l, b.vmA, VM_B, 5);
      expect(p.code, `${p.stdout}${p.stderr}\n${sw.stderr}\n${ovsState(b)}`).toBe(0);
      const back = await ping(b.l, b.vmB, VM_A, 3);
      expect(back.code, `${back.stdout}${back.stderr}\n${ovsState(b)}`).toBe(0);

      const ports = await sw.cliJson<{ ports: PortDetail[] }>(['port', 'list']);
      const vx = ports.ports.find((x) => x.name === 'vx')!;
      expect(vx.tunnel?.vteps).toContainEqual({ vni: VNI, mac: b.macB, vtep: UL_B, ageS: expect.any(Number) });
      expect(vx.tunnel?.endpoints).toEqual([{ vtep: UL_B, up: true }]);

      // OVS's datapath encapsulated and decapsulated the traffic itself, VNI 5001 (0x1389)
      const dp = b.ovs.appctl(['dpctl/dump-flows']);
      expect(dp).toMatch(new RegExp(`tnl_push\\(tnl_port\\(\\d+\\),header\\(.*ipv4\\(src=${UL_B.replace(/\./g, '\\.')},dst=${UL_A.replace(/\./g, '\\.')},proto=17.*vxlan\\(flags=0x8000000,vni=0x1389\\)`));
      expect(dp).toMatch(/tnl_pop\(\d+\)/);
      expect(dp).toMatch(new RegExp(`tunnel\\(tun_id=0x1389,src=${UL_A.replace(/\./g, '\\.')},dst=${UL_B.replace(/\./g, '\\.')}`));
      // its tunnel route and neighbour for Sluice's VTEP
      expect(b.ovs.appctl(['ovs/route/lookup', UL_A])).toMatch(/dev br-phy/);
      const arp = b.ovs.appctl(['tnl/arp/show']);
      expect(arp).toMatch(new RegExp(`^${UL_A.replace(/\./g, '\\.')}\\s+${b.macUlA}\\s+br-phy\\s*$`, 'm'));
      if (mode === 'normal') {
        // learned from the kernel's routes in hB, and OVS learned vmA's MAC behind the tunnel port
        expect(b.ovs.appctl(['ovs/route/show'])).toMatch(/Cached: 10\.202\.0\.0\/24 dev br-phy/);
        expect(b.ovs.appctl(['fdb/show', 'br-int'])).toMatch(new RegExp(`^\\s*${OF_VX}\\s+0\\s+${b.macA}\\s`, 'm'));
      } else {
        expect(b.ovs.appctl(['ovs/route/show'])).toMatch(/User: 10\.202\.0\.1\/32 dev br-phy/);
        const flows = b.ovs.ofctl(['dump-flows', 'br-int']);
        for (const [from, to] of [[OF_VM, OF_VX], [OF_VX, OF_VM]]) {
          const line = flows.split('\n').find((f) => f.includes(`in_port=${from} `) || f.includes(`in_port=${from},`) || f.includes(`in_port="${from}"`));
          expect(line, flows).toBeDefined();
          expect(line).toContain(`actions=output:${to}`);
          expect(Number(/n_packets=(\d+)/.exec(line!)?.[1])).toBeGreaterThanOrEqual(3);
        }
      }
    }, 90_000);
  }

  // Sluice's side: the vxlan port's `bfd: { enable, min-tx, min-rx, multiplier }` and the session
  // state in `sluice port list --json` under `tunnel.bfd` ([{ vtep, state, diagnostic, ... }], the
  // names of Open vSwitch's bfd_status column).
  it('BFD over the tunnel with OVS (bfd:enable=true): both come up; a killed Sluice is seen down by OVS, a killed ovs-vswitchd by Sluice, each within its detection time', async () => {
    const SLACK_MS = 1500;   // scheduling room on a busy 2-vCPU machine (STYLE 4.13), beyond the detection time
    const sluiceBfd: BfdYaml = { minTx: 100, minRx: 1000, multiplier: 3 };
    const ovsMinTx = 100, ovsMinRx = 1000, ovsMult = 3;
    const b = await bed('normal');
    b.ovs.vsctl(['set', 'interface', 'vx0', 'bfd:enable=true', `bfd:min_tx=${ovsMinTx}`, `bfd:min_rx=${ovsMinRx}`, `bfd:mult=${ovsMult}`]);
    const yaml = switchYaml(b, sluiceBfd);
    let sw: SwitchProc = await start(yaml, [], {}, b.hA);

    const ovsBfd = async (): Promise<Record<string, string>> => parseOvsdbMap(await b.ovs.vsctlAsync(['get', 'interface', 'vx0', 'bfd_status']));
    const sluiceSession = async (s: SwitchProc): Promise<BfdEntry | undefined> => {
      const r = await new MgmtClient(s.socket).get<{ ports: PortDetail[] }>('/ports');   // what `sluice port list --json` prints
      return r.ports.find((x) => x.name === 'vx')?.tunnel?.bfd?.find((e) => e.vtep === UL_B);
    };
    const bothUp = async (s: SwitchProc): Promise<void> => {
      await pollUntil('OVS bfd_status state=up', 30_000, async () => ((await ovsBfd()).state === 'up' ? true : undefined))
        .catch((e: Error) => { throw new Error(`${e.message}\n${b.ovs.appctl(['bfd/show', 'vx0'])}\n${s.stderr}`); });
      await pollUntil('Sluice tunnel.bfd state up', 30_000, async () => ((await sluiceSession(s))?.state === 'up' ? true : undefined));
      expect((await ovsBfd()).forwarding).toBe('true');
    };

    await bothUp(sw);
    expect((await ping(b.l, b.vmA, VM_B, 3)).code).toBe(0);

    // 1. Sluice dies (SIGKILL: no AdminDown, no last packet): OVS's session times out. The window is
    //    the detection time as OVS computes it (remote's multiplier x its RX interval), from bfd/show.
    const show = b.ovs.appctl(['bfd/show', 'vx0']);
    const rxMs = Number(/RX Interval: Approx (\d+)ms/.exec(show)?.[1]);
    const remoteMult = Number(/Remote Detect Multiplier: (\d+)/.exec(show)?.[1]);
    expect(rxMs, show).toBeGreaterThan(0);
    expect(remoteMult, show).toBe(sluiceBfd.multiplier);
    const ovsDetectMs = rxMs * remoteMult;
    const killedAt = Date.now();
    sw.signal('SIGKILL');
    const seen = await pollUntil('OVS to report BFD down', ovsDetectMs + SLACK_MS + 10_000, async () => {
      const st = await ovsBfd();
      return st.state !== 'up' ? st : undefined;
    });
    expect(seen.value.state).toBe('down');
    expect(seen.value.diagnostic).toBe('Control Detection Time Expired');
    expect(seen.value.forwarding).toBe('false');
    // when OVS itself logged the change (its own clock, ms; the BFD monitor thread logs as
    // "bfd(monitorN)"), else when the poll saw it (later). No lower bound: the diagnostic says why it
    // went down, and a Sluice kept off the CPU before the kill would make the session end earlier.
    const logged = [...b.ovs.log().matchAll(/^(\S+Z)\|\d+\|bfd(?:\([^)]*\))?\|\w+\|vx0: BFD state change: up->down/gm)].pop();
    const downAt = logged ? Date.parse(logged[1]!) : seen.atMs;
    expect(downAt - killedAt).toBeLessThanOrEqual(ovsDetectMs + SLACK_MS);

    // 2. Sluice again: the sessions come back up
    sw = await start(yaml, [], {}, b.hA);
    await bothUp(sw);

    // 3. ovs-vswitchd dies: Sluice's session times out after OVS's multiplier x max(Sluice's
    //    min-rx, OVS's min_tx), the VTEP goes down and its MACs are flushed.
    const sluiceDetectMs = ovsMult * Math.max(sluiceBfd.minRx, ovsMinTx);
    const killed2At = Date.now();
    await b.ovs.killVswitchd('SIGKILL');
    const down = await pollUntil('Sluice to report the VTEP down', sluiceDetectMs + SLACK_MS + 10_000, async () => {
      const e = await sluiceSession(sw);
      return e !== undefined && e.state !== 'up' ? e : undefined;
    });
    expect(down.value.state).toBe('down');
    expect(down.value.diagnostic).toMatch(/^control detection time expired$/i);
    expect(down.atMs - killed2At).toBeLessThanOrEqual(sluiceDetectMs + SLACK_MS);
    const ports = await sw.cliJson<{ ports: PortDetail[] }>(['port', 'list']);
    const vx = ports.ports.find((x) => x.name === 'vx')!;
    expect(vx.tunnel?.bfd).toContainEqual(expect.objectContaining({ vtep: UL_B, state: 'down', diagnostic: 'Control Detection Time Expired' }));
    expect(vx.tunnel?.endpoints).toEqual([{ vtep: UL_B, up: false }]);
    expect(vx.tunnel?.vteps.filter((e) => e.vtep === UL_B)).toEqual([]);
  }, 150_000);
}, { tools: ['ip', 'ping', 'ovs-vsctl', 'ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-ofctl', 'ovs-appctl'] });
