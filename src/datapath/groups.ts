// OpenFlow 1.3 group table: ALL (every bucket on a copy), SELECT (one bucket by flow-key hash,
// weighted), INDIRECT (the one bucket), FF (first live bucket). Buckets are compiled once into
// ActionLists; the executor (executor.ts) runs them. GROUP_MOD returns FlowModResult codes.
import { OFPP, OFPG_ANY, GroupType } from '../flow/types.js';
import type { GroupSpec } from '../flow/types.js';
import { compileActions } from './actions.js';
import type { ActionList } from './actions.js';
import { FlowModResult } from './results.js';
import type { FlowModResultCode } from './results.js';

/** OFPG_ALL: the group id that means "every group" in a delete. */
export const OFPG_ALL = 0xfffffffc;
export const OFPG_MAX = 0xffffff00;

export class CompiledBucket {
  constructor(readonly weight: number, readonly watchPort: number, readonly watchGroup: number, readonly actions: ActionList) {}
  packetCount = 0;
  byteCount = 0;
}

export class Group {
  packetCount = 0;
  byteCount = 0;
  readonly totalWeight: number;
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
