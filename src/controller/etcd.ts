// Several controllers on etcd (the distributed store; we write no consensus of our own): the
// intent document lives under one key, written with a transaction that compares the key's mod
// revision with the one this controller last saw, so two controllers never overwrite each other
// and a write etcd acknowledged is committed on a quorum. Every controller watches the key. The
// leader is elected with a lease: each controller puts an election key bound to its lease; the
// key with the lowest create revision leads, and that revision is its OpenFlow generation id
// (greater than any earlier leader's, since etcd revisions only grow).
import { EventEmitter } from 'node:events';
import { Etcd3 } from 'etcd3';
import type { IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, Lease, Watcher } from 'etcd3';
import { EMPTY_STATE, StoreUnavailableError, decodeState, encodeState } from './store.js';
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
      let r;
      try {
        r = await this.client.if(this.key, 'Mod', '==', this.rev).then(this.client.put(this.key).value(text)).commit();
      } catch (e) {
        throw new StoreUnavailableError(this.where, (e as Error).message.split('\n')[0]!.replace(/\s*Resolution note:\s*$/, ''));
      }
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
 * with the lowest create revision leads. We renew the lease ourselves, over one keepalive stream,
 * every sixth of the TTL, and count each renewal from the moment its request was *sent* (etcd
 * restarts the TTL when it receives it, never earlier). We lead only while our key is the first
 * and our last acknowledged renewal was sent less than a TTL (less two check periods) ago: a leader
 * cut off from etcd (a partition, a stalled etcd) stands down before etcd can expire its lease and
 * elect another; the switches fence it anyway (generation ids). If a renewal then gets through, the
 * lease never expired and nobody else can have led: it leads again, with the same generation id.
 * If the lease is gone (etcd says so, or our key is), it campaigns again with a new one, behind
 * whoever leads by then.
 */
export class EtcdElection extends EventEmitter<ElectionEvents> implements LeaderElection {
  private lease: Lease | null = null;
  private myRev: bigint | null = null;
  private myKey = '';
  private leading = false;
  private leaderRev: bigint | null = null;
  /** When the request of the last renewal etcd acknowledged was sent (Date.now()). */
  private renewedAt = 0;
  /** Bumped by every campaign and step-down: async steps of an older term change nothing. */
  private term = 0;
  /** The keepalive stream of this term and the send times of its unanswered requests, oldest first. */
  private ka: { stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>; sent: number[] } | null = null;
  private kaOpening = false;
  /** Whether the last try to open a keepalive stream failed (logged once, not at every try). */
  private kaFailing = false;
  /** Whether the last election read failed (likewise). */
  private readFailing = false;
  private renewTimer: NodeJS.Timeout | null = null;
  /** Header revision of the newest election read applied: an older read answering late is ignored. */
  private checkedRev = 0n;
  private watcher: Watcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly dir: string;
  private readonly tickMs: number;

  constructor(private readonly client: Etcd3, prefix: string, readonly id: string, readonly ttlS: number, private readonly log: ElectionLog) {
    super();
    this.dir = `${prefix}election/`;
    // How often the lease's age is checked: how early before the TTL a leader stands down.
    this.tickMs = Math.max(20, Math.min(100, (ttlS * 1000) / 20));
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
    const checkEvery = Math.max(1, Math.round((this.ttlS * 1000) / 4 / this.tickMs));
    this.timer = setInterval(() => { this.selfFence(); if (++n % checkEvery === 0) void this.check(); }, this.tickMs);
    this.timer.unref();
    await this.campaign(++this.term);
  }

  private async campaign(term: number): Promise<void> {
    if (this.stopped) return;
    const ttl = Math.max(1, Math.ceil(this.ttlS));
    // The lease's TTL runs from when etcd grants it: count from before we ask.
    const askedAt = Date.now();
    const lease = this.client.lease(ttl, { autoKeepAlive: false });
    this.lease = lease;
    lease.on('lost', (err) => {
      // Before the key is in place a failure is the campaign's (it retries); after, the lease is gone.
      if (this.term !== term || this.myRev === null) return;
      this.log.warn({ err: err.message }, 'election lease lost');
      this.restart();
    });
    // One key per lease: a new campaign never inherits the create revision of an old key.
    const leaseId = await lease.grant();
    if (this.term !== term || this.stopped) { lease.revoke().catch(() => undefined); return; }
    const key = `${this.dir}${leaseId}`;
    const r = await lease.put(key).value(this.id).exec();
    if (this.term !== term || this.stopped) { lease.revoke().catch(() => undefined); return; }
    this.renewedAt = askedAt;
    this.myKey = key;
    this.myRev = BigInt(r.header.revision);
    this.renewTimer = setInterval(() => this.renew(term, leaseId), this.renewMs);
    this.renewTimer.unref();
    this.renew(term, leaseId);
    await this.check();
  }

  /** Send one renewal on this term's keepalive stream (opening one, or a new one if it is stuck). */
  private renew(term: number, leaseId: string): void {
    if (this.term !== term || this.stopped) return;
    const ka = this.ka;
    // A request still unanswered a renewal period later: the stream is stuck (a partition, a
    // frozen member); drop it and open another, maybe to another member.
    if (ka !== null && ka.sent.length > 0 && Date.now() - ka.sent[0]! >= this.renewMs * 0.9) {
      this.dropKeepAlive();
    }
    if (this.ka === null) { this.openKeepAlive(term, leaseId); return; }
    this.ka.sent.push(Date.now());
    this.ka.stream.write({ ID: leaseId });
  }

