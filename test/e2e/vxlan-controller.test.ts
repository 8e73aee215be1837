// e2e: networks with a vni across hosts under `sluice controller`. Three "hosts" (namespaces on an
// underlay Linux bridge) each run `sluice switch` (fail-mode secure) with a blue and a red VM and a
// vxlan port whose VNI and remote flows set (`vni: flow`, `remote: flow`); the controller runs on
// the underlay (its management network) and finds each switch's tunnel endpoint in the switch's
// description. The operator types only `net create blue --vid 100 --vni 5001` and the attachments.
// Checks: every VM pair of a network reaches each other both ways, none across networks, a red VM
// never sees a blue frame, the MACs behind remote VTEPs are learned as flows with tun_src/tun_dst,
// and a host detached from a network leaves the other switches' flood groups.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab, waitFor } from '../helpers/netns.js';
import type { ExecResult } from '../helpers/netns.js';
import { SwitchProc, tcpdump } from './switch-harness.js';

const CTL_IP = '10.203.0.254', OF_PORT = 6653, API_PORT = 6680;
const NETS = { blue: { vni: 5001, vid: 100, subnet: '10.62.0' }, red: { vni: 5002, vid: 200, subnet: '10.63.0' } } as const;
interface Vm { ns: string; dev: string; ip: string; net: 'blue' | 'red'; host: number }

