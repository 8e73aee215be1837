// The systemd units of `sluice install-service`: the generated files pass `systemd-analyze verify`,
// and each daemon, started as its unit starts it (the unit's ExecStart, NOTIFY_SOCKET set), sends
// READY=1 only once it serves: the switch's ports open and its socket listening, the controller's
// OpenFlow and API ports accepting. `--log-format json` gives one JSON object per stderr line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { ROOT, sluice } from '../helpers/cli.js';
import { describePrivileged, describeWithTools } from '../helpers/privileged.js';
import { NotifyReceiver } from '../helpers/notify-socket.js';
import { uniqueId, waitFor } from '../helpers/netns.js';
import { readmeShellLines, shellWords } from '../helpers/readme.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-svc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(tap: string): string {
  const cfg = join(dir, `sluice-${tap}.yaml`);
  writeFileSync(cfg, `bridges:\n  br0:\n    ports:\n      ${tap}: { ofport: 1, type: tap, vlan: { mode: access, vid: 100 } }\n`);
  return cfg;
}

/** The unit's ExecStart as argv (our units quote nothing: the paths here have no spaces). */
function execStart(unitText: string): string[] {
  const line = unitText.split('\n').find((l) => l.startsWith('ExecStart='));
  if (!line) throw new Error('no ExecStart in the unit');
  return line.slice('ExecStart='.length).split(' ');
}

describeWithTools('install-service units pass systemd-analyze verify', () => {
  it('writes both units with absolute node and bin/sluice.js paths, and systemd accepts them', () => {
    const units = join(dir, 'units');
    const cfg = writeConfig('svcv0');
    const a = sluice(['install-service', '--switch', cfg, '--unit-dir', units]);
    expect(a.code, a.stderr).toBe(0);
    const b = sluice(['install-service', '--controller', '--unit-dir', units, '--log-format', 'json']);
    expect(b.code, b.stderr).toBe(0);
    const sw = readFileSync(join(units, 'sluice-switch.service'), 'utf8');
    expect(execStart(sw)).toEqual([process.execPath, join(ROOT, 'bin', 'sluice.js'), 'switch', '-c', cfg]);
    expect(sw).toMatch(/^Type=notify$/m);
    expect(sw).toMatch(/^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW$/m);
    const ctl = readFileSync(join(units, 'sluice-controller.service'), 'utf8');
    expect(execStart(ctl).slice(2)).toEqual(['controller', '--state', '/var/lib/sluice/controller', '--log-format', 'json']);
    expect(ctl).toMatch(/^CapabilityBoundingSet=$/m);
    const v = spawnSync('systemd-analyze', ['verify', join(units, 'sluice-switch.service'), join(units, 'sluice-controller.service')], { encoding: 'utf8', timeout: 30_000 });
    expect(v.status, `${v.stdout}${v.stderr}`).toBe(0);
    expect(v.stderr.trim()).toBe('');
    // The check has teeth: a typo in a directive is reported.
    writeFileSync(join(units, 'broken.service'), sw.replace('Type=notify', 'Type=notfiy'));
    const bad = spawnSync('systemd-analyze', ['verify', join(units, 'broken.service')], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.stderr).toMatch(/notfiy/);
  }, 60_000);

  it('runs the install-service and systemd-analyze commands of README "Install as a service"', () => {
    const units = join(dir, 'units-readme');
    const cfg = writeConfig('svcr0');
    const lines = readmeShellLines('Install as a service');
    const installs = lines.filter((l) => /^(sudo )?sluice install-service /.test(l));
    expect(installs.length).toBeGreaterThanOrEqual(3);
    for (const l of installs) {
      const args = shellWords(l.replace(/^sudo /, '')).slice(1).map((w) => (w === '/etc/sluice/sluice.yaml' ? cfg : w));
      const r = sluice(args.includes('--dry-run') ? args : [...args, '--unit-dir', units]);
      expect(r.code, `${l}: ${r.stderr}`).toBe(0);
      if (args.includes('--dry-run')) expect(r.stdout).toMatch(/^ExecStart=.* switch -c \S+ --metrics-port 9477$/m);
    }
    const verify = lines.find((l) => l.startsWith('systemd-analyze verify '));
    expect(verify).toBeDefined();
    const words = shellWords(verify!).map((w) => w.replace('/etc/systemd/system', units));
    const v = spawnSync(words[0], words.slice(1), { encoding: 'utf8', timeout: 30_000 });
    expect(v.status, `${v.stdout}${v.stderr}`).toBe(0);
  }, 60_000);

  it('--dry-run prints the unit and writes nothing', () => {
    const r = sluice(['install-service', '--controller', '--dry-run', '--unit-dir', join(dir, 'none')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ExecStart=.*bin\/sluice\.js controller/m);
    expect(r.stdout).toMatch(/^StateDirectory=sluice\/controller$/m);
  });

  it('refuses neither or both of --switch and --controller', () => {
    expect(sluice(['install-service', '--dry-run']).code).toBe(2);
    expect(sluice(['install-service', '--controller', '--switch', 'x.yaml', '--dry-run']).code).toBe(2);
  });
}, { tools: ['systemd-analyze'] });

/** Run the unit's ExecStart, from source (tsx) instead of the built dist/, with NOTIFY_SOCKET set. */
function startAsUnit(unitArgs: string[], extra: string[], notify: string): { child: ChildProcess; stderr: () => string; exited: () => number | null } {
  const argv = unitArgs.slice(2); // drop node and bin/sluice.js
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv, ...extra], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: notify, SLUICE_LOG_LEVEL: 'info', FORCE_COLOR: '0', JOURNAL_STREAM: '' },
  });
  let err = ''; let code: number | null = null;
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.on('exit', (c) => { code = c ?? -1; });
  return { child, stderr: () => err, exited: () => code };
}

