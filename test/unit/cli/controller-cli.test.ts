// The controller commands of the `sluice` CLI against a real Controller and API in this process:
// net, attach/detach, channel (controller side), switches, topology, reconcile, apply, events;
// how the controller and token are found; exit codes 1 (refused), 2 (bad request), 3 (unreachable).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { startTestController } from '../../helpers/controller-api.js';
import type { TestController } from '../../helpers/controller-api.js';
import { cliInproc, oneLineError } from '../../helpers/cli-inproc.js';
import { ROOT } from '../../helpers/cli.js';
import { EmulatedSwitch } from '../../helpers/emulated-switch.js';
import { pino } from 'pino';
import { startApi } from '../../../src/controller/api.js';
import { parseSseBlock, parseSwitchPort, resolveControllerUrl, resolveToken } from '../../../src/cli/controller-client.js';

let t: TestController;
let tmp: string;
let A: string[];
beforeAll(async () => {
  t = await startTestController();
  tmp = mkdtempSync(join(tmpdir(), 'sluice-ccli-'));
  A = ['--controller', t.url, '--token-file', t.tokenFile];
});
afterAll(async () => { await t?.stop(); rmSync(tmp, { recursive: true, force: true }); });

const run = (...args: string[]) => cliInproc([...args, ...A]);
const intent = async (): Promise<any> => (await t.req('GET', '/v1/intent')).body;

