// A network partition of one process, for the high-availability e2e suite: the process runs in a
// cgroup v2 of its own (made here, entered by a `sh` wrapper before it execs, so every socket it
// ever opens belongs to it), and an nftables table drops its TCP traffic to and from given ports
// both ways (output: the socket sending; input: the socket the packet is for, `socket cgroupv2`).
// Other processes, and this one's other connections, are untouched. Needs root and `nft`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** nft resolves `socket cgroupv2` paths below this directory (SYSFS_CGROUPSV2_PATH in nftables). */
const NFT_CGROUP_BASE = '/sys/fs/cgroup';

/** Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` or, on a hybrid host, `/sys/fs/cgroup/unified`), or null. */
export function cgroup2Mount(): string | null {
  let text = '';
  try { text = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return null; }
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superopts
    const [pre, post] = line.split(' - ');
    if (post === undefined || !post.startsWith('cgroup2 ')) continue;
    const f = pre!.split(' ');
    if (f[3] !== '/') continue;   // a bind of a sub-tree: its paths are not the hierarchy's
    return f[4]!;
  }
  return null;
}

/** Why a partition cannot be made here (naming what is missing), or undefined. */
export function partitionUnsupported(): string | undefined {
  const m = cgroup2Mount();
  if (m === null) return 'no cgroup v2 hierarchy is mounted (the partition test puts a controller in a cgroup of its own)';
  if (m !== NFT_CGROUP_BASE && !m.startsWith(`${NFT_CGROUP_BASE}/`)) return `cgroup v2 is mounted at ${m}, outside ${NFT_CGROUP_BASE} where nft looks for cgroup paths`;
  return undefined;
}

/** One cgroup v2 directory, level 1 (a child of the hierarchy's root). */
export class ProcessCgroup {
  readonly dir: string;
  constructor(readonly name: string) {
    const m = cgroup2Mount();
    if (m === null) throw new Error('no cgroup v2 hierarchy is mounted');
    this.dir = join(m, name);
    mkdirSync(this.dir, { recursive: true });
  }

  /** The path as `nft ... socket cgroupv2 level 1 "<path>"` wants it: relative to /sys/fs/cgroup. */
  get nftPath(): string { return relative(NFT_CGROUP_BASE, this.dir); }

  /** argv that runs `argv` inside this cgroup: `sh` moves itself in, then execs (same pid). */
  wrap(argv: string[]): string[] {
    return ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.dir, ...argv];
  }

  /** Pids in it now. */
  pids(): number[] {
    try { return readFileSync(join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number); } catch { return []; }
  }

  /** Remove the directory (its processes must have exited); false if it could not be. */
  remove(): boolean {
    if (!existsSync(this.dir)) return true;
    try { rmdirSync(this.dir); return true; } catch { return false; }
  }
}

let tables = 0;

/** `nft` with a script on stdin; throws with its stderr. */
function nft(args: string[], script?: string): string {
  const r = spawnSync('nft', args, { input: script, encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`nft ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${(r.stderr || '').trim()}`);
  return r.stdout;
}

/**
 * Drops every TCP segment between the processes of a cgroup and some ports (on any address),
 * both ways, from start() until heal(): a process cut off from a service but nothing else.
 * One nftables table per partition (`inet sluice_part_<pid>_<n>`), deleted by heal().
 */
export class Partition {
  private healed = false;

  private constructor(readonly table: string, readonly cg: ProcessCgroup, readonly ports: number[]) {}

  static start(cg: ProcessCgroup, ports: number[]): Partition {
    if (ports.length === 0) throw new RangeError('a partition needs at least one port');
    const table = `sluice_part_${process.pid}_${++tables}`;
    const set = `{ ${ports.join(', ')} }`;
    const me = `socket cgroupv2 level 1 "${cg.nftPath}"`;
    // One transaction: both directions start dropping at the same instant. Output: the sending
    // socket is the process's; input: the socket the segment is for is (a lookup in the hook).
    nft(['-f', '-'], `table inet ${table} {
  chain out { type filter hook output priority -10; policy accept; ${me} tcp dport ${set} counter drop; }
  chain in { type filter hook input priority -10; policy accept; ${me} tcp sport ${set} counter drop; }
}
`);
    return new Partition(table, cg, ports);
  }

  /** Segments dropped so far, each way (the rules' counters). */
  dropped(): { out: number; in: number } {
    const text = nft(['list', 'table', 'inet', this.table]);
    const n = (chain: string): number => Number(new RegExp(`chain ${chain} \\{[\\s\\S]*?counter packets (\\d+)`).exec(text)?.[1] ?? NaN);
    return { out: n('out'), in: n('in') };
  }

  get active(): boolean { return !this.healed; }

  /** Remove the rules (idempotent; also deletes the table if a run before us left it). */
  heal(): void {
    if (this.healed) return;
    this.healed = true;
    try { nft(['delete', 'table', 'inet', this.table]); } catch (e) {
      if (!/No such file or directory/.test((e as Error).message)) throw e;
    }
  }
}
