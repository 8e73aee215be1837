// e2e: `sluice demo --duration 8` as a user runs it (node + tsx, root): ping and isolation pass,
// the measured rate sits near 20 Mbit/s before the channel change and far above it after, exit 0,
// and nothing it created (namespaces, TAPs named after its id) is left behind.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { describePrivileged } from '../helpers/privileged.js';
import { ROOT } from '../helpers/cli.js';

function runDemo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => child.kill('SIGINT'), 60_000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

describePrivileged('sluice demo', () => {
  it('shows ping, isolation and the channel step, exits 0 and leaves nothing behind', async () => {
    const r = await runDemo(['--duration', '8']);
    console.log(r.stdout);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/\[ok\] Ping blue-1 -> blue-2[^\n]*\n\s+ping OK: [1-4]\/4 replies, avg RTT [\d.]+ ms/);
    expect(out).toMatch(/\[ok\] Ping blue -> red[^\n]*\n\s+isolation OK: 0\/4 replies/);
    const before = Number(/rate before change: ([\d.]+) Mbit\/s/.exec(out)?.[1]);
    const after = Number(/rate after change: ([\d.]+) Mbit\/s/.exec(out)?.[1]);
    expect(before).toBeGreaterThan(16);
    expect(before).toBeLessThan(22);
    expect(after).toBeGreaterThan(50);
    expect(out).toMatch(/t= 1s +[\d.]+ Mbit\/s \|[#.]+\|/);
    expect(out).toMatch(/>> channel blue-1-ch set to 100mbit/);
    expect(out).toMatch(/│ blue-1 +│ 100 +│ blue-1-ch/);
    expect(out).toContain('Demo OK.');
    // Nothing of this run remains: its id names every namespace and TAP.
    const id = /Sluice demo (sl[a-z0-9]{4})/.exec(out)?.[1];
    expect(id).toBeDefined();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(id!);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(id!);
    const dir = /removed sl[a-z0-9]{4}\* and (\S+)/.exec(out)?.[1];
    expect(dir).toMatch(/sluice-demo-/);
    expect(execFileSync('sh', ['-c', `test -e ${dir} && echo yes || echo no`], { encoding: 'utf8' }).trim()).toBe('no');
  }, 90_000);
}, { tools: ['ping', 'iperf3'] });
