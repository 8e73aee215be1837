// Management API of `sluice switch`, in process with memory ports (no root): routes, refusals
// (400/404/405/409 as { error: CODE, message: one line }), atomic channel reconfiguration, runtime
// changes kept in the running config, Prometheus metrics, and the client's "no switch is running".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveSwitch, type RunningSwitch } from '../../../src/agent/serve.js';
import { MgmtClient, MgmtApiError, NoSwitchError, resolveSocket } from '../../../src/agent/mgmt-client.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-mgmt-'));
const cfg = join(dir, 'sluice.yaml');
const sock = join(dir, 'sw.sock');
let sw: RunningSwitch;
let c: MgmtClient;

beforeAll(async () => {
  writeFileSync(cfg, 'bridges:\n  br0:\n    ports:\n      m1: { ofport: 1, type: memory, channel: gold }\n      m2: { ofport: 2, type: memory, vlan: { mode: access, vid: 100 } }\nchannels:\n  gold: { rate: 20mbit }\n');
  sw = await serveSwitch({ configPath: cfg, socketPath: sock, metricsPort: 0, log: pino({ level: 'silent' }) });
  c = new MgmtClient(sock);
});
afterAll(async () => { await sw?.stop(); rmSync(dir, { recursive: true, force: true }); });

async function status(p: Promise<unknown>): Promise<[number, string]> {
  try { await p; return [200, '']; } catch (e) { if (e instanceof MgmtApiError) return [e.status, e.message]; throw e; }
}

describe('management API', () => {
  it('lists ports and channels', async () => {
    const r = await c.get<{ ports: Array<{ name: string; link: string; channel?: string }> }>('/ports');
    expect(r.ports.map((p) => [p.name, p.link, p.channel])).toEqual([['m1', 'up', 'gold'], ['m2', 'up', undefined]]);
    const ch = await c.get<{ channels: Array<{ name: string; attached: string[] }> }>('/channels');
    expect(ch.channels).toMatchObject([{ name: 'gold', attached: ['m1 (ingress)'] }]);
  });

  it('reconfigures a channel in place: the attached port keeps the same object', async () => {
    const before = sw.daemon.channels.get('gold');
    await c.put('/channels/gold', { rate: '5mbit', burst: '64kb' });
    expect(sw.daemon.channels.get('gold')).toBe(before);
    expect(sw.daemon.bridge.ports()[0].ingress).toBe(before);
    expect(before!.spec.tokensPerSec).toBe(5e6 / 8);
  });

  it('answers bad requests with 400/404/409 and one line', async () => {
    expect(await status(c.put('/channels/gold', { rate: 'fast' }))).toEqual([400, expect.stringMatching(/rate/)]);
    expect(await status(c.delete('/ports/nope'))).toEqual([404, expect.stringMatching(/no port "nope"/)]);
    expect(await status(c.delete('/channels/gold'))).toEqual([409, expect.stringMatching(/attached to m1/)]);
    expect(await status(c.post('/ports', { name: 'm1', ofport: 9, type: 'memory' }))).toEqual([409, expect.stringMatching(/already exists/)]);
    expect(await status(c.post('/ports', { name: 'm3', ofport: 2, type: 'memory' }))).toEqual([409, expect.stringMatching(/ofport 2 is already used by port m2/)]);
    expect(await status(c.post('/ports', { name: 'm3', ofport: 3, type: 'memory', vlan: { mode: 'access' } }))).toEqual([400, expect.stringMatching(/access port needs vid/)]);
    expect(await status(c.patch('/ports/m1', { channel: 'nope' }))).toEqual([400, expect.stringMatching(/unknown channel "nope"/)]);
    expect(await status(c.post('/flows', { flow: 'in_port=1,actions=fly' }))).toEqual([400, expect.stringMatching(/fly/)]);
    expect(await status(c.get('/nothing'))).toEqual([404, expect.any(String)]);
    expect(await status(c.delete('/ports/%zz'))).toEqual([400, 'path segment "%zz" is not valid percent-encoding']);
    expect(await status(c.put('/channels/fast', { rate: '1e30gbit' }))).toEqual([400, expect.stringMatching(/rate "1e30gbit" is out of range 1bit-1tbit$/)]);
    expect(await status(c.put('/channels/slow', { rate: '1e-300bit' }))).toEqual([400, expect.stringMatching(/rate "1e-300bit" is out of range 1bit-1tbit$/)]);
    expect(await status(c.request('PUT', '/ports', {}))).toEqual([405, 'method "PUT" is not allowed on "/ports" (allowed: GET, POST)']);
    // The error body: a stable code and a one-line message.
    const err = await c.get('/nothing').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, apiCode: 'SW_ERR_NOT_FOUND', message: 'no route "GET" "/nothing"' });
    // nothing above changed the running config
    expect(Object.keys(sw.daemon.bridgeConfig.ports)).toEqual(['m1', 'm2']);
  });

  it('adds, changes and removes ports and flows; the running config follows', async () => {
    await c.post('/ports', { name: 'm3', ofport: 3, type: 'memory', vlan: { mode: 'trunk', vids: [100, 200] }, egressChannel: 'gold' });
    expect(sw.daemon.bridge.portByName('m3')).toBe(3);
    expect(sw.daemon.bridgeConfig.ports.m3).toMatchObject({ egressChannel: 'gold', vlan: { mode: 'trunk', vids: [100, 200] } });
    await c.patch('/ports/m3', { egressChannel: null, vlan: { mode: 'access', vid: 200 } });
    expect(sw.daemon.bridge.ports()[2]).toMatchObject({ egress: null, vlan: { mode: 'access', vid: 200 } });
    await c.post('/flows', { flow: 'priority=10,in_port=m3,actions=drop' });
    expect((await c.get<{ flows: string[] }>('/flows?filter=in_port=3')).flows).toHaveLength(1);
    expect(sw.daemon.bridgeConfig.flows).toEqual(['priority=10,in_port=m3,actions=drop']);
    expect(await status(c.delete('/ports/m3'))).toEqual([400, expect.stringMatching(/in_port=m3/)]);   // a config flow names it
    expect((await c.delete<{ deleted: number }>('/flows', { filter: 'in_port=3' })).deleted).toBe(1);
    expect(sw.daemon.bridgeConfig.flows).toEqual([]);
    await c.delete('/ports/m3');
    expect(sw.daemon.bridge.portByName('m3')).toBeUndefined();
  });

  it('serves Prometheus metrics collected at scrape time', async () => {
    const m1 = sw.daemon.bridge.ports()[0].backend as MemoryPort;
    expect(m1).toBeInstanceOf(MemoryPort);
    const res = await fetch(`http://127.0.0.1:${sw.metrics!.port}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/sluice_port_rx_packets_total\{port="m1",bridge="br0"\} 0/);
    expect(text).toMatch(/sluice_channel_passed_bytes_total\{channel="gold",bridge="br0"\} 0/);
    expect(text).toMatch(/sluice_port_up\{port="m2",state="up",bridge="br0"\} 1/);
  });

  it('reports a switch that is not running as one line', async () => {
    const none = new MgmtClient(join(dir, 'none.sock'));
    await expect(none.get('/ports')).rejects.toBeInstanceOf(NoSwitchError);
    await expect(none.get('/ports')).rejects.toThrow(/^no switch is running \(no socket at .*none\.sock\); start one with: sluice switch -c CONFIG$/);
    expect(resolveSocket({ bridge: 'br7' })).toBe('/run/sluice/br7.sock');
    expect(resolveSocket({}, join(dir, 'empty'))).toBe('/run/sluice/br0.sock');
  });
});
