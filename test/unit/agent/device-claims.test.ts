// DeviceClaims: one holder per device (flock on a claim file), the holder named in the refusal,
// a claim released by close or by the holder's death (a child killed with SIGKILL), a file removed
// under the lock not mistaken for a claim, and the same device refused to a second port of one switch.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceBusyError, DeviceClaims, busyMessage } from '../../../src/agent/device-claims.js';
import { nativeAvailable } from '../../../src/datapath/native/index.js';
import { ROOT } from '../../helpers/cli.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function dir(): string { const d = mkdtempSync(join(tmpdir(), 'sluice-claims-')); dirs.push(d); return join(d, 'devices'); }

describe.skipIf(!nativeAvailable())('DeviceClaims', () => {
  it('refuses a device another holder has, naming its bridge, socket and pid; free again after release', () => {
    const d = dir();
    const a = new DeviceClaims({ bridge: 'br0', socket: '/run/sluice/br0.sock', pid: 111 }, d);
    const b = new DeviceClaims({ bridge: 'br1', socket: '/tmp/other.sock', pid: 222 }, d);
    a.claim('vnet0', 'vm1');
    expect(JSON.parse(readFileSync(a.pathOf('vnet0'), 'utf8'))).toMatchObject({ bridge: 'br0', pid: 111, port: 'vm1', device: 'vnet0' });
    let err: unknown;
    try { b.claim('vnet0', 'vmq'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DeviceBusyError);
    expect((err as DeviceBusyError).code).toBe('SW_ERR_DEVICE_BUSY');
    expect((err as Error).message).toBe('device vnet0 is held by switch br0 (socket /run/sluice/br0.sock, pid 111, port vm1)');
    b.claim('vnet1', 'other');                 // other devices are free
    a.release('vnet0');
    expect(existsSync(a.pathOf('vnet0'))).toBe(false);
    b.claim('vnet0', 'vmq');
    expect(JSON.parse(readFileSync(b.pathOf('vnet0'), 'utf8'))).toMatchObject({ bridge: 'br1', port: 'vmq' });
    b.releaseAll();
  });

  it('a second port of the same switch is refused; the same port claiming again is fine; relabel hands it over', () => {
    const a = new DeviceClaims({ bridge: 'br0', socket: 's', pid: 1 }, dir());
    a.claim('tap9', 'p1');
    a.claim('tap9', 'p1');
    expect(() => a.claim('tap9', 'p2')).toThrow('device tap9 is already port p1 of this switch (bridge br0)');
    expect(a.relabel('tap9', 'p1', 'p2')).toBe(true);
    a.release('tap9', 'p1');                   // not p1's any more: kept
    expect(a.heldBy('tap9')).toBe('p2');
    a.release('tap9', 'p2');
    expect(a.heldBy('tap9')).toBeUndefined();
  });

  it('a holder killed with SIGKILL leaves no claim behind (its file is still there, its lock is not)', () => {
    const d = dir();
    const script = `import { DeviceClaims } from './src/agent/device-claims.ts';
      new DeviceClaims({ bridge: 'brk', socket: 'k.sock', pid: process.pid }, ${JSON.stringify(d)}).claim('veth7', 'p');
      process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.signal).toBe('SIGKILL');
    const c = new DeviceClaims({ bridge: 'br0', socket: 's', pid: 2 }, d);
    expect(JSON.parse(readFileSync(c.pathOf('veth7'), 'utf8'))).toMatchObject({ bridge: 'brk' });
    c.claim('veth7', 'p');
    expect(JSON.parse(readFileSync(c.pathOf('veth7'), 'utf8'))).toMatchObject({ bridge: 'br0' });
    // sweep() removes only files nobody holds.
    c.claim('veth8', 'q');
    c.release('veth7');
    const other = new DeviceClaims({ bridge: 'br2', socket: 's2', pid: 3 }, d);
    other.claim('veth9', 'r');
    const leftover = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { DeviceClaims } from './src/agent/device-claims.ts'; new DeviceClaims({ bridge: 'brk', socket: 'k', pid: 1 }, ${JSON.stringify(d)}).claim('vetha', 'p'); process.kill(process.pid, 'SIGKILL');`],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(leftover.signal).toBe('SIGKILL');
    expect(c.sweep()).toEqual([c.pathOf('vetha')]);
    expect(existsSync(c.pathOf('veth8')) && existsSync(c.pathOf('veth9'))).toBe(true);
    other.releaseAll();
    c.releaseAll();
  });

  it('names no holder rather than a wrong one when the claim file is empty', () => {
    expect(busyMessage('x', null)).toMatch(/held by another sluice switch/);
  });
});

describe.skipIf(!nativeAvailable())('SwitchDaemon device claims (memory backends standing in for devices)', () => {
  it('claims at start, refuses a second port on the same device (409), keeps the claim when a port is re-attached, releases on remove and stop', async () => {
    const { SwitchDaemon, ApiError } = await import('../../../src/agent/daemon.js');
    const { MemoryPort } = await import('../../../src/datapath/ports/memory.js');
    const { pino } = await import('pino');
    const { writeFileSync } = await import('node:fs');
    const devicesDir = dir();
    const cfg = join(devicesDir, '..', 'sluice.yaml');
    writeFileSync(cfg, 'bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: vethq1 }\n');
    const d = await SwitchDaemon.start({ configPath: cfg, log: pino({ level: 'silent' }), makeBackend: (p) => new MemoryPort(p.name), claimDevices: true, devicesDir, socketPath: '/tmp/x.sock' });
    const probe = new DeviceClaims({ bridge: 'probe', socket: '-', pid: 0 }, devicesDir);
    try {
      expect(() => probe.claim('vethq1', 'p')).toThrow('device vethq1 is held by switch br0 (socket /tmp/x.sock, pid ' + process.pid + ', port pa)');
      const dup = await d.addPort({ name: 'pb', ofport: 2, type: 'system', device: 'vethq1' }).catch((e: unknown) => e);
      expect(dup).toBeInstanceOf(ApiError);
      expect((dup as InstanceType<typeof ApiError>).status).toBe(409);
      expect((dup as Error).message).toBe('Cannot open port "pb" (system vethq1): device vethq1 is already port pa of this switch (bridge br0)');
      // Re-attached (new ofport, same device) by a reload: the claim passes to the new port, never dropped.
      writeFileSync(cfg, 'bridges:\n  br0:\n    ports:\n      pa: { ofport: 7, type: system, device: vethq1 }\n');
      expect(await d.reload()).toEqual(expect.arrayContaining(['port pa removed', 'port pa added']));
      expect(() => probe.claim('vethq1', 'p')).toThrow(/held by switch br0/);
      await d.removePort('pa');
      probe.claim('vethq1', 'p');
      probe.release('vethq1');
      await d.addPort({ name: 'pc', ofport: 3, type: 'system', device: 'vethq2' });
      expect(() => probe.claim('vethq2', 'p')).toThrow(/port pc\)/);
    } finally {
      await d.stop();
    }
    probe.claim('vethq2', 'p');                // stop released it
    probe.releaseAll();
  });
});
