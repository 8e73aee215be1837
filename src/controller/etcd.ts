// Several controllers on etcd (the distributed store; we write no consensus of our own): the
// intent document lives under one key, written with a transaction that compares the key's mod
// revision with the one this controller last saw, so two controllers never overwrite each other
// and a write etcd acknowledged is committed on a quorum. Every controller watches the key. The
// leader is elected with a lease: each controller puts an election key bound to its lease; the
// key with the lowest create revision leads, and that revision is its OpenFlow generation id
// (greater than any earlier leader's, since etcd revisions only grow).
import { EventEmitter } from 'node:events';
import { Etcd3 } from 'etcd3';
import type { Lease, Watcher } from 'etcd3';
import { EMPTY_STATE, decodeState, encodeState } from './store.js';
import type { ControllerState, ElectionEvents, ElectionLog, LeaderElection, StateStore } from './store.js';

/** `etcd:http://127.0.0.1:2379,http://127.0.0.1:22379` -> the endpoint URLs; throws TypeError naming the problem. */
export function parseEtcdStore(spec: string): string[] {
  if (!spec.startsWith('etcd:')) throw new TypeError(`store "${spec}" is not etcd:URL[,URL...] (e.g. etcd:http://127.0.0.1:2379)`);
  const urls = spec.slice(5).split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) throw new TypeError(`store "${spec}" names no etcd endpoint (e.g. etcd:http://127.0.0.1:2379)`);
  for (const u of urls) {
    if (!/^https?:\/\/[^/\s:]+(?::\d{1,5})?\/?$/.test(u) && !/^https?:\/\/\[[0-9A-Fa-f:.]+\](?::\d{1,5})?\/?$/.test(u)) {
      throw new TypeError(`store "${spec}": endpoint "${u}" is not http://HOST:PORT`);
    }
  }
  return urls;
}

/** Someone else wrote the document since we read it: reload and apply the change again. */
export class StaleStateError extends Error {
  readonly code = 'stale-state';
  constructor(where: string) { super(`${where}: changed by another controller meanwhile`); this.name = 'StaleStateError'; }
}

export interface EtcdStoreOptions {
  endpoints: string[];
  /** Key prefix of everything we keep (default `/sluice/controller/`). */
  prefix?: string;
  /** Per-request deadline, ms (default 5000). */
  timeoutMs?: number;
  /** Besides the watch, how often the document's revision is read, ms (default 1000). */
  pollMs?: number;
}

export class EtcdStateStore implements StateStore {
  readonly shared = true;
  readonly client: Etcd3;
  readonly prefix: string;
  private readonly key: string;
  /** Mod revision of the document as we last read or wrote it ("0": not there). */
  private rev = '0';
  private queue: Promise<void> = Promise.resolve();
  private watcher: Watcher | null = null;
  private poll: NodeJS.Timeout | null = null;

  constructor(readonly opts: EtcdStoreOptions) {
    const timeout = opts.timeoutMs ?? 5000;
    this.client = new Etcd3({
      hosts: opts.endpoints,
      dialTimeout: timeout,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    });
    this.prefix = opts.prefix ?? '/sluice/controller/';
    this.key = `${this.prefix}state`;
  }

  get where(): string { return `etcd ${this.opts.endpoints.join(',')} ${this.key}`; }

  /** The revision of the document last seen (for tests and logs). */
  get revision(): string { return this.rev; }

  async load(): Promise<ControllerState> {
    let r;
    try {
      r = await this.client.get(this.key).exec();
    } catch (e) {
      // One line (the CLI prints it as such): which store, and etcd's reason.
      throw new Error(`${this.where}: ${(e as Error).message.split('\n')[0]!.replace(/\s*Resolution note:\s*$/, '')}`);
    }
    const kv = r.kvs[0];
    if (!kv) { this.rev = '0'; return structuredClone(EMPTY_STATE); }
    this.rev = kv.mod_revision;
    return decodeState(kv.value.toString('utf8'), this.where);
  }

