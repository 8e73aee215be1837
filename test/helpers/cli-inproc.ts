// Runs the `sluice` CLI's main() inside the test process (fast, and reachable by nock), capturing
// stdout and stderr and setting environment variables for the call only.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface InprocResult { code: number; stdout: string; stderr: string }

export async function cliInproc(args: string[], env: Record<string, string | undefined> = {}): Promise<InprocResult> {
  const out: string[] = [], err: string[] = [];
  const so = vi.spyOn(process.stdout, 'write').mockImplementation(((c: string | Uint8Array) => { out.push(String(c)); return true; }) as typeof process.stdout.write);
  const se = vi.spyOn(process.stderr, 'write').mockImplementation(((c: string | Uint8Array) => { err.push(String(c)); return true; }) as typeof process.stderr.write);
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) { saved[k] = process.env[k]; if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    so.mockRestore(); se.mockRestore();
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    process.exitCode = undefined;
  }
}

/** A failed command: its exit code and exactly one line on stderr, no stack. */
export function oneLineError(r: InprocResult, code: number, pattern: RegExp): void {
  if (r.code !== code || r.stderr.trim().split('\n').length !== 1 || !pattern.test(r.stderr) || /\n\s+at /.test(r.stderr)) {
    throw new Error(`expected exit ${code} and one line matching ${pattern}; got exit ${r.code}, stderr ${JSON.stringify(r.stderr)}, stdout ${JSON.stringify(r.stdout.slice(0, 300))}`);
  }
  if (!r.stderr.startsWith('sluice: ')) throw new Error(`stderr does not start with "sluice: ": ${r.stderr}`);
}
