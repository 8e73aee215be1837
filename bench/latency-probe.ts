// Latency probe: the ping half of bench:ports alone, for finding where a ping's microseconds go.
// Builds h1 -- [switch] -- h2 (veths, offloads off; or two Sluice TAPs moved into h1/h2 with
// PROBE_KIND=tap), starts `sluice switch` (or a Linux bridge with PROBE_KIND=bridge), pings
// PROBE_PINGS times at PROBE_INTERVAL_MS and prints p50/p90/p99. PROBE_HOLD_S=N keeps the
// topology and switch up for N more seconds with a ping running (attach perf/strace to the printed
// pid meanwhile). Plain script, root only: `node --import tsx bench/latency-probe.ts`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsLab, waitFor } from '../test/helpers/netns.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KIND = process.env.PROBE_KIND ?? 'system';
const PINGS = Number(process.env.PROBE_PINGS ?? 300);
const INTERVAL_MS = Number(process.env.PROBE_INTERVAL_MS ?? 10);
const HOLD_S = Number(process.env.PROBE_HOLD_S ?? 0);
/** PROBE_FLOOD_S=N: then a 64-byte flood at max rate for N s (bench/ports-gen.c built as PROBE_GEN). */
const FLOOD_S = Number(process.env.PROBE_FLOOD_S ?? 0);
const GEN = process.env.PROBE_GEN ?? '/tmp/ports-gen';

function pct(s: number[], p: number): number { return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]; }

async function ping(lab: NetnsLab, ns: string, ip: string, n: number): Promise<number[]> {
  const r = await lab.execAsync(ns, ['ping', '-c', String(n), '-i', String(INTERVAL_MS / 1000), '-W', '1', ip], 60_000 + n * INTERVAL_MS * 2);
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const lab = new NetnsLab();
  const dir = mkdtempSync(join(tmpdir(), 'slprobe-'));
  let child: ChildProcess | null = null;
  try {
    const h1 = lab.addNs('h1'), h2 = lab.addNs('h2');
    const p1 = lab.name('p1'), v1 = lab.name('v1'), p2 = lab.name('p2'), v2 = lab.name('v2');
    let ports: string;
    if (KIND === 'tap') {
      ports = `      a: { ofport: 1, type: tap, device: ${v1} }\n      b: { ofport: 2, type: tap, device: ${v2} }\n`;
    } else {
      lab.addVeth(p1, v1, h1); lab.addVeth(p2, v2, h2);
      for (const [ns, d] of [[null, p1], [null, p2], [h1, v1], [h2, v2]] as const) lab.offloadsOff(ns, d);
      lab.addr(h1, v1, '10.94.0.1/24'); lab.addr(h2, v2, '10.94.0.2/24');
      ports = `      a: { ofport: 1, type: system, device: ${p1} }\n      b: { ofport: 2, type: system, device: ${p2} }\n`;
    }
    if (KIND === 'bridge') {
      const br = lab.name('br');
      lab.ip(null, ['link', 'add', br, 'type', 'bridge']); lab.track(br);
      lab.ip(null, ['link', 'set', p1, 'master', br]); lab.ip(null, ['link', 'set', p2, 'master', br]);
      lab.up(null, br);
    } else {
      const cfg = join(dir, 'sw.yaml'), sock = join(dir, 'sw.sock');
      writeFileSync(cfg, `bridges:\n  ${lab.name('sw')}:\n    ports:\n${ports}`);
      const extra = (process.env.PROBE_NODE_ARGS ?? '').split(' ').filter(Boolean);
      child = spawn(process.execPath, [...extra, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'switch', '-c', cfg, '--socket', sock, '--log-level', 'warn'],
        { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
      await waitFor(() => existsSync(sock), 20_000, 'management socket');
      if (KIND === 'tap') {
        await waitFor(() => { try { lab.ip(null, ['link', 'show', v1]); lab.ip(null, ['link', 'show', v2]); return true; } catch { return false; } }, 5000, 'taps');
        lab.moveLink(v1, h1); lab.moveLink(v2, h2);
        lab.up(h1, v1); lab.up(h2, v2);
        lab.addr(h1, v1, '10.94.0.1/24'); lab.addr(h2, v2, '10.94.0.2/24');
        lab.offloadsOff(h1, v1); lab.offloadsOff(h2, v2);
      }
      console.log(`switch pid ${child.pid}`);
    }
    await ping(lab, h1, '10.94.0.2', 5);
    const rtts = await ping(lab, h1, '10.94.0.2', PINGS);
    console.log(`${KIND}: ${rtts.length} replies, p50 ${pct(rtts, 0.5).toFixed(0)} us, p90 ${pct(rtts, 0.9).toFixed(0)} us, p99 ${pct(rtts, 0.99).toFixed(0)} us, min ${rtts[0]?.toFixed(0)} us`);
    if (FLOOD_S > 0) {
      const rx = (): number => (JSON.parse(lab.ip(h2, ['-s', '-j', 'link', 'show', v2])) as { stats64: { rx: { packets: number } } }[])[0].stats64.rx.packets;
      const before = rx();
      const r = await lab.execAsync(h1, [GEN, v1, lab.mac(h2, v2).toString('hex'), lab.mac(h1, v1).toString('hex'), '0', String(FLOOD_S)], (FLOOD_S + 10) * 1000);
      await new Promise((res) => setTimeout(res, 200));
      const [sent, secs] = r.stdout.trim().split(/\s+/).map(Number);
      const got = rx() - before;
      console.log(`flood: offered ${(sent / secs / 1000).toFixed(0)} kpps, delivered ${(got / secs / 1000).toFixed(0)} kpps (${(100 * (1 - got / sent)).toFixed(1)} % lost)`);
    }
    if (HOLD_S > 0) {
      console.log(`holding ${HOLD_S} s (ping running)`);
      const r = await ping(lab, h1, '10.94.0.2', Math.round((HOLD_S * 1000) / INTERVAL_MS));
      console.log(`during hold: p50 ${pct(r, 0.5).toFixed(0)} us, p99 ${pct(r, 0.99).toFixed(0)} us`);
    }
  } finally {
    if (child) { child.kill('SIGTERM'); await new Promise((r) => { child!.once('exit', r); setTimeout(r, 3000); }); }
    lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