  private openKeepAlive(term: number, leaseId: string): void {
    if (this.kaOpening) return;
    this.kaOpening = true;
    this.client.leaseClient.leaseKeepAlive().then((stream) => {
      this.kaOpening = false;
      this.kaFailing = false;
      if (this.term !== term || this.stopped) { stream.cancel(); return; }
      const ka = { stream, sent: [] as number[] };
      // etcd answers a stream's requests in order: each answer is for the oldest one unanswered.
      stream.on('data', (res) => {
        const sentAt = ka.sent.shift();
        if (this.term !== term) return;
        if (res.TTL === '0' || Number(res.TTL) <= 0) {
          this.log.warn({ lease: leaseId }, 'election lease expired in etcd');
          this.restart();
          return;
        }
        if (sentAt === undefined || sentAt <= this.renewedAt) return;
        const wasFresh = this.fresh;
        this.renewedAt = sentAt;
        // The lease never expired: if we stood down, our key may lead again (same generation id).
        if (!wasFresh) void this.check();
      });
      const gone = (): void => {
        if (this.ka !== ka) return;
        this.ka = null;
        // Reopen soon (another member, maybe), not a whole renewal period later.
        setTimeout(() => this.renew(term, leaseId), 100).unref();
      };
      stream.on('error', gone);
      stream.on('end', gone);
      this.ka = ka;
      ka.sent.push(Date.now());
      stream.write({ ID: leaseId });
    }, (err: Error) => {
      this.kaOpening = false;
      if (!this.kaFailing) this.log.info({ err: err.message }, 'cannot open the election keepalive stream');
      this.kaFailing = true;
    });
  }

  private dropKeepAlive(): void {
    const ka = this.ka;
    this.ka = null;
    if (ka !== null) { try { ka.stream.cancel(); } catch { /* already closed */ } }
  }

  private get renewMs(): number { return (this.ttlS * 1000) / 6; }

  /**
   * Whether our lease is certainly alive in etcd for more than a check period yet. Checked every
   * period, a leader stands down when its last acknowledged renewal is between a TTL less two
   * periods and a TTL less one old: a timer up to one period late still acts before the TTL.
   */
  private get fresh(): boolean { return Date.now() - this.renewedAt < this.ttlS * 1000 - 2 * this.tickMs; }

  /** Our last acknowledged renewal was sent nearly a TTL ago: etcd may expire the lease any moment; stop leading now. */
  private selfFence(): void {
    if (this.stopped || this.myRev === null || !this.leading || this.fresh) return;
    this.log.warn({ sinceRenewMs: Date.now() - this.renewedAt }, 'election lease not renewed in time: standing down before it can expire');
    this.setFollower(null);
  }

  /** Give up our key and lease (we stop leading at once) and campaign again with a new lease. */
  private restart(): void {
    if (this.stopped || this.myRev === null) return;   // a campaign is under way already
    const term = ++this.term;
    const old = this.lease;
    this.lease = null;
    this.myRev = null;
    this.myKey = '';
    if (this.renewTimer) { clearInterval(this.renewTimer); this.renewTimer = null; }
    this.dropKeepAlive();
    this.setFollower(null);
    // Best effort: the old key goes now if etcd is reachable, else when its lease expires.
    old?.revoke().catch(() => old.release());
    const retry = (): void => {
      if (this.stopped || this.term !== term) return;
      this.campaign(term).catch((err: Error) => {
        if (this.stopped || this.term !== term) return;
        this.log.warn({ err: err.message }, 'campaign failed; retrying');
        setTimeout(retry, 500).unref();
      });
    };
    setTimeout(retry, 200).unref();
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    let res;
    try {
      res = await this.client.getAll().prefix(this.dir).sort('Create', 'Ascend').limit(1).exec();
    } catch (err) {
      if (!this.readFailing) this.log.warn({ err: (err as Error).message }, 'cannot read the election');
      this.readFailing = true;
      return;
    }
    this.readFailing = false;
    // Reads overlap (watch events, the poll): one answering late must not undo a newer one.
    const at = BigInt(res.header.revision);
    if (at < this.checkedRev) return;
    this.checkedRev = at;
    const first = res.kvs[0];
    const rev = first ? BigInt(first.create_revision) : null;
    if (rev !== null && this.myRev !== null && rev === this.myRev && first!.key.toString() === this.myKey) {
      // Ours is first, but with a stale renewal we cannot know etcd still has it: lead later, maybe.
      if (!this.fresh) { this.setFollower(null); return; }
      this.leaderRev = rev;
      if (!this.leading) { this.leading = true; this.emit('elected', rev); }
      return;
    }
    if (this.myRev !== null && at >= this.myRev && (rev === null || rev > this.myRev)) {
      // A read made after our key was put, and ours would be first if it were there: our lease
      // expired. Campaign again.
      this.log.warn({ key: this.myKey }, 'election key gone (lease expired)');
      this.restart();
      return;
    }
    this.setFollower(rev);
  }

  private setFollower(leaderRev: bigint | null): void {
    const changed = this.leading || (leaderRev !== null && leaderRev !== this.leaderRev);
    this.leading = false;
    if (leaderRev !== null) this.leaderRev = leaderRev;
    if (changed) this.emit('follower', leaderRev);
  }

  /** Step down and give the lead away at once (revokes the lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.term++;
    if (this.timer) clearInterval(this.timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.dropKeepAlive();
    this.leading = false;
    await this.watcher?.cancel().catch(() => undefined);
    const l = this.lease;
    this.lease = null;
    await l?.revoke().catch(() => undefined);
  }
}
