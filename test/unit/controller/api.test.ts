// The controller's northbound API against a real Controller on 127.0.0.1: every route's success and
// refusals (one-line { error, message }, 400/401/404/409/413), token auth, URL-encoded switch names,
// the OpenAPI document (valid 3.x, every route), SSE with ids and Last-Event-ID replay, and apply:
// dry-run changes nothing, a refused document changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestController } from '../../helpers/controller-api.js';
import type { TestController } from '../../helpers/controller-api.js';
import { ControllerClient } from '../../../src/cli/controller-client.js';
import { EmulatedSwitch } from '../../helpers/emulated-switch.js';
import type { SseMessage } from '../../../src/cli/controller-client.js';
import { FileStateStore, StoreUnavailableError } from '../../../src/controller/store.js';
import type { ControllerState } from '../../../src/controller/store.js';

let t: TestController;
beforeAll(async () => { t = await startTestController(); });
afterAll(async () => { await t?.stop(); });

/** A refusal: the status, a stable code, one line naming what was wrong. */
function refused(r: { status: number; body: any; text: string }, status: number, code: string, msg?: RegExp): void {
  expect(r.status, r.text).toBe(status);
  expect(Object.keys(r.body).sort()).toEqual(['error', 'message']);
  expect(r.body.error).toBe(code);
  expect(r.body.message).not.toMatch(/\n/);
  if (msg) expect(r.body.message).toMatch(msg);
}

async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Concrete URLs for the route patterns (params filled with existing or any names). */
function concrete(route: string): string {
  return route.replace(':switch', 'host9%2Fbr0').replace(':port', 'p1').replace(':name', 'x');
}

