// Property test: random and mutated HTTP requests (raw bytes over the Unix socket, so malformed
// request lines, headers, framing and bodies really reach the parser) against a live in-process
// switch with memory ports. Every answer is a 2xx/4xx (4xx as one JSON line); after each batch the
// daemon still answers GETs, applies a reload, and forwards frames between its ports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveSwitch, type RunningSwitch } from '../../../src/agent/serve.js';
import { MgmtClient } from '../../../src/agent/mgmt-client.js';
import { MAX_DRAIN_BYTES, MAX_HEADER_BYTES } from '../../../src/agent/mgmt-server.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { buildFrame } from '../../../src/packet/build.js';
import { waitFor } from '../../helpers/netns.js';
import { fuzzHttp } from '../../helpers/http-fuzz.js';
import { mgmtBodies, mgmtRoutes } from '../../helpers/mgmt-requests.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-mgmt-fuzz-'));
const cfg = join(dir, 'sluice.yaml');
const sock = join(dir, 'sw.sock');
const canary = join(dir, 'canary.yaml');
const YAML = 'bridges:\n  br0:\n    ports:\n      m1: { ofport: 1, type: memory }\n      m2: { ofport: 2, type: memory }\nchannels:\n  gold: { rate: 20mbit }\n';
let sw: RunningSwitch;
let c: MgmtClient;

const FRAME_A = buildFrame({ dst: '02:00:00:00:00:0b', src: '02:00:00:00:00:0a', payload: { kind: 'raw', etherType: 0x88b5, data: Buffer.alloc(50, 1) } });
const FRAME_B = buildFrame({ dst: '02:00:00:00:00:0a', src: '02:00:00:00:00:0b', payload: { kind: 'raw', etherType: 0x88b5, data: Buffer.alloc(50, 2) } });

function memPort(name: string): MemoryPort {
  const p = sw.daemon.bridge.ports().find((x) => x.name === name);
  if (!p) throw new Error(`port ${name} is missing after the reset`);
  return p.backend as MemoryPort;
}

/** One frame each way between m1 and m2 through the live runner (no direct poll). */
async function forwards(): Promise<void> {
  const m1 = memPort('m1'), m2 = memPort('m2');
  m1.takeSent(); m2.takeSent();
  m1.inject(FRAME_A);
  sw.daemon.runner.kick();
  await waitFor(() => m2.sent.some((s) => s.frame.equals(FRAME_A)), 10_000, 'm1 -> m2');
  m2.inject(FRAME_B);
  sw.daemon.runner.kick();
  await waitFor(() => m1.sent.some((s) => s.frame.equals(FRAME_B)), 10_000, 'm2 -> m1');
}

/** Still alive: GETs answer, a reload to the original config applies, the table is NORMAL again, frames move. */
async function stillServes(): Promise<void> {
  expect(sw.daemon.runner.stats.errors).toBe(0);
  const ports = await c.get<{ ports: Array<{ name: string }> }>('/ports');
  expect(ports.ports.length).toBeGreaterThan(0);
  await c.get('/stats');
  writeFileSync(cfg, YAML);
  await c.post('/config/reload');
  await c.delete('/flows', {});
  await c.post('/flows', { flow: 'priority=0,actions=NORMAL' });
  expect((await c.get<{ ports: Array<{ name: string }> }>('/ports')).ports.map((p) => p.name)).toEqual(['m1', 'm2']);
  await forwards();
}

beforeAll(async () => {
  writeFileSync(cfg, YAML);
  sw = await serveSwitch({
    configPath: cfg, socketPath: sock, log: pino({ level: process.env.FUZZ_LOG ?? 'silent' }),
    // Only memory ports: a fuzzed POST /ports must never reach a real device.
    makeBackend: (p) => { if (p.type !== 'memory') throw new Error(`fuzz: no ${p.type} ports here`); return new MemoryPort(p.name); },
  });
  c = new MgmtClient(sock);
});
afterAll(async () => { await sw?.stop(); rmSync(dir, { recursive: true, force: true }); });

