// A switch whose bridge names an OpenFlow controller refuses channel changes on its own socket
// (set, create, delete) with one line naming the controller; listing still works, and a bridge
// without a controller keeps the switch-local commands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveSwitch, type RunningSwitch } from '../../../src/agent/serve.js';
import { cliInproc, oneLineError } from '../../helpers/cli-inproc.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-managed-'));
let managed: RunningSwitch, free: RunningSwitch;
const msock = join(dir, 'managed.sock'), fsock = join(dir, 'free.sock');

beforeAll(async () => {
  const log = pino({ level: 'silent' });
  writeFileSync(join(dir, 'm.yaml'), 'bridges:\n  br0:\n    fail-mode: secure\n    controllers: ["tcp:192.0.2.1:6653"]\n    ports:\n      m1: { ofport: 1, type: memory, channel: gold }\nchannels:\n  gold: { rate: 20mbit }\n');
  writeFileSync(join(dir, 'f.yaml'), 'bridges:\n  br1:\n    ports:\n      m1: { ofport: 1, type: memory }\n');
  managed = await serveSwitch({ configPath: join(dir, 'm.yaml'), socketPath: msock, log, openflow: false });
  free = await serveSwitch({ configPath: join(dir, 'f.yaml'), socketPath: fsock, log, openflow: false });
});
afterAll(async () => { await managed?.stop(); await free?.stop(); rmSync(dir, { recursive: true, force: true }); });

describe('switch-local channel commands on a controller-managed bridge', () => {
  it('refuse set, create and delete, naming the controller', async () => {
    const re = /^sluice: bridge br0 is managed by the controller at tcp:192\.0\.2\.1:6653: change channel "gold" there/m;
    oneLineError(await cliInproc(['channel', 'set', 'gold', '--rate', '5mbit', '--socket', msock]), 2, re);
    oneLineError(await cliInproc(['channel', 'delete', 'gold', '--socket', msock]), 2, re);
    oneLineError(await cliInproc(['channel', 'create', 'silver', '--rate', '5mbit', '--socket', msock]), 2, /managed by the controller at tcp:192\.0\.2\.1:6653: change channel "silver"/);
    expect((await managed.daemon.listChannels()).map((c) => [c.name, c.rate])).toEqual([['gold', '20mbit']]);
    const l = await cliInproc(['channel', 'list', '--socket', msock, '--json']);
    expect(JSON.parse(l.stdout).channels[0]).toMatchObject({ name: 'gold', rate: '20mbit' });
  });

  it('work as before on a bridge without a controller', async () => {
    const c = await cliInproc(['channel', 'create', 'gold', '--rate', '5mbit', '--socket', fsock]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toBe('channel gold: 5mbit police\n');
    oneLineError(await cliInproc(['channel', 'create', 'gold', '--rate', '5mbit', '--socket', fsock]), 2, /already exists on the switch/);
    expect((await cliInproc(['channel', 'set', 'gold', '--rate', '7mbit', '--mode', 'shape', '--socket', fsock])).stdout).toBe('channel gold: 7mbit shape\n');
    expect((await cliInproc(['channel', 'assign', 'gold', 'm1', '--socket', fsock])).stdout).toBe('port m1: channel gold\n');
    oneLineError(await cliInproc(['channel', 'assign', 'gold', 'host/br1:m1', '--socket', fsock]), 2, /name the port alone/);
    expect((await cliInproc(['channel', 'unassign', 'm1', '--socket', fsock])).stdout).toBe('port m1: channel -\n');
    expect((await cliInproc(['channel', 'del', 'gold', '--socket', fsock])).stdout).toBe('channel gold deleted\n');
  });
});