  /**
   * Durable (committed on a quorum) once resolved. Rejects with StaleStateError when another
   * controller wrote the document after our last load, save or watched change.
   */
  save(state: ControllerState): Promise<void> {
    const text = encodeState(state);
    const run = async (): Promise<void> => {
      const r = await this.client.if(this.key, 'Mod', '==', this.rev).then(this.client.put(this.key).value(text)).commit();
      if (!r.succeeded) throw new StaleStateError(this.where);
      this.rev = r.header.revision;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Calls `fn` when another controller wrote the document (our own writes are skipped); load() reads it. */
  async watch(fn: () => void, onError: (err: Error) => void): Promise<void> {
    const w = await this.client.watch().key(this.key).create();
    this.watcher = w;
    w.on('put', (kv) => { if (BigInt(kv.mod_revision) > BigInt(this.rev)) fn(); });
    w.on('error', (e) => onError(e));
    // And a poll of the revision: a watch stream on a member that died may take a while to move.
    this.poll = setInterval(() => {
      this.client.get(this.key).exec().then((r) => {
        const kv = r.kvs[0];
        if (kv && BigInt(kv.mod_revision) > BigInt(this.rev)) fn();
      }, () => undefined);
    }, this.opts.pollMs ?? 1000);
    this.poll.unref();
  }

  election(id: string, ttlS: number, log: ElectionLog): LeaderElection {
    return new EtcdElection(this.client, this.prefix, id, ttlS, log);
  }

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    await this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }
}

/**
 * Leader election on a lease: our key `<prefix>election/<lease id>` (value: our id) lives as long as our lease; the key
 * with the lowest create revision leads. A leader that has not renewed its lease for a TTL steps
 * down on its own (etcd may have expired the lease already), and campaigns again with a new lease.
 */
export class EtcdElection extends EventEmitter<ElectionEvents> implements LeaderElection {
  private lease: Lease | null = null;
  private myRev: bigint | null = null;
  private myKey = '';
  private leading = false;
  private leaderRev: bigint | null = null;
  private lastRenew = 0;
  private watcher: Watcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly dir: string;

  constructor(private readonly client: Etcd3, prefix: string, readonly id: string, readonly ttlS: number, private readonly log: ElectionLog) {
    super();
    this.dir = `${prefix}election/`;
  }

  get isLeader(): boolean { return this.leading; }
  /** The current leader's generation id, or null while unknown. */
  get leaderGeneration(): bigint | null { return this.leaderRev; }

  /** Campaign and learn who leads; resolves once we know (we or another). */
  async start(): Promise<void> {
    this.watcher = await this.client.watch().prefix(this.dir).create();
    this.watcher.on('put', () => { void this.check(); });
    this.watcher.on('delete', () => { void this.check(); });
    this.watcher.on('connected', () => { void this.check(); });
    // Also asked every quarter TTL: a watch stream on a member that died may take a while to move.
    let n = 0;
    this.timer = setInterval(() => { this.selfFence(); if (++n % 3 === 0) void this.check(); }, Math.max(50, (this.ttlS * 1000) / 12));
    this.timer.unref();
    await this.campaign();
  }

  private async campaign(): Promise<void> {
    if (this.stopped) return;
    const ttl = Math.max(1, Math.ceil(this.ttlS));
    const lease = this.client.lease(ttl, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('keepaliveSucceeded', () => { if (this.lease === lease) this.lastRenew = Date.now(); });
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.log.warn({ err: err.message }, 'election lease lost');
      this.restart();
    });
    // One key per lease: a new campaign never inherits the create revision of an old key.
    const key = `${this.dir}${await lease.grant()}`;
    const r = await lease.put(key).value(this.id).exec();
    this.lastRenew = Date.now();
    this.myKey = key;
    this.myRev = BigInt(r.header.revision);
    await this.check();
  }

  /** Our lease unrenewed for a TTL: etcd may have given the lead to someone else; stop leading now. */
  private selfFence(): void {
    if (this.stopped || this.lease === null) return;
    if (Date.now() - this.lastRenew > this.ttlS * 1000) {
      this.log.warn({ sinceRenewMs: Date.now() - this.lastRenew }, 'election lease not renewed for a TTL');
      this.restart();
    }
  }

  private restart(): void {
    const old = this.lease;
    this.lease = null;
    this.myRev = null;
    this.setFollower(null);
    // Best effort: the old key goes now if etcd is reachable, else when its lease expires.
    old?.revoke().catch(() => old.release());
    const retry = (): void => {
      if (this.stopped) return;
      this.campaign().catch((err: Error) => { this.log.warn({ err: err.message }, 'campaign failed; retrying'); setTimeout(retry, 500).unref(); });
    };
    setTimeout(retry, 200).unref();
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    let first;
    try {
      first = (await this.client.getAll().prefix(this.dir).sort('Create', 'Ascend').limit(1).exec()).kvs[0];
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot read the election');
      return;
    }
    const rev = first ? BigInt(first.create_revision) : null;
    if (rev !== null && this.myRev !== null && rev === this.myRev && first!.key.toString() === this.myKey) {
      this.leaderRev = rev;
      if (!this.leading) { this.leading = true; this.emit('elected', rev); }
      return;
    }
    this.setFollower(rev);
  }

  private setFollower(leaderRev: bigint | null): void {
    const changed = this.leading || leaderRev !== this.leaderRev;
    this.leading = false;
    if (leaderRev !== null) this.leaderRev = leaderRev;
    if (changed) this.emit('follower', leaderRev);
  }

  /** Step down and give the lead away at once (revokes the lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.leading = false;
    await this.watcher?.cancel().catch(() => undefined);
    const l = this.lease;
    this.lease = null;
    await l?.revoke().catch(() => undefined);
  }
}
