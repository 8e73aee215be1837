// ofproto/trace-like explanation of one frame's path through a bridge: the result types the executor
// fills in trace mode (no side effects) and formatTrace(), the readable multi-line rendering used by
// `sluice trace`. Cold path only.

export type TraceEvent =
  | { kind: 'table'; tableId: number; miss: boolean; priority: number; cookie: bigint; match: string; instructions: string }
  | { kind: 'action'; text: string }
  | { kind: 'meter'; meterId: number; verdict: 'pass' | 'drop' | 'not-evaluated' | 'missing' }
  | { kind: 'normal'; vid: number; learnedPort: number | null; flood: boolean; ports: number[]; drop: string | null }
  | { kind: 'group'; groupId: number; type: string; buckets: number[] }
  | { kind: 'action-set'; text: string }
  | { kind: 'packet-in'; reason: number; tableId: number }
  | { kind: 'drop'; reason: string };

export interface TraceOutput { port: number; name: string; frame: Buffer }

export interface TraceResult {
  inPort: number;
  frameLen: number;
  /** Parsed flow key as named fields (only the non-zero ones plus in_port). */
  key: Record<string, string>;
  parseError: string;
  events: TraceEvent[];
  outputs: TraceOutput[];
  /** Drop reasons met on the way (kebab-case), empty if the frame left somewhere. */
  drops: string[];
}

export function newTrace(inPort: number, frameLen: number): TraceResult {
  return { inPort, frameLen, key: {}, parseError: 'none', events: [], outputs: [], drops: [] };
}

function hex(b: Buffer, max = 64): string {
  const s = b.subarray(0, max).toString('hex').replace(/(..)/g, '$1 ').trim();
  return b.length > max ? `${s} ...` : s;
}

/** Multi-line text, in the spirit of `ovs-appctl ofproto/trace`. */
export function formatTrace(r: TraceResult): string {
  const lines: string[] = [];
  lines.push(`Flow: in_port=${r.inPort} len=${r.frameLen}` + (r.parseError !== 'none' ? ` (parse: ${r.parseError})` : ''));
  lines.push('  ' + Object.entries(r.key).map(([k, v]) => `${k}=${v}`).join(','));
  let indent = ' ';
  for (const e of r.events) {
    switch (e.kind) {
      case 'table':
        lines.push('');
        if (e.miss) lines.push(` ${e.tableId}. No match: table-miss, drop`);
        else {
          lines.push(` ${e.tableId}. ${e.match || 'match all'}, priority ${e.priority}${e.cookie !== 0n ? `, cookie 0x${e.cookie.toString(16)}` : ''}`);
          lines.push(`    ${e.instructions}`);
        }
        indent = '    ';
        break;
      case 'action': lines.push(`${indent}-> ${e.text}`); break;
      case 'meter': lines.push(`${indent}-> meter:${e.meterId}: ${e.verdict === 'not-evaluated' ? 'not evaluated (trace has no side effects)' : e.verdict}`); break;
      case 'normal':
        if (e.drop !== null) lines.push(`${indent}-> NORMAL: drop (${e.drop})`);
        else lines.push(`${indent}-> NORMAL: vlan ${e.vid}, ` + (e.flood ? `unknown destination, flood to ${e.ports.join(',') || '(none)'}` : `learned on port ${e.learnedPort}, output to ${e.ports.join(',') || '(none)'}`));
        break;
      case 'group': lines.push(`${indent}-> group:${e.groupId} (${e.type}) buckets ${e.buckets.join(',')}`); break;
      case 'action-set': lines.push(`${indent}action set: ${e.text}`); break;
      case 'packet-in': lines.push(`${indent}-> CONTROLLER (packet-in, reason ${e.reason === 0 ? 'no_match' : 'action'}, table ${e.tableId})`); break;
      case 'drop': lines.push(`${indent}-> drop: ${e.reason}`); break;
    }
  }
  lines.push('');
  if (r.outputs.length === 0) lines.push(`Final: drop${r.drops.length ? ` (${r.drops.join(', ')})` : ''}`);
  else {
    lines.push(`Final: output to ${r.outputs.map((o) => `${o.port}${o.name ? `(${o.name})` : ''}`).join(', ')}`);
    for (const o of r.outputs) lines.push(`  port ${o.port}: ${o.frame.length} bytes: ${hex(o.frame)}`);
  }
  return lines.join('\n');
}
