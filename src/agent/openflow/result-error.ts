// The OpenFlow error a datapath FlowModResult code stands for (OFPET/code pair the spec names).
// Switch side only: the controller never sees datapath result codes.
import { OFPBAC, OFPBIC, OFPBMC, OFPET, OFPFMFC, OFPGMFC, OFPMMFC, OfpError } from '../../openflow/index.js';
import { FlowModResult } from '../../datapath/results.js';
import type { FlowModResultCode } from '../../datapath/results.js';

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
