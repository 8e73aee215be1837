// Translation between the OpenFlow codec's values (src/openflow) and the datapath's flow model
// (src/datapath/flow-types.ts): matches, actions, instructions, buckets, flow stats, and the
// mapping of the datapath's FlowModResult codes to the OFPET/code pair the spec names.
// Cold path only (control messages); everything that cannot be represented throws OfpError.
import {
  OFPBAC, OFPBIC, OFPBMC, OFPET, OFPFMFC, OFPGMFC, OFPMMFC, OfpError,
} from '../../openflow/index.js';
import type {
  Action as OfAction, Instruction as OfInstruction, Match as OfMatch, OxmEntry,
} from '../../openflow/index.js';
import type { Bucket as OfBucket, FlowStats as OfFlowStats } from '../../openflow/messages.js';
import { FIELDS, OFPP } from '../../datapath/flow-types.js';
import type { Action, Bucket, FieldName, Instructions, MatchSpec } from '../../datapath/flow-types.js';
import type { FlowStats } from '../../datapath/pipeline.js';
import { FlowModResult } from '../../datapath/results.js';
import type { FlowModResultCode } from '../../datapath/results.js';

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

export function flowStatsToOf(f: FlowStats): OfFlowStats {
  const [durationSec, durationNsec] = splitDuration(f.durationS);
  return {
    tableId: f.tableId, durationSec, durationNsec, priority: f.priority, idleTimeout: f.idleTimeoutS,
    hardTimeout: f.hardTimeoutS, flags: f.flags, cookie: f.cookie, packetCount: BigInt(f.packetCount),
    byteCount: BigInt(f.byteCount), match: specToMatch(f.match), instructions: specToInstructions(f.instructions),
  };
}

/** Where a FlowModResult came from: decides e.g. UnknownGroup -> OFPBAC vs OFPGMFC. */
export type ResultContext = 'flow_mod' | 'group_mod' | 'group_modify' | 'packet_out';

/** The OFPET/code for a datapath result code (Ok returns null). */
/** (Module level, not a closure per call: resultToError runs once per FLOW_MOD, Ok included.) */
const e = (type: number, c: number, what: string): OfpError => new OfpError(type, c, what);

export function resultToError(code: FlowModResultCode, ctx: ResultContext, gotoTableBad = false): OfpError | null {
  if (code === FlowModResult.Ok) return null;
  switch (code) {
    case FlowModResult.Overlap: return e(OFPET.FLOW_MOD_FAILED, OFPFMFC.OVERLAP, 'Flow overlaps an existing flow');
    case FlowModResult.BadTableId:
      return gotoTableBad ? e(OFPET.BAD_INSTRUCTION, OFPBIC.BAD_TABLE_ID, 'goto_table to a bad table id') : e(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_TABLE_ID, 'Bad table id');
    case FlowModResult.BadMatch: return e(OFPET.BAD_MATCH, OFPBMC.BAD_VALUE, 'Match cannot be compiled');
    case FlowModResult.BadInstruction: return e(OFPET.BAD_INSTRUCTION, OFPBIC.UNSUP_INST, 'Bad instruction');
    case FlowModResult.BadAction: return e(OFPET.BAD_ACTION, OFPBAC.BAD_ARGUMENT, 'Bad action argument');
    case FlowModResult.UnknownGroup:
      return ctx === 'group_modify' ? e(OFPET.GROUP_MOD_FAILED, OFPGMFC.UNKNOWN_GROUP, 'Unknown group') : e(OFPET.BAD_ACTION, OFPBAC.BAD_OUT_GROUP, 'Action refers to an unknown group');
    case FlowModResult.UnknownMeter: return e(OFPET.METER_MOD_FAILED, OFPMMFC.UNKNOWN_METER, 'Meter instruction refers to an unknown meter');
    case FlowModResult.BadOutPort: return e(OFPET.BAD_ACTION, OFPBAC.BAD_OUT_PORT, 'Output to a bad port');
    case FlowModResult.Unsupported: return e(OFPET.BAD_ACTION, OFPBAC.BAD_TYPE, 'Action or instruction not supported');
    case FlowModResult.BadCommand:
      return ctx === 'flow_mod' ? e(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_COMMAND, 'Bad flow_mod command') : e(OFPET.GROUP_MOD_FAILED, OFPGMFC.BAD_COMMAND, 'Bad group_mod command');
    case FlowModResult.BadTimeout: return e(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_TIMEOUT, 'Bad timeout');
    case FlowModResult.GroupExists: return e(OFPET.GROUP_MOD_FAILED, OFPGMFC.GROUP_EXISTS, 'Group exists');
    case FlowModResult.BadGroupType: return e(OFPET.GROUP_MOD_FAILED, OFPGMFC.BAD_TYPE, 'Bad group type or id');
    case FlowModResult.BadBucket: return e(OFPET.GROUP_MOD_FAILED, OFPGMFC.BAD_BUCKET, 'Bad bucket');
    case FlowModResult.GroupLoop: return e(OFPET.GROUP_MOD_FAILED, OFPGMFC.LOOP, 'Group chain loops');
    case FlowModResult.BadPriority: return e(OFPET.FLOW_MOD_FAILED, OFPFMFC.UNKNOWN, 'Bad priority');
    case FlowModResult.TableFull: return e(OFPET.FLOW_MOD_FAILED, OFPFMFC.TABLE_FULL, 'Table full');
    default: return e(OFPET.FLOW_MOD_FAILED, OFPFMFC.UNKNOWN, `Datapath result ${String(code)}`);
  }
}
