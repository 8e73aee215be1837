// OpenFlow 1.3 group table: ALL (every bucket on a copy), SELECT (one bucket by flow-key hash,
// weighted), INDIRECT (the one bucket), FF (first live bucket). Buckets are compiled once into
// ActionLists; which buckets a frame takes is decided here (pickBucket), the executor
// (executor.ts) runs them. GROUP_MOD returns FlowModResult codes.
import { K } from '../packet/flow-key.js';
import { OFPP, OFPG_ANY, GroupType } from '../flow/types.js';
import type { GroupSpec } from '../flow/types.js';
import { compileActions, OP, STRIDE } from './actions.js';
import type { ActionList } from './actions.js';
import { FlowModResult } from './results.js';
import type { FlowModResultCode } from './results.js';

/** OFPG_ALL: the group id that means "every group" in a delete. */
export const OFPG_ALL = 0xfffffffc;
export const OFPG_MAX = 0xffffff00;

export class CompiledBucket {
  constructor(readonly weight: number, readonly watchPort: number, readonly watchGroup: number, readonly actions: ActionList) {}
  /** The watch group exists (or none is watched), as of the group's `watchGen`. */
  watchGroupOk = true;
  packetCount = 0;
  byteCount = 0;
}

export class Group {
  packetCount = 0;
  byteCount = 0;
  readonly totalWeight: number;
  /** Generation at which the buckets' watchGroupOk were computed (syncWatch). */
  watchGen = 0;
  constructor(readonly spec: GroupSpec, readonly type: number, readonly buckets: CompiledBucket[], readonly createdMs: number, readonly refGroups: number[]) {
    let w = 0;
    for (let i = 0; i < buckets.length; i++) w += buckets[i].weight;
    this.totalWeight = w;
  }
  get groupId(): number { return this.spec.groupId; }
}

export type GroupCommand = 'add' | 'modify' | 'delete';

export class GroupTable {
  readonly groups = new Map<number, Group>();

  get(id: number): Group | undefined { return this.groups.get(id); }

  /** Validate and compile; returns the group or an error code. */
  private build(spec: GroupSpec, nowMs: number): Group | FlowModResultCode {
    const id = spec.groupId;
    if (!Number.isInteger(id) || id < 0 || id > OFPG_MAX) return FlowModResult.BadGroupType;
    const t = spec.type;
    if (t !== GroupType.ALL && t !== GroupType.SELECT && t !== GroupType.INDIRECT && t !== GroupType.FF) return FlowModResult.BadGroupType;
    if (!Array.isArray(spec.buckets)) return FlowModResult.BadBucket;
    if (t === GroupType.INDIRECT && spec.buckets.length !== 1) return FlowModResult.BadGroupType;
    const buckets: CompiledBucket[] = [];
    const refs: number[] = [];
    const ctx = { groupExists: (g: number) => this.groups.has(g), allowTable: false };
    for (const b of spec.buckets) {
      const weight = t === GroupType.SELECT ? (b.weight ?? 1) : 0;
      if (!Number.isInteger(weight) || weight < 0 || weight > 0xffff) return FlowModResult.BadBucket;
      const watchPort = b.watchPort ?? OFPP.ANY, watchGroup = b.watchGroup ?? OFPG_ANY;
      if (t === GroupType.FF && watchPort === OFPP.ANY && watchGroup === OFPG_ANY) return FlowModResult.BadBucket;
      const outPorts: number[] = [];
      const r = compileActions(b.actions, ctx, outPorts, refs);
      if (typeof r === 'number') return r;
      buckets.push(new CompiledBucket(weight, watchPort, watchGroup, r));
    }
    if (refs.includes(id) || this.reaches(refs, id)) return FlowModResult.GroupLoop;
    return new Group(spec, t, buckets, nowMs, refs);
  }

  /** True if following bucket group references from `start` reaches `target`. */
  private reaches(start: number[], target: number): boolean {
    const seen = new Set<number>();
    const stack = [...start];
    while (stack.length > 0) {
      const g = stack.pop()!;
      if (g === target) return true;
      if (seen.has(g)) continue;
      seen.add(g);
      const grp = this.groups.get(g);
      if (grp !== undefined) stack.push(...grp.refGroups);
    }
    return false;
  }

