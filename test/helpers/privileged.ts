// Gate for e2e suites that need root (TAP devices via /dev/net/tun, veth pairs, `ip netns`) and
// host tools (ping, iperf3, ovs-ofctl, ...: declared per suite, packages in host-tools.ts). Without
// them a suite skips with a printed reason naming the Debian package, unless CI sets
// SLUICE_REQUIRE_PRIVILEGED=1, under which anything missing fails the suite instead.
import { accessSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { findOnPath, missingLibs, missingTools, type HostLib, type HostTool } from './host-tools.js';

let cached: { ok: boolean; reason?: string } | null = null;

export function privileged(): { ok: boolean; reason?: string } {
  if (cached) return cached;
  cached = check();
  return cached;
}

function check(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `platform is ${process.platform}, not Linux` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { ok: false, reason: 'not running as root' };
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch (err) {
    return { ok: false, reason: `/dev/net/tun is not usable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  if (findOnPath('ip') === null) return { ok: false, reason: missingTools(['ip']) };
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return { ok: false, reason: `\`ip netns list\` did not run: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `\`ip netns list\` failed: ${(r.stderr || '').trim()}` };
  return { ok: true };
}

/** What a suite declares it needs. */
export interface SuiteNeeds {
  /** Host commands the suite runs (each has its Debian package in HOST_TOOLS). */
  tools?: readonly HostTool[];
  /** Host libraries it loads through npm bindings (HOST_LIBS). */
  libs?: readonly HostLib[];
  /** Anything else: returns why the suite cannot run here (naming the package), or undefined. */
  check?: () => string | undefined;
}

export type GateResult = { run: true } | { run: false; reason: string; fail: boolean };

/**
 * Decide for one suite: run, skip (reason printed), or fail (SLUICE_REQUIRE_PRIVILEGED=1 in `env`).
 * `root` adds the checks of privileged(). Every missing piece is named, not only the first.
 */
export function gate(needs: SuiteNeeds & { root: boolean }, env: NodeJS.ProcessEnv = process.env): GateResult {
  const reasons: string[] = [];
  if (needs.root) { const p = privileged(); if (!p.ok) reasons.push(p.reason ?? 'not privileged'); }
  const tools = missingTools(needs.tools ?? []);
  if (tools !== undefined) reasons.push(tools);
  const libs = missingLibs(needs.libs ?? []);
  if (libs !== undefined) reasons.push(libs);
  const other = needs.check?.();
  if (other !== undefined) reasons.push(other);
  if (reasons.length === 0) return { run: true };
  return { run: false, reason: reasons.join('; '), fail: env.SLUICE_REQUIRE_PRIVILEGED === '1' };
}

/** Register `name` as `gate` says: the suite itself, a failing stand-in, or a skipped suite. */
export function describeGated(name: string, g: GateResult, fn: () => void): void {
  if (g.run) { describe(name, fn); return; }
  if (g.fail) {
    describe(name, () => {
      it('has what this suite needs', () => {
        throw new Error(`SLUICE_REQUIRE_PRIVILEGED=1 but this suite cannot run: ${g.reason}`);
      });
    });
    return;
  }
  const why = `${g.reason} (${hint(g.reason)})`;
  console.warn(`[skip] ${name}: ${why}`);
  // One stand-in test, reported as skipped with the reason as its note (the suite is not registered).
  describe(name, () => {
    it('has what this suite needs', (ctx) => ctx.skip(why));
  });
}

/**
 * `describe` that needs root and the declared host tools, e.g.
 * `describePrivileged(name, fn, { tools: ['ping', 'iperf3'] })`: skips with the reason (and the
 * packages to install), or fails when SLUICE_REQUIRE_PRIVILEGED=1.
 */
export function describePrivileged(name: string, fn: () => void, needs: SuiteNeeds = {}): void {
  describeGated(name, gate({ ...needs, root: true }), fn);
}

/** `describe` for a suite that needs host tools but not root (same skip/fail rule). */
export function describeWithTools(name: string, fn: () => void, needs: SuiteNeeds): void {
  describeGated(name, gate({ ...needs, root: false }), fn);
}

/** `it` for one test that needs more host tools than the rest of its suite (same skip/fail rule). */
export function itWithTools(name: string, tools: readonly HostTool[], fn: () => Promise<void> | void, timeoutMs?: number): void {
  const g = gate({ tools, root: false });
  if (g.run) { it(name, fn, timeoutMs); return; }
  if (g.fail) {
    it(name, () => { throw new Error(`SLUICE_REQUIRE_PRIVILEGED=1 but this test cannot run: ${g.reason}`); });
    return;
  }
  const why = `${g.reason} (${hint(g.reason)})`;
  console.warn(`[skip] ${name}: ${why}`);
  it(name, (ctx) => ctx.skip(why));   // reported as skipped, the reason as its note
}

function hint(reason: string): string {
  const setup = reason.includes('apt-get install') ? '`sudo npm run setup:host` installs what the full suite needs; ' : '';
  return `${setup}set SLUICE_REQUIRE_PRIVILEGED=1 to make this a failure`;
}
