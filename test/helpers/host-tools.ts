// What the e2e suites need from the host besides Node: the commands they run and the libraries
// they load, each with the Debian package that provides it. One table for the suite gates
// (privileged.ts) and for `npm run setup:host` (scripts/setup-host.sh installs every package named
// here; test/unit/testkit/host-tools.test.ts checks that the two agree).
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

/** Host commands the suites run -> the Debian package that installs them. */
export const HOST_TOOLS = {
  ip: 'iproute2',
  bridge: 'iproute2',
  ping: 'iputils-ping',
  ethtool: 'ethtool',
  iperf3: 'iperf3',
  tcpdump: 'tcpdump',
  tshark: 'tshark',
  'ovs-ofctl': 'openvswitch-common',
  'ovs-appctl': 'openvswitch-common',
  'ovsdb-tool': 'openvswitch-common',
  'ovsdb-server': 'openvswitch-common',
  'ovs-vsctl': 'openvswitch-switch',
  'ovs-vswitchd': 'openvswitch-switch',
  'ovs-testcontroller': 'openvswitch-testcontroller',
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  xz: 'xz-utils',
  python3: 'python3',
  openssl: 'openssl',
  'systemd-analyze': 'systemd',
  'systemd-notify': 'systemd',
  /** The headless browser of the dashboard test (driven by npm playwright-core, no browser download). */
  chromium: 'chromium',
  etcd: 'etcd-server',
  /** Cuts one controller off from etcd in the partition test (with a cgroup v2 of its own). */
  nft: 'nftables',
} as const satisfies Record<string, string>;
export type HostTool = keyof typeof HOST_TOOLS;

/** Host libraries the suites load through an npm binding -> package, probe, and what to run after installing. */
export const HOST_LIBS = {
  /** libpcap, through the optional `cap` binding (`sluice capture`): built at install only if the headers are there. */
  libpcap: { pkg: 'libpcap-dev', what: 'the `cap` binding (libpcap)', found: () => loads('cap'), then: 'npm rebuild cap' },
} as const satisfies Record<string, { pkg: string; what: string; found: () => boolean; then: string }>;
export type HostLib = keyof typeof HOST_LIBS;

/** The install command for `pkgs` (deduplicated, in order). */
export function installHint(pkgs: readonly string[]): string {
  return `apt-get install ${[...new Set(pkgs)].join(' ')}`;
}

/** The file a spawn of `cmd` by name would run (first executable match on `pathVar`), or null. */
export function findOnPath(cmd: string, pathVar: string = process.env.PATH ?? ''): string | null {
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch { /* not here */ }
  }
  return null;
}

export interface ToolLookup {
  /** PATH to search (default: this process's). */
  pathVar?: string;
  /** Command -> package table (default HOST_TOOLS; tests of the gate pass their own). */
  table?: Readonly<Record<string, string>>;
}

/**
 * Why `tools` cannot all run here, naming the packages to install, e.g.
 * "`ping` not found: apt-get install iputils-ping"; undefined when all are on PATH.
 */
export function missingTools(tools: readonly string[], o: ToolLookup = {}): string | undefined {
  const table: Readonly<Record<string, string | undefined>> = o.table ?? HOST_TOOLS;
  const missing = tools.filter((t) => findOnPath(t, o.pathVar) === null);
  if (missing.length === 0) return undefined;
  const pkgs = missing.map((t) => {
    const pkg = table[t];
    if (pkg === undefined) throw new RangeError(`host tool "${t}" has no Debian package in the table (test/helpers/host-tools.ts)`);
    return pkg;
  });
  return `${missing.map((t) => `\`${t}\``).join(', ')} not found: ${installHint(pkgs)}`;
}

/** Why `libs` cannot all be loaded here, naming the package and the rebuild step; undefined when all load. */
export function missingLibs(libs: readonly HostLib[]): string | undefined {
  const reasons = libs.filter((l) => !HOST_LIBS[l].found()).map((l) => {
    const lib = HOST_LIBS[l];
    return `${lib.what} does not load: ${installHint([lib.pkg])} && ${lib.then}`;
  });
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

function loads(mod: string): boolean {
  try { createRequire(import.meta.url)(mod); return true; } catch { return false; }
}
