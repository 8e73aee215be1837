// `sluice channel create|set --socket` as a user runs it (a child process) against a switch served
// in this process with memory ports: set changes only what exists (an unknown name is one line
// naming the known channels, exit 2, nothing created), create refuses a taken name; and the
// management API's POST /channels (create, 409) and PATCH /channels/:name (change, 404) underneath.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveSwitch, type RunningSwitch } from '../../../src/agent/serve.js';
import { MgmtApiError, MgmtClient } from '../../../src/agent/mgmt-client.js';
import { ROOT } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-chcli-'));
const cfg = join(dir, 'sluice.yaml');
const sock = join(dir, 'sw.sock');
let sw: RunningSwitch;
let c: MgmtClient;

beforeAll(async () => {
  writeFileSync(cfg, 'bridges:\n  br0:\n    ports:\n      m1: { ofport: 1, type: memory, channel: gold }\nchannels:\n  gold: { rate: 20mbit }\n  silver: { rate: 10mbit }\n');
  sw = await serveSwitch({ configPath: cfg, socketPath: sock, metricsPort: 0, log: pino({ level: 'silent' }) });
  c = new MgmtClient(sock);
});
afterAll(async () => { await sw?.stop(); rmSync(dir, { recursive: true, force: true }); });

/** The CLI in a child process (async: the switch answers from this process's event loop). */
function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--socket', sock], { cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', FORCE_COLOR: '0' } });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function oneLine(r: { code: number; stderr: string }, code: number, re: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^sluice: /);
  expect(r.stderr).toMatch(re);
}

async function status(p: Promise<unknown>): Promise<[number, string]> {
  try { await p; return [200, '']; } catch (e) { if (e instanceof MgmtApiError) return [e.status, e.message]; throw e; }
}

const names = (): string[] => sw.daemon.channelNames();

describe('sluice channel on a switch socket', () => {
  it('set on an unknown name: one line naming the known channels, exit 2, nothing created', async () => {
    const r = await sluice(['channel', 'set', 'nosuch', '--rate', '5mbit']);
    oneLine(r, 2, /no channel "nosuch" \(channels: gold, silver\).*sluice channel create nosuch/);
    expect(r.stdout).toBe('');
    expect(names()).toEqual(['gold', 'silver']);
  });

  it('set changes an existing channel', async () => {
    const r = await sluice(['channel', 'set', 'silver', '--rate', '5mbit']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/channel silver: 5mbit police/);
    expect(sw.daemon.channels.get('silver')!.spec.tokensPerSec).toBe(5e6 / 8);
  });

  it('create makes a new channel and refuses an existing one (exit 2, one line)', async () => {
    const r = await sluice(['channel', 'create', 'bronze', '--rate', '1mbit']);
    expect(r.code, r.stderr).toBe(0);
    expect(names()).toEqual(['bronze', 'gold', 'silver']);
    oneLine(await sluice(['channel', 'create', 'gold', '--rate', '1mbit']), 2, /channel "gold" already exists.*sluice channel set gold/);
    expect(sw.daemon.channels.get('gold')!.spec.tokensPerSec).toBe(20e6 / 8);
  });
});

describe('tables and --json of a live switch', () => {
  it('channel list and stats in the one unit style; flows dump --json as structured records', async () => {
    const l = await sluice(['channel', 'list']);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/gold .*20\.0 Mbit\/s/);
    expect(l.stdout).toMatch(/0 pkts \/ 0 B/);
    const st = await sluice(['stats']);
    expect(st.stdout).toMatch(/m1 .* 0 B /);
    const f = await sluice(['flows', 'dump', '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout)).toEqual({ flows: [expect.objectContaining({ table: 0, priority: 0, match: {}, actions: ['NORMAL'], counters: expect.objectContaining({ packets: 0, bytes: 0 }) })] });
  });
});

describe('management API: POST /channels creates, PATCH /channels/:name changes', () => {
  it('POST: 201 for a new name, 409 for a taken one, 400 without name or rate', async () => {
    await c.post('/channels', { name: 'tin', rate: '2mbit' });
    expect(names()).toContain('tin');
    expect(await status(c.post('/channels', { name: 'tin', rate: '3mbit' }))).toEqual([409, expect.stringMatching(/channel "tin" already exists/)]);
    expect(await status(c.post('/channels', { rate: '3mbit' }))).toEqual([400, expect.stringMatching(/needs a "name"/)]);
    expect(await status(c.post('/channels', { name: 'lead' }))).toEqual([400, expect.stringMatching(/needs a rate/)]);
    expect(names()).not.toContain('lead');
  });

  it('PATCH: changes in place (same object, tokens kept); 404 names the known channels', async () => {
    const before = sw.daemon.channels.get('gold');
    await c.patch('/channels/gold', { burst: '64kb' });
    expect(sw.daemon.channels.get('gold')).toBe(before);
    const [st, msg] = await status(c.patch('/channels/nope', { rate: '1mbit' }));
    expect(st).toBe(404);
    expect(msg).toMatch(/^no channel "nope" \(channels: bronze, gold, silver, tin\)/);
    expect(names()).not.toContain('nope');
  });
});
