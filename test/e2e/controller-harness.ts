// Shared harness of the `sluice controller` e2e suites: the controller as a child process, the way
// an operator runs it (node + tsx, its own state dir, OpenFlow and API ports), with its CLI.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { runAsync, waitFor } from '../helpers/netns.js';
import type { ExecResult } from '../helpers/netns.js';

/** `sluice controller` as a child process with its own state dir, OpenFlow and API ports. */
export class ControllerProc {
  child: ChildProcess | null = null;
  stderr = '';
  /** `extraArgs`: more options of `sluice controller` (e.g. --split-interval). */
  constructor(readonly dir: string, readonly ofPort: number, readonly apiPort: number, readonly extraArgs: string[] = []) {}

  async start(): Promise<void> {
    this.stderr = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', this.dir,
      '--openflow', `ptcp:${this.ofPort}:127.0.0.1`, '--api', `127.0.0.1:${this.apiPort}`, '--lldp-interval', '0.5', '--log-level', 'info', ...this.extraArgs], {
      cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' },
    });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    await waitFor(() => /listening|api/i.test(this.stderr) && this.stderr.includes(String(this.apiPort)) || child.exitCode !== null, 20_000, 'the controller API');
    if (child.exitCode !== null) throw new Error(`sluice controller exited ${child.exitCode}: ${this.stderr}`);
  }

  kill9(): void { this.child?.kill('SIGKILL'); }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGTERM');
    await Promise.race([new Promise((r) => c.once('exit', r)), new Promise((r) => setTimeout(r, 8000))]);
    if (c.exitCode === null) c.kill('SIGKILL');
  }

  cli(args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return runAsync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args,
      '--controller', `http://127.0.0.1:${this.apiPort}`, '--token-file', join(this.dir, 'api-token')], timeoutMs);
  }

  async ok(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async json<T>(args: string[]): Promise<T> { return JSON.parse(await this.ok([...args, '--json'])) as T; }

  /** GET `path` of the API from this process (no CLI to start: for reads while traffic is measured). */
  async get<T>(path: string): Promise<T> {
    const r = await fetch(`http://127.0.0.1:${this.apiPort}${path}`, { headers: { authorization: `Bearer ${readFileSync(join(this.dir, 'api-token'), 'utf8').trim()}` } });
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }
}

/** Poll `fn` every `everyMs` until it gives a value (not undefined or false); throws naming `what`, with the last error, after `timeoutMs`. */
export async function expectEventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v !== undefined && v !== false) return v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
