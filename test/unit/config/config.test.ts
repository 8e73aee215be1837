import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, loadConfig, saveConfig, cleanStaleTempFiles, ConfigError } from '../../../src/agent/config.js';
import { OFPP } from '../../../src/flow/types.js';
import { configError } from '../../helpers/config-error.js';

const FULL = `
bridges:
  br0:
    datapath-id: "00000000000000AB"
    fail-mode: secure
    mac-table-size: 1024
    mac-aging: 60
    controllers: ["tcp:127.0.0.1:6653"]
    listen: "ptcp:6634:127.0.0.1"
    ports:
      vm1: { ofport: 1, type: tap, vlan: { mode: access, vid: 100 }, channel: gold, egress-channel: silver }
      vm2: { ofport: 2, type: tap, vlan: { mode: access, vid: 200 } }
      uplink: { ofport: 3, type: system, device: eth1, vlan: { mode: trunk, vids: [200, 100] } }
      n1: { ofport: 4, type: system, device: veth0, vlan: { mode: native-untagged, vid: 10, vids: [20] } }
      q1: { ofport: 5, type: qemu-stream, path: /run/vm1.sock }
      q2: { ofport: 6, type: qemu-stream, host: 127.0.0.1, port: 5555, role: listen }
      m1: { ofport: 7, type: memory }
    flows:
      - "table=0,priority=100,dl_type=0x0806,actions=NORMAL"
      - "in_port=vm1,actions=output:uplink"
  br1:
    ports:
      t9: { ofport: 1, type: tap }
channels:
  gold: { rate: 50mbit, burst: 64kb }
  silver: { rate: 10kpps, mode: shape, queue: 500 }
`;

const err = (text: string): string => configError(text);
const withPort = (port: string, extra = ''): string => `bridges:\n  br0:\n    ports:\n      vm1: ${port}\n${extra}`;

