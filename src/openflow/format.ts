// One-line, human-readable rendering of OpenFlow messages for logs and the CLI, in the spirit of
// ovs-ofctl: `FLOW_MOD xid=5 ADD table=0 priority=100 cookie=0x1 match=eth_type=0x806
// instructions=apply_actions(output:NORMAL)`. Cold path only.
import { OFPP } from './constants.js';
import type { Action, Instruction } from './actions.js';
import type { MeterBand, OfpMessage } from './messages.js';
import type { Match, OxmEntry } from './oxm.js';
import { helloVersions } from './structs.js';

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const PORT_NAMES = new Map<number, string>(Object.entries(OFPP).filter(([k]) => k !== 'MAX').map(([k, v]) => [v, k]));
export const formatPort = (p: number): string => PORT_NAMES.get(p) ?? String(p);

const MAC_FIELDS = new Set(['eth_dst', 'eth_src', 'arp_sha', 'arp_tha', 'ipv6_nd_sll', 'ipv6_nd_tll']);
const IP4_FIELDS = new Set(['ipv4_src', 'ipv4_dst', 'arp_spa', 'arp_tpa', 'tun_ipv4_src', 'tun_ipv4_dst']);
const IP6_FIELDS = new Set(['ipv6_src', 'ipv6_dst', 'ipv6_nd_target']);
const HEX_FIELDS = new Set(['eth_type', 'metadata', 'tunnel_id', 'ipv6_exthdr', 'vlan_vid', 'ipv6_flabel', 'pbb_isid']);

function fieldValue(field: string, v: bigint): string {
  if (MAC_FIELDS.has(field)) return v.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
  if (IP4_FIELDS.has(field)) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  if (IP6_FIELDS.has(field)) return v.toString(16).padStart(32, '0').replace(/(....)(?!$)/g, '$1:');
  if (HEX_FIELDS.has(field)) return hex(v);
  if (field === 'in_port' || field === 'in_phy_port') return formatPort(Number(v));
  return v.toString();
}
export function formatOxm(e: OxmEntry): string {
  if (e.field === 'raw') return `oxm(${hex(e.header)}:${e.body.toString('hex')})`;
  const v = fieldValue(e.field, e.value);
  return e.mask === undefined ? `${e.field}=${v}` : `${e.field}=${v}/${fieldValue(e.field, e.mask)}`;
}
export function formatMatch(m: Match): string { return m.length === 0 ? 'any' : m.map(formatOxm).join(','); }

export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output': return a.port === OFPP.CONTROLLER ? `output:CONTROLLER:${a.maxLen}` : `output:${formatPort(a.port)}`;
    case 'set_mpls_ttl': case 'set_nw_ttl': return `${a.type}:${a.ttl}`;
    case 'push_vlan': case 'push_mpls': case 'pop_mpls': case 'push_pbb': return `${a.type}:${hex(a.ethertype)}`;
    case 'set_queue': return `set_queue:${a.queueId}`;
    case 'group': return `group:${a.groupId}`;
    case 'set_field': { const { type: _t, ...oxm } = a; return `set_field:${formatOxm(oxm as OxmEntry)}`; }
    case 'experimenter': return `experimenter:${hex(a.experimenter)}:${a.data.toString('hex')}`;
    default: return a.type;
  }
}
export const formatActions = (list: readonly Action[]): string => list.map(formatAction).join(',');

export function formatInstruction(i: Instruction): string {
  switch (i.type) {
    case 'goto_table': return `goto_table:${i.tableId}`;
    case 'write_metadata': return `write_metadata:${hex(i.metadata)}/${hex(i.metadataMask)}`;
    case 'write_actions': case 'apply_actions': return `${i.type}(${formatActions(i.actions)})`;
    case 'clear_actions': return 'clear_actions';
    case 'meter': return `meter:${i.meterId}`;
    case 'experimenter': return `experimenter:${hex(i.experimenter)}:${i.data.toString('hex')}`;
  }
}
const formatBand = (b: MeterBand): string =>
  `${b.kind}(rate=${b.rate},burst=${b.burstSize}${b.kind === 'dscp_remark' ? `,prec=${b.precLevel}` : ''})`;

const FLOW_CMDS = ['ADD', 'MODIFY', 'MODIFY_STRICT', 'DELETE', 'DELETE_STRICT'];
const MOD_CMDS = ['ADD', 'MODIFY', 'DELETE'];
const ROLES = ['NOCHANGE', 'EQUAL', 'MASTER', 'SLAVE'];

