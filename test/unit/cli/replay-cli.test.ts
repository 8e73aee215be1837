// `sluice replay` and `sluice trace` as a user runs them: exit codes, one-line errors for bad
// input (config, capture, flow string, unknown port, bad arguments), readable differences.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, existsSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sluice, ROOT } from '../../helpers/cli.js';
import { parseCapture } from '../../../src/packet/capture.js';

const CASE = join(ROOT, 'pcaps', 'vlan-isolation');
let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'sluice-cli-')); });
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

/** An input error: exit 2 and exactly one line on stderr, no stack trace. */
function expectOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^sluice: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('sluice replay', () => {
  it('runs a golden case and says the expectation is met', () => {
    const r = sluice(['replay', '--case', CASE, '--out', tmp]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/expectation met/);
    expect(r.stdout).toMatch(/vlan-not-allowed|tagged-on-access/);
    expect(existsSync(join(tmp, 'vlan-isolation', 'vm1.pcap'))).toBe(true);
  });

  it('writes DIR/<port>.pcap for every port with --out', () => {
    const out = join(tmp, 'plain');
    const r = sluice(['replay', '-c', join(CASE, 'topo.yaml'), '--in', `vm1=${join(CASE, 'in.vm1.pcap')}`, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const p of ['vm1', 'vm2', 'vm3', 'uplink']) expect(existsSync(join(out, `${p}.pcap`)), p).toBe(true);
    // vm3 (same VLAN as vm1) got exactly the frames the case expects from vm1's capture
    const got = parseCapture(readFileSync(join(out, 'vm3.pcap'))).map((r) => r.data.toString('hex'));
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]).toBe(parseCapture(readFileSync(join(CASE, 'expect.vm3.pcap')))[0].data.toString('hex'));
    expect(parseCapture(readFileSync(join(out, 'vm2.pcap')))).toEqual([]);   // VLAN 200: nothing
  });

  it('exits 1 and prints each differing frame when the output differs from --expect', () => {
    const exp = join(tmp, 'wrong-expect');
    rmSync(exp, { recursive: true, force: true });
    // Expect vm2 (VLAN 200) to have received what vm3 (VLAN 100) received: a leak that must not happen.
    mkdirSync(exp, { recursive: true });
    copyFileSync(join(CASE, 'expect.vm3.pcap'), join(exp, 'vm2.pcap'));
    const r = sluice(['replay', '-c', join(CASE, 'topo.yaml'), '--in', `vm1=${join(CASE, 'in.vm1.pcap')}`, '--expect', exp]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/DIFF vm2 frame 1: expected .* > /);
    expect(r.stdout).toMatch(/got\s+\(no frame\)/);
    expect(r.stdout).toMatch(/expectation NOT met/);
  });

  it('rejects an unknown port in --in with one line', () => {
    expectOneLineError(sluice(['replay', '-c', join(CASE, 'topo.yaml'), '--in', `vm9=${join(CASE, 'in.vm1.pcap')}`, '--out', tmp]), /no port "vm9"/);
  });

  it('rejects a bad pcap with one line', () => {
    const bad = join(tmp, 'bad.pcap');
    writeFileSync(bad, Buffer.from('this is not a capture file at all'));
    expectOneLineError(sluice(['replay', '-c', join(CASE, 'topo.yaml'), '--in', `vm1=${bad}`, '--out', tmp]), /bad\.pcap/);
  });

  it('rejects a missing capture file with one line', () => {
    expectOneLineError(sluice(['replay', '-c', join(CASE, 'topo.yaml'), '--in', `vm1=${join(tmp, 'nope.pcap')}`, '--out', tmp]), /nope\.pcap/);
  });

  it('rejects a bad config with one line naming the key', () => {
    const cfg = join(tmp, 'bad-vid.yaml');
    writeFileSync(cfg, 'bridges:\n  br0:\n    ports:\n      vm1: { ofport: 1, type: tap, vlan: { mode: access, vid: 5000 } }\n');
    expectOneLineError(sluice(['replay', '-c', cfg, '--in', `vm1=${join(CASE, 'in.vm1.pcap')}`, '--out', tmp]), /vid/);
  });

  it('rejects a bad flow string with one line', () => {
    const cfg = join(tmp, 'bad-flow.yaml');
    writeFileSync(cfg, 'bridges:\n  br0:\n    ports:\n      vm1: { ofport: 1, type: tap }\n    flows:\n      - "table=0,prio=5,actions=drop"\n');
    expectOneLineError(sluice(['replay', '-c', cfg, '--in', `vm1=${join(CASE, 'in.vm1.pcap')}`, '--out', tmp]), /prio/);
  });

  it('rejects bad arguments with one line', () => {
    expectOneLineError(sluice(['replay', '-c', join(CASE, 'topo.yaml'), '--in', 'vm1', '--out', tmp]), /PORT=FILE/);
    expectOneLineError(sluice(['replay', '--bogus']), /bogus|Unknown/i);
    expectOneLineError(sluice(['nosuchcommand']), /nosuchcommand|Unknown/i);
  });
});

describe('sluice trace', () => {
  it('explains a frame: key, table 0, NORMAL, output ports', () => {
    const r = sluice(['trace', '-c', join(CASE, 'topo.yaml'), '--in-port', 'vm1', '--pcap', join(CASE, 'in.vm1.pcap'), '--index', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\s*0\. /m);              // table 0 visited
    expect(r.stdout).toMatch(/vlan 100/);
    expect(r.stdout).toMatch(/NORMAL/);
    expect(r.stdout).toMatch(/uplink/);
  });

  it('rejects a frame index past the end with one line', () => {
    expectOneLineError(sluice(['trace', '-c', join(CASE, 'topo.yaml'), '--in-port', 'vm1', '--pcap', join(CASE, 'in.vm1.pcap'), '--index', '999']), /999/);
  });

  it('rejects bad hex with one line', () => {
    expectOneLineError(sluice(['trace', '-c', join(CASE, 'topo.yaml'), '--in-port', 'vm1', '--frame', 'xyz']), /hex/);
  });
});
