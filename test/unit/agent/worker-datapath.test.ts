// WorkerDatapath: the datapath in a worker thread, driven through the DatapathHandle and through
// the OpenFlow agent. Two TAP ports the worker creates; frames are put on a TAP from this process
// with an AF_PACKET socket on its netdev (what the kernel transmits on a TAP reaches the fd's
// reader, the worker). Checks: the port mirror, changes and queries in order, OpenFlow replies in
// request order (an error keeps its xid and comes before the barrier reply that follows it),
// PACKET_IN out of the worker and PACKET_OUT into it, and a clean stop (the TAPs go away).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { parseConfig } from '../../../src/agent/config.js';
import { WorkerDatapath } from '../../../src/agent/worker-datapath.js';
import { OpenFlowAgent } from '../../../src/agent/openflow/agent.js';
import { OfClient } from '../../../src/agent/openflow/client.js';
import { SystemPort } from '../../../src/datapath/ports/system.js';
import { Batch } from '../../../src/packet/batch.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { buildFrame } from '../../../src/packet/build.js';
import { OFPFC, OFPP, OFP_NO_BUFFER } from '../../../src/openflow/index.js';
import type { OfpMessage } from '../../../src/openflow/messages.js';
import { describePrivileged } from '../../helpers/privileged.js';

const tag = randomBytes(3).toString('hex');
const T1 = `wd${tag}a`, T2 = `wd${tag}b`;
const linkExists = (n: string): boolean => { try { execFileSync('ip', ['link', 'show', n], { stdio: 'ignore' }); return true; } catch { return false; } };

function flowMod(xid: number, priority: number, extra: Partial<Record<string, unknown>> = {}): OfpMessage {
  return {
    type: 'flow_mod', xid, cookie: 0n, cookieMask: 0n, tableId: 0, command: OFPFC.ADD, idleTimeout: 0, hardTimeout: 0, priority,
    bufferId: OFP_NO_BUFFER, outPort: OFPP.ANY, outGroup: 0xffffffff, flags: 0, match: [{ field: 'eth_type', value: 0x88b7n }],
    instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 0xffff }] }], ...extra,
  } as OfpMessage;
}

describePrivileged('WorkerDatapath (datapath in a worker thread)', () => {
  let dp: WorkerDatapath;
  let agent: OpenFlowAgent;
  let c: OfClient;
  const inject = new SystemPort(T1);
  beforeAll(async () => {
    const config = parseConfig(`bridges:\n  br0:\n    fail-mode: secure\n    ports:\n      p1: { ofport: 1, type: tap, device: ${T1} }\n      p2: { ofport: 2, type: tap, device: ${T2} }\n`, 'test.yaml');
    dp = new WorkerDatapath(config, 'br0', pino({ level: 'silent' }));
    await dp.openAll();
    await dp.start();
    agent = new OpenFlowAgent(dp, { listen: 'ptcp:0', failMode: 'secure' });
    await agent.start();
    c = await OfClient.connect(agent.listeningPort);
    await inject.open();
  }, 30_000);
  afterAll(async () => {
    c?.close();
    await inject.close().catch(() => undefined);
    await agent?.stop();
    await dp?.stop();
  });

  it('mirrors the ports and applies changes and queries in order', async () => {
    expect(dp.ports().map((p) => [p.ofport, p.name])).toEqual([[1, 'p1'], [2, 'p2']]);
    expect(linkExists(T1)).toBe(true);
    const spec = { tableId: 0, priority: 7, match: [{ field: 'eth_type' as const, value: 0x800n }], instructions: {}, cookie: 5n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 };
    const added = dp.flowMod({ command: 'add', spec }, Date.now());
    const flows = dp.dumpFlows();   // queued after the add: sees it
    expect(await added).toBe(0);
    expect((await flows).map((f) => [f.priority, f.cookie])).toEqual([[7, 5n]]);
    await dp.flowMod({ command: 'delete_strict', spec }, Date.now());
    expect(await dp.dumpFlows()).toEqual([]);
    await dp.setPortConfig(2, { noFlood: true });
    expect(dp.ports()[1].config.noFlood).toBe(true);
    expect((await dp.portDetails()).map((p) => [p.name, p.up])).toEqual([['p1', true], ['p2', true]]);
  });

  it('answers OpenFlow in request order: an error keeps its xid and precedes the barrier reply', async () => {
    const bad = flowMod(101, 10, { instructions: [{ type: 'goto_table', tableId: 0 }] });   // goto_table must go forward
    const barrier = c.waitFor((m) => m.type === 'barrier_reply' && m.xid === 103);
    c.send(bad); c.send(flowMod(102, 10)); c.send({ type: 'barrier_request', xid: 103 });
    await barrier;
    const mine = c.received.filter((m) => m.xid >= 101 && m.xid <= 103).map((m) => [m.type, m.xid]);
    expect(mine).toEqual([['error', 101], ['barrier_reply', 103]]);
    const stats = await c.request({ type: 'multipart_request', xid: 0, flags: 0, body: { kind: 'flow', tableId: 0xff, outPort: OFPP.ANY, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: [] } } as OfpMessage);
    expect(stats.type === 'multipart_reply' && stats.body.kind === 'flow' ? stats.body.flows.length : -1).toBe(1);
  });

  it('sends PACKET_IN out of the worker and executes PACKET_OUT in it', async () => {
    const frame = buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:77:01', payload: { kind: 'raw', etherType: 0x88b7, data: Buffer.alloc(46, 0xa5) } });
    const pin = c.waitFor((m) => m.type === 'packet_in', 10_000);
    const pool = new PacketPool(4), b = new Batch(1);
    const p = pool.alloc()!;
    p.load(frame, 0, frame.length);
    b.pkts[0] = p; b.count = 1;
    // Retry the send until the TAP is up and the worker reads it (the first frames may race the link).
    let got: OfpMessage | null = null;
    pin.then((m) => { got = m; }, () => undefined);
    for (let i = 0; i < 50 && got === null; i++) { inject.send(b); await new Promise((r) => setTimeout(r, 100)); }
    const m = await pin;
    expect(m.type === 'packet_in' && Buffer.from(m.data).equals(frame)).toBe(true);
    const before = (await dp.portStats()).find((x) => x.ofport === 2)!.stats['tx-packets'];
    c.send({ type: 'packet_out', xid: 201, bufferId: OFP_NO_BUFFER, inPort: OFPP.CONTROLLER, actions: [{ type: 'output', port: 2, maxLen: 0 }], data: frame } as OfpMessage);
    await c.request({ type: 'barrier_request', xid: 0 });
    const after = (await dp.portStats()).find((x) => x.ofport === 2)!.stats['tx-packets'];
    expect(after - before).toBe(1);
    expect((await dp.stats()).exec['packet-in-dropped']).toBe(0);
    // The counters the worker writes in place are read here without a message, and agree with the
    // worker's own answer (the barrier reply came after the PACKET_OUT was counted).
    const now = dp.countersNow();
    expect(now.complete).toBe(true);
    const asked = await (dp as unknown as { call(m: string, a: unknown[]): Promise<Array<{ ofport: number; stats: unknown }>> }).call('portStats', []);
    expect(now.ports).toEqual(asked);
    expect(now.exec['packet-ins']).toBeGreaterThanOrEqual(1);
    expect(now.ports.find((x) => x.ofport === 1)!.stats['rx-packets']).toBeGreaterThanOrEqual(1);
  });

  it('stops cleanly: the worker closes its TAPs', async () => {
    const d2 = dp;
    await agent.stop();
    await d2.stop();
    expect(linkExists(T1)).toBe(false);
    await expect(d2.dumpFlows()).rejects.toThrow(/stopped/);
  });
});

