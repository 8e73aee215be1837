// OpenFlow 1.3 action (OFPAT_*) and instruction (OFPIT_*) codecs. Action and instruction
// lists decode to plain values shaped like the datapath's Action/Instructions; experimenter
// payloads stay raw so they round-trip. Errors are OFPET_BAD_ACTION / OFPET_BAD_INSTRUCTION.
import { OFPAT, OFPBAC, OFPBIC, OFPBMC, OFPET, OFPIT } from './constants.js';
import { OfpError } from './errors.js';
import { decodeOxm, encodeOxm, oxmEncodingLength, type OxmEntry } from './oxm.js';
import { Reader, Writer, pad8 } from './wire.js';

export type Action =
  | { type: 'output'; port: number; maxLen: number }
  | { type: 'copy_ttl_out' }
  | { type: 'copy_ttl_in' }
  | { type: 'set_mpls_ttl'; ttl: number }
  | { type: 'dec_mpls_ttl' }
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  | { type: 'push_mpls'; ethertype: number }
  | { type: 'pop_mpls'; ethertype: number }
  | { type: 'set_queue'; queueId: number }
  | { type: 'group'; groupId: number }
  | { type: 'set_nw_ttl'; ttl: number }
  | { type: 'dec_nw_ttl' }
  | ({ type: 'set_field' } & OxmEntry)
  | { type: 'push_pbb'; ethertype: number }
  | { type: 'pop_pbb' }
  | { type: 'experimenter'; experimenter: number; data: Buffer };
export type ActionType = Action['type'];

export type Instruction =
  | { type: 'goto_table'; tableId: number }
  | { type: 'write_metadata'; metadata: bigint; metadataMask: bigint }
  | { type: 'write_actions'; actions: Action[] }
  | { type: 'apply_actions'; actions: Action[] }
  | { type: 'clear_actions' }
  | { type: 'meter'; meterId: number }
  | { type: 'experimenter'; experimenter: number; data: Buffer };
export type InstructionType = Instruction['type'];

/** Wire code of each action name (and back). */
export const ACTION_CODES: Record<ActionType, number> = {
  output: OFPAT.OUTPUT, copy_ttl_out: OFPAT.COPY_TTL_OUT, copy_ttl_in: OFPAT.COPY_TTL_IN,
  set_mpls_ttl: OFPAT.SET_MPLS_TTL, dec_mpls_ttl: OFPAT.DEC_MPLS_TTL, push_vlan: OFPAT.PUSH_VLAN,
  pop_vlan: OFPAT.POP_VLAN, push_mpls: OFPAT.PUSH_MPLS, pop_mpls: OFPAT.POP_MPLS,
  set_queue: OFPAT.SET_QUEUE, group: OFPAT.GROUP, set_nw_ttl: OFPAT.SET_NW_TTL,
  dec_nw_ttl: OFPAT.DEC_NW_TTL, set_field: OFPAT.SET_FIELD, push_pbb: OFPAT.PUSH_PBB,
  pop_pbb: OFPAT.POP_PBB, experimenter: OFPAT.EXPERIMENTER,
};
export const INSTRUCTION_CODES: Record<InstructionType, number> = {
  goto_table: OFPIT.GOTO_TABLE, write_metadata: OFPIT.WRITE_METADATA, write_actions: OFPIT.WRITE_ACTIONS,
  apply_actions: OFPIT.APPLY_ACTIONS, clear_actions: OFPIT.CLEAR_ACTIONS, meter: OFPIT.METER,
  experimenter: OFPIT.EXPERIMENTER,
};

const badAction = (code: number, msg: string): OfpError => new OfpError(OFPET.BAD_ACTION, code, msg);
const badInst = (code: number, msg: string): OfpError => new OfpError(OFPET.BAD_INSTRUCTION, code, msg);

/** Fixed wire length of each non-variable action. */
const FIXED_LEN: Partial<Record<number, number>> = {
  [OFPAT.OUTPUT]: 16, [OFPAT.COPY_TTL_OUT]: 8, [OFPAT.COPY_TTL_IN]: 8, [OFPAT.SET_MPLS_TTL]: 8,
  [OFPAT.DEC_MPLS_TTL]: 8, [OFPAT.PUSH_VLAN]: 8, [OFPAT.POP_VLAN]: 8, [OFPAT.PUSH_MPLS]: 8,
  [OFPAT.POP_MPLS]: 8, [OFPAT.SET_QUEUE]: 8, [OFPAT.GROUP]: 8, [OFPAT.SET_NW_TTL]: 8,
  [OFPAT.DEC_NW_TTL]: 8, [OFPAT.PUSH_PBB]: 8, [OFPAT.POP_PBB]: 8,
};

