// Real QEMU guests for e2e tests: finds qemu-system-x86_64, a Debian kernel (its vmlinuz and the
// matching /lib/modules) and a static busybox; extracts the uncompressed vmlinux (QEMU boots it
// through its PVH entry, faster under TCG than a bzImage that decompresses itself); builds a
// tiny initramfs (newc cpio written here) with busybox, the NIC driver modules and an /init that
// configures eth0 and then runs the commands the test types on the serial console.
//
// Debian packages (`npm run setup:host` installs them): qemu-system-x86 busybox-static
// linux-image-amd64 (and xz-utils for the kernel extraction, normally already there).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeGated, gate, type SuiteNeeds } from './privileged.js';
import { HOST_TOOLS, installHint } from './host-tools.js';
import { waitFor } from './netns.js';

export interface QemuKit { qemu: string; busybox: string; vmlinuz: string; kernelVersion: string; modulesDir: string }

const QEMU_CANDIDATES = ['/usr/bin/qemu-system-x86_64', '/usr/local/bin/qemu-system-x86_64'];
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
/** The Debian package of the guest kernel (a file, not a command: not in HOST_TOOLS). */
export const QEMU_GUEST_KERNEL_PACKAGE = 'linux-image-amd64';
/** The guest's NIC driver, loaded with its dependencies (from modules.dep) unless built in. */
const NIC_MODULES = ['virtio_pci', 'virtio_net'];

/** What a QEMU test needs on this host, or why it cannot run. */
export function findQemuKit(): { ok: true; kit: QemuKit } | { ok: false; reason: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { ok: false, reason: `needs Linux on x86-64, not ${process.platform}/${process.arch}` };
  const qemu = QEMU_CANDIDATES.find((p) => existsSync(p));
  if (!qemu) return { ok: false, reason: `\`qemu-system-x86_64\` not found: ${installHint([HOST_TOOLS['qemu-system-x86_64']])}` };
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p) && isStatic(p));
  if (!busybox) return { ok: false, reason: `no statically linked busybox: ${installHint([HOST_TOOLS.busybox])}` };
  // Kernels that come with their modules, newest first.
  const kernels: Array<{ vmlinuz: string; version: string }> = [];
  for (const dir of ['/boot', '/usr/lib/linux']) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const m = /^vmlinuz-(.+)$/.exec(f);
      if (m && existsSync(join('/lib/modules', m[1], 'modules.dep'))) kernels.push({ vmlinuz: join(dir, f), version: m[1] });
    }
  }
  kernels.sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }));
  if (kernels.length === 0) return { ok: false, reason: `no kernel with modules (/boot/vmlinuz-* and /lib/modules/<version>): ${installHint([QEMU_GUEST_KERNEL_PACKAGE])}` };
  const k = kernels[0];
  return { ok: true, kit: { qemu, busybox, vmlinuz: k.vmlinuz, kernelVersion: k.version, modulesDir: join('/lib/modules', k.version) } };
}

function isStatic(path: string): boolean {
  // An ELF with no PT_INTERP program header is statically linked.
  try {
    const b = readFileSync(path);
    if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
    const phoff = Number(b.readBigUInt64LE(0x20)), phentsize = b.readUInt16LE(0x36), phnum = b.readUInt16LE(0x38);
    for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false;
    return true;
  } catch { return false; }
}

/**
 * `describe` for suites that boot QEMU guests: needs root (describePrivileged's checks), the
 * QEMU kit and whatever else `needs` declares (host tools: `{ tools: ['ping', 'bridge'] }`).
 * Skips with a printed reason naming the packages, or fails when SLUICE_REQUIRE_PRIVILEGED=1.
 */
export function describeWithQemu(name: string, fn: (kit: () => QemuKit) => void, needs: Omit<SuiteNeeds, 'check'> = {}): void {
  let kit: QemuKit | null = null;
  const g = gate({ ...needs, root: true, check: () => { const k = findQemuKit(); if (!k.ok) return k.reason; kit = k.kit; return undefined; } });
  describeGated(name, g, () => fn(() => {
    if (kit === null) throw new Error('no QEMU kit on this host');
    return kit;
  }));
}

// ---------------------------------------------------------------------------------------------
// Kernel

const MAGICS: Array<{ magic: Buffer; cmd: string[] }> = [
  { magic: Buffer.from('fd377a585a00', 'hex'), cmd: ['xz', '-dcq'] },
  { magic: Buffer.from('28b52ffd', 'hex'), cmd: ['zstd', '-dcq'] },
  { magic: Buffer.from('1f8b0800', 'hex'), cmd: ['gzip', '-dcq'] },
  { magic: Buffer.from('425a68', 'hex'), cmd: ['bzip2', '-dcq'] },
  { magic: Buffer.from('5d000000', 'hex'), cmd: ['xz', '--format=lzma', '-dcq'] },
  { magic: Buffer.from('02214c18', 'hex'), cmd: ['lz4', '-dcq'] },
];