  /** GROUP_MOD. `deleted` receives the ids removed by a delete (so the caller removes their flows). */
  mod(cmd: GroupCommand, spec: GroupSpec, nowMs: number, deleted: number[]): FlowModResultCode {
    if (cmd === 'delete') {
      if (spec.groupId === OFPG_ALL) {
        for (const id of this.groups.keys()) deleted.push(id);
        this.groups.clear();
      } else if (this.groups.delete(spec.groupId)) {
        deleted.push(spec.groupId);
      }
      return FlowModResult.Ok;   // deleting a missing group is not an error (OpenFlow 1.3)
    }
    if (cmd !== 'add' && cmd !== 'modify') return FlowModResult.BadCommand;
    const exists = this.groups.has(spec.groupId);
    if (cmd === 'add' && exists) return FlowModResult.GroupExists;
    if (cmd === 'modify' && !exists) return FlowModResult.UnknownGroup;
    const g = this.build(spec, nowMs);
    if (typeof g === 'number') return g;
    this.groups.set(spec.groupId, g);
    return FlowModResult.Ok;
  }
}

// ---------------------------------------------------------------- per frame

/** What bucket liveness needs from the bridge. */
export interface PortLiveness { portLive(ofport: number): boolean }

/**
 * Resolve `list`'s GROUP ops to Group objects for generation `gen` (every group change bumps the
 * generation, so a deleted or modified group is never followed). Cold: once per list and generation.
 */
export function resolveGroupRefs(list: ActionList, table: GroupTable, gen: number): void {
  const refs = list.groupRefs;
  list.refGen = gen;
  if (refs === null) return;
  for (let i = 0; i < list.count; i++) {
    const o = i * STRIDE;
    refs[i] = list.ops[o] === OP.GROUP ? table.groups.get(list.ops[o + 1]) ?? null : null;
  }
}

function syncWatch(g: Group, table: GroupTable, gen: number): void {
  g.watchGen = gen;
  for (const b of g.buckets) b.watchGroupOk = b.watchGroup === OFPG_ANY || table.groups.has(b.watchGroup);
}

function bucketLive(b: CompiledBucket, ports: PortLiveness): boolean {
  return b.watchGroupOk && (b.watchPort === OFPP.ANY || ports.portLive(b.watchPort));
}

/**
 * The first bucket a frame with key words `w` takes, or -1 (none live / none at all). ALL runs every
 * bucket from 0, INDIRECT its one bucket, SELECT one live bucket by weight and an L2 + 5-tuple hash
 * (so one flow always takes one bucket), FF the first live bucket. See lastBucket.
 */
export function pickBucket(g: Group, w: Uint32Array, ports: PortLiveness, table: GroupTable, gen: number): number {
  const n = g.buckets.length;
  if (n === 0) return -1;
  if (g.type === GroupType.ALL || g.type === GroupType.INDIRECT) return 0;
  if (g.watchGen !== gen) syncWatch(g, table, gen);
  if (g.type === GroupType.SELECT) return selectBucket(g, w, ports);
  for (let i = 0; i < n; i++) if (bucketLive(g.buckets[i], ports)) return i;
  return -1;
}

/** The last bucket run after pickBucket returned `first` (>= 0): ALL runs them all, others one. */
export function lastBucket(g: Group, first: number): number { return g.type === GroupType.ALL ? g.buckets.length - 1 : first; }

function selectBucket(g: Group, w: Uint32Array, ports: PortLiveness): number {
  let h = 0x9747b28c | 0;
  h = Math.imul(h ^ w[K.ETH_SRC_LO], 0x01000193); h = Math.imul(h ^ w[K.ETH_DST_LO], 0x01000193);
  h = Math.imul(h ^ w[K.IPV4_SRC] ^ w[K.IPV6_SRC_3], 0x01000193); h = Math.imul(h ^ w[K.IPV4_DST] ^ w[K.IPV6_DST_3], 0x01000193);
  h = Math.imul(h ^ ((w[K.TP_SRC] << 16) | w[K.TP_DST]), 0x01000193); h = Math.imul(h ^ w[K.IP_PROTO], 0x01000193);
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;   // murmur3 fmix32
  const bs = g.buckets;
  let total = 0;
  for (let i = 0; i < bs.length; i++) if (bucketLive(bs[i], ports)) total += bs[i].weight;
  if (total === 0) return -1;
  let r = (h >>> 0) % total;
  for (let i = 0; i < bs.length; i++) {
    if (!bucketLive(bs[i], ports)) continue;
    const wt = bs[i].weight;
    if (r < wt) return i;
    r -= wt;
  }
  return -1;
}
