// Bad command lines as a user types them (the CLI as a child process): every one is one line
// `sluice: ...` and exit 2, never a stack; mistyped options and commands get a "did you mean";
// --version prints package.json's version.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, sluice } from '../../helpers/cli.js';

function usage(args: string[], re: RegExp, env?: Record<string, string>): void {
  const r = sluice(args, { timeoutMs: 30_000, ...(env ? { env } : {}) });
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^sluice: /);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.stderr).toMatch(re);
}

describe('sluice: bad arguments are one line, exit 2', () => {
  it.each([
    [['switch', '--log-level', 'verbose'], /--log-level "verbose" is not a log level \(trace, debug, info, warn, error, fatal, silent\)/],
    [['switch', '-c', 'nope.yaml', '--log-level', 'verbose'], /--log-level "verbose" is not a log level/],
    [['controller', '--log-level', 'verbose'], /--log-level "verbose" is not a log level/],
    [['switch', '--log-levl', 'debug'], /^sluice: unknown option --log-levl \(did you mean --log-level\?\)$/m],
    [['replay', '--cse', 'x'], /unknown option --cse \(did you mean --case\?\)/],
    [['port', 'list', '--jsn'], /unknown option --jsn \(did you mean --json\?\)/],
    [['channel', 'set', 'x', '--rat', '5mbit', '--socket', '/nonexistent.sock'], /unknown option --rat \(did you mean --rate\?\)/],
    [['replay', '--zzzzzz'], /^sluice: unknown option --zzzzzz$/m],
    [['swtich'], /unknown command "swtich" \(did you mean "sluice switch"\?\)/],
  ])('sluice %j', (args, re) => usage(args, re));

  it('an unknown $SLUICE_LOG_LEVEL is one line too', () => {
    usage(['controller'], /\$SLUICE_LOG_LEVEL "verbose" is not a log level/, { SLUICE_LOG_LEVEL: 'verbose' });
  });

  it('--version prints the version in package.json', () => {
    const r = sluice(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });
});
