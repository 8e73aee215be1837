// vxlan ports in sluice.yaml (agent/config.ts: the zod schema and checkVxlan): what valid ports read
// as (defaults filled), every refusal as one line naming file, key path and why, and the save round
// trip: toFileObject writes the vxlan keys back in kebab-case and the text re-reads to the same config.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig, loadConfig, saveConfig, toFileObject, ConfigError } from '../../../src/agent/config.js';
import type { PortConfig } from '../../../src/agent/config.js';
import { configError } from '../../helpers/config-error.js';

const FILE = 'sluice.yaml';
/** A config with the given port lines (already indented as mapping entries of `ports:`). */
const ports = (...lines: string[]): string => `bridges:\n  br0:\n    ports:\n${lines.map((l) => `      ${l}\n`).join('')}`;
const vx = (body: string, name = 'vx1'): string => ports(`${name}: { ofport: 1, type: vxlan, ${body} }`);

function port(text: string, name = 'vx1'): PortConfig { return parseConfig(text, FILE).bridges.br0.ports[name]; }
const err = (text: string): string => configError(text, FILE);

describe('valid vxlan ports', () => {
  it('one VNI, remotes as a list: local, remote, vni and the default UDP port 4789', () => {
    expect(port(vx('local: 192.0.2.1, remote: [192.0.2.2, 192.0.2.3], vni: 5001'))).toEqual({
      name: 'vx1', ofport: 1, type: 'vxlan', local: '192.0.2.1', remote: ['192.0.2.2', '192.0.2.3'], vni: 5001, dstPort: 4789,
    });
  });

  it('one remote given as a plain address reads as a list of one; dst-port and underlay-mtu kept', () => {
    expect(port(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 0, dst-port: 8472, underlay-mtu: 9000'))).toEqual({
      name: 'vx1', ofport: 1, type: 'vxlan', local: '192.0.2.1', remote: ['192.0.2.2'], vni: 0, dstPort: 8472, underlayMtu: 9000,
    });
  });

  it('IPv6 underlay', () => {
    expect(port(vx('local: "fd00::1", remote: ["fd00::2"], vni: 16777215'))).toMatchObject({ local: 'fd00::1', remote: ['fd00::2'], vni: 0xff_ffff });
  });

  it('vni: flow and remote: flow (set by flows: tunnel_id, tun_dst)', () => {
    expect(port(vx('local: 192.0.2.1, remote: flow, vni: flow'))).toEqual({
      name: 'vx1', ofport: 1, type: 'vxlan', local: '192.0.2.1', remote: 'flow', vni: 'flow', dstPort: 4789,
    });
  });

  it('networks: several VNIs on one port, each mapped to a VLAN, with its own remotes if given', () => {
    const p = port(vx('local: 192.0.2.1, remote: [192.0.2.2], networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200, remote: [192.0.2.9] }]'));
    expect(p).toEqual({
      name: 'vx1', ofport: 1, type: 'vxlan', local: '192.0.2.1', remote: ['192.0.2.2'], dstPort: 4789,
      networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200, remote: ['192.0.2.9'] }],
    });
    expect(p.vni).toBeUndefined();
    expect(p.vlan).toBeUndefined();
  });

  it('a single-VNI port may have a VLAN mode like any port', () => {
    expect(port(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 7, vlan: { mode: access, vid: 10 }')).vlan).toEqual({ mode: 'access', vid: 10 });
  });

  it('bfd: enable with Open vSwitch defaults filled (min-tx 100, min-rx 1000, multiplier 3), or as given', () => {
    expect(port(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, bfd: { enable: true }')).bfd).toEqual({ minTxMs: 100, minRxMs: 1000, multiplier: 3 });
    expect(port(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, bfd: { enable: true, min-tx: 50, min-rx: 300, multiplier: 5 }')).bfd).toEqual({ minTxMs: 50, minRxMs: 300, multiplier: 5 });
    expect(port(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, bfd: { enable: false }')).bfd).toBeUndefined();
  });

  it('networks may share remotes with each other and with the port\'s list', () => {
    expect(port(vx('local: 192.0.2.1, remote: [192.0.2.2], networks: [{ vni: 1, vid: 10, remote: [192.0.2.2, 192.0.2.3] }, { vni: 2, vid: 20, remote: [192.0.2.3] }]')).networks)
      .toEqual([{ vni: 1, vid: 10, remote: ['192.0.2.2', '192.0.2.3'] }, { vni: 2, vid: 20, remote: ['192.0.2.3'] }]);
  });

  it('two vxlan ports may share a local address on different UDP ports, or a UDP port on different addresses', () => {
    const c = parseConfig(ports(
      'vx1: { ofport: 1, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 1 }',
      'vx2: { ofport: 2, type: vxlan, local: 192.0.2.1, remote: 192.0.2.2, vni: 2, dst-port: 8472 }',
      'vx3: { ofport: 3, type: vxlan, local: 192.0.2.5, remote: 192.0.2.2, vni: 3 }',
    ), FILE);
    expect(Object.keys(c.bridges.br0.ports)).toEqual(['vx1', 'vx2', 'vx3']);
  });
});

describe('refused vxlan ports', () => {
  const P = `${FILE}: bridges.br0.ports.vx1`;
  it.each([
    ['missing local', vx('remote: 192.0.2.2, vni: 1'), `${P}.local: a vxlan port needs local: the underlay address of this host`],
    ['bad local address', vx('local: 192.0.2.300, remote: 192.0.2.2, vni: 1'), `${P}.local: "192.0.2.300" is not an IPv4 or IPv6 address`],
    ['local not an address', vx('local: eth0, remote: 192.0.2.2, vni: 1'), `${P}.local: "eth0" is not an IPv4 or IPv6 address`],
    ['bad remote address', vx('local: 192.0.2.1, remote: [192.0.2.2, "fd00::1::2"], vni: 1'), `${P}.remote[1]: "fd00::1::2" is not an IPv4 or IPv6 address`],
    ['a remote listed twice', vx('local: 192.0.2.1, remote: [192.0.2.2, 192.0.2.3, 192.0.2.2], vni: 1'), `${P}.remote[2]: remote 192.0.2.2 is listed twice`],
    ['a remote listed twice, spelled two ways', vx('local: "fd00::1", remote: ["fd00::2", "FD00:0::2"], vni: 1'), `${P}.remote[1]: remote FD00:0::2 is listed twice`],
    ['a network remote listed twice', vx('local: 192.0.2.1, remote: [192.0.2.2], networks: [{ vni: 1, vid: 10, remote: [192.0.2.5, 192.0.2.5] }]'), `${P}.networks[0].remote[1]: remote 192.0.2.5 is listed twice`],
    ['missing remote', vx('local: 192.0.2.1, vni: 1'), `${P}.remote: a vxlan port needs remote: an address, a list, or flow`],
    ['IPv6 remote, IPv4 local', vx('local: 192.0.2.1, remote: ["fd00::2"], vni: 1'), `${P}.remote[0]: remote fd00::2 is IPv6 but local 192.0.2.1 is IPv4`],
    ['IPv4 remote, IPv6 local', vx('local: "fd00::1", remote: [192.0.2.2], vni: 1'), `${P}.remote[0]: remote 192.0.2.2 is IPv4 but local fd00::1 is IPv6`],
    ['network remote of the other family', vx('local: 192.0.2.1, remote: [192.0.2.2], networks: [{ vni: 1, vid: 10, remote: ["fd00::9"] }]'), `${P}.networks[0].remote[0]: remote fd00::9 is IPv6 but local 192.0.2.1 is IPv4`],
    ['remote: flow on IPv6', vx('local: "fd00::1", remote: flow, vni: 1'), `${P}.remote: remote: flow needs an IPv4 underlay (tun_dst is IPv4)`],
    ['no vni nor networks', vx('local: 192.0.2.1, remote: 192.0.2.2'), `${P}.vni: a vxlan port needs vni (a number or flow) or networks`],
    ['vni and networks both', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, networks: [{ vni: 2, vid: 20 }]'), `${P}.vni: give vni (one network) or networks (several), not both`],
    ['vlan with networks', vx('local: 192.0.2.1, remote: 192.0.2.2, networks: [{ vni: 2, vid: 20 }], vlan: { mode: trunk }'), `${P}.vlan: a vxlan port with networks is a trunk of their VLANs: drop vlan`],
    ['duplicate vid in networks', vx('local: 192.0.2.1, remote: 192.0.2.2, networks: [{ vni: 1, vid: 100 }, { vni: 2, vid: 100 }]'), `${P}.networks[1].vid: VLAN 100 is mapped twice`],
    ['duplicate vni in networks', vx('local: 192.0.2.1, remote: 192.0.2.2, networks: [{ vni: 5001, vid: 100 }, { vni: 5001, vid: 200 }]'), `${P}.networks[1].vni: VNI 5001 is mapped twice`],
    ['empty networks', vx('local: 192.0.2.1, remote: 192.0.2.2, networks: []'), `${P}.networks: networks must be a list of { vni, vid[, remote] }`],
    ['bfd with remote: flow', vx('local: 192.0.2.1, remote: flow, vni: 1, bfd: { enable: true }'), `${P}.bfd: BFD runs to configured remotes: it needs a remote list, not flow`],
    ['bfd without enable', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, bfd: { min-tx: 100 }'), `${P}.bfd.enable: missing (required)`],
    ['bfd multiplier 0', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, bfd: { enable: true, multiplier: 0 }'), `${P}.bfd.multiplier: bfd.multiplier 0 is out of range 1-255`],
    ['bfd unknown key', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, bfd: { enable: true, min_tx: 5 }'), `${P}.bfd.min_tx: unknown key (did you mean "min-tx"?)`],
    ['VNI 2^24', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 16777216'), `${P}.vni: VNI 16777216 is out of range 0-16777215`],
    ['VNI -1', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: -1'), `${P}.vni: VNI -1 is out of range 0-16777215`],
    ['VNI not an integer', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1.5'), `${P}.vni: VNI 1.5 is out of range 0-16777215`],
    ['VNI as a word other than flow', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: any'), `${P}.vni: vni is a number 0-16777215 or flow`],
    ['VNI as a quoted number', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: "5"'), `${P}.vni: vni is a number 0-16777215 or flow`],
    ['network VNI 2^24', vx('local: 192.0.2.1, remote: 192.0.2.2, networks: [{ vni: 16777216, vid: 10 }]'), `${P}.networks.0.vni: VNI 16777216 is out of range 0-16777215`],
    ['network VLAN 4095', vx('local: 192.0.2.1, remote: 192.0.2.2, networks: [{ vni: 1, vid: 4095 }]'), `${P}.networks.0.vid: VLAN id 4095 is out of range 1-4094`],
    ['dst-port 0', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, dst-port: 0'), `${P}.dst-port: dst-port 0 is out of range 1-65535`],
    ['underlay-mtu below 576', vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, underlay-mtu: 500'), `${P}.underlay-mtu: underlay-mtu 500 is out of range 576-65535`],
  ])('%s', (_name, text, msg) => {
    expect(err(text)).toContain(msg);
  });

  it.each([
    ['local', 'local: 192.0.2.1'],
    ['remote', 'remote: 192.0.2.2'],
    ['vni', 'vni: 5'],
    ['networks', 'networks: [{ vni: 1, vid: 1 }]'],
    ['dst-port', 'dst-port: 4789'],
    ['underlay-mtu', 'underlay-mtu: 1500'],
    ['bfd', 'bfd: { enable: true }'],
  ])('vxlan key %s on a tap port', (key, body) => {
    expect(err(ports(`vm1: { ofport: 1, type: tap, ${body} }`))).toBe(`${FILE}: bridges.br0.ports.vm1.${key}: ${key} is only for vxlan ports (this one is tap)`);
  });

  it('tap-only and qemu-only keys on a vxlan port', () => {
    expect(err(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, device: eth0'))).toBe(`${P}.device: device is only for tap and system ports (this one is vxlan)`);
    expect(err(vx('local: 192.0.2.1, remote: 192.0.2.2, vni: 1, path: /x'))).toBe(`${P}.path: path is only for qemu-stream ports (this one is vxlan)`);
  });

  describe('two vxlan ports on the same local address and UDP port', () => {
    const two = (a: string, b: string, bridge2 = false): string => bridge2
      ? `${ports(`vx1: { ofport: 1, type: vxlan, ${a} }`)}  br1:\n    ports:\n      vx2: { ofport: 1, type: vxlan, ${b} }\n`
      : ports(`vx1: { ofport: 1, type: vxlan, ${a} }`, `vx2: { ofport: 2, type: vxlan, ${b} }`);
    it.each([
      ['same text, default port', 'local: 192.0.2.1, remote: 192.0.2.2, vni: 1', 'local: 192.0.2.1, remote: 192.0.2.3, vni: 2', false],
      ['default port and 4789 spelled out', 'local: 192.0.2.1, remote: 192.0.2.2, vni: 1', 'local: 192.0.2.1, remote: 192.0.2.3, vni: 2, dst-port: 4789', false],
      ['on two bridges', 'local: 192.0.2.1, remote: 192.0.2.2, vni: 1', 'local: 192.0.2.1, remote: 192.0.2.3, vni: 2', true],
    ])('%s', (_name, a, b, bridge2) => {
      const where = bridge2 ? 'bridges.br1.ports.vx2' : 'bridges.br0.ports.vx2';
      expect(err(two(a, b, bridge2))).toBe(`${FILE}: ${where}: vxlan ports vx1 and vx2 both use 192.0.2.1 UDP port 4789: carry several VNIs on one port with networks`);
    });
    it.each([
      ['IPv6 written two ways', '"fd00::1"', '"fd00:0:0::1"'],
      ['IPv6 in upper case', '"fd00::a"', '"FD00::A"'],
      ['IPv4 with a leading zero', '192.0.2.1', '192.0.2.01'],
    ])('the same address %s', (_name, a, b) => {
      const remote = a.includes(':') ? '"fd00::2"' : '192.0.2.2';
      expect(err(two(`local: ${a}, remote: [${remote}], vni: 1`, `local: ${b}, remote: [${remote}], vni: 2`))).toMatch(/^sluice\.yaml: bridges\.br0\.ports\.vx2: vxlan ports vx1 and vx2 both use .* UDP port 4789: carry several VNIs on one port with networks$/);
    });
  });
});

describe('save round trip', () => {
  const CFG = `bridges:
  br0:
    ports:
      vm1: { ofport: 1, type: tap, vlan: { mode: access, vid: 100 } }
      vx1: { ofport: 2, type: vxlan, local: 192.0.2.1, remote: [192.0.2.2, 192.0.2.3], vni: 5001, underlay-mtu: 1500, bfd: { enable: true, min-tx: 300 } }
      vx2: { ofport: 3, type: vxlan, local: 192.0.2.1, dst-port: 8472, remote: flow, vni: flow }
      vx3: { ofport: 4, type: vxlan, local: "fd00::1", remote: ["fd00::2"], networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200, remote: ["fd00::3", "fd00::4"] }] }
`;
  let dir = '';
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'sluice-vxlan-config-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('toFileObject writes the vxlan keys in kebab-case, every one of them', () => {
    const cfg = parseConfig(CFG, FILE);
    const p = (toFileObject(cfg).bridges as Record<string, { ports: Record<string, unknown> }>).br0.ports;
    expect(p.vx1).toEqual({ ofport: 2, type: 'vxlan', local: '192.0.2.1', vni: 5001, remote: ['192.0.2.2', '192.0.2.3'], 'dst-port': 4789, 'underlay-mtu': 1500, bfd: { enable: true, 'min-tx': 300, 'min-rx': 1000, multiplier: 3 } });
    expect(p.vx2).toEqual({ ofport: 3, type: 'vxlan', local: '192.0.2.1', vni: 'flow', remote: 'flow', 'dst-port': 8472 });
    expect(p.vx3).toEqual({ ofport: 4, type: 'vxlan', local: 'fd00::1', remote: ['fd00::2'], 'dst-port': 4789, networks: [{ vni: 5001, vid: 100 }, { vni: 5002, vid: 200, remote: ['fd00::3', 'fd00::4'] }] });
    const text = stringify(toFileObject(cfg), { lineWidth: 0 });
    expect(text).not.toMatch(/dstPort|underlayMtu|minTxMs|minRxMs/);
    expect(parseConfig(text, 'saved.yaml')).toEqual(cfg);
  });

  it('saveConfig writes a file that loads back as the same PortConfigs', async () => {
    const cfg = parseConfig(CFG, FILE);
    const path = join(dir, 'sluice.yaml');
    await saveConfig(path, cfg);
    const again = await loadConfig(path);
    expect(again).toEqual(cfg);
    expect(again.bridges.br0.ports.vx1).toEqual({
      name: 'vx1', ofport: 2, type: 'vxlan', local: '192.0.2.1', remote: ['192.0.2.2', '192.0.2.3'], vni: 5001, dstPort: 4789, underlayMtu: 1500,
      bfd: { minTxMs: 300, minRxMs: 1000, multiplier: 3 },
    });
    const text = await readFile(path, 'utf8');
    expect(text).toContain('dst-port: 8472');
    expect(text).toContain('min-rx: 1000');
    expect(text).not.toMatch(/[a-z][A-Z]/);                  // no camelCase key anywhere
  });
});