function decodeAction(r: Reader): Action {
  if (r.left < 4) throw badAction(OFPBAC.BAD_LEN, `Truncated action header: ${r.left} bytes left`);
  const type = r.u16();
  const len = r.u16();
  if (len < 8 || len % 8 !== 0 || len - 4 > r.left) throw badAction(OFPBAC.BAD_LEN, `Bad action length ${len} (type ${type}, ${r.left + 4} bytes left)`);
  const fixed = FIXED_LEN[type];
  if (fixed !== undefined && len !== fixed) throw badAction(OFPBAC.BAD_LEN, `Action type ${type} has length ${len}, expected ${fixed}`);
  const a = r.sub(len - 4, OFPET.BAD_ACTION, OFPBAC.BAD_LEN, 'action');
  switch (type) {
    case OFPAT.OUTPUT: { const port = a.u32(); const maxLen = a.u16(); return { type: 'output', port, maxLen }; }
    case OFPAT.COPY_TTL_OUT: return { type: 'copy_ttl_out' };
    case OFPAT.COPY_TTL_IN: return { type: 'copy_ttl_in' };
    case OFPAT.SET_MPLS_TTL: return { type: 'set_mpls_ttl', ttl: a.u8() };
    case OFPAT.DEC_MPLS_TTL: return { type: 'dec_mpls_ttl' };
    case OFPAT.PUSH_VLAN: return { type: 'push_vlan', ethertype: a.u16() };
    case OFPAT.POP_VLAN: return { type: 'pop_vlan' };
    case OFPAT.PUSH_MPLS: return { type: 'push_mpls', ethertype: a.u16() };
    case OFPAT.POP_MPLS: return { type: 'pop_mpls', ethertype: a.u16() };
    case OFPAT.SET_QUEUE: return { type: 'set_queue', queueId: a.u32() };
    case OFPAT.GROUP: return { type: 'group', groupId: a.u32() };
    case OFPAT.SET_NW_TTL: return { type: 'set_nw_ttl', ttl: a.u8() };
    case OFPAT.DEC_NW_TTL: return { type: 'dec_nw_ttl' };
    case OFPAT.PUSH_PBB: return { type: 'push_pbb', ethertype: a.u16() };
    case OFPAT.POP_PBB: return { type: 'pop_pbb' };
    case OFPAT.SET_FIELD: {
      let oxm: OxmEntry;
      try {
        oxm = decodeOxm(a);
      } catch (e) {
        if (e instanceof OfpError && e.type === OFPET.BAD_MATCH && e.code === OFPBMC.BAD_LEN) throw badAction(OFPBAC.BAD_SET_LEN, e.message);
        if (e instanceof OfpError && e.type === OFPET.BAD_MATCH) throw badAction(OFPBAC.BAD_SET_TYPE, e.message);
        throw e;
      }
      if (oxm.field !== 'raw' && oxm.mask !== undefined) throw badAction(OFPBAC.BAD_SET_ARGUMENT, `set_field ${oxm.field} carries a mask`);
      if (len !== pad8(4 + oxmEncodingLength(oxm))) throw badAction(OFPBAC.BAD_SET_LEN, `set_field length ${len} does not fit its OXM`);
      for (let i = a.pos; i < a.end; i++) if (a.buf[i] !== 0) throw badAction(OFPBAC.BAD_SET_ARGUMENT, 'set_field padding is not zero');
      return { type: 'set_field', ...oxm };
    }
    case OFPAT.EXPERIMENTER: {
      const experimenter = a.u32();
      return { type: 'experimenter', experimenter, data: a.rest() };
    }
    default:
      throw badAction(OFPBAC.BAD_TYPE, `Unknown action type ${type}`);
  }
}

/** Decode an action list occupying exactly r's remaining bytes (or the next `len` bytes). */
export function decodeActions(r: Reader, len: number = r.left): Action[] {
  if (len > r.left) throw badAction(OFPBAC.BAD_LEN, `Action list of ${len} bytes exceeds the ${r.left} bytes left`);
  const ar = r.sub(len, OFPET.BAD_ACTION, OFPBAC.BAD_LEN, 'action list');
  const out: Action[] = [];
  while (ar.left > 0) out.push(decodeAction(ar));
  return out;
}

export function actionEncodingLength(a: Action): number {
  switch (a.type) {
    case 'output': return 16;
    case 'set_field': return pad8(4 + oxmEncodingLength(a));
    case 'experimenter': return pad8(8 + a.data.length);
    default: return 8;
  }
}
export function actionsEncodingLength(actions: readonly Action[]): number {
  let n = 0;
  for (const a of actions) n += actionEncodingLength(a);
  return n;
}

