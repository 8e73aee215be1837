// Start-up and save safety of `sluice switch` (memory ports, no root): what lies at the socket path
// (a file is never removed, a live switch is never displaced, a stale socket is), temp files of
// interrupted saves, and where `config save` may write (the config file or --save-to, nothing else).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveSwitch, type RunningSwitch } from '../../../src/agent/serve.js';
import { MgmtClient, MgmtApiError } from '../../../src/agent/mgmt-client.js';
import { loadConfig } from '../../../src/agent/config.js';
import { runAsync } from '../../helpers/netns.js';
import { ROOT } from '../../helpers/cli.js';

const YAML = 'bridges:\n  br0:\n    ports:\n      m1: { ofport: 1, type: memory }\n';
const log = pino({ level: 'silent' });
let dir = '';
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sluice-start-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function fresh(name: string): { d: string; cfg: string; sock: string } {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'sluice.yaml'), YAML);
  return { d, cfg: join(d, 'sluice.yaml'), sock: join(d, 'sw.sock') };
}

function cli(args: string[]): ReturnType<typeof runAsync> {
  return runAsync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], 30_000);
}

async function status(p: Promise<unknown>): Promise<[number, string, string | undefined]> {
  try { await p; return [200, '', undefined]; } catch (e) { if (e instanceof MgmtApiError) return [e.status, e.message, e.apiCode]; throw e; }
}

describe('the socket path at start-up', () => {
  it('a regular file there is refused and left alone (exit 2, one line)', async () => {
    const { cfg, sock } = fresh('file');
    writeFileSync(sock, 'precious');
    await expect(serveSwitch({ configPath: cfg, socketPath: sock, log })).rejects.toMatchObject({ code: 'SW_ERR_SOCKET', message: `${sock} exists and is a regular file, not a socket; not replacing it (remove it or choose another --socket)` });
    const r = await cli(['switch', '-c', cfg, '--socket', sock]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('{'))).toEqual([`sluice: ${sock} exists and is a regular file, not a socket; not replacing it (remove it or choose another --socket)`]);
    expect(readFileSync(sock, 'utf8')).toBe('precious');
  });

  it('a directory or a symbolic link there is refused too', async () => {
    const { cfg, sock, d } = fresh('dir');
    mkdirSync(sock);
    await expect(serveSwitch({ configPath: cfg, socketPath: sock, log })).rejects.toThrow(/is a directory, not a socket/);
    const link = join(d, 'link.sock');
    symlinkSync(join(d, 'nowhere'), link);
    await expect(serveSwitch({ configPath: cfg, socketPath: link, log })).rejects.toThrow(/is a symbolic link, not a socket/);
  });

  it('a live switch on the socket: the second one exits 2 before opening any port; the first keeps serving', async () => {
    const { cfg, sock } = fresh('live');
    const first = await serveSwitch({ configPath: cfg, socketPath: sock, log });
    try {
      await expect(serveSwitch({ configPath: cfg, socketPath: sock, log })).rejects.toMatchObject({ code: 'SW_ERR_SOCKET', message: `another switch is already serving ${sock}; stop it or use --socket` });
      const r = await cli(['switch', '-c', cfg, '--socket', sock]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^sluice: another switch is already serving .*sw\.sock; stop it or use --socket$/m);
      expect((await new MgmtClient(sock).get<{ ports: unknown[] }>('/ports')).ports).toHaveLength(1);
    } finally { await first.stop(); }
  });

  it('a stale socket (nothing listening) is replaced', async () => {
    const { cfg, sock } = fresh('stale');
    // What a switch killed with -9 leaves: the socket file, nobody listening on it.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise<void>((r) => child.once('exit', () => r()));
    expect(existsSync(sock)).toBe(true);
    const sw = await serveSwitch({ configPath: cfg, socketPath: sock, log });
    try { expect((await new MgmtClient(sock).get<{ ports: unknown[] }>('/ports')).ports).toHaveLength(1); } finally { await sw.stop(); }
  });
});

