// One switch per kernel device. Before a tap or system port opens its device, the switch claims it:
// a file per device under /run/sluice/devices/ (SLUICE_DEVICES_DIR), held with an exclusive flock
// for as long as the port is open, and naming the holder (bridge, socket, pid). The kernel drops a
// flock when its holder closes the file or dies, kill -9 included: a claim is never stale, however
// the switch ended, and no pid (which may have been reused) is ever trusted.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { native } from '../datapath/native/index.js';

export const DEFAULT_DEVICES_DIR = '/run/sluice/devices';

/** Who claims: written into each claim file for the next switch to quote. */
export interface ClaimOwner { bridge: string; socket: string; pid: number }
/** A claim file's content. */
export interface DeviceHolder extends ClaimOwner { device: string; port: string; since: string }

/** The device is held by another switch (or by another port of this one). Code SW_ERR_DEVICE_BUSY. */
export class DeviceBusyError extends Error {
  readonly code = 'SW_ERR_DEVICE_BUSY';
  constructor(readonly device: string, readonly holder: DeviceHolder | null, message: string) {
    super(message);
    this.name = 'DeviceBusyError';
  }
}

export function defaultDevicesDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLUICE_DEVICES_DIR || DEFAULT_DEVICES_DIR;
}

/** The one-line answer to "who has it": the same at start-up and for `port add` (409). */
export function busyMessage(device: string, h: DeviceHolder | null): string {
  if (h === null) return `device ${device} is held by another sluice switch (its claim file names no holder yet)`;
  return `device ${device} is held by switch ${h.bridge} (socket ${h.socket}, pid ${h.pid}, port ${h.port})`;
}

/** Network namespace identity: the same name in two namespaces is two devices. */
function netnsId(): string {
  try { return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? 'unknown'; } catch { return 'unknown'; }
}

function sleepSync(ms: number): void { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }

interface Held { fd: number; port: string; path: string }

export class DeviceClaims {
  private readonly held = new Map<string, Held>();
  private readonly netns = netnsId();

  constructor(
    readonly owner: ClaimOwner,
    readonly dir: string = defaultDevicesDir(),
    private readonly lock: (fd: number) => boolean = (fd) => native().flockExclusive(fd),
  ) {}

  /** Claim file of `device` in this network namespace. */
  pathOf(device: string): string { return join(this.dir, `${encodeURIComponent(device)}@netns-${this.netns}`); }

  /** The port of this switch holding `device`, if any. */
  heldBy(device: string): string | undefined { return this.held.get(device)?.port; }

  /**
   * Claim `device` for `port`. Throws DeviceBusyError when another switch (or another port of
   * this one) holds it; other errors (the directory cannot be made: not root) are thrown as they
   * are, for the caller to decide.
   */
  claim(device: string, port: string): void {
    const mine = this.held.get(device);
    if (mine) {
      if (mine.port === port) return;
      throw new DeviceBusyError(device, null, `device ${device} is already port ${mine.port} of this switch (bridge ${this.owner.bridge})`);
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const path = this.pathOf(device);
    for (let attempt = 0; ; attempt++) {
      const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);   // libuv adds O_CLOEXEC: no child inherits the lock
      try {
        if (!this.lock(fd)) throw new DeviceBusyError(device, this.readHolder(path), '');
        // A holder releasing unlinks the file under its lock: if ours is no longer the file at
        // `path`, someone may already hold the new one. Start again with that.
        const a = fstatSync(fd);
        let b: ReturnType<typeof statSync> | undefined;
        try { b = statSync(path); } catch { /* unlinked */ }
        if (!b || b.ino !== a.ino || b.dev !== a.dev) {
          closeSync(fd);
          if (attempt >= 10) throw new Error(`${path}: the claim file keeps being replaced`);
          continue;
        }
        const rec: DeviceHolder = { ...this.owner, device, port, since: new Date().toISOString() };
        ftruncateSync(fd, 0);
        writeSync(fd, `${JSON.stringify(rec)}\n`, 0);
        this.held.set(device, { fd, port, path });
        return;
      } catch (e) {
        try { closeSync(fd); } catch { /* closed */ }   // not held: held.set() is the last step above
        if (e instanceof DeviceBusyError && e.message === '') throw new DeviceBusyError(device, e.holder, busyMessage(device, e.holder));
        throw e;
      }
    }
  }

  /** Hand `device`'s claim from one port of this switch to another (a port re-attached under a new name or ofport). */
  relabel(device: string, fromPort: string, toPort: string): boolean {
    const h = this.held.get(device);
    if (!h || h.port !== fromPort) return false;
    h.port = toPort;
    try {
      const rec: DeviceHolder = { ...this.owner, device, port: toPort, since: new Date().toISOString() };
      ftruncateSync(h.fd, 0);
      writeSync(h.fd, `${JSON.stringify(rec)}\n`, 0);
    } catch { /* the lock is what counts */ }
    return true;
  }

  /** Release `device` if `port` holds it: the file is removed under the lock, then closed. */
  release(device: string, port?: string): void {
    const h = this.held.get(device);
    if (!h || (port !== undefined && h.port !== port)) return;
    this.held.delete(device);
    try { unlinkSync(h.path); } catch { /* removed by hand */ }
    try { closeSync(h.fd); } catch { /* closed */ }
  }

  releaseAll(): void { for (const d of [...this.held.keys()]) this.release(d); }

  /**
   * Remove claim files nobody holds (left by switches that were killed): lock, check it is still
   * the file at its path, unlink, close; the same steps as a release, so a switch claiming at the
   * same moment simply starts again with a new file. Returns the files removed; never throws.
   */
  sweep(): string[] {
    const removed: string[] = [];
    let names: string[];
    try { names = readdirSync(this.dir); } catch { return removed; }
    for (const name of names) {
      const path = join(this.dir, name);
      let fd = -1;
      try {
        fd = openSync(path, constants.O_RDWR);
        if (!fstatSync(fd).isFile() || !this.lock(fd)) continue;
        const a = fstatSync(fd), b = statSync(path);
        if (a.ino !== b.ino || a.dev !== b.dev) continue;
        unlinkSync(path);
        removed.push(path);
      } catch { /* raced away, or not ours */ } finally {
        if (fd >= 0) try { closeSync(fd); } catch { /* closed */ }
      }
    }
    return removed;
  }

  /** Who holds the claim file: its content, read a few times (a new holder writes it just after locking). */
  private readHolder(path: string): DeviceHolder | null {
    for (let i = 0; i < 5; i++) {
      try {
        const h = JSON.parse(readFileSync(path, 'utf8')) as DeviceHolder;
        if (h && typeof h.pid === 'number' && typeof h.bridge === 'string') return h;
      } catch { /* empty or half-written */ }
      sleepSync(20);
    }
    return null;
  }
}
