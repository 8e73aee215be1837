// Compiled actions and instructions: each flow's Action lists become small opcode arrays (stride 4
// in a Float64Array: op, a, b, c) and each flow's Instructions one preallocated Program, so the
// executor (pipeline.ts) runs them with indexed loops and no allocation per frame.
import { OFPP } from '../flow/types.js';
import type { Action, FieldName, Instructions } from '../flow/types.js';
import type { Limiter } from '../qos/limiter.js';
import type { Group } from './groups.js';
import { FlowModResult } from './results.js';
import type { FlowModResultCode } from './results.js';

/**
 * Opcodes. Their numeric order is the OpenFlow 1.3 action-set execution order (copy TTL in, pop,
 * push, copy TTL out, dec TTL, set-field, qos, group, output), and each opcode is its own action-set
 * slot (the set holds at most one action of each type; set-field: one per field).
 */
export const OP = {
  POP_VLAN: 1,
  PUSH_VLAN: 2,
  DEC_NW_TTL: 3,
  SET_NW_TTL: 4,
  SET_VLAN_VID: 5,
  SET_VLAN_PCP: 6,
  SET_ETH_SRC: 7,
  SET_ETH_DST: 8,
  SET_IPV4_SRC: 9,
  SET_IPV4_DST: 10,
  SET_IP_DSCP: 11,
  SET_TP_SRC: 12,
  SET_TP_DST: 13,
  SET_TUNNEL_ID: 14,
  SET_TUN_IPV4_SRC: 15,
  SET_TUN_IPV4_DST: 16,
  SET_QUEUE: 17,
  EXPERIMENTER: 18,
  GROUP: 19,
  OUTPUT: 20,
} as const;
export const OP_COUNT = 21;
export const OP_NAMES: readonly string[] = [
  '', 'pop_vlan', 'push_vlan', 'dec_ttl', 'set_nw_ttl', 'set_field:vlan_vid', 'set_field:vlan_pcp',
  'set_field:eth_src', 'set_field:eth_dst', 'set_field:ipv4_src', 'set_field:ipv4_dst',
  'set_field:ip_dscp', 'set_field:tp_src', 'set_field:tp_dst', 'set_field:tunnel_id',
  'set_field:tun_ipv4_src', 'set_field:tun_ipv4_dst', 'set_queue', 'experimenter', 'group', 'output',
];
/** Floats per op in an ops array. */
export const STRIDE = 4;

/**
 * A compiled action list. Its ops are immutable once built: flows whose lists compile to the same
 * ops may share one ActionList (then `source` is an equal list of another flow, not necessarily
 * their own). The only mutable part is the group references below, a cache of the group table.
 */
export class ActionList {
  /**
   * The Group object of each GROUP op (by op index), resolved for pipeline generation `refGen`
   * (groups.ts resolveGroupRefs): a frame follows an object reference instead of a Map lookup.
   * Generations are unique across pipelines, so a list shared by two bridges re-resolves when
   * the other one ran it last, never uses the other's groups. null when the list has no GROUP op.
   */
  readonly groupRefs: (Group | null)[] | null;
  refGen = 0;
  constructor(readonly ops: Float64Array, readonly count: number, readonly source: Action[]) {
    let groups = false;
    for (let i = 0; i < count; i++) if (ops[i * STRIDE] === OP.GROUP) groups = true;
    this.groupRefs = groups ? new Array<Group | null>(count).fill(null) : null;
  }
  static readonly EMPTY = new ActionList(new Float64Array(0), 0, []);
}

/** Shared empty outPorts/groupIds (programs never mutate these lists after compilation; not frozen so every list keeps one elements kind). */
const NO_IDS: number[] = [];

/**
 * Compiled instructions of one flow entry (or a packet-out). Never mutated once compiled (flows with
 * identical instructions may share one), except the meter reference cache `meter`/`refGen`.
 */
export class Program {
  meterId = -1;
  /** The meter's limiter at pipeline generation `refGen` (null: none or missing); see Executor.meter. */
  meter: Limiter | null = null;
  refGen = 0;
  apply: ActionList = ActionList.EMPTY;
  clearActions = false;
  write: ActionList = ActionList.EMPTY;
  hasWriteMeta = false;
  metaValueHi = 0; metaValueLo = 0; metaMaskHi = 0; metaMaskLo = 0;
  gotoTable = -1;
  /** Ports and groups the program outputs to (FLOW_MOD out_port/out_group filters, group delete). */
  outPorts: number[] = NO_IDS;
  groupIds: number[] = NO_IDS;
}

export interface CompileContext {
  /** Whether a group id exists (group actions must reference an existing group). */
  groupExists(id: number): boolean;
  /** output:TABLE is only valid in a packet-out. */
  allowTable: boolean;
}

