// Intent + what we know of one switch -> the flows, groups and meters it should hold (a pure
// function: the same inputs give byte-identical objects, in a sorted order). The pipeline it
// builds is documented as a table in ./README.md; table numbers and priorities live here only.
import { OFPP, FlowFlags, GroupType } from '../flow/types.js';
import type { Action, FieldName, FlowSpec, GroupSpec, Instructions, MatchSpec } from '../flow/types.js';
import type { MeterBand } from '../openflow/index.js';
import { OFPMF } from '../openflow/index.js';
import { defaultBurst, parseRate, parseSize } from '../qos/units.js';
import { Category, cookie } from './cookies.js';
import type { Intent, Network } from './intent.js';
import { ETH_TYPE_LLDP } from '../packet/lldp.js';

export const TABLE = { CLASSIFY: 0, ETH_SRC: 1, ETH_DST: 2, FLOOD: 3, EGRESS: 4 } as const;
export const PRIO = { LLDP: 300, PORT: 100, LEARNED: 100, LEARN_BAN: 50, MISS: 0 } as const;
/** Bytes of a frame a learning PACKET_IN carries (headers only: MACs and the tag). */
export const LEARN_MAX_LEN = 128;
const VID_PRESENT = 0x1000;
/** Group id of a network's flood group for frames from the tunnel (local ports only): this + vid. */
export const TUNNEL_GROUP = 0x10000;

export interface MeterSpec { meterId: number; flags: number; bands: MeterBand[] }

/** A MAC the controller learned (or adopted from the switch) on one switch; `vtep` (IPv4) when it sits behind the tunnel port. */
export interface LearnedMac { vid: number; mac: bigint; port: number; vtep?: number }

/** A switch's VXLAN tunnel port (a `vni: flow`, `remote: flow` port) and its underlay address (IPv4 as a number). */
export interface TunnelEndpoint { port: number; vtep: number }

/** What compile needs to know of one switch. */
export interface SwitchView {
  /** The names attachments may use for it: its dp_desc and its datapath id (16 hex digits). */
  names: readonly string[];
  /** Port name -> OpenFlow port number (from PORT_DESC). */
  ports: ReadonlyMap<string, number>;
  /** Ports that are trunks to other switches (LLDP); `blocked` ones are off the spanning tree. */
  trunks: readonly { port: number; blocked: boolean }[];
  learned: readonly LearnedMac[];
  /** Ports whose MAC learning is paused by the PACKET_IN rate limit. */
  bans: readonly number[];
  /** Its tunnel port, if it has one the controller can use. */
  tunnel?: TunnelEndpoint | null;
  /** Per network (by name): the VTEPs of the other switches with an attachment to it, ascending. */
  remoteVteps?: ReadonlyMap<string, readonly number[]>;
}

export interface CompileContext {
  meterIds: Readonly<Record<string, number>>;
  /**
   * Channel -> this switch's part of its rate, per second in the channel's unit (bits or packets):
   * the whole rate when the switch is the channel's only one, else its share (src/controller/split.ts).
   * A channel missing here gets its whole rate.
   */
  channelShares: ReadonlyMap<string, number>;
  macAgingS: number;
  /** Seconds a learning ban lasts (hard timeout of its flow). */
  banS: number;
}

export interface Desired {
  flows: Map<string, FlowSpec>;
  groups: Map<number, GroupSpec>;
  meters: Map<number, MeterSpec>;
}

const FIELD_RANK = new Map<string, number>(
  ['in_port', 'tunnel_id', 'tun_ipv4_src', 'metadata', 'eth_type', 'vlan_vid', 'eth_src', 'eth_dst'].map((f, i) => [f, i]),
);

/** The identity of a flow in a table: table, priority and match (fields in a fixed order). */
export function flowKey(f: { tableId: number; priority: number; match: MatchSpec }): string {
  const parts = f.match.map((m) => `${m.field}=${m.value.toString(16)}${m.mask === undefined ? '' : '/' + m.mask.toString(16)}`);
  parts.sort();
  return `${f.tableId}|${f.priority}|${parts.join(',')}`;
}

function match(...fields: [FieldName, number | bigint][]): MatchSpec {
  const out = fields.map(([field, v]) => ({ field, value: BigInt(v) }));
  out.sort((a, b) => (FIELD_RANK.get(a.field) ?? 99) - (FIELD_RANK.get(b.field) ?? 99));
  return out;
}

function flow(tableId: number, priority: number, m: MatchSpec, instructions: Instructions, ck: bigint, extra: Partial<FlowSpec> = {}): FlowSpec {
  return { tableId, priority, match: m, instructions, cookie: ck, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0, ...extra };
}

