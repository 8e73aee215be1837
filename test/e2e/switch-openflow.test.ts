// `sluice switch` with `listen:` in its config serves OpenFlow 1.3: a real ovs-ofctl programs the
// running daemon, and the operator CLI sees the same flows (one flow table, two front doors).
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, sluice } from '../helpers/cli.js';
import { describeWithTools } from '../helpers/privileged.js';
import { freePort } from './switch-harness.js';

function ofctl(args: string[]): { code: number; out: string } {
  const r = spawnSync('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

describeWithTools('sluice switch speaks OpenFlow from its config', () => {
  let dir: string, sock: string, target: string, child: ChildProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-of-'));
    sock = join(dir, 'br0.sock');
    const port = await freePort();
    target = `tcp:127.0.0.1:${port}`;
    writeFileSync(join(dir, 'sluice.yaml'), `bridges:\n  br0:\n    datapath-id: "00000000000000a1"\n    listen: "ptcp:${port}:127.0.0.1"\n    ports:\n      m1: { ofport: 1, type: memory }\n      m2: { ofport: 2, type: memory }\n`);
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'switch', '-c', join(dir, 'sluice.yaml'), '--socket', sock], { cwd: ROOT, stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (ofctl(['show', target]).code === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the switch never answered OpenFlow');
  });

  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers ovs-ofctl show with the configured datapath id and ports', () => {
    const r = ofctl(['show', target]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/dpid:00000000000000a1/);
    expect(r.out).toMatch(/1\(m1\)/);
    expect(r.out).toMatch(/2\(m2\)/);
  });

  it('a flow added with ovs-ofctl shows in sluice flows dump, and one added with sluice in ovs-ofctl dump-flows', () => {
    expect(ofctl(['add-flow', target, 'table=0,priority=200,arp,actions=output:2']).code).toBe(0);
    const dump = sluice(['flows', 'dump', '--socket', sock]);
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toMatch(/priority=200,arp actions=output:2/);
    const add = sluice(['flows', 'add', 'table=0,priority=300,udp,actions=drop', '--socket', sock]);
    expect(add.code, add.stderr).toBe(0);
    const of = ofctl(['dump-flows', target]);
    expect(of.out).toMatch(/priority=300,udp actions=drop/);
    expect(of.out).toMatch(/priority=0 actions=NORMAL/);
  });
}, { tools: ['ovs-ofctl'] });