const SET_FIELD_OP: Partial<Record<FieldName, number>> = {
  vlan_vid: OP.SET_VLAN_VID, vlan_pcp: OP.SET_VLAN_PCP, eth_src: OP.SET_ETH_SRC, eth_dst: OP.SET_ETH_DST,
  ipv4_src: OP.SET_IPV4_SRC, ipv4_dst: OP.SET_IPV4_DST, ip_dscp: OP.SET_IP_DSCP,
  tcp_src: OP.SET_TP_SRC, udp_src: OP.SET_TP_SRC, sctp_src: OP.SET_TP_SRC,
  tcp_dst: OP.SET_TP_DST, udp_dst: OP.SET_TP_DST, sctp_dst: OP.SET_TP_DST,
  tunnel_id: OP.SET_TUNNEL_ID, tun_ipv4_src: OP.SET_TUN_IPV4_SRC, tun_ipv4_dst: OP.SET_TUN_IPV4_DST,
};
const SET_FIELD_MAX: Record<number, bigint> = {
  [OP.SET_VLAN_VID]: 0x1fffn, [OP.SET_VLAN_PCP]: 7n, [OP.SET_ETH_SRC]: 0xffffffffffffn, [OP.SET_ETH_DST]: 0xffffffffffffn,
  [OP.SET_IPV4_SRC]: 0xffffffffn, [OP.SET_IPV4_DST]: 0xffffffffn, [OP.SET_IP_DSCP]: 63n, [OP.SET_TP_SRC]: 0xffffn,
  [OP.SET_TP_DST]: 0xffffn, [OP.SET_TUNNEL_ID]: 0xffffffffffffffffn, [OP.SET_TUN_IPV4_SRC]: 0xffffffffn, [OP.SET_TUN_IPV4_DST]: 0xffffffffn,
};

function validPort(port: number, allowTable: boolean): boolean {
  if (!Number.isInteger(port) || port < 0 || port > 0xffffffff) return false;
  if (port >= 1 && port <= OFPP.MAX) return true;
  if (port === OFPP.TABLE) return allowTable;
  return port === OFPP.IN_PORT || port === OFPP.NORMAL || port === OFPP.FLOOD || port === OFPP.ALL ||
    port === OFPP.CONTROLLER || port === OFPP.LOCAL;
}

/** Append one op (no closure per compileActions call); returns the new count. */
function put(ops: Float64Array, n: number, op: number, a = 0, b = 0, c = 0): number {
  const o = n * STRIDE; ops[o] = op; ops[o + 1] = a; ops[o + 2] = b; ops[o + 3] = c;
  return n + 1;
}

/** Compile an action list; returns a FlowModResult code on invalid input. Cold path. */
export function compileActions(actions: Action[], ctx: CompileContext, outPorts: number[], groupIds: number[]): ActionList | FlowModResultCode {
  if (!Array.isArray(actions)) return FlowModResult.BadAction;
  if (actions.length === 0) return ActionList.EMPTY;
  if (scratchOps.length < actions.length * STRIDE) scratchOps = new Float64Array(actions.length * STRIDE * 2);
  const ops = scratchOps;
  let n = 0;
  for (let k = 0; k < actions.length; k++) {
    const act = actions[k];
    switch (act.type) {
      case 'output': {
        if (!validPort(act.port, ctx.allowTable)) return FlowModResult.BadOutPort;
        const maxLen = act.maxLen ?? 0xffff;
        if (!Number.isInteger(maxLen) || maxLen < 0 || maxLen > 0xffff) return FlowModResult.BadAction;
        n = put(ops, n, OP.OUTPUT, act.port, maxLen);
        outPorts.push(act.port);
        break;
      }
      case 'push_vlan':
        if (act.ethertype !== 0x8100 && act.ethertype !== 0x88a8) return FlowModResult.BadAction;
        n = put(ops, n, OP.PUSH_VLAN, act.ethertype);
        break;
      case 'pop_vlan': n = put(ops, n, OP.POP_VLAN); break;
      case 'set_field': {
        const op = SET_FIELD_OP[act.field];
        if (op === undefined) return FlowModResult.Unsupported;
        if (typeof act.value !== 'bigint' || act.value < 0n || act.value > SET_FIELD_MAX[op]) return FlowModResult.BadAction;
        if (op === OP.SET_TUNNEL_ID) n = put(ops, n, op, Number(act.value >> 32n), Number(act.value & 0xffffffffn));
        else if (op === OP.SET_VLAN_VID) n = put(ops, n, op, Number(act.value & 0xfffn));
        else n = put(ops, n, op, Number(act.value));
        break;
      }
      case 'group':
        if (!Number.isInteger(act.groupId) || !ctx.groupExists(act.groupId)) return FlowModResult.UnknownGroup;
        n = put(ops, n, OP.GROUP, act.groupId);
        groupIds.push(act.groupId);
        break;
      case 'set_queue':
        if (!Number.isInteger(act.queueId) || act.queueId < 0 || act.queueId > 0xffffffff) return FlowModResult.BadAction;
        n = put(ops, n, OP.SET_QUEUE, act.queueId);
        break;
      case 'dec_nw_ttl': n = put(ops, n, OP.DEC_NW_TTL); break;
      case 'set_nw_ttl':
        if (!Number.isInteger(act.ttl) || act.ttl < 0 || act.ttl > 255) return FlowModResult.BadAction;
        n = put(ops, n, OP.SET_NW_TTL, act.ttl);
        break;
      case 'experimenter': n = put(ops, n, OP.EXPERIMENTER, act.experimenter); break;
      default: return FlowModResult.Unsupported;   // copy_ttl_*, MPLS: no MPLS in our flow key
    }
  }
  // Consecutive flows often carry the same action list (e.g. output:2): share the last ActionList
  // when the ops are identical rather than allocating an ops array and a list per flow.
  const last = lastList;
  if (last !== null && last.count === n) {
    let i = 0;
    const lo = last.ops, len = n * STRIDE;
    while (i < len && lo[i] === ops[i]) i++;
    if (i === len) return last;
  }
  const list = new ActionList(ops.slice(0, n * STRIDE), n, actions);
  lastList = list;
  return list;
}