describePrivileged('VXLAN under sluice controller: three Sluice hosts, two networks', () => {
  const lab = new NetnsLab();
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-vxctl-'));
  let ul = '';
  let ctl: ChildProcess | null = null;
  let ctlErr = '';
  const switches: SwitchProc[] = [];
  const vms: Vm[] = [];

  const cli = (args: string[]): Promise<ExecResult> => lab.execAsync(ul, [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args,
    '--controller', `http://${CTL_IP}:${API_PORT}`, '--token-file', join(stateDir, 'api-token')], 30_000);
  const ok = async (args: string[]): Promise<string> => {
    const r = await cli(args);
    if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  /** ovs-ofctl against host i's switch (its passive listener inside the host's namespace). */
  const ofctl = async (i: number, what: 'dump-flows' | 'dump-groups'): Promise<string> => {
    const r = await lab.execAsync(lab.name(`h${i}`), ['ovs-ofctl', '-O', 'OpenFlow13', what, 'tcp:127.0.0.1:6634'], 15_000);
    if (r.code !== 0) throw new Error(`ovs-ofctl ${what}: ${r.stderr}`);
    return r.stdout;
  };
  const ping = (a: Vm, b: Vm, count = 2): Promise<ExecResult> => lab.execAsync(a.ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', b.ip], 15_000);

  beforeAll(async () => {
    ul = lab.addNs('ul');
    const br = lab.name('ubr');
    lab.ip(ul, ['link', 'add', br, 'type', 'bridge']);
    lab.addr(ul, br, `${CTL_IP}/24`);
    lab.up(ul, br);
    ctl = spawn('ip', ['netns', 'exec', ul, process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', stateDir,
      '--openflow', `ptcp:${OF_PORT}:${CTL_IP}`, '--api', `${CTL_IP}:${API_PORT}`, '--log-level', 'info'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    ctl.stderr!.on('data', (d: Buffer) => { ctlErr += d.toString(); });
    await waitFor(() => ctlErr.includes(String(API_PORT)) || ctl!.exitCode !== null, 20_000, 'the controller API');
    if (ctl.exitCode !== null) throw new Error(`controller exited: ${ctlErr}`);

    for (let i = 1; i <= 3; i++) {
      const h = lab.addNs(`h${i}`);
      const a = lab.name(`u${i}`), b = lab.name(`U${i}`);
      lab.ip(h, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', ul]);
      lab.ip(ul, ['link', 'set', b, 'master', br]); lab.up(ul, b);
      lab.addr(h, a, `10.203.0.${i}/24`); lab.up(h, a);
      let ports = '';
      for (const [k, net] of (['blue', 'red'] as const).entries()) {
        const vmNs = lab.addNs(`${net[0]}${i}`);
        const dev = lab.name(`${net[0]}v${i}`), port = lab.name(`${net[0]}p${i}`);
        lab.ip(vmNs, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', port, 'netns', h]);
        lab.up(h, port);
        const ip = `${NETS[net].subnet}.${i}`;
        lab.ip(vmNs, ['link', 'set', dev, 'mtu', '1450']);
        lab.addr(vmNs, dev, `${ip}/24`); lab.up(vmNs, dev);
        vms.push({ ns: vmNs, dev, ip, net, host: i });
        ports += `      ${net}: { ofport: ${k + 1}, type: system, device: ${port} }\n`;
      }
      ports += `      vx: { ofport: 10, type: vxlan, local: 10.203.0.${i}, remote: flow, vni: flow }\n`;
      const yaml = `bridges:\n  br0:\n    description: host${i}/br0\n    datapath-id: "00000000000000${i}${i}"\n    fail-mode: secure\n    controllers: ["tcp:${CTL_IP}:${OF_PORT}"]\n    listen: "ptcp:6634:127.0.0.1"\n    ports:\n${ports}`;
      switches.push(await SwitchProc.start(yaml, [], {}, h));
    }
    await ok(['net', 'create', 'blue', '--vid', '100', '--vni', '5001']);
    await ok(['net', 'create', 'red', '--vid', '200', '--vni', '5002']);
    for (let i = 1; i <= 3; i++) for (const net of ['blue', 'red']) await ok(['attach', net, `host${i}/br0:${net}`]);
    const end = Date.now() + 30_000;
    for (;;) {
      const s = JSON.parse(await ok(['switches', '--json'])) as { switches: Array<{ connected: boolean; lastReconcile: { ok: boolean } | null }> };
      if (s.switches.filter((x) => x.connected && x.lastReconcile?.ok).length === 3) break;
      if (Date.now() > end) throw new Error(`switches not reconciled: ${JSON.stringify(s)}\n${ctlErr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 180_000);

  afterAll(async () => {
    for (const s of switches) await s.stop();
    if (ctl && ctl.exitCode === null) { ctl.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); if (ctl.exitCode === null) ctl.kill('SIGKILL'); }
    lab.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('lists each switch\'s tunnel port and VTEP (GET /v1/switches, as the dashboard shows them)', async () => {
    const s = JSON.parse(await ok(['switches', '--json'])) as { switches: Array<{ name: string; tunnel: { port: string; vtep: string } | null }> };
    expect(s.switches.map((x) => [x.name, x.tunnel])).toEqual([1, 2, 3].map((i) => [`host${i}/br0`, { port: 'vx', vtep: `10.203.0.${i}` }]));
  });

  it('every VM pair of a network reaches each other both ways across hosts; none across networks; red never sees blue', async () => {
    const red = vms.find((v) => v.net === 'red' && v.host === 1)!;
    const cap = tcpdump(lab, red.ns, red.dev, ['-n', '--immediate-mode', 'net', `${NETS.blue.subnet}.0/24`]);
    await cap.ready;
    const wrong: string[] = [];
    for (const a of vms) {
      for (const b of vms) {
        if (a === b) continue;
        let r = await ping(a, b, 1);
        if (r.code !== 0 && a.net === b.net) r = await ping(a, b, 2);   // a first ARP through an empty pipeline may go unanswered
        if ((r.code === 0) !== (a.net === b.net)) wrong.push(`${a.net}@host${a.host} -> ${b.net}@host${b.host}: exit ${r.code}`);
      }
    }
    expect(wrong, ctlErr.slice(-3000)).toEqual([]);
    expect((await cap.stop()).stdout.trim(), 'blue frames on a red VM').toBe('');
  }, 120_000);

  it('MACs behind a remote VTEP are flows matching tun_src and setting tun_dst', async () => {
    const b1 = vms.find((v) => v.net === 'blue' && v.host === 1)!, b2 = vms.find((v) => v.net === 'blue' && v.host === 2)!;
    expect((await ping(b1, b2, 2)).code).toBe(0);
    const mac = lab.mac(b2.ns, b2.dev).toString('hex').replace(/(..)(?!$)/g, '$1:');
    const lines = (await ofctl(1, 'dump-flows')).split('\n').filter((l) => l.includes(mac));
    expect(lines.some((l) => /table=1/.test(l) && /tun_src=10\.203\.0\.2/.test(l)), lines.join('\n')).toBe(true);
    expect(lines.some((l) => /table=2/.test(l) && /set_field:10\.203\.0\.2->tun_dst/.test(l)), lines.join('\n')).toBe(true);
  }, 60_000);

  it('a host detached from a network leaves the flood groups of the others; attached again, it is back', async () => {
    const groups = (): Promise<string> => ofctl(1, 'dump-groups');
    expect(await groups()).toMatch(/10\.203\.0\.3->tun_dst/);
    await ok(['detach', 'host3/br0:red']);
    await ok(['detach', 'host3/br0:blue']);
    const end = Date.now() + 20_000;
    while (/10\.203\.0\.3->tun_dst/.test(await groups())) {
      if (Date.now() > end) throw new Error(`host3 still in the flood groups:\n${await groups()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await ok(['attach', 'blue', 'host3/br0:blue']);
    await ok(['attach', 'red', 'host3/br0:red']);
    const b1 = vms.find((v) => v.net === 'blue' && v.host === 1)!, b3 = vms.find((v) => v.net === 'blue' && v.host === 3)!;
    const end2 = Date.now() + 20_000;
    while ((await ping(b1, b3, 1)).code !== 0) {
      if (Date.now() > end2) throw new Error('host3 unreachable after attaching again');
    }
    expect(await groups()).toMatch(/10\.203\.0\.3->tun_dst/);
  }, 90_000);
}, { tools: ['ip', 'ping', 'tcpdump', 'ovs-ofctl'] });