describe('parseConfig', () => {
  it('reads a full config into camelCase with defaults', () => {
    const c = parseConfig(FULL, 'sluice.yaml');
    const br0 = c.bridges.br0;
    expect(br0).toMatchObject({ name: 'br0', datapathId: '00000000000000ab', failMode: 'secure', macTableSize: 1024, macAging: 60, controllers: ['tcp:127.0.0.1:6653'], listen: 'ptcp:6634:127.0.0.1' });
    expect(br0.ports.vm1).toEqual({ name: 'vm1', ofport: 1, type: 'tap', device: 'vm1', vlan: { mode: 'access', vid: 100 }, channel: 'gold', egressChannel: 'silver' });
    expect(br0.ports.uplink.vlan).toEqual({ mode: 'trunk', vids: [100, 200] });
    expect(br0.ports.n1.vlan).toEqual({ mode: 'native-untagged', vid: 10, vids: [10, 20] });
    expect(br0.ports.q1).toEqual({ name: 'q1', ofport: 5, type: 'qemu-stream', path: '/run/vm1.sock', role: 'connect' });
    expect(br0.ports.q2).toMatchObject({ host: '127.0.0.1', port: 5555, role: 'listen' });
    expect(br0.ports.m1).toEqual({ name: 'm1', ofport: 7, type: 'memory' });
    expect(br0.flows).toHaveLength(2);
    expect(br0.flowSpecs[1].match).toEqual([{ field: 'in_port', value: 1n }]);
    expect(br0.flowSpecs[1].instructions.applyActions).toEqual([{ type: 'output', port: 3 }]);
    expect(br0.flowSpecs[0].instructions.applyActions).toEqual([{ type: 'output', port: OFPP.NORMAL }]);
    expect(c.bridges.br1).toMatchObject({ failMode: 'standalone', macTableSize: 8192, macAging: 300, controllers: [], flows: [], flowSpecs: [] });
    expect(c.bridges.br1.ports.t9.vlan).toBeUndefined();
    expect(c.channels).toEqual({
      gold: { name: 'gold', rate: '50mbit', burst: '64kb', mode: 'police' },
      silver: { name: 'silver', rate: '10kpps', mode: 'shape', queue: 500 },
    });
  });

  it.each([
    [withPort('{ ofport: 1, type: tap, vlan: { mode: access, vid: 5000 } }'), 'sluice.yaml: bridges.br0.ports.vm1.vlan.vid: VLAN id 5000 is out of range 1-4094'],
    [withPort('{ ofport: 1, type: tap, channel: gld }', 'channels:\n  gold: { rate: 1mbit }\n'), 'sluice.yaml: bridges.br0.ports.vm1.channel: unknown channel "gld" (defined: gold)'],
    [withPort('{ ofport: 1, type: tap, chanel: gold }'), 'sluice.yaml: bridges.br0.ports.vm1.chanel: unknown key (did you mean "channel"?)'],
    [withPort('{ ofport: 1, type: tapp }'), 'sluice.yaml: bridges.br0.ports.vm1.type: "tapp" is not one of tap, system, qemu-stream, memory'],
    [withPort('{ ofport: 0, type: tap }'), 'sluice.yaml: bridges.br0.ports.vm1.ofport: ofport 0 is out of range 1-65279'],
    [withPort('{ type: tap }'), 'sluice.yaml: bridges.br0.ports.vm1.ofport: missing (required)'],
    [withPort('{ ofport: "one", type: tap }'), 'sluice.yaml: bridges.br0.ports.vm1.ofport: ofport must be a number'],
    [withPort('{ ofport: 1, type: tap, vlan: { mode: access } }'), 'bridges.br0.ports.vm1.vlan.vid: an access port needs vid'],
    [withPort('{ ofport: 1, type: tap, vlan: { mode: access, vid: 1, vids: [2] } }'), 'vlan.vids: an access port carries one VLAN'],
    [withPort('{ ofport: 1, type: tap, vlan: { mode: trunk, vid: 1 } }'), 'vlan.vid: a trunk has no native VLAN'],
    [withPort('{ ofport: 1, type: tap, vlan: { mode: native-tagged, vids: [1] } }'), 'vlan.vid: a native-tagged port needs vid'],
    [withPort('{ ofport: 1, type: tap, vlan: { mode: trunk, vids: [1, 1] } }'), 'vlan.vids: VLAN 1 is listed twice'],
    [withPort('{ ofport: 1, type: tap, vlan: { mode: trunk, vids: [] } }'), 'vlan.vids: vids must not be empty (omit it to carry all VLANs)'],
    [withPort('{ ofport: 1, type: tap, path: /x }'), 'bridges.br0.ports.vm1.path: path is only for qemu-stream ports (this one is tap)'],
    [withPort('{ ofport: 1, type: qemu-stream }'), 'needs path (Unix socket) or host and port'],
    [withPort('{ ofport: 1, type: qemu-stream, path: /x, host: h, port: 1 }'), 'not both'],
    [withPort('{ ofport: 1, type: tap }', '      vm2: { ofport: 1, type: tap }\n'), 'bridges.br0.ports.vm2.ofport: ofport 1 is already used by port vm1'],
    [withPort('{ ofport: 1, type: tap }', '  br1:\n    ports:\n      vm1: { ofport: 1, type: tap }\n'), 'bridges.br1.ports.vm1: port name "vm1" is already used on bridge br0'],
    [withPort('{ ofport: 1, type: tap }', '    flows: ["actions=drop", "table=0,prio=5,actions=drop"]\n'), 'sluice.yaml: bridges.br0.flows.1: bad flow "table=0,prio=5,actions=drop": unknown field "prio"'],
    ['bridges:\n  br0:\n    datapath-id: 1\n', 'bridges.br0.datapath-id: datapath-id must be a quoted string of 16 hex digits'],
    ['bridges:\n  br0:\n    fail-mode: open\n', 'bridges.br0.fail-mode: "open" is not one of standalone, secure'],
    ['bridges:\n  br0:\n    controllers: ["127.0.0.1"]\n', 'controllers are "tcp:HOST[:PORT]"'],
    ['bridges:\n  br0:\n    listen: "ptcp:99999"\n', 'TCP port 99999 is out of range'],
    ['bridges: {}\nchannels:\n  gold: { rate: 50mbs }\n', 'sluice.yaml: channels.gold.rate: "50mbs" is not a rate: use bit, kbit, mbit, gbit, pps or kpps (e.g. 50mbit)'],
    ['bridges: {}\nchannels:\n  gold: { rate: 50mbit, burst: 10pkt }\n', 'channels.gold.burst: burst "10pkt" is in packets'],
    ['bridges: {}\nchannels:\n  gold: { rate: 50mbit, queue: 10 }\n', 'channels.gold.queue: queue is only for mode: shape'],
    ['bridge: {}\n', 'sluice.yaml: bridge: unknown key (did you mean "bridges"?)'],
    ['channels: {}\n', 'sluice.yaml: bridges: missing (required)'],
    ['', 'sluice.yaml: the file is empty'],
    ['bridges:\n  br0:\n    ports: [1, 2]\n', 'bridges.br0.ports: expected a mapping, got a list'],
    ['bridges:\n  "bad name":\n    ports: {}\n', 'bad name: names are 1-64'],
  ])('refuses %#', (text, msg) => {
    expect(err(text)).toContain(msg);
  });

  it('reports YAML syntax errors with a line number', () => {
    expect(err('bridges:\n  br0:\n    ports: { vm1: [\n')).toMatch(/^sluice\.yaml: line \d+: YAML syntax error: /);
    expect(err('bridges:\n  br0: {}\n  br0: {}\n')).toMatch(/^sluice\.yaml: line 3: YAML syntax error: .*[Uu]nique/);
  });
});