/** Scratch ops of compileActions and the last list it built (see the sharing note on ActionList). */
let scratchOps = new Float64Array(16 * STRIDE);
let lastList: ActionList | null = null;

/** `ids`, or the last equal list handed out (ids lists are never mutated after compilation). */
function shareIds(ids: number[]): number[] {
  if (ids.length === 0) return NO_IDS;
  const last = lastIds;
  if (last.length === ids.length) {
    let i = 0;
    while (i < ids.length && last[i] === ids[i]) i++;
    if (i === ids.length) return last;
  }
  const copy = ids.slice();
  lastIds = copy;
  return copy;
}
let lastIds: number[] = NO_IDS;
const scratchOutPorts: number[] = [], scratchGroupIds: number[] = [];

/** Compile a flow's instructions. `tableId`/`tableCount` bound goto-table; meters checked by caller. */
export function compileInstructions(ins: Instructions, tableId: number, tableCount: number, ctx: CompileContext): Program | FlowModResultCode {
  if (ins === null || typeof ins !== 'object') return FlowModResult.BadInstruction;
  const p = new Program();
  if (ins.meter !== undefined) {
    if (!Number.isInteger(ins.meter) || ins.meter < 1 || ins.meter > 0xffff0000) return FlowModResult.UnknownMeter;
    p.meterId = ins.meter;
  }
  const outPorts = scratchOutPorts, groupIds = scratchGroupIds;
  outPorts.length = 0; groupIds.length = 0;
  const r = compileInstructionsInto(p, ins, tableId, tableCount, ctx, outPorts, groupIds);
  if (r !== FlowModResult.Ok) return r;
  p.outPorts = shareIds(outPorts);
  p.groupIds = shareIds(groupIds);
  // Flows installed in a burst often carry identical instructions: share the last Program then
  // (a Program is never mutated once compiled; MODIFY swaps in a new one).
  const q = lastProgram;
  if (q !== null && q.apply === p.apply && q.write === p.write && q.outPorts === p.outPorts && q.groupIds === p.groupIds &&
    q.meterId === p.meterId && q.clearActions === p.clearActions && q.gotoTable === p.gotoTable && q.hasWriteMeta === p.hasWriteMeta &&
    q.metaValueHi === p.metaValueHi && q.metaValueLo === p.metaValueLo && q.metaMaskHi === p.metaMaskHi && q.metaMaskLo === p.metaMaskLo) return q;
  lastProgram = p;
  return p;
}
let lastProgram: Program | null = null;

function compileInstructionsInto(p: Program, ins: Instructions, tableId: number, tableCount: number, ctx: CompileContext, outPorts: number[], groupIds: number[]): FlowModResultCode {
  if (ins.applyActions !== undefined) {
    const r = compileActions(ins.applyActions, ctx, outPorts, groupIds);
    if (typeof r === 'number') return r;
    p.apply = r;
  }
  p.clearActions = ins.clearActions === true;
  if (ins.writeActions !== undefined) {
    const r = compileActions(ins.writeActions, ctx, outPorts, groupIds);
    if (typeof r === 'number') return r;
    // the action set holds one action per type: a list with two of a kind is invalid here
    const seen = new Set<number>();
    for (let i = 0; i < r.count; i++) {
      const op = r.ops[i * STRIDE];
      if (seen.has(op)) return FlowModResult.BadAction;
      seen.add(op);
    }
    p.write = r;
  }
  if (ins.writeMetadata !== undefined) {
    const { value, mask } = ins.writeMetadata;
    if (typeof value !== 'bigint' || typeof mask !== 'bigint' || value < 0n || mask < 0n ||
      value > 0xffffffffffffffffn || mask > 0xffffffffffffffffn) return FlowModResult.BadInstruction;
    p.hasWriteMeta = true;
    p.metaValueHi = Number((value >> 32n) & 0xffffffffn) | 0; p.metaValueLo = Number(value & 0xffffffffn) | 0;
    p.metaMaskHi = Number((mask >> 32n) & 0xffffffffn) | 0; p.metaMaskLo = Number(mask & 0xffffffffn) | 0;
  }
  if (ins.gotoTable !== undefined) {
    if (!Number.isInteger(ins.gotoTable) || ins.gotoTable <= tableId || ins.gotoTable >= tableCount) return FlowModResult.BadTableId;
    p.gotoTable = ins.gotoTable;
  }
  return FlowModResult.Ok;
}
