// Unit: EtcdElection against a real etcd (Debian etcd-server, loopback) when one controller is cut
// off from it: its client goes through a TCP relay that, once cut, holds every byte both ways and
// closes nothing (a partition, not a crash; healed, the held bytes go through, as TCP would
// retransmit them). A leader stalled for less than the TTL stays the leader; one cut off for longer
// stops leading before etcd expires its lease (so before anyone else can be elected), within a TTL
// of the cut; healed, it campaigns again and follows the new leader.
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EtcdStateStore } from '../../../src/controller/etcd.js';
import type { LeaderElection } from '../../../src/controller/store.js';
import { startEtcd } from '../../helpers/etcd.js';
import type { EtcdCluster } from '../../helpers/etcd.js';
import { describeWithTools } from '../../helpers/privileged.js';

const TTL_S = 2;

/** A TCP relay to `port` on 127.0.0.1 that can be cut (bytes held both ways, sockets kept open) and healed (held bytes sent on). */
class CuttableRelay {
  private cut = false;
  private readonly held: (() => void)[] = [];
  private readonly socks = new Set<Socket>();
  private constructor(readonly server: Server, readonly port: number) {}

  static async start(target: number): Promise<CuttableRelay> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const relay = new CuttableRelay(server, typeof addr === 'object' && addr ? addr.port : 0);
    server.on('connection', (down) => {
      const up = connect(target, '127.0.0.1');
      for (const s of [down, up]) { relay.socks.add(s); s.on('error', () => undefined); s.on('close', () => { relay.socks.delete(s); }); }
      down.on('data', (d) => { if (relay.cut) relay.held.push(() => up.write(d)); else up.write(d); });
      up.on('data', (d) => { if (relay.cut) relay.held.push(() => down.write(d)); else down.write(d); });
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
    });
    return relay;
  }

  hold(): void { this.cut = true; }

  heal(): void {
    this.cut = false;
    for (const send of this.held.splice(0)) send();
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

interface Seen { elected: number[]; follower: number[] }
function watchRoles(e: LeaderElection): Seen {
  const seen: Seen = { elected: [], follower: [] };
  e.on('elected', () => seen.elected.push(Date.now()));
  e.on('follower', () => seen.follower.push(Date.now()));
  return seen;
}

async function until(fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const quiet = { info: () => undefined, warn: () => undefined };

describeWithTools('EtcdElection cut off from etcd', () => {
  let etcd: EtcdCluster;
  let relay: CuttableRelay;
  const stores: EtcdStateStore[] = [];
  const elections: LeaderElection[] = [];

  beforeAll(async () => {
    etcd = await startEtcd(1);
    relay = await CuttableRelay.start(Number(new URL(etcd.endpoints[0]!).port));
  }, 30_000);
  afterAll(async () => {
    relay?.heal();
    for (const e of elections) await e.stop();
    for (const s of stores) await s.close();
    await relay?.close();
    await etcd?.stop();
  }, 30_000);

  it('a leader stalled for half the TTL stays; one cut off steps down before etcd expires its lease, and healed follows the new leader', async () => {
    // a: through the relay, started first so it leads; b: straight to etcd.
    const sa = new EtcdStateStore({ endpoints: [`http://127.0.0.1:${relay.port}`], prefix: '/cut/', timeoutMs: 1000 });
    const sb = new EtcdStateStore({ endpoints: etcd.endpoints, prefix: '/cut/', timeoutMs: 1000 });
    stores.push(sa, sb);
    const warnsA: string[] = [];
    const a = sa.election('a', TTL_S, { info: () => undefined, warn: (_o, m) => { warnsA.push(m); } });
    const b = sb.election('b', TTL_S, quiet);
    elections.push(a, b);
    const seenA = watchRoles(a), seenB = watchRoles(b);
    await a.start();
    await b.start();
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const genA = a.leaderGeneration!;
    // A few renewals go through first.
    await new Promise((r) => setTimeout(r, TTL_S * 1000));
    expect(a.isLeader).toBe(true);

    // A stall well inside the TTL changes nothing.
    relay.hold();
    await new Promise((r) => setTimeout(r, TTL_S * 1000 / 2));
    relay.heal();
    await new Promise((r) => setTimeout(r, TTL_S * 1000));
    expect({ a: a.isLeader, b: b.isLeader, aDown: seenA.follower.length, bUp: seenB.elected.length }).toEqual({ a: true, b: false, aDown: 0, bUp: 0 });

    const tCut = Date.now();
    relay.hold();
    await until(() => b.isLeader, (TTL_S + 3) * 1000, 'b to be elected');
    const bElectedAt = seenB.elected.at(-1)!;
    const aDownAt = seenA.follower.find((t) => t >= tCut);
    expect(aDownAt, 'a stepped down').toBeDefined();
    expect(a.isLeader).toBe(false);
    // Never two leaders: a had stopped before etcd let b lead, and within a TTL of the cut (its
    // last renewal was sent before the cut; a twelfth of the TTL is the margin of its check).
    expect(aDownAt!).toBeLessThanOrEqual(bElectedAt);
    expect(aDownAt! - tCut).toBeLessThanOrEqual(TTL_S * 1000);
    expect(b.leaderGeneration! > genA).toBe(true);

    // Still cut off for a while: it never claims the lead back.
    await new Promise((r) => setTimeout(r, TTL_S * 1000));
    expect(seenA.elected.filter((t) => t >= tCut)).toEqual([]);

    relay.heal();
    await until(() => a.leaderGeneration === b.leaderGeneration, 20_000, 'a to follow b after the heal');
    await new Promise((r) => setTimeout(r, TTL_S * 1000));
    expect([a.isLeader, b.isLeader]).toEqual([false, true]);
    expect(seenA.elected.filter((t) => t >= tCut)).toEqual([]);
    expect(seenB.follower.filter((t) => t >= bElectedAt)).toEqual([]);
    // One step-down, one "following b" once healed; campaigns one at a time (each failed one used
    // to start two more: thousands of events and warnings a second, before).
    expect(seenA.follower.filter((t) => t >= tCut).length).toBeLessThanOrEqual(2);
    expect(warnsA.filter((m) => /campaign failed/.test(m)).length).toBeLessThanOrEqual(10);
  }, 60_000);
  it('a leader that stood down gets the lead back, same generation id, if a renewal gets through before the lease expired', async () => {
    // A TTL of 1.5 s here, a lease of 2 s in etcd (whole seconds): the leader stands down at
    // 1.4 s, half a second before etcd could expire the lease. Healed the moment it stands down.
    const sa = new EtcdStateStore({ endpoints: [`http://127.0.0.1:${relay.port}`], prefix: '/stall/', timeoutMs: 1000 });
    const sb = new EtcdStateStore({ endpoints: etcd.endpoints, prefix: '/stall/', timeoutMs: 1000 });
    stores.push(sa, sb);
    const a = sa.election('a', 1.5, quiet);
    const b = sb.election('b', 1.5, quiet);
    elections.push(a, b);
    await a.start();
    await b.start();
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const gen = a.leaderGeneration;
    const seenA = watchRoles(a), seenB = watchRoles(b);
    a.once('follower', () => relay.heal());
    relay.hold();
    await until(() => seenA.follower.length > 0, 5000, 'a to stand down');
    await until(() => a.isLeader, 5000, 'a to lead again');
    await new Promise((r) => setTimeout(r, 2000));
    expect({ a: a.isLeader, gen: a.leaderGeneration, bUp: seenB.elected.length, bLeader: b.leaderGeneration }).toEqual({ a: true, gen, bUp: 0, bLeader: gen });
  }, 30_000);
}, { tools: ['etcd'] });