describe('config save', () => {
  let sw: RunningSwitch;
  let c: MgmtClient;
  let f: ReturnType<typeof fresh>;
  beforeAll(async () => {
    f = fresh('save');
    // Temp files a kill -9 during a save left behind (writer gone), and one that is not ours.
    writeFileSync(join(f.d, `sluice.yaml.tmp-${2 ** 22 + 7}-0123abcd`), 'half a config');
    writeFileSync(join(f.d, 'sluice.yaml.tmp-notours'), 'x');
    sw = await serveSwitch({ configPath: f.cfg, socketPath: f.sock, log });
    c = new MgmtClient(f.sock);
  });
  afterAll(async () => { await sw?.stop(); });

  it('removed the temp files of interrupted saves at start, and nothing else', () => {
    expect(readdirSync(f.d).sort()).toEqual(['sluice.yaml', 'sluice.yaml.tmp-notours', 'sw.sock']);
  });

  it('writes the file the switch was started with; a path from the client is refused with 400', async () => {
    await c.post('/ports', { name: 'm2', ofport: 2, type: 'memory' });
    const elsewhere = join(f.d, 'elsewhere.yaml');
    for (const body of [{ path: elsewhere }, { path: 5 }, { path: f.d }, { path: null }]) {
      expect(await status(c.post('/config/save', body))).toEqual([400, 'config save does not take a path: the switch writes only the file it was started with (-c) or its --save-to file', 'SW_ERR_BAD_REQUEST']);
    }
    expect(await status(c.post('/config/save', { to: 'x' }))).toEqual([400, 'config save takes no fields (got "to")', 'SW_ERR_BAD_REQUEST']);
    expect(await status(c.post('/config/save', []))).toEqual([400, 'config save takes no arguments: send {} or no body', 'SW_ERR_BAD_REQUEST']);
    expect(existsSync(elsewhere)).toBe(false);
    expect(await c.post('/config/save', {})).toEqual({ saved: f.cfg });
    expect(Object.keys((await loadConfig(f.cfg)).bridges.br0.ports)).toEqual(['m1', 'm2']);
    expect(readdirSync(f.d).filter((n) => /\.tmp-\d/.test(n))).toEqual([]);
  });

  it('sluice config save: no --to; writes the switch\'s own file', async () => {
    const r = await cli(['config', 'save', '--to', join(f.d, 'x.yaml'), '--socket', f.sock]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('sluice: config save writes only the file the switch was started with; start it with --save-to FILE to save elsewhere, or copy the saved file');
    const ok = await cli(['config', 'save', '--socket', f.sock]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(`running config saved to ${f.cfg}`);
  });

  it('with --save-to, saves go there (checked at start: an existing directory, not a directory itself)', async () => {
    const g = fresh('save-to');
    const to = join(g.d, 'out', 'saved.yaml');
    await expect(serveSwitch({ configPath: g.cfg, socketPath: g.sock, saveTo: to, log })).rejects.toMatchObject({ code: 'SW_ERR_SAVE_TO', message: `--save-to ${to}: directory ${join(g.d, 'out')} does not exist` });
    await expect(serveSwitch({ configPath: g.cfg, socketPath: g.sock, saveTo: g.d, log })).rejects.toMatchObject({ code: 'SW_ERR_SAVE_TO', message: `--save-to ${g.d} is not a regular file` });
    mkdirSync(join(g.d, 'out'));
    const s2 = await serveSwitch({ configPath: g.cfg, socketPath: g.sock, saveTo: to, log });
    try {
      expect(await new MgmtClient(g.sock).post('/config/save', {})).toEqual({ saved: to });
      expect(Object.keys((await loadConfig(to)).bridges)).toEqual(['br0']);
      expect(readFileSync(g.cfg, 'utf8')).toBe(YAML);            // the config file itself untouched
    } finally { await s2.stop(); }
    const r = await cli(['switch', '-c', g.cfg, '--socket', g.sock, '--save-to', g.d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sluice: --save-to .* is not a regular file$/m);
  });
});