async function stopChild(p: { child: ChildProcess; exited: () => number | null }): Promise<void> {
  if (p.exited() !== null) return;
  p.child.kill('SIGTERM');
  await waitFor(() => p.exited() !== null, 10_000, 'the daemon to stop').catch(() => p.child.kill('SIGKILL'));
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

describeWithTools('sluice controller under Type=notify', () => {
  it('sends READY=1 once, after OpenFlow and the API listen; --log-format json is one object per line', async () => {
    const units = join(dir, 'units-ctl');
    expect(sluice(['install-service', '--controller', '--unit-dir', units, '--log-format', 'json']).code).toBe(0);
    const of = await freePort(), api = await freePort();
    const rx = await NotifyReceiver.start(mkdtempSync(join(dir, 'n-')), `tcp_open(${of}) and tcp_open(${api})`);
    cleanup.push(() => rx.close());
    const unit = execStart(readFileSync(join(units, 'sluice-controller.service'), 'utf8'));
    // The unit's --state /var/lib/sluice/controller is its StateDirectory; here a temp dir instead.
    const at = unit.indexOf('--state');
    expect(at).toBeGreaterThan(0);
    unit.splice(at, 2);
    const p = startAsUnit(unit, ['--state', mkdtempSync(join(dir, 'state-')), '--openflow', `ptcp:${of}:127.0.0.1`, '--api', `127.0.0.1:${api}`], rx.path);
    cleanup.push(() => stopChild(p));
    await waitFor(() => rx.ready().length > 0 || p.exited() !== null, 30_000, 'READY=1').catch((e: Error) => { throw new Error(`${e.message}; stderr: ${p.stderr()}`); });
    expect(p.exited(), p.stderr()).toBeNull();
    const ready = rx.ready();
    expect(ready).toHaveLength(1);
    expect(ready[0].probe).toBe(true);               // both ports accepted a connection when READY=1 arrived
    expect(ready[0].text).toMatch(/STATUS=controller running/);
    // systemd-notify waited for the manager (BARRIER=1 with an fd it waits on) before exiting: the
    // sender was alive while its READY=1 was processed, which is what NotifyAccess=all relies on.
    await waitFor(() => rx.messages.some((m) => m.text.includes('BARRIER=1')), 5000, 'BARRIER=1');
    expect(rx.messages.find((m) => m.text.includes('BARRIER=1'))!.fds).toBe(1);
    await stopChild(p);
    const lines = jsonLines(p.stderr());
    expect(lines.map((l) => l.msg)).toContain('controller running');
    for (const l of lines) { expect(typeof l.level).toBe('number'); expect(typeof l.time).toBe('number'); }
    expect(rx.ready()).toHaveLength(1);
  }, 60_000);

  it('--log-format text gives plain lines without colours', async () => {
    const p = startAsUnit(['node', 'sluice', 'controller'], ['--state', mkdtempSync(join(dir, 'state-')), '--openflow', `ptcp:${await freePort()}:127.0.0.1`, '--api', `127.0.0.1:${await freePort()}`, '--log-format', 'text'], '');
    cleanup.push(() => stopChild(p));
    await waitFor(() => p.stderr().includes('controller running') || p.exited() !== null, 30_000, 'the controller to run');
    await stopChild(p);
    expect(p.stderr()).toMatch(/INFO.*controller running/);
    expect(p.stderr()).not.toMatch(/\x1b\[/);
    expect(() => JSON.parse(p.stderr().split('\n')[0])).toThrow();
  }, 60_000);

  it('without --log-format, writes text with no time of its own when stderr is the journal stream (JOURNAL_STREAM)', async () => {
    const file = join(dir, `journal-${uniqueId(4)}.log`);
    const fd = openSync(file, 'w');
    const st = fstatSync(fd);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--state', mkdtempSync(join(dir, 'state-')),
      '--openflow', `ptcp:${await freePort()}:127.0.0.1`, '--api', `127.0.0.1:${await freePort()}`], {
      cwd: ROOT, stdio: ['ignore', 'ignore', fd], env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}`, NOTIFY_SOCKET: '', SLUICE_LOG_LEVEL: 'info', FORCE_COLOR: '0' },
    });
    closeSync(fd);
    let code: number | null = null;
    child.on('exit', (c) => { code = c ?? -1; });
    const p = { child, exited: () => code };
    cleanup.push(() => stopChild(p));
    await waitFor(() => readFileSync(file, 'utf8').includes('controller running') || code !== null, 30_000, 'the controller to run');
    await stopChild(p);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^INFO.*: controller running/m);       // journald stamps the time itself
    expect(text).not.toMatch(/^\[\d\d:\d\d/m);
    expect(text).not.toMatch(/\x1b\[/);
  }, 60_000);
}, { tools: ['systemd-notify', 'python3'] });

describePrivileged('sluice switch under Type=notify', () => {
  it('sends READY=1 once, after its TAP port exists and the management socket is there', async () => {
    const tap = `svc${uniqueId(4)}`;
    const cfg = writeConfig(tap);
    const units = join(dir, 'units-sw');
    const metricsPort = await freePort();
    const inst = sluice(['install-service', '--switch', cfg, '--unit-dir', units, '--log-format', 'json', `--args=--metrics-port ${metricsPort}`]);
    expect(inst.code, inst.stderr).toBe(0);
    const sock = join(mkdtempSync(join(dir, 's-')), 'br0.sock');
    const rx = await NotifyReceiver.start(mkdtempSync(join(dir, 'n-')), `os.path.exists('/sys/class/net/${tap}') and os.path.exists('${sock}') and tcp_open(${metricsPort})`);
    cleanup.push(() => rx.close());
    const unit = execStart(readFileSync(join(units, 'sluice-switch.service'), 'utf8'));
    const p = startAsUnit(unit, ['--socket', sock], rx.path);
    cleanup.push(() => stopChild(p));
    await waitFor(() => rx.ready().length > 0 || p.exited() !== null, 30_000, 'READY=1').catch((e: Error) => { throw new Error(`${e.message}; stderr: ${p.stderr()}`); });
    expect(p.exited(), p.stderr()).toBeNull();
    expect(rx.ready()).toHaveLength(1);
    expect(rx.ready()[0].probe).toBe(true);
    // README "Logs and metrics": curl -s 127.0.0.1:9477/metrics
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^sluice_port_rx_packets_total\\{[^}]*port="${tap}"[^}]*\\} \\d+`, "m"));
    await stopChild(p);
    for (const l of jsonLines(p.stderr())) expect(typeof l.msg).toBe('string');
  }, 60_000);
}, { tools: ['systemd-notify', 'python3'] });