const tagVid = (vid: number): number => VID_PRESENT | vid;

/**
 * The flows a learned MAC needs: its source entry (ages, tells us when) and its destination entry.
 * Behind the tunnel port the source entry also matches the VTEP it came from (so a move to another
 * VTEP misses and is learned again) and the destination entry sets tun_dst to it.
 */
export function learnedFlows(l: LearnedMac, macAgingS: number): [FlowSpec, FlowSpec] {
  const srcMatch = l.vtep === undefined
    ? match(['in_port', l.port], ['vlan_vid', tagVid(l.vid)], ['eth_src', l.mac])
    : match(['in_port', l.port], ['tun_ipv4_src', l.vtep], ['vlan_vid', tagVid(l.vid)], ['eth_src', l.mac]);
  const src = flow(TABLE.ETH_SRC, PRIO.LEARNED, srcMatch,
    { gotoTable: TABLE.ETH_DST }, cookie(Category.LEARNED_SRC, l.vid), { idleTimeoutS: macAgingS, flags: FlowFlags.SEND_FLOW_REM });
  const dstIns: Instructions = { writeMetadata: { value: BigInt(l.port), mask: 0xffff_ffffn }, gotoTable: TABLE.EGRESS };
  if (l.vtep !== undefined) dstIns.applyActions = [{ type: 'set_field', field: 'tun_ipv4_dst', value: BigInt(l.vtep) }];
  const dst = flow(TABLE.ETH_DST, PRIO.LEARNED, match(['vlan_vid', tagVid(l.vid)], ['eth_dst', l.mac]), dstIns, cookie(Category.LEARNED_DST, l.vid));
  return [src, dst];
}

export function banFlow(port: number, banS: number): FlowSpec {
  return flow(TABLE.ETH_SRC, PRIO.LEARN_BAN, match(['in_port', port]), { gotoTable: TABLE.ETH_DST }, cookie(Category.LEARN_BAN, port), { hardTimeoutS: banS });
}

/**
 * Meter of a channel on one switch: its part of the rate (`sharePerSec`, default the whole rate),
 * drop band, burst as configured or 10 ms of the part.
 */
export function meterFor(meterId: number, rateText: string, burstText: string | undefined, sharePerSec?: number): MeterSpec {
  const rate = parseRate(rateText);
  const share = { unit: rate.unit, perSec: sharePerSec ?? rate.perSec };
  const burst = burstText === undefined ? defaultBurst(share) : parseSize(burstText);
  if (share.unit === 'pkt') {
    return { meterId, flags: OFPMF.PKTPS | OFPMF.BURST | OFPMF.STATS, bands: [{ kind: 'drop', rate: Math.max(1, Math.round(share.perSec)), burstSize: Math.max(1, Math.round(burst.amount)) }] };
  }
  const rateKbps = Math.max(1, Math.round(share.perSec / 1000));
  const burstKbit = Math.max(1, Math.ceil((burst.amount * 8) / 1000));
  return { meterId, flags: OFPMF.KBPS | OFPMF.BURST | OFPMF.STATS, bands: [{ kind: 'drop', rate: rateKbps, burstSize: burstKbit }] };
}

/**
 * The objects one switch should hold. Attachments name the switch by dp_desc or datapath id and
 * the port by name; an attachment whose port the switch does not (yet) have compiles to nothing.
 */