describe('auth', () => {
  it('refuses every route but the OpenAPI document without the token, with 401 and WWW-Authenticate', async () => {
    expect(t.api.routes.length).toBeGreaterThanOrEqual(20);
    for (const route of t.api.routes) {
      const [method, path] = route.split(' ') as [string, string];
      const res = await fetch(t.url + concrete(path), { method, body: ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined });
      const body = await res.text();
      if (route === 'GET /openapi.json' || route.startsWith('GET /ui')) { expect(res.status, route).toBe(200); continue; }
      expect(res.status, route).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(JSON.parse(body)).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('refuses a wrong token and other schemes; an unknown route is 401 before it is 404', async () => {
    for (const h of [`Bearer ${t.token}x`, `Bearer ${t.token.slice(1)}`, `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer', `bearer  ${t.token} extra`]) {
      const res = await fetch(`${t.url}/v1/networks`, { headers: { authorization: h } });
      expect(res.status, h).toBe(401);
    }
    expect((await fetch(`${t.url}/v1/nothing`)).status).toBe(401);
    refused(await t.req('GET', '/v1/nothing'), 404, 'no-route', /no route GET \/v1\/nothing/);
    refused(await t.req('DELETE', '/v1/switches'), 404, 'no-route');
  });

  it('accepts the token case-insensitively on the scheme', async () => {
    expect((await fetch(`${t.url}/v1/networks`, { headers: { authorization: `bearer ${t.token}` } })).status).toBe(200);
  });

  it('wrote the token file 0600, 64 hex digits', () => {
    expect(statSync(t.tokenFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(t.tokenFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  });
});

describe('networks', () => {
  it('creates, lists, shows and deletes', async () => {
    const c = await t.req('POST', '/v1/networks', { name: 'blue', vid: 100, vni: 5001 });
    expect(c.status).toBe(201);
    expect(c.body).toEqual({ network: { name: 'blue', vid: 100, vni: 5001 }, reconciled: [] });
    expect((await t.req('POST', '/v1/networks', { name: 'red', vid: 200 })).status).toBe(201);
    expect((await t.req('GET', '/v1/networks')).body.networks.map((n: { name: string }) => n.name)).toEqual(['blue', 'red']);
    expect((await t.req('GET', '/v1/networks/red')).body).toEqual({ network: { name: 'red', vid: 200 }, attachments: [] });
    expect((await t.req('DELETE', '/v1/networks/red')).body).toEqual({ deleted: 'red', reconciled: [] });
    refused(await t.req('GET', '/v1/networks/red'), 404, 'unknown-network', /"red"/);
  });

  it('refuses duplicates and bad fields, naming them', async () => {
    refused(await t.req('POST', '/v1/networks', { name: 'blue', vid: 101 }), 409, 'network-exists');
    refused(await t.req('POST', '/v1/networks', { name: 'green', vid: 100 }), 409, 'duplicate-vid', /vid 100 .*"blue"/);
    refused(await t.req('POST', '/v1/networks', { name: 'green', vid: 300, vni: 5001 }), 409, 'duplicate-vni');
    refused(await t.req('POST', '/v1/networks', { name: 'green', vid: 5000 }), 400, 'bad-request', /^network\.vid: /);
    refused(await t.req('POST', '/v1/networks', { name: 'green', vid: '7' }), 400, 'bad-request', /network\.vid/);
    refused(await t.req('POST', '/v1/networks', { name: 'gr een', vid: 7 }), 400, 'bad-request', /network\.name/);
    refused(await t.req('POST', '/v1/networks', { name: 'green', vid: 7, colour: 'green' }), 400, 'bad-request', /colour/);
    refused(await t.req('POST', '/v1/networks', [1, 2]), 400, 'bad-request');
    refused(await t.req('DELETE', '/v1/networks/nope'), 404, 'unknown-network');
  });

  it('answers malformed JSON, an empty body and a too-large body in one line', async () => {
    refused(await t.req('POST', '/v1/networks', '{"name": "x", vid: 1}'), 400, 'bad-json', /not JSON/);
    refused(await t.req('POST', '/v1/networks', '{"name":'), 400, 'bad-json');
    refused(await t.req('POST', '/v1/networks', ''), 400, 'bad-request', /empty/);
    refused(await t.req('POST', '/v1/networks', `{"name":"big","vid":7,"pad":"${'x'.repeat(1 << 20)}"}`), 413, 'body-too-large', /1048576/);
    // whatever the content type says, the body is JSON (curl -d sends form encoding)
    expect((await t.req('POST', '/v1/networks', '{"name":"form","vid":77}', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(201);
    expect((await t.req('DELETE', '/v1/networks/form')).status).toBe(200);
    // and still serving
    expect((await t.req('GET', '/v1/networks')).status).toBe(200);
  });
});

describe('attachments', () => {
  const path = (sw: string, port: string): string => `/v1/attachments/${encodeURIComponent(sw)}/${encodeURIComponent(port)}`;

  it('routes URL-encoded switch names (host1%2Fbr0) and refuses them unencoded with a hint', async () => {
    const r = await t.req('PUT', '/v1/attachments/host1%2Fbr0/vm1', { network: 'blue' });
    expect(r.status, r.text).toBe(201);
    expect(r.body.attachment).toEqual({ switch: 'host1/br0', port: 'vm1', network: 'blue' });
    expect((await t.req('GET', '/v1/attachments')).body.attachments).toEqual([{ switch: 'host1/br0', port: 'vm1', network: 'blue' }]);
    refused(await t.req('PUT', '/v1/attachments/host1/br0/vm1', { network: 'blue' }), 404, 'no-route', /URL-encoded: host1%2Fbr0/);
    refused(await t.req('PUT', '/v1/attachments/bad%zzname/vm1', { network: 'blue' }), 400, 'bad-url');
    for (const sw of ['a/b:c', 'with space/br0', '100%/x', `long-${'s'.repeat(250)}`]) {
      const x = await t.req('PUT', path(sw, 'p1'), { network: 'blue' });
      expect(x.status, `${sw}: ${x.text}`).toBe(201);
      expect(x.body.attachment.switch).toBe(sw);
      expect((await t.req('DELETE', path(sw, 'p1'))).body).toEqual({ deleted: `${sw}:p1`, reconciled: [] });
    }
  });

  it('PUT replaces (200), If-None-Match: * refuses an attached port (409), the network and channel must exist', async () => {
    expect((await t.req('PUT', path('host1/br0', 'vm1'), { network: 'blue' })).status).toBe(200);
    refused(await t.req('PUT', path('host1/br0', 'vm1'), { network: 'blue' }, { 'if-none-match': '*' }), 409, 'port-attached', /host1\/br0:vm1 is already attached to network "blue"/);
    refused(await t.req('PUT', path('host1/br0', 'vm2'), { network: 'nope' }), 404, 'unknown-network', /"nope"/);
    refused(await t.req('PUT', path('host1/br0', 'vm2'), { network: 'blue', channel: 'nope' }), 404, 'unknown-channel');
    refused(await t.req('PUT', path('host1/br0', 'a-port-name-too-long'), { network: 'blue' }), 400, 'bad-request', /attachment\.port/);
    refused(await t.req('PUT', path('host1/br0', 'vm2'), { network: 'blue', vlan: 3 }), 400, 'bad-request', /vlan/);
    refused(await t.req('PUT', path('host1/br0', 'vm2')), 400, 'bad-request', /empty/);
    expect((await t.req('PUT', path('host1/br0', 'vm2'), { network: 'blue' }, { 'if-none-match': '*' })).status).toBe(201);
  });

  it('filters by network, switch and channel', async () => {
    expect((await t.req('GET', '/v1/attachments?switch=host1%2Fbr0')).body.attachments).toHaveLength(2);
    expect((await t.req('GET', '/v1/attachments?network=red')).body.attachments).toEqual([]);
    refused(await t.req('GET', '/v1/attachments?network='), 400, 'bad-request');
  });

  it('assigns and unassigns a channel; detaches', async () => {
    expect((await t.req('POST', '/v1/channels', { name: 'gold', rate: '50mbit', burst: '64kb' })).status).toBe(201);
    const a = await t.req('PUT', `${path('host1/br0', 'vm1')}/channel`, { channel: 'gold' });
    expect(a.body.attachment).toEqual({ switch: 'host1/br0', port: 'vm1', network: 'blue', channel: 'gold' });
    expect((await t.req('GET', '/v1/attachments?channel=gold')).body.attachments).toHaveLength(1);
    refused(await t.req('PUT', `${path('host1/br0', 'vm1')}/channel`, { channel: 'lead' }), 404, 'unknown-channel');
    refused(await t.req('PUT', `${path('host1/br0', 'vm9')}/channel`, { channel: 'gold' }), 404, 'unknown-attachment');
    refused(await t.req('PUT', `${path('host1/br0', 'vm1')}/channel`, { chanel: 'gold' }), 400, 'bad-request', /body\.channel/);
    refused(await t.req('DELETE', '/v1/channels/gold'), 409, 'channel-in-use', /host1\/br0:vm1/);
    refused(await t.req('DELETE', '/v1/networks/blue'), 409, 'network-in-use');
    expect((await t.req('PUT', `${path('host1/br0', 'vm1')}/channel`, { channel: null })).body.attachment).toEqual({ switch: 'host1/br0', port: 'vm1', network: 'blue' });
    expect((await t.req('DELETE', path('host1/br0', 'vm2'))).status).toBe(200);
    refused(await t.req('DELETE', path('host1/br0', 'vm2')), 404, 'unknown-attachment');
  });
});

describe('channels', () => {
  it('creates with a meter id, shows per-switch shares, patches, deletes', async () => {
    const c = await t.req('POST', '/v1/channels', { name: 'silver', rate: '20mbit' });
    expect(c.status).toBe(201);
    expect(c.body.channel).toMatchObject({ name: 'silver', rate: '20mbit', attachments: 0, shares: [] });
    expect(c.body.channel.meterId).toBeGreaterThan(0);
    await t.req('PUT', '/v1/attachments/h1%2Fbr0/vm1/', { network: 'blue', channel: 'silver' });
    await t.req('PUT', '/v1/attachments/h2%2Fbr0/vm1', { network: 'blue', channel: 'silver' });
    const one = await t.req('GET', '/v1/channels/silver');
    expect(one.body.channel.shares).toEqual([{ switch: 'h1/br0', rate: '10mbit', connected: false }, { switch: 'h2/br0', rate: '10mbit', connected: false }]);
    expect(one.body.attachments).toHaveLength(2);
    const p = await t.req('PATCH', '/v1/channels/silver', { rate: '40mbit', burst: '32kb' });
    expect(p.body.channel).toMatchObject({ rate: '40mbit', burst: '32kb', meterId: c.body.channel.meterId });
    expect((await t.req('GET', '/v1/channels')).body.channels.map((x: { name: string }) => x.name)).toEqual(['gold', 'silver']);
    await t.req('DELETE', '/v1/attachments/h1%2Fbr0/vm1');
    await t.req('DELETE', '/v1/attachments/h2%2Fbr0/vm1');
    expect((await t.req('DELETE', '/v1/channels/silver')).status).toBe(200);
  });

  it('refuses bad rates, mixed units, duplicates and unknown channels', async () => {
    refused(await t.req('POST', '/v1/channels', { name: 'gold', rate: '1mbit' }), 409, 'channel-exists');
    refused(await t.req('POST', '/v1/channels', { name: 'x', rate: 'fast' }), 400, 'bad-request', /channel\.rate/);
    refused(await t.req('POST', '/v1/channels', { name: 'x', rate: '10mbit', burst: '10pkt' }), 400, 'bad-burst');
    refused(await t.req('PATCH', '/v1/channels/gold', {}), 400, 'bad-request', /rate, burst, min or split/);
    refused(await t.req('PATCH', '/v1/channels/gold', { rate: '1 mbit/s' }), 400, 'bad-request', /rate/);
    refused(await t.req('PATCH', '/v1/channels/nope', { rate: '1mbit' }), 404, 'unknown-channel');
    refused(await t.req('GET', '/v1/channels/nope'), 404, 'unknown-channel');
    refused(await t.req('DELETE', '/v1/channels/nope'), 404, 'unknown-channel');
  });
});

describe('a store out of reach', () => {
  it('answers 503 store-unavailable on one line, acknowledges nothing, and keeps the intent as it was', async () => {
    let reachable = true;
    /** The state file, until the test cuts it off (as etcd is when partitioned away). */
    class FlakyStore extends FileStateStore {
      override save(st: ControllerState): Promise<void> {
        return reachable ? super.save(st) : Promise.reject(new StoreUnavailableError('etcd http://192.0.2.1:2379', '14 UNAVAILABLE: No connection established'));
      }
    }
    const x = await startTestController({ store: (dir) => new FlakyStore(dir) });
    try {
      expect((await x.req('POST', '/v1/networks', { name: 'before', vid: 10 })).status).toBe(201);
      reachable = false;
      const r = await x.req('POST', '/v1/networks', { name: 'lost', vid: 11 });
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: 'store-unavailable' });
      expect((r.body as { message: string }).message).toMatch(/^etcd http:\/\/192\.0\.2\.1:2379 did not confirm the change \(14 UNAVAILABLE[^\n]*read it back before retrying$/);
      const nets = (await x.req('GET', '/v1/networks')).body as { networks: { name: string }[] };
      expect(nets.networks.map((n) => n.name)).toEqual(['before']);
      reachable = true;
      expect((await x.req('POST', '/v1/networks', { name: 'after', vid: 12 })).status).toBe(201);
    } finally {
      await x.stop();
    }
  });
});

describe('switches, topology, reconcile', () => {
  it('with no switch connected: empty lists, nothing to reconcile, an unknown switch is 404', async () => {
    expect((await t.req('GET', '/v1/switches')).body).toEqual({ switches: [] });
    expect((await t.req('GET', '/v1/topology')).body).toEqual({ switches: [], links: [] });
    expect((await t.req('POST', '/v1/reconcile')).body).toEqual({ reconciled: [] });
    refused(await t.req('POST', '/v1/reconcile?switch=host1%2Fbr0'), 404, 'unknown-switch', /"host1\/br0" is not connected/);
  });

  it('shows a connected switch with its ports, reconciles it by name or dpid, and shows it gone', async () => {
    const sw = await EmulatedSwitch.connect(t.ctl.openflowAddress().port, 0xabn, 'host1/br0', ['vm1', 'vm2']);
    try {
      await until(() => t.ctl.switches().some((s) => s.connected && s.lastReconcile !== null));
      const s = (await t.req('GET', '/v1/switches')).body.switches;
      expect(s).toHaveLength(1);
      expect(s[0]).toMatchObject({ name: 'host1/br0', dpid: '00000000000000ab', connected: true, role: 'master', learnedMacs: 0 });
      expect(s[0].ports).toEqual([
        { name: 'vm1', number: 1, up: true, role: 'access', network: 'blue' },
        { name: 'vm2', number: 2, up: true, role: 'unused' },
      ]);
      expect(s[0].lastReconcile).toMatchObject({ switch: 'host1/br0', ok: true });
      expect((await t.req('GET', '/v1/topology')).body).toEqual({ switches: [{ name: 'host1/br0', dpid: '00000000000000ab', connected: true }], links: [] });
      const byName = await t.req('POST', '/v1/reconcile?switch=host1%2Fbr0');
      expect(byName.body.reconciled).toHaveLength(1);
      expect(byName.body.reconciled[0]).toMatchObject({ switch: 'host1/br0', dpid: '00000000000000ab', ok: true, errors: [] });
      expect((await t.req('POST', '/v1/reconcile?switch=00000000000000ab')).body.reconciled[0].switch).toBe('host1/br0');
      expect((await t.req('POST', '/v1/reconcile')).body.reconciled).toHaveLength(1);
    } finally { sw.close(); }
    await until(() => t.ctl.switches().every((x) => !x.connected));
    expect((await t.req('GET', '/v1/switches')).body.switches[0]).toMatchObject({ name: 'host1/br0', connected: false, role: null, peer: null });
    refused(await t.req('POST', '/v1/reconcile?switch=host1%2Fbr0'), 404, 'unknown-switch');
  });
});

describe('apply', () => {
  const doc = {
    networks: [{ name: 'blue', vid: 100, vni: 5001 }, { name: 'red', vid: 200 }],
    channels: [{ name: 'gold', rate: '50mbit', burst: '64kb' }],
    attachments: [{ switch: 'host1/br0', port: 'vm1', network: 'blue', channel: 'gold' }, { switch: 'host2/br0', port: 'vm7', network: 'red' }],
  };
  const stateFile = (): string => readFileSync(join(t.dir, 'state', 'state.json'), 'utf8');

  it('dry-run answers the difference and changes nothing (intent, state file)', async () => {
    const before = (await t.req('GET', '/v1/intent')).body;
    const file = stateFile();
    const r = await t.req('POST', '/v1/apply?dry-run=true', doc);
    expect(r.status, r.text).toBe(200);
    expect(r.body.dryRun).toBe(true);
    expect(r.body.applied).toBe(false);
    expect(r.body.diff.networks).toEqual({ added: ['red'], removed: [], changed: [] });
    expect(r.body.diff.attachments).toEqual({ added: ['host2/br0:vm7'], removed: [], changed: ['host1/br0:vm1'] });
    expect(r.body.intent.attachments).toHaveLength(2);
    expect((await t.req('GET', '/v1/intent')).body).toEqual(before);
    expect(stateFile()).toBe(file);
    refused(await t.req('POST', '/v1/apply?dry-run=maybe', doc), 400, 'bad-request', /dry-run/);
  });

  it('a refused document leaves the intent and the state file as they were', async () => {
    const before = (await t.req('GET', '/v1/intent')).body;
    const file = stateFile();
    refused(await t.req('POST', '/v1/apply', { ...doc, attachments: [...doc.attachments, { switch: 'h', port: 'p', network: 'nope' }] }), 404, 'unknown-network');
    refused(await t.req('POST', '/v1/apply', { ...doc, networks: [...doc.networks, { name: 'pink', vid: 100 }] }), 409, 'duplicate-vid');
    refused(await t.req('POST', '/v1/apply', { ...doc, attachments: [...doc.attachments, doc.attachments[0]] }), 409, 'port-attached', /attached twice/);
    refused(await t.req('POST', '/v1/apply', { ...doc, channels: [{ name: 'gold', rate: 'lots' }] }), 400, 'bad-intent', /channels\[0\]\.rate/);
    refused(await t.req('POST', '/v1/apply', { ...doc, routers: [] }), 400, 'bad-intent', /routers/);
    refused(await t.req('POST', '/v1/apply', '[}'), 400, 'bad-json');
    expect((await t.req('GET', '/v1/intent')).body).toEqual(before);
    expect(stateFile()).toBe(file);
  });

  it('applies a whole document; applying it again changes nothing', async () => {
    const r = await t.req('POST', '/v1/apply', doc);
    expect(r.body).toMatchObject({ dryRun: false, applied: true });
    expect((await t.req('GET', '/v1/intent')).body).toEqual(doc);
    expect(JSON.parse(stateFile()).intent).toEqual(doc);
    const again = await t.req('POST', '/v1/apply', { attachments: doc.attachments.slice().reverse(), channels: doc.channels, networks: doc.networks.slice().reverse() });
    expect(again.body).toMatchObject({ applied: false, diff: { networks: { added: [], removed: [], changed: [] } } });
  });
});

describe('the dashboard (/ui)', () => {
  it('serves the page, its script and uPlot without the token, under a strict Content-Security-Policy', async () => {
    const page = await fetch(`${t.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'; style-src 'self'; connect-src 'self'/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('<script src="/ui/app.js" defer></script>');
    expect(html).not.toMatch(/<script>|<style>| style=/);
    for (const [f, type, has] of [['/ui/app.js', /^text\/javascript/, /Authorization: Bearer|authorization: `Bearer/], ['/ui/uplot.js', /^text\/javascript/, /uPlot/], ['/ui/uplot.css', /^text\/css/, /\.uplot/], ['/ui/app.css', /^text\/css/, /body/]] as const) {
      const r = await fetch(t.url + f);
      expect(r.status, f).toBe(200);
      expect(r.headers.get('content-type'), f).toMatch(type);
      expect(await r.text(), f).toMatch(has);
    }
    // Nothing else under /ui is public.
    expect((await fetch(`${t.url}/ui/../v1/intent`)).status).toBe(401);
    expect((await fetch(`${t.url}/ui/other.js`)).status).toBe(401);
  });
});

describe('events (SSE)', () => {
  async function take(c: ControllerClient, last: string | undefined, n: number, during?: () => Promise<void>): Promise<SseMessage[]> {
    const got: SseMessage[] = [];
    const it = c.events(last, () => { void during?.(); });
    for await (const m of it) { got.push(m); if (got.length >= n) break; }
    return got;
  }

  it('delivers events with their seq as the SSE id, and replays after Last-Event-ID', async () => {
    const c = new ControllerClient(t.url, { token: t.token, from: 'test' });
    const live = await take(c, undefined, 3, async () => {
      await t.req('POST', '/v1/networks', { name: 'ev1', vid: 901 });
      await t.req('POST', '/v1/channels', { name: 'evc', rate: '1mbit' });
      await t.req('PATCH', '/v1/channels/evc', { rate: '2mbit' });
    });
    const evs = live.map((m) => ({ id: Number(m.id), ...JSON.parse(m.data) }));
    expect(evs.map((e) => e.type)).toEqual(['intent-changed', 'intent-changed', 'intent-changed']);
    for (const e of evs) expect(e.seq).toBe(e.id);
    expect(evs[1].id).toBe(evs[0].id + 1);
    expect(evs[0].diff.networks.added).toEqual(['ev1']);
    // the PATCH emits intent-changed then channel-changed: reconnect after the first of them
    const replay = await take(c, String(evs[0].id), 3);
    expect(replay.map((m) => Number(m.id))).toEqual([evs[0].id + 1, evs[0].id + 2, evs[0].id + 3]);
    expect(JSON.parse(replay[2]!.data)).toMatchObject({ type: 'channel-changed', channel: 'evc', rate: '2mbit' });
  });

  it('?since= replays like Last-Event-ID; a bad one is 400', async () => {
    const res = await fetch(`${t.url}/events?since=0`, { headers: { authorization: `Bearer ${t.token}` } });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!/id: 2\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toMatch(/^retry: \d+\n\nid: 1\ndata: \{/);
    refused(await t.req('GET', '/events', undefined, { 'last-event-id': 'yesterday' }), 400, 'bad-request', /Last-Event-ID/);
  });

  it('?rates=true adds channel-rate samples, without an id; other streams never see them', async () => {
    const open = async (q: string): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
      const res = await fetch(`${t.url}/events${q}`, { headers: { authorization: `Bearer ${t.token}` } });
      expect(res.status).toBe(200);
      return res.body!.getReader();
    };
    const withRates = await open('?rates=true');
    const without = await open('');
    await until(() => t.ctl.events.hasSampleListeners);
    const sample = { type: 'channel-rate' as const, channel: 'evc', unit: 'bit' as const, rate: 1, offered: 2, limit: 3, bytesPerSec: 0.125, packetsPerSec: 1, switches: 1, intervalMs: 500, at: new Date().toISOString(), parts: [{ switch: 's1', limit: 3, rate: 1, offered: 2 }] };
    t.ctl.events.emitSample(sample);
    await t.req('POST', '/v1/networks', { name: 'evr', vid: 902 });
    const read = async (r: ReadableStreamDefaultReader<Uint8Array>): Promise<string> => {
      let text = '';
      while (!/"evr"/.test(text)) text += new TextDecoder().decode((await r.read()).value);
      await r.cancel();
      return text;
    };
    const a = await read(withRates), b = await read(without);
    expect(a).toContain(`\n\ndata: ${JSON.stringify(sample)}\n\n`);
    expect(b).not.toContain('channel-rate');
    refused(await t.req('GET', '/events?rates=maybe'), 400, 'bad-request', /rates/);
  });

  it('an event stream does not hold up close()', async () => {
    const other = await startTestController();
    const res = await fetch(`${other.url}/events`, { headers: { authorization: `Bearer ${other.token}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await other.stop();
    for (;;) { const r = await reader.read(); if (r.done) break; }
  });
});

describe('metrics and the OpenAPI document', () => {
  it('serves the controller\'s Prometheus registry with the API\'s request counters and intent gauges', async () => {
    const r = await t.req('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.text).toMatch(/sluice_api_requests_total\{method="POST",route="\/v1\/networks",status="201"\} \d+/);
    expect(r.text).toMatch(/sluice_api_requests_total\{method="GET",route="unmatched",status="401"\} \d+/);
    expect(r.text).toMatch(/sluice_intent_objects\{kind="network"\} \d+/);
    expect(r.text).toMatch(/sluice_api_request_duration_seconds_bucket/);
    expect(r.text).toMatch(/sluice_controller_switches_connected \d+/);     // the controller's own registry
  });

  it('is a valid OpenAPI 3 document listing every route, each with its error answers', async () => {
    const res = await fetch(`${t.url}/openapi.json`);
    const doc = await res.json() as any;
    expect(doc.openapi).toMatch(/^3\./);
    await SwaggerParser.validate(structuredClone(doc));
    const listed = new Set<string>();
    for (const [p, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        listed.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
        if (p !== '/openapi.json' && !p.startsWith('/ui')) expect(op.responses['401'], `${m} ${p}`).toBeDefined();
        if (p.startsWith('/ui')) expect(op.security, `${m} ${p}`).toEqual([]);
      }
    }
    expect([...listed].sort()).toEqual([...t.api.routes].sort());
    expect(doc.paths['/openapi.json'].get.security).toEqual([]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/v1/networks'].post.requestBody.content['application/json'].schema.required).toEqual(['name', 'vid']);
  });
});
