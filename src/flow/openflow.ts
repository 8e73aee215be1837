// Translation between the OpenFlow codec's values (src/openflow) and the flow model (./types.ts):
// matches, actions, instructions, buckets and flow stats, used by the switch's agent and by the
// controller alike. Cold path only (control messages); what cannot be represented throws OfpError.
import {
  OFPBAC, OFPBIC, OFPBMC, OFPET, OfpError,
} from '../openflow/index.js';
import type {
  Action as OfAction, Instruction as OfInstruction, Match as OfMatch, OxmEntry,
} from '../openflow/index.js';
import type { Bucket as OfBucket, FlowStats as OfFlowStats } from '../openflow/messages.js';
import { FIELDS, OFPP } from './types.js';
import type { Action, Bucket, FieldName, FlowEntryStats, Instructions, MatchSpec } from './types.js';

const isDatapathField = (f: string): f is FieldName => Object.prototype.hasOwnProperty.call(FIELDS, f);

/** OXM match -> datapath match. Fields the datapath cannot classify on: OFPBMC_BAD_FIELD. */
export function matchToSpec(match: OfMatch): MatchSpec {
  const out: MatchSpec = [];
  for (let i = 0; i < match.length; i++) {
    const e = match[i]!;
    if (e.field === 'raw') throw new OfpError(OFPET.BAD_MATCH, OFPBMC.BAD_FIELD, `Unsupported OXM field 0x${e.header.toString(16)}`);
    if (!isDatapathField(e.field)) throw new OfpError(OFPET.BAD_MATCH, OFPBMC.BAD_FIELD, `Match field ${e.field} is not supported`);
    if (e.mask !== undefined && !FIELDS[e.field].maskable) throw new OfpError(OFPET.BAD_MATCH, OFPBMC.BAD_MASK, `Match field ${e.field} cannot be masked`);
    // A decoded OXM entry has exactly the MatchSpec shape ({ field, value[, mask] }): keep it, no copy per field.
    out.push(e as MatchSpec[number]);
  }
  return out;
}

export function specToMatch(match: MatchSpec): OfMatch {
  return match.map((m): OxmEntry => (m.mask === undefined ? { field: m.field, value: m.value } : { field: m.field, value: m.value, mask: m.mask }));
}

/** Codec action -> datapath action; unsupported kinds are OFPBAC_BAD_TYPE. */
export function actionToSpec(a: OfAction): Action {
  switch (a.type) {
    // max_len only means something for output to CONTROLLER (OpenFlow 1.3 §7.2.5); elsewhere it is dropped so dumps read as ovs-ofctl's
    case 'output': return a.port === OFPP.CONTROLLER ? { type: 'output', port: a.port, maxLen: a.maxLen } : { type: 'output', port: a.port };
    case 'push_vlan': return { type: 'push_vlan', ethertype: a.ethertype };
    case 'pop_vlan': return { type: 'pop_vlan' };
    case 'group': return { type: 'group', groupId: a.groupId };
    case 'set_queue': return { type: 'set_queue', queueId: a.queueId };
    case 'dec_nw_ttl': return { type: 'dec_nw_ttl' };
    case 'copy_ttl_out': return { type: 'copy_ttl_out' };
    case 'copy_ttl_in': return { type: 'copy_ttl_in' };
    case 'set_nw_ttl': return { type: 'set_nw_ttl', ttl: a.ttl };
    case 'set_mpls_ttl': return { type: 'set_mpls_ttl', ttl: a.ttl };
    case 'dec_mpls_ttl': return { type: 'dec_mpls_ttl' };
    case 'experimenter': return { type: 'experimenter', experimenter: a.experimenter, data: a.data };
    case 'set_field': {
      if (a.field === 'raw') throw new OfpError(OFPET.BAD_ACTION, OFPBAC.BAD_SET_TYPE, `set_field of unsupported OXM 0x${a.header.toString(16)}`);
      if (!isDatapathField(a.field)) throw new OfpError(OFPET.BAD_ACTION, OFPBAC.BAD_SET_TYPE, `set_field of ${a.field} is not supported`);
      if (a.mask !== undefined) throw new OfpError(OFPET.BAD_ACTION, OFPBAC.BAD_SET_ARGUMENT, `set_field of ${a.field} with a mask`);
      return { type: 'set_field', field: a.field, value: a.value };
    }
    case 'push_mpls': case 'pop_mpls': case 'push_pbb': case 'pop_pbb':
      throw new OfpError(OFPET.BAD_ACTION, OFPBAC.BAD_TYPE, `Action ${a.type} is not supported`);
  }
}