export function compile(intent: Intent, sw: SwitchView, ctx: CompileContext): Desired {
  const flows = new Map<string, FlowSpec>();
  const groups = new Map<number, GroupSpec>();
  const meters = new Map<number, MeterSpec>();
  const add = (f: FlowSpec): void => { flows.set(flowKey(f), f); };
  const carry = carriers(intent, sw);

  // Base: LLDP to the controller (never from a VM's port); table misses drop (learning misses go up).
  add(flow(TABLE.CLASSIFY, PRIO.LLDP, match(['eth_type', ETH_TYPE_LLDP]), { applyActions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 0xffff }] }, cookie(Category.BASE, 0)));
  add(flow(TABLE.CLASSIFY, PRIO.MISS, [], {}, cookie(Category.BASE, 0)));
  add(flow(TABLE.ETH_SRC, PRIO.MISS, [], { applyActions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: LEARN_MAX_LEN }], gotoTable: TABLE.ETH_DST }, cookie(Category.BASE, 1)));
  add(flow(TABLE.ETH_DST, PRIO.MISS, [], { gotoTable: TABLE.FLOOD }, cookie(Category.BASE, 2)));
  add(flow(TABLE.FLOOD, PRIO.MISS, [], {}, cookie(Category.BASE, 3)));
  add(flow(TABLE.EGRESS, PRIO.MISS, [], {}, cookie(Category.BASE, 4)));

  // Access ports of this switch: tagged with their network's VLAN on the way in, untagged out.
  for (const [port, a] of carry.attached) {
    const ins: Instructions = {
      applyActions: [{ type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: BigInt(tagVid(a.vid)) }],
      gotoTable: TABLE.ETH_SRC,
    };
    if (a.channel !== undefined) {
      const id = ctx.meterIds[a.channel];
      const ch = intent.channels.find((c) => c.name === a.channel);
      if (id !== undefined && ch !== undefined) {
        ins.meter = id;
        if (!meters.has(id)) meters.set(id, meterFor(id, ch.rate, ch.burst, ctx.channelShares.get(ch.name)));
      }
    }
    add(flow(TABLE.CLASSIFY, PRIO.LLDP + 1, match(['in_port', port], ['eth_type', ETH_TYPE_LLDP]), {}, cookie(Category.ACCESS, port)));
    add(flow(TABLE.CLASSIFY, PRIO.PORT, match(['in_port', port], ['vlan_vid', 0]), ins, cookie(Category.ACCESS, port)));
    add(flow(TABLE.EGRESS, PRIO.PORT, match(['metadata', port], ['vlan_vid', tagVid(a.vid)]),
      { applyActions: [{ type: 'pop_vlan' }, { type: 'output', port }] }, cookie(Category.EGRESS, port)));
  }

  // Trunks carry every network's VLAN, tagged; blocked ones (off the spanning tree) carry nothing.
  const trunks = carry.trunks;
  for (const t of trunks) {
    for (const n of intent.networks) {
      add(flow(TABLE.CLASSIFY, PRIO.PORT, match(['in_port', t], ['vlan_vid', tagVid(n.vid)]), { gotoTable: TABLE.ETH_SRC }, cookie(Category.TRUNK, (t * 4096) + n.vid)));
    }
    add(flow(TABLE.EGRESS, PRIO.PORT, match(['metadata', t]), { applyActions: [{ type: 'output', port: t }] }, cookie(Category.EGRESS, t)));
  }

  // VXLAN: a network with a vni rides the tunnel port. In: its VNI becomes its VLAN; out: the VLAN
  // becomes its VNI (tun_dst set by the learned destination entry or the flood bucket).
  const tun = carry.tunnel;
  if (tun !== null) {
    for (const n of intent.networks) {
      if (n.vni === undefined) continue;
      add(flow(TABLE.CLASSIFY, PRIO.PORT, match(['in_port', tun.port], ['tunnel_id', n.vni]),
        { applyActions: [{ type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: BigInt(tagVid(n.vid)) }], gotoTable: TABLE.ETH_SRC },
        cookie(Category.TUNNEL, n.vni)));
      add(flow(TABLE.EGRESS, PRIO.PORT, match(['metadata', tun.port], ['vlan_vid', tagVid(n.vid)]),
        { applyActions: [{ type: 'pop_vlan' }, { type: 'set_field', field: 'tunnel_id', value: BigInt(n.vni) }, { type: 'output', port: tun.port }] },
        cookie(Category.TUNNEL, n.vni)));
    }
  }

  // One flood group per network present here: its access ports (untagged), the trunks (tagged) and
  // the other VTEPs hosting it (head-end replication). Frames that came from the tunnel use a second
  // group without the VTEPs (split horizon: the sender replicated to every VTEP itself).
  const members = new Map<number, number[]>();   // vid -> access ports, ascending
  for (const [port, vid] of [...carry.access].sort((x, y) => x[0] - y[0])) (members.get(vid) ?? members.set(vid, []).get(vid)!).push(port);
  const bucket = (actions: Action[]): GroupSpec['buckets'][number] => ({ weight: 0, watchPort: OFPP.ANY, watchGroup: 0xffffffff, actions });
  for (const n of intent.networks) {
    const ports = members.get(n.vid) ?? [];
    const vteps = tun !== null && n.vni !== undefined ? sw.remoteVteps?.get(n.name) ?? [] : [];
    const local = [
      ...ports.map((p) => bucket([{ type: 'pop_vlan' }, { type: 'output', port: p }])),
      ...trunks.map((t) => bucket([{ type: 'output', port: t }])),
    ];
    if (tun !== null && n.vni !== undefined) {
      // nothing local to flood to: the frame stops here (never back into the tunnel)
      let ins: Instructions = {};
      if (local.length > 0) {
        groups.set(TUNNEL_GROUP + n.vid, { groupId: TUNNEL_GROUP + n.vid, type: GroupType.ALL, buckets: local });
        ins = { applyActions: [{ type: 'group', groupId: TUNNEL_GROUP + n.vid }] };
      }
      add(flow(TABLE.FLOOD, PRIO.PORT + 1, match(['in_port', tun.port], ['vlan_vid', tagVid(n.vid)]), ins, cookie(Category.TUNNEL, n.vni)));
    }
    if (ports.length + trunks.length + vteps.length === 0) continue;
    const remote = vteps.map((v) => bucket([{ type: 'pop_vlan' }, { type: 'set_field', field: 'tunnel_id', value: BigInt(n.vni!) }, { type: 'set_field', field: 'tun_ipv4_dst', value: BigInt(v) }, { type: 'output', port: tun!.port }]));
    groups.set(n.vid, { groupId: n.vid, type: GroupType.ALL, buckets: [...local, ...remote] });
    add(flow(TABLE.FLOOD, PRIO.PORT, match(['vlan_vid', tagVid(n.vid)]), { applyActions: [{ type: 'group', groupId: n.vid }] }, cookie(Category.FLOOD, n.vid)));
  }

  // Learned MACs, where their port still carries their VLAN.
  for (const l of sw.learned) if (learnedValid(carry, l)) for (const f of learnedFlows(l, ctx.macAgingS)) add(f);
  for (const p of sw.bans) if (carry.access.has(p) || carry.trunkSet.has(p)) add(banFlow(p, ctx.banS));

  return { flows: sortedMap(flows), groups: sortedMap(groups), meters: sortedMap(meters) };
}

