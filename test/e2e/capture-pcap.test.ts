// e2e: `sluice capture` (libpcap through `cap`) in a throwaway namespace, run as a child process
// there (as a user would; a crash in the native addon cannot take the runner with it): while ping
// runs, `-f arp` records only ARP and `-f icmp` only ICMP, `-c` and `--duration` stop it, and a bad
// filter is one line on stderr with exit code 2.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { parseCapture } from '../../src/packet/capture.js';
import { describePrivileged } from '../helpers/privileged.js';
import { NetnsLab } from '../helpers/netns.js';
import { ROOT } from '../helpers/cli.js';

const labs: NetnsLab[] = [];
const dirs: string[] = [];
function lab(): NetnsLab { const l = new NetnsLab(); labs.push(l); return l; }
function tmp(): string { const d = mkdtempSync(join(tmpdir(), 'sluice-capture-')); dirs.push(d); return d; }
afterEach(() => { for (const l of labs.splice(0)) l.cleanup(); });
afterAll(() => { for (const l of labs.splice(0)) l.cleanup(); for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

interface Running { done: Promise<{ code: number; stderr: string }>; ready: Promise<void> }

/** `sluice capture ARGS` inside `ns` (through captureCli until main.ts registers the command). */
function captureIn(ns: string, args: string[]): Running {
  const script = `const m = await import(${JSON.stringify(join(ROOT, 'src/cli/capture.ts'))}); process.exitCode = await m.captureCli(process.argv.slice(1));`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, 'capture', ...args], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => { onReady = r; });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.includes('capturing on')) onReady(); });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = new Promise<{ code: number; stderr: string }>((resolve) => {
    child.on('close', (code, sig) => { clearTimeout(killer); onReady(); resolve({ code: code ?? (sig ? 128 : -1), stderr }); });
  });
  return { done, ready };
}

const ethertypes = (file: string): number[] => parseCapture(readFileSync(file), file).map((r) => r.data.readUInt16BE(12));

describePrivileged('sluice capture (libpcap filter language)', () => {
  it('records only what the filter selects while ping runs: -f arp, -f icmp, -c', async () => {
    const l = lab();
    const ns1 = l.addNs('1'), ns2 = l.addNs('2');
    const v1 = l.name('v1'), v2 = l.name('v2');
    l.addVeth(v1, v2);            // created in the root namespace, then both ends moved out
    l.moveLink(v1, ns1); l.moveLink(v2, ns2);
    l.up(ns1, v1); l.up(ns2, v2);
    l.addr(ns1, v1, '10.93.0.1/24');
    l.addr(ns2, v2, '10.93.0.2/24');
    const d = tmp();
    const arp = join(d, 'arp.pcap'), icmp = join(d, 'icmp.pcap'), four = join(d, 'four.pcap'), timed = join(d, 'timed.pcap');
    // The captures that must see the ping stop by count (ping -c 3 makes 2 ARP frames and 6 ICMP
    // ones), never by a duration that starts whenever its process got going on a busy machine.
    const caps = [
      captureIn(ns1, [v1, '-f', 'arp', '-w', arp, '-c', '2', '--duration', '20']),
      captureIn(ns1, [v1, '-f', 'icmp', '-w', icmp, '-c', '6', '--duration', '20']),
      captureIn(ns1, [v1, '-f', 'icmp', '-w', four, '-c', '4', '--duration', '20']),
    ];
    const byDuration = captureIn(ns1, [v1, '-f', 'icmp', '-w', timed, '--duration', '1']);
    await Promise.all(caps.map((c) => c.ready));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const ping = await l.execAsync(ns1, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.93.0.2']);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    const [ra, ri, rc] = await Promise.all(caps.map((c) => c.done));
    for (const r of [ra, ri, rc]) expect(r.code, r.stderr).toBe(0);
    // -c ended every capture long before its 20 s duration.
    expect(Date.now() - t0).toBeLessThan(10_000);
    // --duration 1 ends a capture on its own, with whatever ICMP it saw.
    const rd = await byDuration.done;
    expect(rd.code, rd.stderr).toBe(0);
    expect(rd.stderr).toMatch(/captured \d+ frames/);
    expect(ethertypes(timed).every((t) => t === 0x0800)).toBe(true);

    const a = ethertypes(arp), i = ethertypes(icmp), f = ethertypes(four);
    expect(a.length).toBeGreaterThanOrEqual(2);               // who-has and is-at, at least
    expect(a.every((t) => t === 0x0806)).toBe(true);
    expect(i.length).toBeGreaterThanOrEqual(6);               // 3 echo requests and 3 replies
    expect(i.every((t) => t === 0x0800)).toBe(true);
    const icmpRecords = parseCapture(readFileSync(icmp), icmp);
    expect(icmpRecords.every((r) => r.data[23] === 1)).toBe(true);   // IPv4 protocol 1
    expect(f).toEqual([0x0800, 0x0800, 0x0800, 0x0800]);
    expect(ra.stderr).toMatch(/captured \d+ frames/);
  });

  it('rejects a bad filter, a missing device and a bad count with one line and exit code 2', async () => {
    const l = lab();
    const ns = l.addNs('x');
    const d = tmp();
    const bad = await captureIn(ns, ['lo', '-f', 'arp and and', '-w', join(d, 'x.pcap'), '--duration', '1']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sluice: lo: pcap open: .*syntax error/m);
    const missing = await captureIn(ns, [`${l.id}none`, '-w', join(d, 'y.pcap'), '--duration', '1']).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(new RegExp(`^sluice: ${l.id}none: pcap open: No such device`, 'm'));
    const count = await captureIn(ns, ['lo', '-w', join(d, 'z.pcap'), '-c', '0']).done;
    expect(count.code).toBe(2);
    expect(count.stderr).toMatch(/^sluice: capture: -c 0: the frame count must be a positive integer$/m);
  });
}, { tools: ['ping'], libs: ['libpcap'] });
