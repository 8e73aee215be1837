// bin/sluice.js, the command the README's quick start runs: it loads the built CLI from dist/ and
// fails, if it must, with one line (never silently). Skips, saying why, when dist/ is not built.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../helpers/cli.js';

const built = existsSync(join(ROOT, 'dist/cli/main.js'));
const run = (bin: string, args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });

describe('bin/sluice.js', () => {
  it('runs the built CLI: --help, and a bad argument is one line, exit 2', (ctx) => {
    ctx.skip(!built, 'dist/ is not built: `npm run build` (npm install runs it) makes it');
    const v = run(join(ROOT, 'bin/sluice.js'), ['--help']);
    expect([v.status, v.stdout]).toEqual([0, expect.stringMatching(/^sluice <command>/)]);
    const bad = run(join(ROOT, 'bin/sluice.js'), ['replay', '--cse', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('says in one line when dist/ is not built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bin-'));
    try {
      cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      const r = run(join(dir, 'bin/sluice.js'), ['--version']);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe('sluice: not built yet; run `npm install` (or `npm run build`) in the project folder\n');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