describe('management API under random and malformed requests', () => {
  it('the request that killed the daemon: a target new URL() cannot parse', async () => {
    const raw = await rawExchange('GET //[ HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 404 /);
    expect(raw).toMatch(/\{"error":"SW_ERR_NOT_FOUND","message":"no route \\"GET\\" \\"\/\/\[\\""\}$/);
    await forwards();
  });

  it('answers what the HTTP parser refuses with a JSON 4xx and lives on', async () => {
    expect(await rawExchange('GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 [^]*"error":"SW_ERR_BAD_REQUEST"/);
    expect(await rawExchange(`GET /${'a'.repeat(MAX_HEADER_BYTES)} HTTP/1.1\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 [^]*"error":"SW_ERR_HEADERS_TOO_LARGE"/);
    expect(await rawExchange('GET /ports HTTP/1.1\r\n')).toMatch(/^HTTP\/1\.1 400 /);          // cut off, then half-closed
    expect(await rawExchange('CONNECT x:1 HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 40\d [^]*"error":"SW_ERR_/);
    expect(await rawExchange('GET /ports HTTP/1.1\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n')).toMatch(/^HTTP\/1\.1 (200|4\d\d) /);
    // An expectation we cannot meet is ignored (RFC 9110 allows it): the request is served as usual.
    expect(await rawExchange('POST /flows HTTP/1.1\r\nexpect: teapot\r\ncontent-length: 2\r\n\r\n{}')).toMatch(/^HTTP\/1\.1 400 [^]*"error":"SW_ERR_BAD_REQUEST","message":"give the flow/);
    expect(await rawExchange('DELETE /ports/%zz HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 [^]*not valid percent-encoding/);
    await forwards();
  });

  it('refuses bodies over 1 MiB with 413, and the client, still sending, reads the answer', async () => {
    const big = 'x'.repeat((1 << 20) + 1);
    expect(await rawExchange(`POST /flows HTTP/1.1\r\ncontent-length: ${big.length}\r\n\r\n${big}`)).toMatch(/^HTTP\/1\.1 413 [^]*"error":"SW_ERR_TOO_LARGE"/);
    expect(await rawExchange(`POST /flows HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`)).toMatch(/^HTTP\/1\.1 413 /);
    expect(await rawExchange(`POST /flows HTTP/1.1\r\ncontent-length: ${MAX_DRAIN_BYTES + 1}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 413 [^]*connection: close/i);
    // Refused for another reason before the body was read: the body is still read, then the answer.
    expect(await rawExchange(`PUT /nothing HTTP/1.1\r\ncontent-length: 900000\r\n\r\n${'y'.repeat(900000)}`)).toMatch(/^HTTP\/1\.1 404 /);
    expect(await rawExchange(`PUT /ports HTTP/1.1\r\nbad header\r\ncontent-length: 900000\r\n\r\n${'y'.repeat(900000)}`)).toMatch(/^HTTP\/1\.1 400 /);
    await forwards();
  });

  it('survives batches of random and mutated requests: no 5xx, JSON 4xx, GETs answer, frames forward', async () => {
    const t0 = Date.now();
    const savePaths = ['/etc/passwd', canary, dir, ''];
    const report = await fuzzHttp({
      connect: () => net.connect(sock),
      routes: mgmtRoutes(savePaths),
      names: ['m1', 'm2', 'm3', 'gold', 'fz', 'nope'],
      bodies: mgmtBodies(savePaths),
      queries: ['filter=in_port=1', 'filter=%zz', 'filter=table=999', 'filter=', 'filter=priority=1,actions=drop', 'filter=in_port=m1'],
      serverOptions: { maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false },
      batches: Number(process.env.FUZZ_BATCHES ?? 30),
      batchSize: 12,
      seed: process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 0x51ce,
      afterBatch: stillServes,
    });
    console.log(`mgmt fuzz: ${report.cases} requests, ${report.responses} answers ${JSON.stringify(report.byStatus)}, ${report.silent} closed unanswered, ${Date.now() - t0} ms`);
    expect(report.responses).toBeGreaterThan(report.cases / 2);
    expect(existsSync(canary)).toBe(false);
    // Saves left no temp files behind, and wrote nowhere but the config file.
    expect(readdirSync(dir).sort()).toEqual(['sluice.yaml', 'sw.sock']);
  }, 180_000);
});

/** Write `text`, half-close, and return everything the server sent before closing. */
function rawExchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let got = '';
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    s.on('connect', () => { s.write(text, 'latin1'); s.end(); });
    setTimeout(() => { s.destroy(); reject(new Error(`no close after ${JSON.stringify(text.slice(0, 60))}: got ${JSON.stringify(got)}`)); }, 20_000).unref();
  });
}
