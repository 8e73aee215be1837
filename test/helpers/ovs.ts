// A private Open vSwitch for tests and benches: its own ovsdb-server and ovs-vswitchd, database and
// run directory in a temp folder (the Debian package's daemons are never touched), userspace
// datapath only (this kernel has no openvswitch module). With `netns`, both daemons run inside that
// namespace (a "host" of a multi-host lab): ovs-vswitchd then sees that namespace's devices and
// routes, and its internal ports (TAP devices) appear there; its sockets stay files in the temp
// folder, so ovs-vsctl/ovs-ofctl/ovs-appctl reach it from anywhere. stop() ends both daemons and
// removes the folder; a start that fails half-way does the same before it throws.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, run, runAsync, waitFor } from './netns.js';

export const OVS_TOOLS = ['ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-vsctl', 'ovs-ofctl', 'ovs-appctl'] as const;
const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface Ovs {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The namespace the daemons run in, if any. */
  netns: string | undefined;
  vsctl(args: string[]): string;
  /** ovs-vsctl without blocking the event loop (for polls); rejects with its stderr on failure. */
  vsctlAsync(args: string[]): Promise<string>;
  /** ovs-ofctl -O OpenFlow13 against a bridge's management socket. */
  ofctl(args: string[]): string;
  /** ovs-appctl against ovs-vswitchd (ovs/route/*, tnl/*, dpctl/*, bfd/show, ...). */
  appctl(args: string[]): string;
  /** ovs-vswitchd's log so far (lines stamped with wall-clock time to the millisecond, UTC). */
  log(): string;
  /** Signal ovs-vswitchd (e.g. SIGKILL to cut it off mid-session) and wait until it has exited. */
  killVswitchd(sig?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** Why a private Open vSwitch cannot start here, or null. */
export function ovsMissing(): string | null {
  for (const c of OVS_TOOLS) if (!hasCommand(c)) return `${c} not installed`;
  return existsSync(SCHEMA) ? null : `${SCHEMA} not found`;
}

export interface StartOvsOptions {
  /** Run ovs-vswitchd under e.g. taskset: the command and its arguments before `ovs-vswitchd`. */
  wrap?: string[];
  /** Prefix of the temp folder's name. */
  prefix?: string;
  /** Run both daemons inside this network namespace (`ip netns exec`, which execs in place). */
  netns?: string;
}

/** Start ovsdb-server and ovs-vswitchd (extra `wrap` runs vswitchd under e.g. taskset). */
export async function startOvs(opts: StartOvsOptions = {}): Promise<Ovs> {
  const missing = ovsMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'sluice-ovs-'));
  const db = join(dir, 'conf.db'), dbSock = join(dir, 'db.sock'), ctl = join(dir, 'ovs-vswitchd.ctl'), logFile = join(dir, 'ovs-vswitchd.log');
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir, OVS_PKGDATADIR: '/usr/share/openvswitch' };
  const children: ChildProcess[] = [];
  let vswitchd: ChildProcess | null = null;
  // ip netns exec replaces itself with the command: the child's pid is the daemon's
  const inNs = (argv: string[]): [string, string[]] => (opts.netns ? ['ip', ['netns', 'exec', opts.netns, ...argv]] : [argv[0]!, argv.slice(1)]);
  const stopAll = async (): Promise<void> => {
    for (const c of children.slice().reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const done = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
      if (c.exitCode === null && c.signalCode === null) { c.kill('SIGKILL'); await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]); }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const vsctl = (args: string[]): string => execFileSync('ovs-vsctl', [`--db=unix:${dbSock}`, '--timeout=20', ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    run('ovsdb-tool', ['create', db, SCHEMA]);
    const [dbCmd, dbArgs] = inNs(['ovsdb-server', db, `--remote=punix:${dbSock}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
      `--log-file=${join(dir, 'ovsdb-server.log')}`]);
    children.push(spawn(dbCmd, dbArgs, { env, stdio: 'ignore' }));
    await waitFor(() => existsSync(dbSock), 10_000, 'ovsdb-server socket');
    vsctl(['--no-wait', 'init']);
    const wrap = opts.wrap ?? [];
    const [swCmd, swArgs] = inNs([...wrap, 'ovs-vswitchd', `unix:${dbSock}`, `--unixctl=${ctl}`, `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`, `--log-file=${logFile}`]);
    vswitchd = spawn(swCmd, swArgs, { env, stdio: 'ignore' });
    children.push(vswitchd);
    await waitFor(() => existsSync(ctl), 15_000, 'ovs-vswitchd control socket');
    vsctl(['show']);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const ofctl = (args: string[]): string => {
    const [cmd, br, ...rest] = args;
    return execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', cmd!, `unix:${join(dir, `${br}.mgmt`)}`, ...rest], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  };
  const sw = vswitchd;
  return {
    dir, env, vsctl, ofctl, netns: opts.netns,
    async vsctlAsync(args: string[]): Promise<string> {
      const r = await runAsync('ovs-vsctl', [`--db=unix:${dbSock}`, '--timeout=20', ...args], 25_000);
      if (r.code !== 0) throw new Error(`ovs-vsctl ${args.join(' ')}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    appctl: (args: string[]): string => execFileSync('ovs-appctl', ['-t', ctl, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }),
    log: (): string => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } },
    async killVswitchd(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
      if (sw.exitCode !== null || sw.signalCode !== null) return;
      const done = new Promise((r) => sw.once('exit', r));
      sw.kill(sig);
      await done;
    },
    stop: stopAll,
  };
}
