// Gate for e2e suites that need root: TAP devices (/dev/net/tun), veth pairs and network
// namespaces (`ip netns`). Without them a suite skips with a printed reason, unless CI sets
// SLUICE_REQUIRE_PRIVILEGED=1, under which a missing privilege fails the suite instead.
import { accessSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

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
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return { ok: false, reason: `\`ip\` (iproute2) is not available: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `\`ip netns list\` failed: ${(r.stderr || '').trim()}` };
  return { ok: true };
}

/** `describe` that needs root: skips with a reason, or fails when SLUICE_REQUIRE_PRIVILEGED=1. */
export function describePrivileged(name: string, fn: () => void): void {
  const p = privileged();
  if (!p.ok && process.env.SLUICE_REQUIRE_PRIVILEGED === '1') {
    describe(name, () => {
      it('has the privileges this suite needs', () => {
        throw new Error(`SLUICE_REQUIRE_PRIVILEGED=1 but this suite cannot run: ${p.reason}`);
      });
    });
    return;
  }
  if (!p.ok) console.warn(`[skip] ${name}: ${p.reason} (set SLUICE_REQUIRE_PRIVILEGED=1 to make this a failure)`);
  // Without privileges the suite is reported as skipped, with the reason in its name.
  describe.skipIf(!p.ok)(p.ok ? name : `${name} (skipped: ${p.reason})`, fn);
}
