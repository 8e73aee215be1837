// Where the controller keeps what it must not lose: the intent, the meter id given to each channel,
// the OpenFlow generation id, and the trunk links it has seen. One JSON document, written atomically
// (write-file-atomic: temp file, fsync, rename) and the directory fsync'd before save() resolves,
// so a change the API acknowledged survives `kill -9` and the file on disk always loads.
// Behind a small interface so that a distributed store (etcd) can take its place.
import { mkdirSync, openSync, fsyncSync, closeSync, readFileSync, readdirSync, unlinkSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { EventEmitter } from 'node:events';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { intentSchema, checkIntent, zodLine, EMPTY_INTENT } from './intent.js';
import type { Intent } from './intent.js';

/** A trunk between two switch ports, as LLDP last showed it. */
export interface LinkRecord { a: { dpid: string; port: number }; b: { dpid: string; port: number }; seenAt: number }

export interface ControllerState {
  intent: Intent;
  /** Meter id of each channel, the same on every switch; kept so a restart compiles the same meters. */
  meterIds: Record<string, number>;
  /** Last OpenFlow generation id used for the MASTER role (decimal string: a u64). */
  generation: string;
  links: LinkRecord[];
}

/**
 * The store could not be reached to confirm a change (etcd out of reach: a partition, no quorum).
 * The change was not acknowledged; a write that timed out may still be applied once etcd is back,
 * so a client reads the intent back before trying again. The API answers 503.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'store-unavailable';
  constructor(where: string, reason: string) {
    super(`${where} did not confirm the change (${reason}); it was not acknowledged and may or may not be applied: read it back before retrying`);
    this.name = 'StoreUnavailableError';
  }
}

export interface StateStore {
  /** The saved state, or the empty state when nothing was saved yet. Throws on a file that does not load. */
  load(): Promise<ControllerState>;
  /** Durable once resolved. Calls are applied in order. */
  save(state: ControllerState): Promise<void>;
  /** Where it lives, for logs. */
  readonly where: string;
  /**
   * A store several controllers share (etcd): save() is a compare-and-swap against what this
   * controller last loaded, saved or watched, and rejects when another wrote in between.
   */
  readonly shared?: boolean;
  /** Shared stores: calls `fn` when another controller wrote the document (load() reads it). */
  watch?(fn: () => void, onError: (err: Error) => void): Promise<void>;
  /** Shared stores: a leader election among the controllers sharing it (`ttlS`: lease TTL). */
  election?(id: string, ttlS: number, log: ElectionLog): LeaderElection;
  /** Let go of connections. */
  close?(): Promise<void>;
}

export interface ElectionLog { info(o: object, m: string): void; warn(o: object, m: string): void }

export interface ElectionEvents {
  /** We lead, with this generation id (greater than any earlier leader's). */
  elected: [bigint];
  /** We do not lead (any more); the leader's generation id when known. */
  follower: [bigint | null];
}

/** Who leads the controllers sharing a store; the leader alone programs switches (OpenFlow MASTER). */
export interface LeaderElection extends EventEmitter<ElectionEvents> {
  readonly isLeader: boolean;
  /** The current leader's generation id, or null while unknown. */
  readonly leaderGeneration: bigint | null;
  /** Campaign; resolves once it is known who leads (we or another). */
  start(): Promise<void>;
  /** Step down and give the lead away at once. */
  stop(): Promise<void>;
}

export const EMPTY_STATE: ControllerState = { intent: EMPTY_INTENT, meterIds: {}, generation: '0', links: [] };

const endpoint = z.strictObject({ dpid: z.string().regex(/^[0-9a-f]{16}$/), port: z.number().int().min(1) });
const stateSchema = z.strictObject({
  version: z.literal(1),
  intent: intentSchema,
  meterIds: z.record(z.string(), z.number().int().min(1).max(0xffff0000)),
  generation: z.string().regex(/^\d{1,20}$/),
  links: z.array(z.strictObject({ a: endpoint, b: endpoint, seenAt: z.number() })),
});

/** Validate a stored document; throws Error with one line naming the field. */
export function decodeState(text: string, where: string): ControllerState {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { throw new Error(`${where}: not JSON (${(e as Error).message})`); }
  const r = stateSchema.safeParse(doc);
  if (!r.success) throw new Error(`${where}: ${zodLine(r.error)}`);
  const s = r.data;
  return { intent: checkIntent(s.intent as Intent), meterIds: s.meterIds, generation: s.generation, links: s.links };
}

export function encodeState(s: ControllerState): string {
  return JSON.stringify({ version: 1, ...s }, null, 2) + '\n';
}

export class FileStateStore implements StateStore {
  readonly file: string;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
  }

  get where(): string { return this.file; }

  async load(): Promise<ControllerState> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.removeStaleTemps();
    if (!existsSync(this.file)) return structuredClone(EMPTY_STATE);
    return decodeState(readFileSync(this.file, 'utf8'), this.file);
  }

  save(state: ControllerState): Promise<void> {
    const text = encodeState(state);
    const run = async (): Promise<void> => {
      await writeFileAtomic(this.file, text, { mode: 0o600, fsync: true });
      fsyncDir(this.dir);
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Temp files write-file-atomic leaves behind when the process is killed mid-write. */
  private removeStaleTemps(): void {
    const base = path.basename(this.file) + '.';
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(base) && /^[0-9a-f]+$/i.test(name.slice(base.length))) {
        try { unlinkSync(path.join(this.dir, name)); } catch { /* gone already */ }
      }
    }
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
