// Property-based fuzz of the controller's API over raw sockets (test/helpers/controller-http-fuzz.ts):
// for a few seconds, mutated requests of every layer; the server answers each with no 5xx or closes
// the connection, keeps answering a well-formed probe, and its intent and state file stay valid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestController } from '../../helpers/controller-api.js';
import type { TestController } from '../../helpers/controller-api.js';
import { fuzzHttp, encodeRaw, sendRaw } from '../../helpers/controller-http-fuzz.js';
import { parseIntent } from '../../../src/controller/intent.js';
import { decodeState } from '../../../src/controller/store.js';

let t: TestController;
beforeAll(async () => {
  t = await startTestController({ sseKeepaliveMs: 60_000 });
  await t.req('POST', '/v1/networks', { name: 'blue', vid: 100 });
  await t.req('POST', '/v1/channels', { name: 'gold', rate: '50mbit' });
  await t.req('PUT', '/v1/attachments/host1%2Fbr0/vm1', { network: 'blue', channel: 'gold' });
});
afterAll(async () => { await t?.stop(); });

const corpus = [
  { name: 'green', vid: 300, vni: 7000 },
  { name: 'silver', rate: '10mbit', burst: '32kb' },
  { network: 'blue', channel: 'gold' },
  { channel: 'gold' },
  { rate: '20mbit' },
  { networks: [{ name: 'blue', vid: 100 }], channels: [{ name: 'gold', rate: '50mbit' }], attachments: [{ switch: 'host1/br0', port: 'vm1', network: 'blue', channel: 'gold' }] },
];

describe('API fuzz', () => {
  it('the raw sender sees a plain answer', async () => {
    const a = await sendRaw('127.0.0.1', Number(new URL(t.url).port), encodeRaw({
      method: 'GET', target: '/v1/networks', version: 'HTTP/1.1', headers: [['Host', 'x'], ['Authorization', `Bearer ${t.token}`]], body: Buffer.alloc(0), framing: 'none', eol: '\r\n',
    }));
    expect(a.status).toBe(200);
  });

  it('keeps answering mutated requests (a few seconds of them), and its state stays valid', { timeout: 120_000 }, async () => {
    // SLUICE_FUZZ_SEED replays a run; SLUICE_FUZZ_MS runs longer.
    const seed = Number(process.env.SLUICE_FUZZ_SEED ?? Date.now() % 1_000_000);
    const durationMs = Number(process.env.SLUICE_FUZZ_MS ?? 4000);
    const stats = await fuzzHttp({
      host: '127.0.0.1', port: Number(new URL(t.url).port), token: t.token, routes: t.api.routes, corpus, durationMs, seed,
      probe: async () => { const r = await t.req('GET', '/v1/networks'); if (r.status !== 200) throw new Error(`probe answered ${r.status}`); },
    });
    console.log(`[api fuzz] seed ${seed}: ${stats.cases} requests, answers ${JSON.stringify(Object.fromEntries([...stats.codes].sort()))}, ${stats.closedWithoutAnswer} closed without an answer`);
    expect(stats.cases).toBeGreaterThan(20);
    expect((await t.req('GET', '/v1/networks')).status).toBe(200);
    const intent = (await t.req('GET', '/v1/intent')).body;
    expect(parseIntent(intent)).toEqual(intent);
    const onDisk = decodeState(readFileSync(join(t.dir, 'state', 'state.json'), 'utf8'), 'state.json');
    expect(onDisk.intent).toEqual(intent);
  });
});
