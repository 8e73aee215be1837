// Public entry point of the OpenFlow 1.3 codec (shared by agent/ and controller/): message types,
// decode/encode, framer, formatter, errors and spec constants.
export * from './constants.js';
export { OfpError, OFP_ERROR_DATA_MAX, checkPrerequisites, checkMatch } from './errors.js';
export type * from './messages.js';
export type { Action, ActionType, Instruction, InstructionType } from './actions.js';
export { actionsEncodingLength, instructionsEncodingLength, ACTION_CODES, INSTRUCTION_CODES } from './actions.js';
export type { Match, OxmEntry, OxmField, OxmRaw, OxmFieldName } from './oxm.js';
export { OXM_FIELDS, oxmHeader, oxmFieldName, matchLength, matchEncodingLength } from './oxm.js';
export { helloVersions, versionBitmap } from './structs.js';
export { MULTIPART_CODES } from './multipart.js';
export { decodeMessage, encodeMessage, encodeMessageInto, encodingLength, readHeader, writeHeader, MESSAGE_CODES, type OfpHeader } from './codec.js';
export { OfpFramer, OFP_MAX_MESSAGE_LEN, DEFAULT_FRAMER_BUDGET } from './framer.js';
export type { FramerOptions } from './framer.js';
export { formatMessage, formatMatch, formatAction, formatActions, formatInstruction, formatOxm, formatPort } from './format.js';
