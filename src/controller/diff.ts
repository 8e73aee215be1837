// Desired (compile) vs installed (read back from the switch) -> the ordered changes that make the
// switch match, make-before-break: meters and groups are added or modified before the flows that
// use them, new and changed flows go in before anything is deleted, and what is no longer wanted
// goes last (flows, then the groups and meters they used). Equal objects give no change at all.
import { FlowFlags } from '../flow/types.js';
import type { FlowSpec, GroupSpec } from '../flow/types.js';
import { formatActions, formatGroup } from '../flow/syntax.js';
import { OFPMF } from '../openflow/index.js';
import { flowKey } from './compile.js';
import type { Desired, MeterSpec } from './compile.js';

export interface Installed { flows: FlowSpec[]; groups: GroupSpec[]; meters: MeterSpec[] }

export type Change =
  | { kind: 'meter'; op: 'add' | 'modify' | 'delete'; meter: MeterSpec }
  | { kind: 'group'; op: 'add' | 'modify' | 'delete'; group: GroupSpec }
  | { kind: 'flow'; op: 'add' | 'delete'; flow: FlowSpec };

/** The changes split where a barrier belongs: `make` must be in force before `break` starts. */
export interface Plan { make: Change[]; break: Change[] }

/** What identifies a flow's behaviour (beyond its key): instructions, cookie, timeouts, the flags we use. */
export function flowBody(f: FlowSpec): string {
  return `${f.cookie.toString(16)}|${f.idleTimeoutS}|${f.hardTimeoutS}|${f.flags & FlowFlags.SEND_FLOW_REM}|${formatActions(f.instructions)}`;
}
const groupBody = (g: GroupSpec): string => formatGroup(g);
/** STATS is bookkeeping, not behaviour: a switch that does not echo it back is not a difference. */
const meterBody = (m: MeterSpec): string =>
  `${m.flags & ~OFPMF.STATS}|${m.bands.map((b) => `${b.kind}:${b.rate}:${b.burstSize}`).join(';')}`;

export function diff(want: Desired, have: Installed): Plan {
  const make: Change[] = [];
  const brk: Change[] = [];

  const haveMeters = new Map(have.meters.map((m) => [m.meterId, m]));
  for (const [id, m] of want.meters) {
    const h = haveMeters.get(id);
    if (!h) make.push({ kind: 'meter', op: 'add', meter: m });
    else if (meterBody(h) !== meterBody(m)) make.push({ kind: 'meter', op: 'modify', meter: m });
  }
  const haveGroups = new Map(have.groups.map((g) => [g.groupId, g]));
  for (const [id, g] of want.groups) {
    const h = haveGroups.get(id);
    if (!h) make.push({ kind: 'group', op: 'add', group: g });
    else if (groupBody(h) !== groupBody(g)) make.push({ kind: 'group', op: 'modify', group: g });
  }
  const haveFlows = new Map<string, FlowSpec>();
  for (const f of have.flows) haveFlows.set(flowKey(f), f);
  for (const [k, f] of want.flows) {
    const h = haveFlows.get(k);
    if (!h || flowBody(h) !== flowBody(f)) make.push({ kind: 'flow', op: 'add', flow: f });   // ADD replaces in place, counters kept
  }

  for (const [k, f] of haveFlows) if (!want.flows.has(k)) brk.push({ kind: 'flow', op: 'delete', flow: f });
  for (const [id, g] of haveGroups) if (!want.groups.has(id)) brk.push({ kind: 'group', op: 'delete', group: g });
  for (const [id, m] of haveMeters) if (!want.meters.has(id)) brk.push({ kind: 'meter', op: 'delete', meter: m });
  return { make, break: brk };
}

export const planSize = (p: Plan): number => p.make.length + p.break.length;