/**
 * The uncompressed vmlinux inside a bzImage, as the kernel tree's scripts/extract-vmlinux finds
 * it: try each compression magic, decompress from there (trailing bytes are ignored), keep the
 * first output that is an ELF. Written to `out`; returns null when nothing decompressed.
 */
export function extractVmlinux(vmlinuz: string, out: string): string | null {
  const img = readFileSync(vmlinuz);
  for (const { magic, cmd } of MAGICS) {
    for (let at = img.indexOf(magic); at >= 0; at = img.indexOf(magic, at + 1)) {
      const r = spawnSync(cmd[0], cmd.slice(1), { input: img.subarray(at), maxBuffer: 512 << 20, timeout: 30_000 });
      if (r.error) break; // this decompressor is not installed
      if (r.stdout && r.stdout.length > 4 && r.stdout.readUInt32BE(0) === 0x7f454c46) {
        writeFileSync(out, r.stdout);
        return out;
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Initramfs

interface CpioEntry { name: string; mode: number; data?: Buffer; rdev?: [number, number] }

/** A newc ("070701") cpio archive, what the kernel unpacks as an initramfs. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const push = (e: CpioEntry): void => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(e.name + '\0');
    const f = [ino++, e.mode, 0, 0, 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0];
    const hdr = Buffer.from('070701' + f.map((v) => v.toString(16).padStart(8, '0')).join(''));
    parts.push(hdr, name, pad(hdr.length + name.length), data, pad(data.length));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** `names` and everything they depend on (modules.dep), dependencies first; built-ins left out. */
export function moduleClosure(modulesDir: string, names: string[]): string[] {
  const dep = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    dep.set(m[1], m[2] ? m[2].split(/\s+/) : []);
    byName.set(modName(m[1]), m[1]);
  }
  const order: string[] = [];
  const visit = (path: string): void => {
    if (order.includes(path)) return;
    for (const d of dep.get(path) ?? []) visit(d);
    order.push(path);
  };
  for (const n of names) {
    const path = byName.get(n);
    if (path) visit(path); // not a module: built in (or absent, and QEMU's NIC will not show up)
  }
  return order;
}

function modName(path: string): string {
  return path.split('/').pop()!.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

function readModule(path: string): Buffer {
  const raw = readFileSync(path);
  const cmd = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : path.endsWith('.gz') ? 'gzip' : null;
  if (!cmd) return raw;
  const r = spawnSync(cmd, ['-dcq'], { input: raw, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`cannot decompress ${path} with ${cmd}: ${r.stderr}`);
  return r.stdout;
}

export interface GuestNet { ip: string; prefix: number }

/**
 * The guest's /init: mounts, loads the NIC modules, brings eth0 up with `net`, prints
 * `SLUICE-VM-READY`, then runs each line typed on the console and prints
 * `SLUICE-DONE <rc>` after it (the console does not echo). `poweroff` ends the VM.
 */
function initScript(modules: string[], net: GuestNet): string {
  return `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for m in ${modules.map((m) => `/lib/modules/${modName(m)}.ko`).join(' ')}; do insmod "$m" || echo "insmod $m failed"; done
ip link set lo up
n=0; while ! ip link show eth0 >/dev/null 2>&1 && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
ip link set eth0 up
ip addr add ${net.ip}/${net.prefix} dev eth0
stty -echo 2>/dev/null
echo "SLUICE-VM-READY $(cat /sys/class/net/eth0/address 2>/dev/null)"
while read -r line; do
  sh -c "$line"
  echo "SLUICE-DONE $?"
done
poweroff -f
`;
}

/** Build the initramfs for one guest into `out`. */
export function buildInitramfs(kit: QemuKit, net: GuestNet, out: string): string {
  const modules = moduleClosure(kit.modulesDir, NIC_MODULES);
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'lib', 'lib/modules']) entries.push({ name: d, mode: 0o40755 });
  entries.push({ name: 'dev/console', mode: 0o20600, rdev: [5, 1] });
  entries.push({ name: 'dev/null', mode: 0o20666, rdev: [1, 3] });
  entries.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(kit.busybox) });
  entries.push({ name: 'bin/sh', mode: 0o100755, data: readFileSync(kit.busybox) });
  for (const m of modules) entries.push({ name: `lib/modules/${modName(m)}.ko`, mode: 0o100644, data: readModule(join(kit.modulesDir, m)) });
  entries.push({ name: 'init', mode: 0o100755, data: Buffer.from(initScript(modules, net)) });
  writeFileSync(out, cpioNewc(entries));
  return out;
}

// ---------------------------------------------------------------------------------------------
// A running guest

export interface VmOptions {
  name: string;
  kernel: string;
  initrd: string;
  /** `-netdev` value without the id, e.g. `tap,ifname=x,script=no,downscript=no`. */
  netdev: string;
  mac: string;
  memMb?: number;
  /**
   * Run QEMU inside this network namespace (`ip netns exec NS qemu-system-x86_64 ...`, which
   * execs in place: the child's pid is QEMU's): its `-netdev tap` TAP is created there.
   */
  netns?: string;
}

/** One QEMU guest under TCG with its serial console on stdio. */
export class QemuVm {
  console = '';
  exited: number | null = null;
  readonly startedAt = Date.now();
  readyAt: number | null = null;
  private readonly child: ChildProcess;

  constructor(kit: QemuKit, readonly opts: VmOptions) {
    const args = [
      '-accel', 'tcg', '-m', String(opts.memMb ?? 256), '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-kernel', opts.kernel, '-initrd', opts.initrd,
      '-append', 'console=ttyS0 quiet panic=-1 loglevel=3 tsc=reliable',
      '-netdev', `${opts.netdev},id=n0`,
      '-device', `virtio-net-pci,netdev=n0,mac=${opts.mac},romfile=`,
    ];
    this.child = opts.netns !== undefined
      ? spawn('ip', ['netns', 'exec', opts.netns, kit.qemu, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(kit.qemu, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (d: Buffer): void => {
      this.console += d.toString('latin1');
      if (this.readyAt === null && this.console.includes('SLUICE-VM-READY')) this.readyAt = Date.now();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.child.stdin!.on('error', () => {});
    this.child.on('exit', (code, sig) => { this.exited = code ?? (sig ? 128 : -1); });
    this.child.on('error', (e) => { this.console += `\n[spawn error: ${e.message}]\n`; this.exited = -1; });
  }

  get pid(): number | undefined { return this.child.pid; }

  async waitReady(timeoutMs = 30_000): Promise<number> {
    await waitFor(() => this.readyAt !== null || this.exited !== null, timeoutMs, `${this.opts.name} to boot`).catch((e: Error) => {
      throw new Error(`${e.message}; console:\n${this.tail()}`);
    });
    if (this.readyAt === null) throw new Error(`${this.opts.name}: QEMU exited with ${this.exited}; console:\n${this.tail()}`);
    return this.readyAt - this.startedAt;
  }

  /** Run `cmd` in the guest's shell; resolves with its console output and exit code. */
  async run(cmd: string, timeoutMs = 20_000): Promise<{ code: number; output: string }> {
    const from = this.console.length;
    this.child.stdin!.write(cmd.replace(/\n/g, ' ') + '\n');
    const re = /SLUICE-DONE (\d+)/;
    await waitFor(() => re.test(this.console.slice(from)) || this.exited !== null, timeoutMs, `${this.opts.name}: ${cmd}`).catch((e: Error) => {
      throw new Error(`${e.message}; console:\n${this.tail()}`);
    });
    const out = this.console.slice(from);
    const m = re.exec(out);
    if (!m) throw new Error(`${this.opts.name}: QEMU exited with ${this.exited} during "${cmd}"; console:\n${this.tail()}`);
    return { code: Number(m[1]), output: out.slice(0, m.index) };
  }

  tail(n = 3000): string { return this.console.slice(-n); }

  /** Power off (or kill after `graceMs`); resolves when QEMU exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited !== null) return;
    try { this.child.stdin!.write('poweroff -f\n'); } catch { /* gone */ }
    try { await waitFor(() => this.exited !== null, graceMs, 'QEMU to exit'); } catch {
      this.child.kill('SIGKILL');
      await waitFor(() => this.exited !== null, 5000, 'QEMU to die').catch(() => {});
    }
  }
}

/** A locally administered unicast MAC 52:54:00:xx:xx:NN (QEMU's own prefix). */
export function vmMac(seed: number, n: number): string {
  const h = (v: number): string => (v & 0xff).toString(16).padStart(2, '0');
  return `52:54:00:${h(seed >> 8)}:${h(seed)}:${h(n)}`;
}

/** Size of a file in MiB, for the timings log. */
export function mib(path: string): string { return (statSync(path).size / 1048576).toFixed(1); }
