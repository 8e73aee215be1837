// Unit: EtcdStateStore against a real etcd (Debian etcd-server) started on loopback ports with its
// data in a temporary directory: the document round-trips, a write another controller made in
// between is refused (compare-and-swap on the mod revision), watchers see other controllers'
// writes, and `--store etcd:...` parses.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EtcdStateStore, StaleStateError, parseEtcdStore } from '../../../src/controller/etcd.js';
import { EMPTY_STATE } from '../../../src/controller/store.js';
import type { ControllerState } from '../../../src/controller/store.js';
import { startEtcd } from '../../helpers/etcd.js';
import type { EtcdCluster } from '../../helpers/etcd.js';
import { describeWithTools } from '../../helpers/privileged.js';

const withNetwork = (s: ControllerState, name: string, vid: number): ControllerState =>
  ({ ...s, intent: { ...s.intent, networks: [...s.intent.networks, { name, vid }] } });

it('parses --store etcd:URL[,URL...]', () => {
  expect(parseEtcdStore('etcd:http://127.0.0.1:2379,http://127.0.0.1:22379')).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.1:22379']);
  expect(() => parseEtcdStore('etcd:')).toThrow(/names no etcd endpoint/);
  expect(() => parseEtcdStore('etcd:127.0.0.1:2379')).toThrow(/is not http:\/\/HOST:PORT/);
  expect(() => parseEtcdStore('consul:http://x:1')).toThrow(/is not etcd:URL/);
});

describeWithTools('EtcdStateStore', () => {
  let etcd: EtcdCluster;
  const stores: EtcdStateStore[] = [];
  const open = (prefix: string): EtcdStateStore => { const s = new EtcdStateStore({ endpoints: etcd.endpoints, prefix }); stores.push(s); return s; };
  beforeAll(async () => { etcd = await startEtcd(1); }, 30_000);
  afterAll(async () => { for (const s of stores) await s.close(); await etcd?.stop(); });

  it('starts empty and keeps what was saved', async () => {
    const a = open('/t1/');
    expect(await a.load()).toEqual(EMPTY_STATE);
    const s = withNetwork({ ...structuredClone(EMPTY_STATE), generation: '7' }, 'red', 10);
    await a.save(s);
    const b = open('/t1/');
    expect(await b.load()).toEqual(s);
  });

  it('refuses a write over one it has not seen, and watchers see the other controller\'s write', async () => {
    const a = open('/t2/');
    const b = open('/t2/');
    const base = await a.load();
    await b.load();
    let seen = 0;
    await b.watch(() => { seen++; }, (e) => { throw e; });
    await a.save(withNetwork(base, 'red', 10));
    await expect(b.save(withNetwork(base, 'blue', 20))).rejects.toBeInstanceOf(StaleStateError);
    await expect.poll(() => seen).toBe(1);
    const now = await b.load();
    expect(now.intent.networks.map((n) => n.name)).toEqual(['red']);
    // Having read it, b's next write goes in on top.
    await b.save(withNetwork(now, 'blue', 20));
    expect((await open('/t2/').load()).intent.networks.map((n) => n.name).sort()).toEqual(['blue', 'red']);
  });

  it('applies saves in order', async () => {
    const a = open('/t3/');
    let s = await a.load();
    const all: Promise<void>[] = [];
    for (let i = 1; i <= 5; i++) { s = withNetwork(s, `n${i}`, i); all.push(a.save(s)); }
    await Promise.all(all);
    expect((await open('/t3/').load()).intent.networks).toHaveLength(5);
  });
}, { tools: ['etcd'] });