describe('loadConfig / saveConfig', () => {
  let dir = '';
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'sluice-config-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('round trips through a file atomically', async () => {
    const cfg = parseConfig(FULL, 'in.yaml');
    const path = join(dir, 'sluice.yaml');
    await saveConfig(path, cfg);
    expect(await loadConfig(path)).toEqual(cfg);
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await saveConfig(path, cfg);                       // overwrite in place
    expect(await loadConfig(path)).toEqual(cfg);
  });

  it('keeps the mode of the file it replaces', async () => {
    const path = join(dir, 'private.yaml');
    await writeFile(path, 'bridges: {}\n', { mode: 0o600 });
    await chmod(path, 0o600);
    await saveConfig(path, parseConfig(FULL, 'in.yaml'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('removes temp files of interrupted saves (ours by name, writer gone), nothing else', async () => {
    const sub = await mkdtemp(join(dir, 'tmp-'));
    const path = join(sub, 'sluice.yaml');
    await writeFile(path, 'bridges: {}\n');
    const dead = 2 ** 22 + 12345;                      // above pid_max's default: no such process
    const stale = [`sluice.yaml.tmp-${dead}-0123abcd`, `sluice.yaml.tmp-${process.pid}-deadbeef`];
    const alive = `sluice.yaml.tmp-${process.ppid}-00ff00ff`;              // a live writer (our parent): kept
    const foreign = ['sluice.yaml.tmp-1-xyz', 'other.yaml.tmp-99999999-0123abcd', 'sluice.yaml.bak', 'sluice.yaml.tmp-99999999-0123abcd.txt'];
    for (const f of [...stale, alive, ...foreign]) await writeFile(join(sub, f), 'x');
    await mkdir(join(sub, `sluice.yaml.tmp-${dead}-aaaaaaaa`));           // not a regular file: kept
    expect(cleanStaleTempFiles(path).sort()).toEqual(stale.map((f) => join(sub, f)).sort());
    expect((await readdir(sub)).sort()).toEqual([alive, ...foreign, 'sluice.yaml', `sluice.yaml.tmp-${dead}-aaaaaaaa`].sort());
    // Older than any save could take: removed even though the pid is alive (reused).
    const old = new Date(Date.now() - 3_600_000);
    await utimes(join(sub, alive), old, old);
    expect(cleanStaleTempFiles(path)).toEqual([join(sub, alive)]);
  });

  it('reports a missing file with CONFIG_IO', async () => {
    const p = join(dir, 'nope.yaml');
    await expect(loadConfig(p)).rejects.toMatchObject({ code: 'CONFIG_IO', message: `${p}: cannot read config: no such file (ENOENT)` });
  });

  it('reports invalid content with CONFIG_INVALID and the path given', async () => {
    const p = join(dir, 'bad.yaml');
    await writeFile(p, 'bridges:\n  br0:\n    mac-aging: -1\n');
    await expect(loadConfig(p)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `${p}: bridges.br0.mac-aging: mac-aging -1 is out of range 1-1000000` });
  });
});
