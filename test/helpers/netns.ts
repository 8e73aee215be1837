// Throwaway network topologies for e2e tests: namespaces, veth pairs, VLAN subinterfaces and
// addresses with unique `sl…` names, commands run inside a namespace (sync or async), and a
// cleanup that removes everything the lab created, also after a failure.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** 'sl' + `n` random lowercase alphanumerics: unique per run, short enough for IFNAMSIZ. */
export function uniqueId(n = 4): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const b = randomBytes(n);
  let s = 'sl';
  for (let i = 0; i < n; i++) s += alphabet[b[i] % alphabet.length];
  return s;
}

/** Run a command; throws with its stderr on a non-zero exit. */
export function run(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

export interface ExecResult { code: number; stdout: string; stderr: string }

/**
 * Run a command without blocking the event loop (needed while JS relays the traffic).
 * `onSpawn` gets the child at once (to signal it, or to watch /proc/<pid> while it runs).
 */
export function runAsync(cmd: string, args: string[], timeoutMs = 20_000, onSpawn?: (child: ChildProcess) => void): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(t); resolve({ code: -1, stdout, stderr: stderr + err.message }); });
    child.on('close', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

export function hasCommand(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Poll `cond` every few ms until true; rejects after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One test's topology. Every name starts with the lab's unique id; `cleanup()` removes it all. */
export class NetnsLab {
  readonly id = uniqueId();
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];

  /** A unique interface/namespace name: `<id><suffix>`, at most 15 bytes. */
  name(suffix: string): string {
    const n = this.id + suffix;
    if (n.length > 15) throw new RangeError(`name "${n}" is longer than 15 bytes`);
    return n;
  }

  addNs(suffix: string): string {
    const ns = this.name(suffix);
    run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.ip(ns, ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** `ip` in a namespace (null = root namespace). */
  ip(ns: string | null, args: string[]): string {
    return run('ip', ns ? ['-n', ns, ...args] : args);
  }

  /** Run a command inside `ns`. */
  exec(ns: string, cmd: string[], timeoutMs?: number): string {
    return run('ip', ['netns', 'exec', ns, ...cmd], timeoutMs);
  }

  /** `ip netns exec` runs `cmd` in place (no fork): the child's pid is the command's once it started. */
  execAsync(ns: string, cmd: string[], timeoutMs?: number, onSpawn?: (child: ChildProcess) => void): Promise<ExecResult> {
    return runAsync('ip', ['netns', 'exec', ns, ...cmd], timeoutMs, onSpawn);
  }

  /** veth pair `a` (root) <-> `b`, `b` moved into `nsB` when given; both ends up. */
  addVeth(a: string, b: string, nsB?: string): void {
    run('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    this.links.push(a);
    if (nsB) this.ip(null, ['link', 'set', b, 'netns', nsB]);
    else this.links.push(b);
    this.ip(null, ['link', 'set', a, 'up']);
    this.ip(nsB ?? null, ['link', 'set', b, 'up']);
  }

  /** Track a root-namespace device created elsewhere (e.g. by a TapPort) for cleanup. */
  track(dev: string): void { this.links.push(dev); }

  moveLink(dev: string, ns: string): void { this.ip(null, ['link', 'set', dev, 'netns', ns]); }

  /** 802.1Q subinterface `<parent>.<vid>` named `<parent-ish>` (kept under 15 bytes); returns its name. */
  addVlan(ns: string | null, parent: string, vid: number, name: string): string {
    this.ip(ns, ['link', 'add', 'link', parent, 'name', name, 'type', 'vlan', 'id', String(vid)]);
    if (!ns) this.links.push(name);
    this.ip(ns, ['link', 'set', name, 'up']);
    return name;
  }

  addr(ns: string | null, dev: string, cidr: string): void { this.ip(ns, ['addr', 'add', cidr, 'dev', dev]); }
  up(ns: string | null, dev: string): void { this.ip(ns, ['link', 'set', dev, 'up']); }

  /** MAC address of `dev` as 6 bytes. */
  mac(ns: string | null, dev: string): Buffer {
    const out = this.ip(ns, ['-o', 'link', 'show', dev]);
    const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
    if (!m) throw new Error(`no MAC for ${dev}: ${out}`);
    return Buffer.from(m[1].replace(/:/g, ''), 'hex');
  }

  /** Turn off offloads (ethtool -K) so frames are real-sized; false when ethtool is missing. */
  offloadsOff(ns: string | null, dev: string): boolean {
    if (!hasCommand('ethtool')) return false;
    const args = ['-K', dev, 'gro', 'off', 'gso', 'off', 'tso', 'off', 'tx', 'off'];
    try {
      if (ns) this.exec(ns, ['ethtool', ...args]); else run('ethtool', args);
      return true;
    } catch { return false; }
  }

  /** Remove every namespace and root-namespace link of this lab; never throws. */
  cleanup(): void {
    for (const l of this.links.splice(0).reverse()) {
      try { execFileSync('ip', ['link', 'del', l], { stdio: 'ignore' }); } catch { /* already gone */ }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
    }
  }
}