async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Event-stream clients of a test controller (the API's gauge counts them). */
const sseClients = (x: TestController): number => x.ctl.events.listenerCount('event');

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('sluice net', () => {
  it('creates, lists (table and --json) and deletes', async () => {
    const c = await run('net', 'create', 'blue', '--vid', '100', '--vni', '5001');
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toBe('network blue created: vid 100, vni 5001\n');
    expect((await run('net', 'create', 'red', '--vid', '200')).code).toBe(0);
    const l = await run('net', 'list');
    expect(l.stdout).toMatch(/network.*vid.*vni.*attachments/);
    expect(l.stdout).toMatch(/│ blue\s+│ 100 │ 5001 │/);
    expect(JSON.parse((await run('net', 'list', '--json')).stdout)).toEqual({ networks: [{ name: 'blue', vid: 100, vni: 5001 }, { name: 'red', vid: 200 }] });
    expect((await run('net', 'delete', 'red')).stdout).toBe('network red deleted\n');
    expect((await intent()).networks.map((n: { name: string }) => n.name)).toEqual(['blue']);
  });

  it('exit 1 for a refusal (the API\'s message), 2 for a bad request or bad arguments', async () => {
    oneLineError(await run('net', 'create', 'green', '--vid', '100'), 1, /^sluice: vid 100 of network "green" is already used by network "blue"$/m);
    oneLineError(await run('net', 'delete', 'nope'), 1, /network "nope" does not exist/);
    oneLineError(await run('net', 'create', 'green', '--vid', '5000'), 2, /network\.vid/);
    oneLineError(await run('net', 'create', 'green'), 2, /needs --vid/);
    oneLineError(await run('net', 'create', 'green', '--vid', 'ten'), 2, /--vid/);
    oneLineError(await run('net', 'frobnicate'), 2, /Unknown argument|net command/);
  });
});

describe('sluice attach / detach', () => {
  it('attaches SWITCH:PORT (split at the last ":"), refuses a second attach, moves with --replace, detaches', async () => {
    expect((await run('channel', 'create', 'gold', '--rate', '50mbit', '--burst', '64kb')).code).toBe(0);
    const a = await run('attach', 'blue', 'host1/br0:vm1', '--channel', 'gold');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe('host1/br0:vm1 attached to blue (channel gold)\n');
    expect((await run('attach', 'blue', 'tcp:10.0.0.1/br0:vm2')).code).toBe(0);
    expect((await intent()).attachments).toEqual([
      { switch: 'host1/br0', port: 'vm1', network: 'blue', channel: 'gold' },
      { switch: 'tcp:10.0.0.1/br0', port: 'vm2', network: 'blue' },
    ]);
    oneLineError(await run('attach', 'blue', 'host1/br0:vm1'), 1, /host1\/br0:vm1 is already attached to network "blue"/);
    expect((await run('net', 'create', 'red', '--vid', '200')).code).toBe(0);
    expect((await run('attach', 'red', 'host1/br0:vm1', '--replace')).stdout).toBe('host1/br0:vm1 attached to red\n');
    oneLineError(await run('attach', 'nope', 'host1/br0:vm3'), 1, /network "nope" does not exist/);
    oneLineError(await run('attach', 'blue', 'vm3'), 2, /write SWITCH:PORT/);
    oneLineError(await run('attach', 'blue', 'host1/br0:'), 2, /write SWITCH:PORT/);
    expect((await run('detach', 'tcp:10.0.0.1/br0:vm2')).stdout).toBe('tcp:10.0.0.1/br0:vm2 detached\n');
    oneLineError(await run('detach', 'tcp:10.0.0.1/br0:vm2'), 1, /is not attached/);
    expect((await run('attach', 'blue', 'host1/br0:vm1', '--replace', '--channel', 'gold')).code).toBe(0);
  });

  it('parseSwitchPort splits at the last colon', () => {
    expect(parseSwitchPort('host1/br0:vm1')).toEqual({ switch: 'host1/br0', port: 'vm1' });
    expect(parseSwitchPort('[::1]:6653/br0:p:1')).toEqual({ switch: '[::1]:6653/br0:p', port: '1' });
    expect(() => parseSwitchPort(':vm1')).toThrow(/SWITCH:PORT/);
  });
});

describe('sluice channel (controller)', () => {
  it('creates, sets, assigns, unassigns, lists with shares, deletes', async () => {
    expect((await run('channel', 'set', 'gold', '--rate', '200mbit')).stdout).toMatch(/^channel gold changed: 200mbit burst 64kb, meter \d+, 1 attachment\(s\)\n$/);
    expect((await run('channel', 'create', 'silver', '--rate', '10mbit')).code).toBe(0);
    expect((await run('attach', 'blue', 'host2/br0:vm5')).code).toBe(0);
    expect((await run('channel', 'assign', 'gold', 'host2/br0:vm5')).stdout).toBe('host2/br0:vm5: channel gold\n');
    const l = await run('channel', 'list');
    expect(l.stdout).toMatch(/host1\/br0 100 Mbit\/s \(not connected\)/);
    expect(l.stdout).toMatch(/host2\/br0 100 Mbit\/s \(not connected\)/);
    const j = JSON.parse((await run('channel', 'list', '--json')).stdout);
    expect(j.channels.find((c: { name: string }) => c.name === 'gold').shares).toHaveLength(2);
    expect((await run('channel', 'unassign', 'host2/br0:vm5')).stdout).toBe('host2/br0:vm5: channel -\n');
    oneLineError(await run('channel', 'delete', 'gold'), 1, /channel "gold" is assigned to 1 attachment/);
    expect((await run('channel', 'delete', 'silver')).stdout).toBe('channel silver deleted\n');
    oneLineError(await run('channel', 'set', 'nope', '--rate', '1mbit'), 1, /channel "nope" does not exist/);
    oneLineError(await run('channel', 'create', 'x', '--rate', 'fast'), 2, /channel\.rate/);
  });

  it('sets how a channel over several switches is split: --min per switch, --split even or demand', async () => {
    expect((await run('channel', 'create', 'web', '--rate', '100mbit', '--min', '10mbit')).stdout).toMatch(/^channel web created: 100mbit min 10mbit per switch, meter \d+, 0 attachment\(s\)\n$/);
    expect((await run('channel', 'set', 'web', '--split', 'even')).stdout).toMatch(/^channel web changed: 100mbit min 10mbit per switch, split evenly, meter/);
    const j = JSON.parse((await run('channel', 'list', '--json')).stdout);
    expect(j.channels.find((c: { name: string }) => c.name === 'web')).toMatchObject({ rate: '100mbit', min: '10mbit', split: 'even' });
    oneLineError(await run('channel', 'set', 'web', '--min', '200mbit'), 2, /min 200mbit .* is above the channel's rate 100mbit/);
    oneLineError(await run('channel', 'set', 'web', '--min', '10kpps'), 2, /must both count packets or both bits/);
    oneLineError(await run('channel', 'set', 'web', '--split', 'fair'), 2, /split/);
    oneLineError(await cliInproc(['channel', 'set', 'web', '--min', '1mbit', '--bridge', 'br0']), 2, /--min and --split are options of the controller/);
    expect((await run('channel', 'delete', 'web')).code).toBe(0);
  });

  it('keeps the switch-local options apart: --mode needs --socket/--bridge, and the two targets never mix', async () => {
    oneLineError(await run('channel', 'set', 'gold', '--rate', '1mbit', '--mode', 'shape'), 2, /--mode and --queue .* add --bridge BR or --socket PATH/);
    oneLineError(await run('channel', 'list', '--socket', join(tmp, 'none.sock')), 2, /either --socket\/--bridge .* or --controller/);
    oneLineError(await cliInproc(['channel', 'list', '--socket', join(tmp, 'none.sock')]), 2, /no switch is running/);
    oneLineError(await run('channel', 'create', 'x'), 2, /needs --rate/);
  });
});

describe('sluice switches / topology / reconcile', () => {
  it('with none connected: says so; reconciling one is exit 1', async () => {
    expect((await run('switches')).stdout).toBe('no switch has connected yet\n');
    expect((await run('reconcile')).stdout).toBe('no switch is connected: nothing to reconcile\n');
    oneLineError(await run('reconcile', 'host9/br0'), 1, /switch "host9\/br0" is not connected/);
  });

  it('shows a connected switch, its ports and the topology; reconciles it', async () => {
    const sw = await EmulatedSwitch.connect(t.ctl.openflowAddress().port, 0x1234n, 'host1/br0', ['vm1', 'uplink']);
    try {
      for (let i = 0; i < 1000 && !t.ctl.switches().some((x) => x.connected && x.lastReconcile); i++) await new Promise((r) => setTimeout(r, 20));
      const s = await run('switches');
      expect(s.stdout).toMatch(/│ host1\/br0 │ 0000000000001234 │ connected │ master │ 127\.0\.0\.1:\d+/);
      expect(s.stdout).toMatch(/vm1\(1\) blue/);
      expect(s.stdout).toMatch(/uplink\(2\) unused/);
      expect(s.stdout).toMatch(/ok, \d+ change\(s\), \d+ s ago/);
      expect(JSON.parse((await run('switches', '--json')).stdout).switches[0]).toMatchObject({ name: 'host1/br0', connected: true });
      const tp = await run('topology');
      expect(tp.stdout).toMatch(/│ host1\/br0 │ 0000000000001234 │ connected │/);
      expect(tp.stdout).toMatch(/no links between switches seen/);
      const r = await run('reconcile', 'host1/br0');
      expect(r.code, r.stderr).toBe(0);
      // (the emulated switch always reports empty tables, so a read-back reconcile sends it all again)
      expect(r.stdout).toMatch(/│ host1\/br0 │ 0000000000001234 │ ok\s+│ \d+\s+│ \d+\s+│ \d+\s+│/);
    } finally { sw.close(); }
  });
});

describe('sluice apply', () => {
  const yaml = `networks:\n  - { name: blue, vid: 100, vni: 5001 }\n  - { name: green, vid: 300 }\nchannels:\n  - { name: gold, rate: 50mbit }\nattachments:\n  - { switch: host1/br0, port: vm1, network: green, channel: gold }\n`;

  it('--dry-run prints the difference and changes nothing; then applies; again is no change', async () => {
    const f = join(tmp, 'intent.yaml');
    writeFileSync(f, yaml);
    const before = await intent();
    const d = await run('apply', '-f', f, '--dry-run');
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain('+ network green\n');
    expect(d.stdout).toContain('- network red\n');
    expect(d.stdout).toContain('~ channel gold\n');
    expect(d.stdout).toContain('~ attachment host1/br0:vm1\n');
    expect(d.stdout).toMatch(/dry run: \d+ change\(s\) not applied\n$/);
    expect(await intent()).toEqual(before);
    const r = await run('apply', '-f', f);
    expect(r.stdout).toMatch(/applied \d+ change\(s\)\n$/);
    expect((await intent()).networks.map((n: { name: string }) => n.name)).toEqual(['blue', 'green']);
    expect((await run('apply', '-f', f)).stdout).toBe('no change: the controller already holds this intent\n');
    const j = join(tmp, 'intent.json');
    writeFileSync(j, JSON.stringify(await intent()));
    expect(JSON.parse((await run('apply', '-f', j, '--json')).stdout)).toMatchObject({ applied: false, dryRun: false });
  });

  it('a refused document changes nothing; a bad file is a usage error', async () => {
    const before = await intent();
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, `${yaml}  - { switch: host1/br0, port: vm1, network: blue }\n`);
    oneLineError(await run('apply', '-f', f), 1, /attached twice/);
    writeFileSync(f, 'networks: [{ name: blue, vid: 0 }]\n');
    oneLineError(await run('apply', '-f', f), 2, /networks\[0\]\.vid/);
    expect(await intent()).toEqual(before);
    writeFileSync(f, 'networks: [\n  - {');
    oneLineError(await run('apply', '-f', f), 2, /neither JSON nor YAML/);
    oneLineError(await run('apply', '-f', join(tmp, 'missing.yaml')), 2, /cannot read it \(ENOENT\)/);
    oneLineError(await run('apply'), 2, /needs -f FILE/);
  });
});

describe('sluice events', () => {
  it('--since 0 --count N prints the held events, one line each; --json the raw events', async () => {
    const r = await run('events', '--since', '0', '--count', '2');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z #1 intent-changed networks \+blue$/);
    expect(lines[1]).toMatch(/ #2 intent-changed networks \+red$/);
    const j = await run('events', '--since', '1', '--count', '1', '--json');
    expect(JSON.parse(j.stdout)).toMatchObject({ seq: 2, type: 'intent-changed' });
  });

  it('follows live events', async () => {
    const p = run('events', '--count', '2');
    await new Promise((r) => setTimeout(r, 300));
    // the stream may open after this change: then the second change still arrives, and a third is made
    let n = 0;
    const poke = setInterval(() => { void t.req('PATCH', '/v1/channels/gold', { rate: `${++n}mbit` }); }, 200);
    const r = await p;
    clearInterval(poke);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').some((l) => / channel-changed gold: rate \d+mbit$/.test(l))).toBe(true);
  });

  it('--rates adds channel-rate samples, one line each, not counted by --count', async () => {
    const p = run('events', '--rates', '--count', '1');
    const sample = { type: 'channel-rate' as const, channel: 'gold', unit: 'bit' as const, rate: 4.98e6, offered: 12e6, limit: 5e6, bytesPerSec: 622500, packetsPerSec: 415, switches: 2, intervalMs: 500, at: '2026-01-01T00:00:00.000Z', parts: [{ switch: 's1', limit: 4e6, rate: 4e6, offered: 11e6 }, { switch: 's2', limit: 1e6, rate: 0.98e6, offered: 1e6 }] };
    // samples all along; once the stream listens (it has carried one), an event to end the command
    let n = 0;
    const poke = setInterval(() => {
      t.ctl.events.emitSample(sample);
      if (t.ctl.events.hasSampleListeners && ++n >= 2) void t.req('PATCH', '/v1/channels/gold', { rate: `${n}mbit` });
    }, 200);
    const r = await p;
    clearInterval(poke);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => / #\d+ /.test(l))).toHaveLength(1);
    expect(lines).toContain('2026-01-01T00:00:00.000Z channel-rate gold: 4.98 Mbit/s passing of 5.00 Mbit/s, 12.00 Mbit/s offered (2 switches: s1 4.00 Mbit/s of 4.00 Mbit/s, s2 980.0 kbit/s of 1.00 Mbit/s)');
  });

  it('reopens a lost stream after the last event seen (the API restarted on the same port)', { timeout: 120_000 }, async () => {
    const x = await startTestController();
    const port = new URL(x.url).port;
    let api2: Awaited<ReturnType<typeof startApi>> | undefined;
    try {
      await x.req('POST', '/v1/networks', { name: 'before', vid: 10 });
      const p = cliInproc(['events', '--count', '2', '--controller', x.url, '--token-file', x.tokenFile]);
      await until(() => sseClients(x) > 0);
      await x.req('POST', '/v1/networks', { name: 'one', vid: 11 });
      await new Promise((r) => setTimeout(r, 200));
      await x.api.close();                                           // the stream ends
      await x.ctl.change((i) => ({ ...i, networks: [...i.networks, { name: 'two', vid: 12 }] }));   // while no API is up
      api2 = await startApi({ controller: x.ctl, token: x.token, log: pino({ level: 'silent' }), listen: `127.0.0.1:${port}` });
      const r = await p;
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/ #2 intent-changed networks \+one$/);
      expect(lines[1]).toMatch(/ #3 intent-changed networks \+two$/);      // replayed after Last-Event-ID 2
      expect(r.stderr).toMatch(/the event stream ended; reopening after #2/);
    } finally {
      await api2?.close();
      await x.ctl.stop();
      rmSync(x.dir, { recursive: true, force: true });
    }
  });

  it('an unreachable controller is exit 3', async () => {
    oneLineError(await cliInproc(['events', '--controller', `http://127.0.0.1:${await closedPort()}`, '--token-file', t.tokenFile]), 3, /cannot reach the controller .*connection refused/);
  });

  it('parses SSE blocks: fields, multi-line data, comments', () => {
    expect(parseSseBlock('id: 7\ndata: {"a":1}')).toEqual({ id: '7', data: '{"a":1}' });
    expect(parseSseBlock('data: a\ndata:b\r\nid:3')).toEqual({ id: '3', data: 'a\nb' });
    expect(parseSseBlock(': keepalive')).toBeUndefined();
    expect(parseSseBlock('retry: 2000')).toBeUndefined();
  });
});

describe('finding the controller and the token', () => {
  it('takes $SLUICE_CONTROLLER and $SLUICE_TOKEN', async () => {
    const r = await cliInproc(['net', 'list', '--json'], { SLUICE_CONTROLLER: t.url, SLUICE_TOKEN: t.token });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).networks.length).toBeGreaterThan(0);
  });

  it('says which token was refused, or that none was found', async () => {
    oneLineError(await cliInproc(['net', 'list'], { SLUICE_CONTROLLER: t.url, SLUICE_TOKEN: 'not-the-token-at-all' }), 1, /refused the token from \$SLUICE_TOKEN: the bearer token is wrong/);
    const wrong = join(tmp, 'wrong-token');
    writeFileSync(wrong, 'x'.repeat(64));
    oneLineError(await cliInproc(['net', 'list', '--controller', t.url, '--token-file', wrong]), 1, new RegExp(`refused the token from ${wrong}`));
    oneLineError(await cliInproc(['net', 'list', '--controller', t.url, '--token-file', join(tmp, 'nope')]), 2, /--token-file .*cannot read it \(ENOENT\)/);
  });

  it('resolves the token: --token-file, then $SLUICE_TOKEN, then the state directory\'s api-token', () => {
    const sd = join(tmp, 'state-default');
    mkdirSync(sd, { recursive: true });
    expect(resolveToken({}, {}, sd)).toEqual({ from: join(sd, 'api-token') });
    writeFileSync(join(sd, 'api-token'), 'abc123abc123abc123\n');
    expect(resolveToken({}, {}, sd)).toEqual({ token: 'abc123abc123abc123', from: join(sd, 'api-token') });
    expect(resolveToken({}, { SLUICE_TOKEN: 'envtoken' }, sd)).toEqual({ token: 'envtoken', from: '$SLUICE_TOKEN' });
    expect(resolveToken({ 'token-file': join(sd, 'api-token') }, { SLUICE_TOKEN: 'envtoken' }, sd).from).toBe(join(sd, 'api-token'));
  });

  it('resolves the URL: --controller, then $SLUICE_CONTROLLER, then http://127.0.0.1:6680; bad ones are usage errors', async () => {
    expect(resolveControllerUrl({}, {})).toEqual({ url: 'http://127.0.0.1:6680', explicit: false });
    expect(resolveControllerUrl({}, { SLUICE_CONTROLLER: 'http://c:1234/' })).toEqual({ url: 'http://c:1234', explicit: true });
    expect(resolveControllerUrl({ controller: 'https://x' }, { SLUICE_CONTROLLER: 'http://c:1234' }).url).toBe('https://x');
    oneLineError(await cliInproc(['net', 'list', '--controller', 'ftp://x']), 2, /only http/);
    oneLineError(await cliInproc(['net', 'list', '--controller', 'not a url']), 2, /is not a URL/);
    oneLineError(await cliInproc(['net', 'list', '--controller', 'http://127.0.0.1:6666']), 2, /port 6666 is one fetch refuses/);
  });

  it('an unreachable controller is one line and exit 3, saying a write may or may not have happened', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    oneLineError(await cliInproc(['net', 'list', '--controller', url]), 3, new RegExp(`cannot reach the controller at ${url} \\(connection refused\\); is \`sluice controller\` running\\?`));
    oneLineError(await cliInproc(['net', 'create', 'x', '--vid', '9', '--controller', url]), 3, /may or may not have been made/);
  });
});

describe('as a process', () => {
  const exec = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });

  it('exits 0 with the table, 1 on a refusal, 3 when unreachable', { timeout: 180_000 }, async () => {
    const ok = await exec(['net', 'list', ...A]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/│ blue/);
    const no = await exec(['net', 'delete', 'nope', ...A]);
    expect(no.code).toBe(1);
    expect(no.stderr).toBe('sluice: network "nope" does not exist\n');
    const un = await exec(['switches', '--controller', `http://127.0.0.1:${await closedPort()}`]);
    expect(un.code).toBe(3);
    expect(un.stderr.trim().split('\n')).toHaveLength(1);
  });
});