/** One line describing `m`. */
export function formatMessage(m: OfpMessage): string {
  const head = `${m.type.toUpperCase()} xid=${m.xid}`;
  const parts: string[] = [head];
  switch (m.type) {
    case 'hello': parts.push(`version=${m.version}`); if (m.elements.length) parts.push(`versions=${helloVersions(m.elements).join(',')}`); break;
    case 'error': parts.push(`type=${m.errType} code=${m.code}`); if (m.experimenter !== undefined) parts.push(`experimenter=${hex(m.experimenter)}`); parts.push(`data_len=${m.data.length}`); break;
    case 'echo_request': case 'echo_reply': parts.push(`data_len=${m.data.length}`); break;
    case 'experimenter': parts.push(`experimenter=${hex(m.experimenter)} exp_type=${m.expType} data_len=${m.data.length}`); break;
    case 'features_reply': parts.push(`dpid=${m.datapathId.toString(16).padStart(16, '0')} n_tables=${m.nTables} n_buffers=${m.nBuffers} aux=${m.auxiliaryId} capabilities=${hex(m.capabilities)}`); break;
    case 'get_config_reply': case 'set_config': parts.push(`flags=${m.flags} miss_send_len=${m.missSendLen}`); break;
    case 'packet_in': parts.push(`buffer=${hex(m.bufferId)} total_len=${m.totalLen} reason=${m.reason} table=${m.tableId} cookie=${hex(m.cookie)} match=${formatMatch(m.match)} data_len=${m.data.length}`); break;
    case 'flow_removed': parts.push(`reason=${m.reason} table=${m.tableId} priority=${m.priority} cookie=${hex(m.cookie)} duration=${m.durationSec}.${String(m.durationNsec).padStart(9, '0')}s packets=${m.packetCount} bytes=${m.byteCount} match=${formatMatch(m.match)}`); break;
    case 'port_status': parts.push(`reason=${['ADD', 'DELETE', 'MODIFY'][m.reason] ?? m.reason} port=${m.desc.portNo} name=${m.desc.name} hw_addr=${m.desc.hwAddr} state=${hex(m.desc.state)}`); break;
    case 'packet_out': parts.push(`buffer=${hex(m.bufferId)} in_port=${formatPort(m.inPort)} actions=${formatActions(m.actions) || 'drop'} data_len=${m.data.length}`); break;
    case 'flow_mod':
      parts.push(`${FLOW_CMDS[m.command] ?? m.command} table=${m.tableId} priority=${m.priority} cookie=${hex(m.cookie)}`);
      if (m.cookieMask !== 0n) parts.push(`cookie_mask=${hex(m.cookieMask)}`);
      if (m.idleTimeout) parts.push(`idle_timeout=${m.idleTimeout}`);
      if (m.hardTimeout) parts.push(`hard_timeout=${m.hardTimeout}`);
      if (m.flags) parts.push(`flags=${hex(m.flags)}`);
      if (m.bufferId !== 0xffffffff) parts.push(`buffer=${hex(m.bufferId)}`);
      if (m.command >= 3) parts.push(`out_port=${formatPort(m.outPort)} out_group=${m.outGroup}`);
      parts.push(`match=${formatMatch(m.match)} instructions=${m.instructions.map(formatInstruction).join(',') || 'drop'}`);
      break;
    case 'group_mod': parts.push(`${MOD_CMDS[m.command] ?? m.command} group=${m.groupId} type=${m.groupType} buckets=${m.buckets.map((b) => `[weight=${b.weight},actions=${formatActions(b.actions)}]`).join('')}`); break;
    case 'port_mod': parts.push(`port=${m.portNo} hw_addr=${m.hwAddr} config=${hex(m.config)} mask=${hex(m.mask)} advertise=${hex(m.advertise)}`); break;
    case 'table_mod': parts.push(`table=${m.tableId} config=${m.config}`); break;
    case 'meter_mod': parts.push(`${MOD_CMDS[m.command] ?? m.command} meter=${m.meterId} flags=${hex(m.flags)} bands=${m.bands.map(formatBand).join(',')}`); break;
    case 'multipart_request': case 'multipart_reply': {
      const b = m.body;
      parts.push(b.kind);
      if (m.flags & 1) parts.push('more');
      if ('flows' in b) parts.push(`flows=${b.flows.length}`);
      else if ('tables' in b) parts.push(`tables=${b.tables.length}`);
      else if ('ports' in b) parts.push(`ports=${b.ports.length}`);
      else if ('queues' in b) parts.push(`queues=${b.queues.length}`);
      else if ('groups' in b) parts.push(`groups=${b.groups.length}`);
      else if ('meters' in b) parts.push(`meters=${b.meters.length}`);
      else if ('match' in b) parts.push(`table=${b.tableId} out_port=${formatPort(b.outPort)} match=${formatMatch(b.match)}`);
      else if ('portNo' in b) parts.push(`port=${formatPort(b.portNo)}`);
      else if ('packetCount' in b) parts.push(`packets=${b.packetCount} bytes=${b.byteCount} flows=${b.flowCount}`);
      else if ('mfrDesc' in b) parts.push(`mfr="${b.mfrDesc}" hw="${b.hwDesc}" sw="${b.swDesc}" dp="${b.dpDesc}"`);
      break;
    }
    case 'queue_get_config_request': parts.push(`port=${formatPort(m.port)}`); break;
    case 'queue_get_config_reply': parts.push(`port=${formatPort(m.port)} queues=${m.queues.map((q) => q.queueId).join(',')}`); break;
    case 'role_request': case 'role_reply': parts.push(`role=${ROLES[m.role] ?? m.role} generation_id=${m.generationId}`); break;
    case 'get_async_reply': case 'set_async': parts.push(`packet_in=${m.packetInMask.map(hex).join('/')} port_status=${m.portStatusMask.map(hex).join('/')} flow_removed=${m.flowRemovedMask.map(hex).join('/')}`); break;
    default: break;
  }
  return parts.join(' ');
}
