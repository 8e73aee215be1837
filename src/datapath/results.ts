// Result codes of the control-side operations (flow-mod, group-mod, meter changes). Controller
// input never throws: each operation returns one of these, and the agent maps it to OFPT_ERROR.

export const FlowModResult = {
  Ok: 0,
  Overlap: 1,           // OFPFMFC_OVERLAP
  BadTableId: 2,        // OFPFMFC_BAD_TABLE_ID / OFPBIC_BAD_TABLE_ID (goto-table)
  BadMatch: 3,          // OFPBMC_* (unknown field, width, mask, prerequisite)
  BadInstruction: 4,    // OFPBIC_*
  BadAction: 5,         // OFPBAC_BAD_TYPE / BAD_ARGUMENT / BAD_SET_*
  UnknownGroup: 6,      // OFPBAC_BAD_OUT_GROUP / OFPGMFC_UNKNOWN_GROUP
  UnknownMeter: 7,      // OFPMMFC_UNKNOWN_METER
  BadOutPort: 8,        // OFPBAC_BAD_OUT_PORT
  Unsupported: 9,       // action or instruction we do not implement (MPLS, PBB, TTL copies)
  BadCommand: 10,       // OFPFMFC_BAD_COMMAND / OFPGMFC_BAD_COMMAND
  BadTimeout: 11,       // OFPFMFC_BAD_TIMEOUT
  GroupExists: 12,      // OFPGMFC_GROUP_EXISTS
  BadGroupType: 13,     // OFPGMFC_BAD_TYPE / INVALID_GROUP
  BadBucket: 14,        // OFPGMFC_BAD_BUCKET / BAD_WATCH
  GroupLoop: 15,        // OFPGMFC_LOOP / CHAINING_UNSUPPORTED
  BadPriority: 16,      // priority outside 0..65535
  TableFull: 17,        // OFPFMFC_TABLE_FULL
} as const;
export type FlowModResultCode = (typeof FlowModResult)[keyof typeof FlowModResult];

export const FLOW_MOD_RESULT_NAMES: readonly string[] = [
  'ok', 'overlap', 'bad-table-id', 'bad-match', 'bad-instruction', 'bad-action', 'unknown-group',
  'unknown-meter', 'bad-out-port', 'unsupported', 'bad-command', 'bad-timeout', 'group-exists',
  'bad-group-type', 'bad-bucket', 'group-loop', 'bad-priority', 'table-full',
];
