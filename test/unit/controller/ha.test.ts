// Unit: several controllers on one etcd (a real one, on loopback ports, data in a temp dir) and a
// Sluice bridge whose real OpenFlow agent connects to all of them. One leads (MASTER, generation
// id = its election revision), the others are SLAVE and send nothing; a change made on a follower
// is acknowledged once etcd has it and reaches the switch through the leader; when the leader goes
// the next one takes MASTER with a greater generation id and its reconcile sends nothing.
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../../../src/agent/openflow/agent.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { Controller } from '../../../src/controller/controller.js';
import { EtcdStateStore } from '../../../src/controller/etcd.js';
import { startEtcd } from '../../helpers/etcd.js';
import type { EtcdCluster } from '../../helpers/etcd.js';
import { describeWithTools } from '../../helpers/privileged.js';
import { freeTcpPort, until } from './lab.js';

describeWithTools('several controllers on etcd', () => {
  const log = pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' });
  let etcd: EtcdCluster;
  const ctls: (Controller | null)[] = [];
  let agent: OpenFlowAgent;
  let bridge: Bridge;

  beforeAll(async () => {
    etcd = await startEtcd(1);
    const ports = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
    for (const [i, p] of ports.entries()) {
      ctls.push(await Controller.start({
        stateDir: '/nonexistent', openflow: `ptcp:${p}:127.0.0.1`, log: log.child({ ctl: i }), lldpIntervalMs: 200, reconcileIntervalMs: 0,
        store: new EtcdStateStore({ endpoints: etcd.endpoints, prefix: '/ha/' }), leaseTtlS: 1, id: `c${i}`,
      }));
    }
    bridge = new Bridge({ name: 'br0', datapathId: 0x1n, pool: new PacketPool(256, 2048) });
    for (const [i, n] of ['vm1', 'vm2'].entries()) {
      const mp = new MemoryPort(n);
      bridge.addPort({ ofport: i + 1, name: n, backend: mp });
      await mp.open();
    }
    agent = new OpenFlowAgent(bridge, {
      controllers: ports.map((p) => `tcp:127.0.0.1:${p}`), failMode: 'secure', dpDesc: 'h1/br0', log, reconnectMs: { min: 50, max: 200 }, portPollMs: 100,
    });
    await agent.start();
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    for (const c of ctls) await c?.stop();
    await etcd?.stop();
  });

  const live = (): Controller[] => ctls.filter((c): c is Controller => c !== null);
  const roleOn = (c: Controller): string | null => c.switches().find((s) => s.name === 'h1/br0' && s.connected)?.role ?? null;

  it('one leader is MASTER with its election revision as generation id, the others SLAVE', async () => {
    await until('one MASTER and two SLAVEs', () => {
      const roles = live().map(roleOn).sort();
      return roles.join() === 'master,slave,slave';
    });
    const leaders = live().filter((c) => c.isLeader);
    expect(leaders).toHaveLength(1);
    expect(roleOn(leaders[0]!)).toBe('master');
    expect(leaders[0]!.generation).toBeGreaterThan(0n);
  });

  it('a change acknowledged by a follower is in etcd and reaches the switch through the leader', async () => {
    const follower = live().find((c) => !c.isLeader)!;
    const leader = live().find((c) => c.isLeader)!;
    const before = bridge.dumpFlows().length;
    const r = await follower.change((i) => ({
      ...i,
      networks: [...i.networks, { name: 'red', vid: 10 }],
      attachments: [...i.attachments, { switch: 'h1/br0', port: 'vm1', network: 'red' }, { switch: 'h1/br0', port: 'vm2', network: 'red' }],
    }));
    expect(r.applied).toBe(true);
    expect(r.switches).toEqual([]);   // a follower sends nothing
    const fresh = new EtcdStateStore({ endpoints: etcd.endpoints, prefix: '/ha/' });
    try { expect((await fresh.load()).intent.networks.map((n) => n.name)).toEqual(['red']); } finally { await fresh.close(); }
    await until('the leader to hold the change', () => leader.intent.networks.length === 1);
    await until('the leader to program the access ports', () => {
      const s = leader.switches().find((x) => x.name === 'h1/br0');
      return s?.ports.filter((p) => p.role === 'access').length === 2 && (s.lastReconcile?.flowMods ?? 0) > 0;
    });
    for (const c of live()) await until('every controller to see the change', () => c.intent.attachments.length === 2);
    await until('the flows on the switch', () => bridge.dumpFlows().some((f) => f.tableId === 0 && f.match.some((m) => m.field === 'in_port' && m.value === 2n)));
    expect(bridge.dumpFlows().length).toBeGreaterThan(before);
  });

  it('the leader gone, the next takes MASTER with a greater generation id and sends nothing', async () => {
    const i = ctls.findIndex((c) => c?.isLeader);
    const old = ctls[i]!;
    const oldGen = old.generation;
    ctls[i] = null;
    const t0 = Date.now() - 1;
    await old.stop();
    const next = await until('a new leader', () => live().find((c) => c.isLeader && roleOn(c) === 'master'));
    expect(next.generation).toBeGreaterThan(oldGen);
    const flowsBefore = bridge.dumpFlows().length;
    const s = await until('its reconcile', () => {
      const r = next.switches().find((x) => x.name === 'h1/br0')?.lastReconcile;
      return r && Date.parse(r.at) >= t0 && r.ok ? r : undefined;
    });
    expect(bridge.dumpFlows().length).toBe(flowsBefore);
    expect({ flowMods: s.flowMods, groupMods: s.groupMods, meterMods: s.meterMods }).toEqual({ flowMods: 0, groupMods: 0, meterMods: 0 });
    expect(live().filter((c) => c.isLeader)).toHaveLength(1);
    expect(live().map(roleOn).sort()).toEqual(['master', 'slave']);
  });

  it('fences a stale leader: one that still believes it leads can neither claim MASTER nor program the switch', async () => {
    const leader = live().find((c) => c.isLeader)!;
    const stale = live().find((c) => !c.isLeader)!;
    const gen = leader.generation;
    // A partitioned old leader: it has not heard that it lost (forced here), its generation is older.
    const inner = stale as unknown as { leading: boolean; gen: bigint; switchesByDpid: Map<string, { sess: { claimRole(r: string, g: bigint): Promise<void> } }> };
    inner.leading = true;
    inner.gen = gen - 1n;
    try {
      const sess = [...inner.switchesByDpid.values()][0]!.sess;
      await expect(sess.claimRole('master', gen - 1n)).rejects.toThrow(/did not grant the MASTER role .*error type 11 code 0/);   // ROLE_REQUEST_FAILED / STALE
      // A flow goes missing; the stale one's reconcile tries to put it back and the switch refuses (SLAVE).
      const victim = bridge.dumpFlows().find((f) => f.tableId === 0 && f.priority === 100)!;
      bridge.flowMod({ command: 'delete_strict', spec: victim, tableId: victim.tableId }, Date.now());
      const [r] = await stale.reconcile('h1/br0');
      expect(r!.flowMods).toBeGreaterThan(0);
      expect(r!.errors.join()).toMatch(/OFPT_ERROR type 1 code 10/);   // BAD_REQUEST / IS_SLAVE
      expect(bridge.dumpFlows().some((f) => f.tableId === 0 && f.priority === 100 && JSON.stringify(f.match, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(victim.match, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))).toBe(false);
    } finally {
      inner.leading = false;
    }
    // The real leader puts it back.
    const [r] = await leader.reconcile('h1/br0');
    expect(r!.errors).toEqual([]);
    expect(r!.flowMods).toBe(1);
  });
}, { tools: ['etcd'] });
