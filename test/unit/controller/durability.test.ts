// Durability of `sluice controller` as a real process: a burst of 1,000 API writes with concurrency,
// `kill -9` at a random moment, a restart on the same state directory; every write the API
// acknowledged is there, the state file loads, and no temp file is left behind. Also: the daemon
// stops cleanly on SIGTERM, and refuses to start on a state file that does not load (one line).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../helpers/cli.js';
import { decodeState } from '../../../src/controller/store.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

interface Daemon { child: ChildProcess; url: string; token: string; stderr: () => string; exited: Promise<number | null> }

/** Start `sluice controller` on a free port; resolves once it logged where its API listens. */
function startDaemon(state: string, extra: string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', state, '--api', '127.0.0.1:0', '--openflow', 'ptcp:0:127.0.0.1', ...extra], {
    cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'info', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the controller did not start within 60 s: ${err}`)); }, 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"api":"(http:\/\/127\.0\.0\.1:\d+)".*"msg":"controller running"/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, token: readFileSync(join(state, 'api-token'), 'utf8').trim(), stderr: () => err, exited });
      }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`the controller exited (${code}) before it started: ${err}`)); });
  });
}

describe('sluice controller (a real process)', () => {
  it('keeps every acknowledged write across kill -9 in a burst of 1,000', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-durable-')); dirs.push(dir);
    const state = join(dir, 'state');
    const d = await startDaemon(state);
    const N = 1000, CONCURRENCY = 16;
    const seed = Date.now() % 100_000;
    const killAfter = 100 + (seed % 800);    // acknowledged writes before the kill: somewhere in the burst
    console.log(`[durability] seed ${seed}: kill -9 after ${killAfter} acknowledged writes`);
    const acked: string[] = [];
    let next = 0, killed = false;
    const worker = async (): Promise<void> => {
      while (next < N && !killed) {
        const i = next++;
        const name = `n${String(i).padStart(4, '0')}`;
        try {
          const res = await fetch(`${d.url}/v1/networks`, { method: 'POST', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, vid: i + 1 }) });
          await res.text();
          if (res.status === 201) acked.push(name);
          else if (!killed) throw new Error(`write ${name} answered ${res.status}`);
        } catch (e) {
          if (!killed) throw e;
          return;            // the process is gone: this write was never acknowledged
        }
        if (!killed && acked.length >= killAfter) { killed = true; d.child.kill('SIGKILL'); }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(await d.exited).toBe(null);          // killed by the signal
    expect(acked.length).toBeGreaterThanOrEqual(killAfter);

    // the file on disk loads as it is (a rename never leaves half a document)
    const onDisk = decodeState(readFileSync(join(state, 'state.json'), 'utf8'), 'state.json');
    const names = new Set(onDisk.intent.networks.map((n) => n.name));
    for (const a of acked) expect(names.has(a), a).toBe(true);
    const temps = readdirSync(state).filter((f) => f !== 'state.json' && f !== 'api-token');
    console.log(`[durability] ${acked.length} acknowledged, ${names.size} on disk, ${temps.length} temp file(s) left by the kill`);

    const d2 = await startDaemon(state);
    try {
      const res = await fetch(`${d2.url}/v1/networks`, { headers: { authorization: `Bearer ${d2.token}` } });
      const got = new Set(((await res.json()) as { networks: { name: string }[] }).networks.map((n) => n.name));
      for (const a of acked) expect(got.has(a), a).toBe(true);
      expect(got.size).toBe(names.size);
      expect(readdirSync(state).sort()).toEqual(['api-token', 'state.json']);
      expect(d2.token).toBe(d.token);          // the token survives restarts
      // a write after the restart works and lands
      const w = await fetch(`${d2.url}/v1/networks`, { method: 'POST', headers: { authorization: `Bearer ${d2.token}` }, body: JSON.stringify({ name: 'after', vid: 4000 }) });
      expect(w.status).toBe(201);
    } finally {
      d2.child.kill('SIGTERM');
      expect(await d2.exited).toBe(0);
    }
    expect(d2.stderr()).toMatch(/"msg":"controller stopped"/);
    expect(readdirSync(state).sort()).toEqual(['api-token', 'state.json']);
  });

  it('refuses to start on a state file that does not load, in one line (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-durable-')); dirs.push(dir);
    writeFileSync(join(dir, 'state.json'), '{"version":1,"intent":{"networks":[{"name":"a","vid":99999}]},"meterIds":{},"generation":"0","links":[]}');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', dir, '--api', '127.0.0.1:0', '--openflow', 'ptcp:0:127.0.0.1'], {
      cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, err).toBe(2);
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sluice: cannot start the controller: .*state\.json: intent\.networks\[0\]\.vid/);
  });
});