export function encodeAction(a: Action, w: Writer): void {
  const start = w.pos;
  const code = ACTION_CODES[a.type];
  if (code === undefined) throw new RangeError(`Unknown action type "${String(a.type)}"`);
  w.u16(code);
  w.u16(actionEncodingLength(a));
  switch (a.type) {
    case 'output': w.u32(a.port); w.u16(a.maxLen); w.zeros(6); break;
    case 'set_mpls_ttl': case 'set_nw_ttl': w.u8(a.ttl); w.zeros(3); break;
    case 'push_vlan': case 'push_mpls': case 'pop_mpls': case 'push_pbb': w.u16(a.ethertype); w.zeros(2); break;
    case 'set_queue': w.u32(a.queueId); break;
    case 'group': w.u32(a.groupId); break;
    case 'set_field': {
      const { type: _t, ...oxm } = a;
      encodeOxm(oxm as OxmEntry, w);
      w.pad8(start);
      break;
    }
    case 'experimenter': w.u32(a.experimenter); w.bytes(a.data); w.pad8(start); break;
    default: w.zeros(4);
  }
}
export function encodeActions(actions: readonly Action[], w: Writer): void {
  for (const a of actions) encodeAction(a, w);
}

/** Length check of a fixed-size instruction (a function, not a closure per decoded instruction). */
function fixedInst(type: number, len: number, n: number): void {
  if (len !== n) throw badInst(OFPBIC.BAD_LEN, `Instruction type ${type} has length ${len}, expected ${n}`);
}

function decodeInstruction(r: Reader): Instruction {
  if (r.left < 4) throw badInst(OFPBIC.BAD_LEN, `Truncated instruction header: ${r.left} bytes left`);
  const type = r.u16();
  const len = r.u16();
  if (len < 8 || len % 8 !== 0 || len - 4 > r.left) throw badInst(OFPBIC.BAD_LEN, `Bad instruction length ${len} (type ${type}, ${r.left + 4} bytes left)`);
  const ir = r.sub(len - 4, OFPET.BAD_INSTRUCTION, OFPBIC.BAD_LEN, 'instruction');
  switch (type) {
    case OFPIT.GOTO_TABLE: fixedInst(type, len, 8); return { type: 'goto_table', tableId: ir.u8() };
    case OFPIT.WRITE_METADATA: { fixedInst(type, len, 24); ir.skip(4); const metadata = ir.u64(); return { type: 'write_metadata', metadata, metadataMask: ir.u64() }; }
    case OFPIT.WRITE_ACTIONS: ir.skip(4); return { type: 'write_actions', actions: decodeActions(ir) };
    case OFPIT.APPLY_ACTIONS: ir.skip(4); return { type: 'apply_actions', actions: decodeActions(ir) };
    case OFPIT.CLEAR_ACTIONS: fixedInst(type, len, 8); return { type: 'clear_actions' };
    case OFPIT.METER: fixedInst(type, len, 8); return { type: 'meter', meterId: ir.u32() };
    case OFPIT.EXPERIMENTER: { const experimenter = ir.u32(); return { type: 'experimenter', experimenter, data: ir.rest() }; }
    default: throw badInst(OFPBIC.UNKNOWN_INST, `Unknown instruction type ${type}`);
  }
}

/** Decode an instruction list occupying r's remaining bytes. */
export function decodeInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.left > 0) out.push(decodeInstruction(r));
  return out;
}

export function instructionEncodingLength(i: Instruction): number {
  switch (i.type) {
    case 'write_metadata': return 24;
    case 'write_actions': case 'apply_actions': return 8 + actionsEncodingLength(i.actions);
    case 'experimenter': return pad8(8 + i.data.length);
    default: return 8;
  }
}
export function instructionsEncodingLength(list: readonly Instruction[]): number {
  let n = 0;
  for (const i of list) n += instructionEncodingLength(i);
  return n;
}

export function encodeInstruction(i: Instruction, w: Writer): void {
  const start = w.pos;
  const code = INSTRUCTION_CODES[i.type];
  if (code === undefined) throw new RangeError(`Unknown instruction type "${String(i.type)}"`);
  const len = instructionEncodingLength(i);
  if (len > 0xffff) throw new RangeError(`Instruction of ${len} bytes is too long`);
  w.u16(code);
  w.u16(len);
  switch (i.type) {
    case 'goto_table': w.u8(i.tableId); w.zeros(3); break;
    case 'write_metadata': w.zeros(4); w.u64(i.metadata); w.u64(i.metadataMask); break;
    case 'write_actions': case 'apply_actions': w.zeros(4); encodeActions(i.actions, w); break;
    case 'clear_actions': w.zeros(4); break;
    case 'meter': w.u32(i.meterId); break;
    case 'experimenter': w.u32(i.experimenter); w.bytes(i.data); w.pad8(start); break;
  }
}
export function encodeInstructions(list: readonly Instruction[], w: Writer): void {
  for (const i of list) encodeInstruction(i, w);
}
