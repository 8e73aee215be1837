// The committed man page is what the command definitions generate now (regenerate with
// `npm run man`), and `sluice completion bash|zsh` prints scripts that ask sluice for completions.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { MAN_PATH, manPage } from '../../../src/cli/man.js';
import { sluice } from '../../helpers/cli.js';

describe('man/sluice.1', () => {
  it('is up to date with the yargs command tree (run `npm run man` if not)', async () => {
    const page = await manPage();
    expect(page).toMatch(/^\.TH SLUICE 1 /);
    for (const sub of ['sluice channel create', 'sluice channel set', 'sluice port add', 'sluice flows dump', 'sluice controller']) expect(page).toContain(`.SS "${sub}"`);
    expect(readFileSync(MAN_PATH, 'utf8') === page, 'man/sluice.1 is stale: run `npm run man` and commit it').toBe(true);
  }, 60_000);
});

describe('sluice completion', () => {
  it('prints a bash script and a zsh script; other shells are one line, exit 2', () => {
    const bash = sluice(['completion', 'bash']);
    expect(bash.code, bash.stderr).toBe(0);
    expect(bash.stdout).toMatch(/complete -o bashdefault -o default -F _sluice_yargs_completions sluice/);
    const zsh = sluice(['completion', 'zsh']);
    expect(zsh.code, zsh.stderr).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef sluice/m);
    expect(zsh.stdout).toMatch(/compdef _sluice_yargs_completions sluice/);
    const fish = sluice(['completion', 'fish']);
    expect([fish.code, fish.stderr]).toEqual([2, 'sluice: completion "fish": sluice has completion scripts for bash and zsh\n']);
  });

  it('completes subcommands from the command tree', () => {
    const r = sluice(['--get-yargs-completions', 'channel', 's']);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'set', 'list']));
  });
});
