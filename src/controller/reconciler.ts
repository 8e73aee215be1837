// Where FLOW_MOD, GROUP_MOD and METER_MOD are made and sent: reads what a switch holds (flow,
// group_desc and meter_config multiparts) and sends a batch of changes followed by a barrier,
// collecting by xid the errors the switch returns. The controller sends a plan's make half, and
// its break half only when make went in without an error.
import { OFPFC, OFPGC, OFPMC, OFPG_ANY, OFPM_ALL, OFPP_ANY, OFPTT_ALL, OFP_NO_BUFFER } from '../openflow/index.js';
import type { ErrorMsg, FlowStats as OfFlowStats, OfpMessage } from '../openflow/index.js';
import { instructionsToSpec, matchToSpec, specToBuckets, specToInstructions, specToMatch, bucketsToSpec } from '../flow/openflow.js';
import type { FlowSpec, GroupSpec, MatchSpec } from '../flow/types.js';
import type { MeterSpec } from './compile.js';
import type { Change, Installed } from './diff.js';
import type { SwitchSession } from './session.js';

/** A flow read back from a switch: our model of it, and the wire match to delete it by. */
export type InstalledFlow = FlowSpec & { wireMatch: OfFlowStats['match'] };

export interface InstalledState extends Installed { flows: InstalledFlow[] }

export interface ApplyReport { flowMods: number; groupMods: number; meterMods: number; errors: string[] }

/** Read every flow, group and meter the switch holds. */
export async function readInstalled(sess: SwitchSession): Promise<InstalledState> {
  const [flowParts, groupParts, meterParts] = await Promise.all([
    sess.multipart({ kind: 'flow', tableId: OFPTT_ALL, outPort: OFPP_ANY, outGroup: OFPG_ANY, cookie: 0n, cookieMask: 0n, match: [] }),
    sess.multipart({ kind: 'group_desc' }),
    sess.multipart({ kind: 'meter_config', meterId: OFPM_ALL }),
  ]);
  const flows: InstalledFlow[] = [];
  for (const b of flowParts) if (b.kind === 'flow') for (const f of b.flows) flows.push(fromWire(f));
  const groups: GroupSpec[] = [];
  for (const b of groupParts) {
    if (b.kind !== 'group_desc') continue;
    for (const g of b.groups) {
      let buckets: GroupSpec['buckets'];
      try { buckets = bucketsToSpec(g.buckets); } catch { buckets = []; }   // unknown actions: differs from anything we want
      groups.push({ groupId: g.groupId, type: g.groupType as GroupSpec['type'], buckets });
    }
  }
  const meters: MeterSpec[] = [];
  for (const b of meterParts) if (b.kind === 'meter_config') for (const m of b.meters) meters.push({ meterId: m.meterId, flags: m.flags, bands: m.bands });
  return { flows, groups, meters };
}

/** Our model of a flow from its stats; fields or actions we do not model still get a stable key. */
function fromWire(f: OfFlowStats): InstalledFlow {
  let match: MatchSpec;
  try {
    match = matchToSpec(f.match);
  } catch {
    match = f.match.map((e, i) => (e.field === 'raw'
      ? { field: `raw${e.header.toString(16)}` as never, value: BigInt(i) }
      : { field: e.field as never, value: e.value as bigint }));
  }
  let instructions: FlowSpec['instructions'];
  try { instructions = instructionsToSpec(f.instructions); } catch { instructions = { clearActions: true }; }
  return {
    tableId: f.tableId, priority: f.priority, match, instructions, cookie: f.cookie,
    idleTimeoutS: f.idleTimeout, hardTimeoutS: f.hardTimeout, flags: f.flags, wireMatch: f.match,
  };
}

function flowAdd(f: FlowSpec): OfpMessage {
  return {
    type: 'flow_mod', xid: 0, cookie: f.cookie, cookieMask: 0n, tableId: f.tableId, command: OFPFC.ADD,
    idleTimeout: f.idleTimeoutS, hardTimeout: f.hardTimeoutS, priority: f.priority, bufferId: OFP_NO_BUFFER,
    outPort: OFPP_ANY, outGroup: OFPG_ANY, flags: f.flags, match: specToMatch(f.match), instructions: specToInstructions(f.instructions),
  };
}

function flowDelete(f: FlowSpec & { wireMatch?: OfFlowStats['match'] }): OfpMessage {
  return {
    type: 'flow_mod', xid: 0, cookie: 0n, cookieMask: 0n, tableId: f.tableId, command: OFPFC.DELETE_STRICT,
    idleTimeout: 0, hardTimeout: 0, priority: f.priority, bufferId: OFP_NO_BUFFER, outPort: OFPP_ANY, outGroup: OFPG_ANY,
    flags: 0, match: f.wireMatch ?? specToMatch(f.match), instructions: [],
  };
}

const GROUP_CMD = { add: OFPGC.ADD, modify: OFPGC.MODIFY, delete: OFPGC.DELETE } as const;
const METER_CMD = { add: OFPMC.ADD, modify: OFPMC.MODIFY, delete: OFPMC.DELETE } as const;

export function changeMessage(c: Change): OfpMessage {
  switch (c.kind) {
    case 'flow': return c.op === 'add' ? flowAdd(c.flow) : flowDelete(c.flow as InstalledFlow);
    case 'group':
      return { type: 'group_mod', xid: 0, command: GROUP_CMD[c.op], groupType: c.group.type, groupId: c.group.groupId, buckets: c.op === 'delete' ? [] : specToBuckets(c.group.buckets) };
    case 'meter':
      return { type: 'meter_mod', xid: 0, command: METER_CMD[c.op], flags: c.meter.flags, meterId: c.meter.meterId, bands: c.op === 'delete' ? [] : c.meter.bands };
  }
}

/** Send `changes`, then a barrier; resolves once the switch has processed them all. */
export async function sendChanges(sess: SwitchSession, changes: readonly Change[], report: ApplyReport): Promise<void> {
  if (changes.length === 0) return;
  const xids = new Set<number>();
  const errors: ErrorMsg[] = [];
  const onError = (e: ErrorMsg): void => { if (xids.has(e.xid)) errors.push(e); };
  sess.on('switch_error', onError);
  try {
    for (const c of changes) {
      xids.add(sess.send(changeMessage(c)));
      if (c.kind === 'flow') report.flowMods++; else if (c.kind === 'group') report.groupMods++; else report.meterMods++;
    }
    await sess.barrier();
  } finally {
    sess.off('switch_error', onError);
  }
  for (const e of errors) report.errors.push(`OFPT_ERROR type ${e.errType} code ${e.code} for xid ${e.xid}`);
}
