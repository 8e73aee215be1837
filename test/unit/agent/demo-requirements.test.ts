// Unit: the `sluice demo` "what is missing" check with injected probes (the non-root path cannot
// be exercised as root), and the one- or two-line message that points to the rootless replay case.
import { describe, expect, it } from 'vitest';
import { missingRequirements, requirementsMessage, REPLAY_HINT, type DemoProbes } from '../../../src/demo/lab.js';

const ready: DemoProbes = { platform: 'linux', uid: 0, tun: () => true, has: () => true };

describe('sluice demo requirements', () => {
  it('reports nothing missing on a ready host', () => {
    expect(missingRequirements(ready)).toEqual([]);
  });

  it('names each missing piece: root, /dev/net/tun, ip, ping, iperf3', () => {
    expect(missingRequirements({ ...ready, uid: 1000 })).toEqual(['root (it creates namespaces and TAP devices)']);
    expect(missingRequirements({ ...ready, tun: () => false })).toEqual(['/dev/net/tun']);
    const lacks = new Set(['iperf3', 'ping']);
    expect(missingRequirements({ ...ready, has: (c) => !lacks.has(c) })).toEqual(['`ping` (iputils-ping)', '`iperf3`']);
    expect(missingRequirements({ ...ready, has: (c) => c !== 'ip' })).toEqual(['`ip` (iproute2)']);
    expect(missingRequirements({ platform: 'linux', uid: undefined, tun: () => false, has: () => false })).toHaveLength(5);
  });

  it('stops at the platform when not on Linux', () => {
    expect(missingRequirements({ ...ready, platform: 'darwin' })).toEqual(['Linux (this is darwin)']);
  });

  it('says what it needs in at most two lines and suggests the rootless replay case', () => {
    const msg = requirementsMessage(missingRequirements({ ...ready, uid: 1000, has: (c) => c !== 'iperf3' }));
    expect(msg.split('\n').length).toBeLessThanOrEqual(2);
    expect(msg).toContain('missing here: root (it creates namespaces and TAP devices), `iperf3`.');
    expect(msg).toContain(REPLAY_HINT);
    expect(REPLAY_HINT).toBe('npx sluice replay --case pcaps/vlan-isolation');
  });
});