function sortedMap<K extends string | number, V>(m: Map<K, V>): Map<K, V> {
  return new Map([...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** Which ports carry which VLANs on a switch: access ports one each, trunks on the tree all. */
export interface Carriers {
  /** Access port -> its network's vid. */
  access: Map<number, number>;
  /** Access port -> the attachment that won it (one per port: see carriers()). */
  attached: Map<number, { vid: number; channel?: string }>;
  trunks: number[];
  trunkSet: Set<number>;
  vids: Set<number>;
  networkOf: Map<number, string>;
  /** Attachments that name a port another attachment already holds (dp_desc vs dpid spellings). */
  conflicts: string[];
  /** The tunnel port, when the switch has one and some network has a vni. */
  tunnel: TunnelEndpoint | null;
  /** vids of the networks with a vni (the ones the tunnel carries). */
  tunnelVids: Set<number>;
}
export function carriers(intent: Intent, sw: Pick<SwitchView, 'names' | 'ports' | 'trunks' | 'tunnel'>): Carriers {
  const netByName = new Map<string, Network>(intent.networks.map((n) => [n.name, n]));
  const names = new Set(sw.names);
  const access = new Map<number, number>();
  const attached = new Map<number, { vid: number; channel?: string }>();
  const conflicts: string[] = [];
  // Attachments are in canonical order, so when one port is attached twice (once by dp_desc, once
  // by datapath id) the same one always wins; the other compiles to nothing.
  for (const a of intent.attachments) {
    if (!names.has(a.switch)) continue;
    const port = sw.ports.get(a.port), net = netByName.get(a.network);
    if (port === undefined || net === undefined) continue;
    if (access.has(port)) { conflicts.push(`${a.switch}:${a.port}`); continue; }
    access.set(port, net.vid);
    attached.set(port, a.channel === undefined ? { vid: net.vid } : { vid: net.vid, channel: a.channel });
  }
  const tunnelVids = new Set(intent.networks.filter((n) => n.vni !== undefined).map((n) => n.vid));
  const tunnel = sw.tunnel !== undefined && sw.tunnel !== null && tunnelVids.size > 0 && !access.has(sw.tunnel.port) ? sw.tunnel : null;
  const trunks = sw.trunks.filter((t) => !t.blocked && !access.has(t.port) && t.port !== tunnel?.port).map((t) => t.port).sort((x, y) => x - y);
  return {
    access, attached, trunks, trunkSet: new Set(trunks), conflicts, tunnel, tunnelVids,
    vids: new Set(intent.networks.map((n) => n.vid)), networkOf: new Map(intent.networks.map((n) => [n.vid, n.name])),
  };
}

/** Is a learned entry still valid (its port carries its VLAN)? Used to adopt or drop entries read back. */
export function learnedValid(c: Carriers, l: LearnedMac): boolean {
  const acc = c.access.get(l.port);
  if (acc !== undefined) return acc === l.vid && l.vtep === undefined;
  if (c.tunnel !== null && l.port === c.tunnel.port) return l.vtep !== undefined && c.tunnelVids.has(l.vid);
  return c.trunkSet.has(l.port) && c.vids.has(l.vid);
}
