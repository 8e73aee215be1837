// Unit: the host-tool gate of the e2e suites. `npm run setup:host` installs every Debian package the
// helpers name (the tool table, the library table, hand-written install hints); .ci/run has no list
// of its own; a missing tool makes a suite skip naming its package, or fail under
// SLUICE_REQUIRE_PRIVILEGED=1.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/cli.js';
import { HOST_LIBS, HOST_TOOLS, findOnPath, installHint, missingTools } from '../../helpers/host-tools.js';
import { gate } from '../../helpers/privileged.js';
import { QEMU_GUEST_KERNEL_PACKAGE } from '../../helpers/qemu.js';

const setupList = (): string[] =>
  execFileSync('bash', [join(ROOT, 'scripts/setup-host.sh'), '--list'], { encoding: 'utf8' }).split('\n').filter((l) => l.length > 0);

const dirs: string[] = [];
afterAll(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
function tempDir(): string { const d = mkdtempSync(join(tmpdir(), 'sluice-tools-')); dirs.push(d); return d; }

describe('setup:host and the helpers name the same packages', () => {
  it('setup-host.sh --list prints Debian package names, each once', () => {
    const pkgs = setupList();
    expect(pkgs.length).toBeGreaterThan(10);
    for (const p of pkgs) expect(p).toMatch(/^[a-z0-9][a-z0-9.+-]+$/);
    expect(new Set(pkgs).size).toBe(pkgs.length);
    // named by the brief of setup:host: the daemons of upcoming controller tests and the CPU hog
    expect(pkgs).toEqual(expect.arrayContaining(['openvswitch-switch', 'stress-ng']));
  });

  it('installs the package of every tool and library in the tables, and the QEMU guest kernel', () => {
    const pkgs = new Set(setupList());
    const named = [...Object.values(HOST_TOOLS), ...Object.values(HOST_LIBS).map((l) => l.pkg), QEMU_GUEST_KERNEL_PACKAGE];
    expect(named.filter((p) => !pkgs.has(p))).toEqual([]);
  });

  it('installs every package an e2e helper or suite tells the user to apt-get install', () => {
    // Hints normally go through installHint() and the tables; this catches one written by hand.
    const pkgs = new Set(setupList());
    const hinted: string[] = [];
    for (const dir of ['test/helpers', 'test/e2e', 'test/pcap']) {
      for (const f of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.ts'))) {
        const text = readFileSync(join(ROOT, dir, f), 'utf8');
        for (const m of text.matchAll(/apt-get install((?: [a-z0-9][a-z0-9.+-]+)+)/g)) hinted.push(...m[1].trim().split(' ').map((p) => `${p} (${dir}/${f})`));
      }
    }
    expect(hinted.filter((h) => !pkgs.has(h.split(' ')[0]))).toEqual([]);
  });

  it('.ci/run installs through setup:host, keeps SLUICE_REQUIRE_PRIVILEGED=1 and ends with npm ci + npm test', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm run setup:host$/m);
    expect(ci).not.toMatch(/apt-get install/);
    expect(ci).toMatch(/^export SLUICE_REQUIRE_PRIVILEGED=1$/m);
    expect(ci.trimEnd().split('\n').slice(-2)).toEqual(['npm ci --no-audit --no-fund', 'npm test']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['setup:host']).toBe('bash scripts/setup-host.sh');
  });
});

describe('finding host tools', () => {
  it('findOnPath returns the first executable file of that name on PATH, never a plain file or a directory', () => {
    const a = tempDir(), b = tempDir();
    writeFileSync(join(a, 'sl-tool'), 'not executable');
    writeFileSync(join(b, 'sl-tool'), '#!/bin/sh\n');
    chmodSync(join(b, 'sl-tool'), 0o755);
    expect(findOnPath('sl-tool', `${a}:${b}`)).toBe(join(b, 'sl-tool'));
    expect(findOnPath('sl-tool', a)).toBeNull();
    expect(findOnPath('sl-tool', '')).toBeNull();
    expect(findOnPath('tmp', '/')).toBeNull();   // /tmp is a directory
  });

  it('missingTools names each missing tool and the packages to install', () => {
    const empty = tempDir();
    const table = { 'sl-no-such-tool': 'sl-fake-pkg', 'sl-other': 'sl-fake-pkg', sh: 'dash' };
    expect(missingTools(['sl-no-such-tool'], { pathVar: empty, table })).toBe('`sl-no-such-tool` not found: apt-get install sl-fake-pkg');
    expect(missingTools(['sl-no-such-tool', 'sl-other'], { pathVar: empty, table })).toBe('`sl-no-such-tool`, `sl-other` not found: apt-get install sl-fake-pkg');
    expect(missingTools(['sh'], { pathVar: '/bin:/usr/bin', table })).toBeUndefined();
    expect(missingTools(['ping', 'iperf3'], { pathVar: empty })).toBe('`ping`, `iperf3` not found: apt-get install iputils-ping iperf3');
    expect(() => missingTools(['sl-unlisted'], { pathVar: empty, table })).toThrow(/no Debian package in the table/);
    expect(installHint(['a', 'b', 'a'])).toBe('apt-get install a b');
  });
});

describe('the suite gate', () => {
  /** Run `fn` with PATH pointing at an empty directory: no host tool can be found. */
  function withoutTools<T>(fn: () => T): T {
    const saved = process.env.PATH;
    process.env.PATH = tempDir();
    try { return fn(); } finally { process.env.PATH = saved; }
  }

  it('runs a suite whose tools are all there', () => {
    expect(gate({ root: false, tools: [] }, {})).toEqual({ run: true });
  });

  it('skips a suite whose tool is missing, naming the package', () => {
    const g = withoutTools(() => gate({ root: false, tools: ['ping', 'tshark'] }, {}));
    expect(g).toEqual({ run: false, fail: false, reason: '`ping`, `tshark` not found: apt-get install iputils-ping tshark' });
  });

  it('fails instead under SLUICE_REQUIRE_PRIVILEGED=1', () => {
    const g = withoutTools(() => gate({ root: false, tools: ['ping'] }, { SLUICE_REQUIRE_PRIVILEGED: '1' }));
    expect(g).toEqual({ run: false, fail: true, reason: '`ping` not found: apt-get install iputils-ping' });
    expect(gate({ root: false, tools: [] }, { SLUICE_REQUIRE_PRIVILEGED: '1' })).toEqual({ run: true });
  });

  it('joins every reason: tools, then any extra check', () => {
    const g = withoutTools(() => gate({ root: false, tools: ['iperf3'], check: () => 'no kernel: apt-get install linux-image-amd64' }, {}));
    expect(g).toMatchObject({ run: false, reason: '`iperf3` not found: apt-get install iperf3; no kernel: apt-get install linux-image-amd64' });
  });
});
