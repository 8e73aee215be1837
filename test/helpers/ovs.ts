// A private Open vSwitch for tests and benches: its own ovsdb-server and ovs-vswitchd, database and
// run directory in a temp folder (the Debian package's daemons are never touched), userspace
// datapath only (this kernel has no openvswitch module). stop() ends both and removes the folder.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, run, waitFor } from './netns.js';

export const OVS_TOOLS = ['ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-vsctl', 'ovs-ofctl'] as const;
const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface Ovs {
  dir: string;
  env: NodeJS.ProcessEnv;
  vsctl(args: string[]): string;
  /** ovs-ofctl -O OpenFlow13 against a bridge's management socket. */
  ofctl(args: string[]): string;
  stop(): Promise<void>;
}

/** Why a private Open vSwitch cannot start here, or null. */
export function ovsMissing(): string | null {
  for (const c of OVS_TOOLS) if (!hasCommand(c)) return `${c} not installed`;
  return existsSync(SCHEMA) ? null : `${SCHEMA} not found`;
}

/** Start ovsdb-server and ovs-vswitchd (extra `wrap` runs vswitchd under e.g. taskset). */
export async function startOvs(opts: { wrap?: string[]; prefix?: string } = {}): Promise<Ovs> {
  const missing = ovsMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'sluice-ovs-'));
  const db = join(dir, 'conf.db'), dbSock = join(dir, 'db.sock');
  run('ovsdb-tool', ['create', db, SCHEMA]);
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir, OVS_PKGDATADIR: '/usr/share/openvswitch' };
  const children: ChildProcess[] = [];
  children.push(spawn('ovsdb-server', [db, `--remote=punix:${dbSock}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--pidfile=${join(dir, 'ovsdb-server.pid')}`,
    `--log-file=${join(dir, 'ovsdb-server.log')}`], { env, stdio: 'ignore' }));
  await waitFor(() => existsSync(dbSock), 10_000, 'ovsdb-server socket');
  const vsctl = (args: string[]): string => execFileSync('ovs-vsctl', [`--db=unix:${dbSock}`, '--timeout=20', ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  vsctl(['--no-wait', 'init']);
  const wrap = opts.wrap ?? [];
  children.push(spawn(wrap.length ? wrap[0]! : 'ovs-vswitchd', [...wrap.slice(1), ...(wrap.length ? ['ovs-vswitchd'] : []), `unix:${dbSock}`,
    `--unixctl=${join(dir, 'ovs-vswitchd.ctl')}`, `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`, `--log-file=${join(dir, 'ovs-vswitchd.log')}`], { env, stdio: 'ignore' }));
  await waitFor(() => existsSync(join(dir, 'ovs-vswitchd.ctl')), 15_000, 'ovs-vswitchd control socket');
  vsctl(['show']);
  const ofctl = (args: string[]): string => {
    const [cmd, br, ...rest] = args;
    return execFileSync('ovs-ofctl', ['-O', 'OpenFlow13', cmd!, `unix:${join(dir, `${br}.mgmt`)}`, ...rest], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  };
  return {
    dir, env, vsctl, ofctl,
    async stop(): Promise<void> {
      for (const c of children.reverse()) {
        if (c.exitCode !== null) continue;
        const done = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
        if (c.exitCode === null) c.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