export function specToAction(a: Action): OfAction {
  switch (a.type) {
    case 'output': return { type: 'output', port: a.port, maxLen: a.maxLen ?? 0xffff };
    case 'set_field': return { type: 'set_field', field: a.field, value: a.value };
    case 'experimenter': return { type: 'experimenter', experimenter: a.experimenter, data: Buffer.from(a.data) };
    default: return { ...a };
  }
}

export function actionsToSpec(list: readonly OfAction[]): Action[] {
  const out = new Array<Action>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = actionToSpec(list[i]!);
  return out;
}
export const specToActions = (list: readonly Action[]): OfAction[] => list.map(specToAction);

const INSTRUCTION_BIT: Record<OfInstruction['type'], number> = {
  goto_table: 1, write_metadata: 2, write_actions: 4, apply_actions: 8, clear_actions: 16, meter: 32, experimenter: 64,
};

/** Instruction list -> datapath Instructions (at most one of each kind). */
export function instructionsToSpec(list: readonly OfInstruction[]): Instructions {
  const out: Instructions = {};
  let seen = 0;   // one bit per instruction kind: no Set per flow_mod
  for (let k = 0; k < list.length; k++) {
    const i = list[k]!;
    const bit = INSTRUCTION_BIT[i.type];
    if ((seen & bit) !== 0) throw new OfpError(OFPET.BAD_INSTRUCTION, OFPBIC.UNSUP_INST, `Instruction ${i.type} appears twice`);
    seen |= bit;
    switch (i.type) {
      case 'goto_table': out.gotoTable = i.tableId; break;
      case 'write_metadata': out.writeMetadata = { value: i.metadata, mask: i.metadataMask }; break;
      case 'write_actions': out.writeActions = actionsToSpec(i.actions); break;
      case 'apply_actions': out.applyActions = actionsToSpec(i.actions); break;
      case 'clear_actions': out.clearActions = true; break;
      case 'meter': out.meter = i.meterId; break;
      case 'experimenter': throw new OfpError(OFPET.BAD_INSTRUCTION, OFPBIC.BAD_EXPERIMENTER, `Experimenter instruction 0x${i.experimenter.toString(16)} is not supported`);
    }
  }
  return out;
}

/** Datapath Instructions -> instruction list in the spec's execution order. */
export function specToInstructions(ins: Instructions): OfInstruction[] {
  const out: OfInstruction[] = [];
  if (ins.meter !== undefined) out.push({ type: 'meter', meterId: ins.meter });
  if (ins.applyActions !== undefined) out.push({ type: 'apply_actions', actions: specToActions(ins.applyActions) });
  if (ins.clearActions) out.push({ type: 'clear_actions' });
  if (ins.writeActions !== undefined) out.push({ type: 'write_actions', actions: specToActions(ins.writeActions) });
  if (ins.writeMetadata !== undefined) out.push({ type: 'write_metadata', metadata: ins.writeMetadata.value, metadataMask: ins.writeMetadata.mask });
  if (ins.gotoTable !== undefined) out.push({ type: 'goto_table', tableId: ins.gotoTable });
  return out;
}

export function bucketsToSpec(list: readonly OfBucket[]): Bucket[] {
  return list.map((b) => ({ weight: b.weight, watchPort: b.watchPort, watchGroup: b.watchGroup, actions: actionsToSpec(b.actions) }));
}
export function specToBuckets(list: readonly Bucket[]): OfBucket[] {
  return list.map((b) => ({ weight: b.weight, watchPort: b.watchPort, watchGroup: b.watchGroup, actions: specToActions(b.actions) }));
}

/** Seconds (float) -> [sec, nsec]. */
export function splitDuration(s: number): [number, number] {
  const sec = Math.max(0, Math.floor(s));
  return [sec >>> 0, Math.min(999_999_999, Math.max(0, Math.round((s - sec) * 1e9)))];
}

export function flowStatsToOf(f: FlowEntryStats): OfFlowStats {
  const [durationSec, durationNsec] = splitDuration(f.durationS);
  return {
    tableId: f.tableId, durationSec, durationNsec, priority: f.priority, idleTimeout: f.idleTimeoutS,
    hardTimeout: f.hardTimeoutS, flags: f.flags, cookie: f.cookie, packetCount: BigInt(f.packetCount),
    byteCount: BigInt(f.byteCount), match: specToMatch(f.match), instructions: specToInstructions(f.instructions),
  };
}