describe('WorkerDatapath without privileges', () => {
  it('is only chosen for real ports (memory ports run inline)', async () => {
    const { datapathThreads } = await import('../../../src/agent/daemon.js');
    const cfg = parseConfig('datapath:\n  threads: 1\nbridges:\n  br0:\n    ports:\n      m1: { ofport: 1, type: memory }\n', 't.yaml');
    expect(datapathThreads({ configPath: 't.yaml', log: pino({ level: 'silent' }) }, cfg, cfg.bridges.br0)).toBe(0);
    const cfg2 = parseConfig('datapath:\n  threads: 1\nbridges:\n  br0:\n    ports:\n      t1: { ofport: 1, type: tap }\n', 't.yaml');
    const saved = process.env.SLUICE_DATAPATH_THREADS;
    delete process.env.SLUICE_DATAPATH_THREADS;
    try {
      expect(datapathThreads({ configPath: 't.yaml', log: pino({ level: 'silent' }) }, cfg2, cfg2.bridges.br0)).toBe(1);
      expect(datapathThreads({ configPath: 't.yaml', log: pino({ level: 'silent' }), datapathThreads: 0 }, cfg2, cfg2.bridges.br0)).toBe(0);
    } finally { if (saved !== undefined) process.env.SLUICE_DATAPATH_THREADS = saved; }
  });
});

describe('WorkerDatapath with a small call ring', () => {
  it('a burst larger than the ring waits (backlogged) and is applied whole and in order; errors keep their place', async () => {
    const cfg = parseConfig('bridges:\n  br0:\n    fail-mode: secure\n    ports:\n      m1: { ofport: 1, type: memory }\n', 't.yaml');
    const d = new WorkerDatapath(cfg, 'br0', pino({ level: 'silent' }), undefined, 4096);
    try {
      await d.openAll();
      const mod = (i: number, tableId = 0): Parameters<WorkerDatapath['flowMod']>[0] => ({
        command: 'add', spec: { tableId, priority: 100, match: [{ field: 'eth_type', value: 0x800n }, { field: 'ipv4_dst', value: BigInt(0x0a000000 + i) }], instructions: {}, cookie: BigInt(i), idleTimeoutS: 0, hardTimeoutS: 0, flags: 0 },
      });
      const results: Array<Promise<unknown>> = [];
      // Call 300 fails in the worker (a port never opened): it rejects in its place, the rest apply.
      for (let i = 0; i < 600; i++) results.push(i === 300 ? d.attachPort({ name: 'never-opened', ofport: 9 }) : d.flowMod(mod(i, i === 301 ? 254 : 0), 0));
      expect(d.backlogged).toBe(true);
      let writable = false;
      d.whenWritable(() => { writable = true; });
      const order: number[] = [];
      results.forEach((p, i) => { void p.then(() => order.push(i), () => order.push(-i)); });
      await d.sync();
      await Promise.resolve();
      expect(writable).toBe(true);
      expect(d.backlogged).toBe(false);
      await expect(results[300]).rejects.toThrow(/never-opened was not opened/);
      expect(order).toEqual([...Array(600).keys()].map((i) => (i === 300 ? -300 : i)));
      const flows = await d.dumpFlows();
      expect(flows.filter((f) => f.tableId === 0)).toHaveLength(598);
      expect(flows.some((f) => f.tableId === 254 && f.cookie === 301n)).toBe(true);
    } finally { await d.stop(); }
  });
});
