// Decoded OpenFlow 1.3 messages: plain values in one discriminated union (OfpMessage) keyed by
// `type`. 64-bit quantities are bigint; MAC addresses in port structures are "aa:bb:.." strings.
// Nested variants (multipart bodies, bands, properties) are keyed by `kind`.
import type { Action, Instruction } from './actions.js';
import type { Match } from './oxm.js';

interface Base { xid: number }

export type HelloElement =
  | { kind: 'versionbitmap'; bitmaps: number[] }
  | { kind: 'unknown'; elemType: number; data: Buffer };
/** HELLO may carry any version; `version` is the header's. */
export interface Hello extends Base { type: 'hello'; version: number; elements: HelloElement[] }
/** ERROR; for errType OFPET_EXPERIMENTER, `code` is exp_type and `experimenter` is set. */
export interface ErrorMsg extends Base { type: 'error'; errType: number; code: number; experimenter?: number; data: Buffer }
export interface EchoRequest extends Base { type: 'echo_request'; data: Buffer }
export interface EchoReply extends Base { type: 'echo_reply'; data: Buffer }
export interface Experimenter extends Base { type: 'experimenter'; experimenter: number; expType: number; data: Buffer }
export interface FeaturesRequest extends Base { type: 'features_request' }
export interface FeaturesReply extends Base {
  type: 'features_reply'; datapathId: bigint; nBuffers: number; nTables: number; auxiliaryId: number;
  capabilities: number; reserved: number;
}
export interface GetConfigRequest extends Base { type: 'get_config_request' }
export interface GetConfigReply extends Base { type: 'get_config_reply'; flags: number; missSendLen: number }
export interface SetConfig extends Base { type: 'set_config'; flags: number; missSendLen: number }
export interface PacketIn extends Base {
  type: 'packet_in'; bufferId: number; totalLen: number; reason: number; tableId: number; cookie: bigint;
  match: Match; data: Buffer;
}
export interface FlowRemoved extends Base {
  type: 'flow_removed'; cookie: bigint; priority: number; reason: number; tableId: number;
  durationSec: number; durationNsec: number; idleTimeout: number; hardTimeout: number;
  packetCount: bigint; byteCount: bigint; match: Match;
}
/** ofp_port (64 bytes). */
export interface Port {
  portNo: number; hwAddr: string; name: string; config: number; state: number; curr: number;
  advertised: number; supported: number; peer: number; currSpeed: number; maxSpeed: number;
}
export interface PortStatus extends Base { type: 'port_status'; reason: number; desc: Port }
export interface PacketOut extends Base { type: 'packet_out'; bufferId: number; inPort: number; actions: Action[]; data: Buffer }
export interface FlowMod extends Base {
  type: 'flow_mod'; cookie: bigint; cookieMask: bigint; tableId: number; command: number;
  idleTimeout: number; hardTimeout: number; priority: number; bufferId: number; outPort: number;
  outGroup: number; flags: number; match: Match; instructions: Instruction[];
}
export interface Bucket { weight: number; watchPort: number; watchGroup: number; actions: Action[] }
export interface GroupMod extends Base { type: 'group_mod'; command: number; groupType: number; groupId: number; buckets: Bucket[] }
export interface PortMod extends Base { type: 'port_mod'; portNo: number; hwAddr: string; config: number; mask: number; advertise: number }
export interface TableMod extends Base { type: 'table_mod'; tableId: number; config: number }

export type MeterBand =
  | { kind: 'drop'; rate: number; burstSize: number }
  | { kind: 'dscp_remark'; rate: number; burstSize: number; precLevel: number }
  | { kind: 'experimenter'; rate: number; burstSize: number; experimenter: number; data: Buffer };
export interface MeterMod extends Base { type: 'meter_mod'; command: number; flags: number; meterId: number; bands: MeterBand[] }

export interface BarrierRequest extends Base { type: 'barrier_request' }
export interface BarrierReply extends Base { type: 'barrier_reply' }
export interface QueueGetConfigRequest extends Base { type: 'queue_get_config_request'; port: number }
export type QueueProperty =
  | { kind: 'min_rate'; rate: number }
  | { kind: 'max_rate'; rate: number }
  | { kind: 'experimenter'; experimenter: number; data: Buffer }
  | { kind: 'unknown'; property: number; data: Buffer };
export interface PacketQueue { queueId: number; port: number; properties: QueueProperty[] }
export interface QueueGetConfigReply extends Base { type: 'queue_get_config_reply'; port: number; queues: PacketQueue[] }
export interface RoleRequest extends Base { type: 'role_request'; role: number; generationId: bigint }
export interface RoleReply extends Base { type: 'role_reply'; role: number; generationId: bigint }
export interface GetAsyncRequest extends Base { type: 'get_async_request' }
/** Each mask is [master/equal, slave]. */
export interface AsyncConfig { packetInMask: [number, number]; portStatusMask: [number, number]; flowRemovedMask: [number, number] }
export interface GetAsyncReply extends Base, AsyncConfig { type: 'get_async_reply' }
export interface SetAsync extends Base, AsyncConfig { type: 'set_async' }

// ---- multipart ----
export interface FlowStatsRequestBody { tableId: number; outPort: number; outGroup: number; cookie: bigint; cookieMask: bigint; match: Match }
export interface ExperimenterBody { experimenter: number; expType: number; data: Buffer }

/** Action/instruction ids in table features: wire type plus any experimenter payload. */
export interface FeatureId { type: number; data?: Buffer }
export type TableFeatureProp =
  | { kind: 'instructions' | 'instructions_miss'; ids: FeatureId[] }
  | { kind: 'next_tables' | 'next_tables_miss'; tableIds: number[] }
  | { kind: 'write_actions' | 'write_actions_miss' | 'apply_actions' | 'apply_actions_miss'; ids: FeatureId[] }
  | { kind: 'match' | 'wildcards' | 'write_setfield' | 'write_setfield_miss' | 'apply_setfield' | 'apply_setfield_miss'; oxmIds: number[] }
  | { kind: 'experimenter' | 'experimenter_miss'; experimenter: number; expType: number; data: Buffer }
  | { kind: 'unknown'; propType: number; data: Buffer };
export interface TableFeatures {
  tableId: number; name: string; metadataMatch: bigint; metadataWrite: bigint; config: number;
  maxEntries: number; properties: TableFeatureProp[];
}

export type MultipartRequestBody =
  | { kind: 'desc' }
  | ({ kind: 'flow' } & FlowStatsRequestBody)
  | ({ kind: 'aggregate' } & FlowStatsRequestBody)
  | { kind: 'table' }
  | { kind: 'port_stats'; portNo: number }
  | { kind: 'queue'; portNo: number; queueId: number }
  | { kind: 'group'; groupId: number }
  | { kind: 'group_desc' }
  | { kind: 'group_features' }
  | { kind: 'meter'; meterId: number }
  | { kind: 'meter_config'; meterId: number }
  | { kind: 'meter_features' }
  | { kind: 'table_features'; tables: TableFeatures[] }
  | { kind: 'port_desc' }
  | ({ kind: 'experimenter' } & ExperimenterBody);

export interface FlowStats {
  tableId: number; durationSec: number; durationNsec: number; priority: number; idleTimeout: number;
  hardTimeout: number; flags: number; cookie: bigint; packetCount: bigint; byteCount: bigint;
  match: Match; instructions: Instruction[];
}
export interface TableStats { tableId: number; activeCount: number; lookupCount: bigint; matchedCount: bigint }
export interface PortStats {
  portNo: number; rxPackets: bigint; txPackets: bigint; rxBytes: bigint; txBytes: bigint;
  rxDropped: bigint; txDropped: bigint; rxErrors: bigint; txErrors: bigint; rxFrameErr: bigint;
  rxOverErr: bigint; rxCrcErr: bigint; collisions: bigint; durationSec: number; durationNsec: number;
}
export interface QueueStats { portNo: number; queueId: number; txBytes: bigint; txPackets: bigint; txErrors: bigint; durationSec: number; durationNsec: number }
export interface BucketCounter { packetCount: bigint; byteCount: bigint }
export interface GroupStats {
  groupId: number; refCount: number; packetCount: bigint; byteCount: bigint; durationSec: number;
  durationNsec: number; bucketStats: BucketCounter[];
}
export interface GroupDesc { groupType: number; groupId: number; buckets: Bucket[] }
export interface MeterBandStats { packetBandCount: bigint; byteBandCount: bigint }
export interface MeterStats {
  meterId: number; flowCount: number; packetInCount: bigint; byteInCount: bigint; durationSec: number;
  durationNsec: number; bandStats: MeterBandStats[];
}
export interface MeterConfig { flags: number; meterId: number; bands: MeterBand[] }

export type MultipartReplyBody =
  | { kind: 'desc'; mfrDesc: string; hwDesc: string; swDesc: string; serialNum: string; dpDesc: string }
  | { kind: 'flow'; flows: FlowStats[] }
  | { kind: 'aggregate'; packetCount: bigint; byteCount: bigint; flowCount: number }
  | { kind: 'table'; tables: TableStats[] }
  | { kind: 'port_stats'; ports: PortStats[] }
  | { kind: 'queue'; queues: QueueStats[] }
  | { kind: 'group'; groups: GroupStats[] }
  | { kind: 'group_desc'; groups: GroupDesc[] }
  | { kind: 'group_features'; types: number; capabilities: number; maxGroups: [number, number, number, number]; actions: [number, number, number, number] }
  | { kind: 'meter'; meters: MeterStats[] }
  | { kind: 'meter_config'; meters: MeterConfig[] }
  | { kind: 'meter_features'; maxMeter: number; bandTypes: number; capabilities: number; maxBands: number; maxColor: number }
  | { kind: 'table_features'; tables: TableFeatures[] }
  | { kind: 'port_desc'; ports: Port[] }
  | ({ kind: 'experimenter' } & ExperimenterBody);
export type MultipartKind = MultipartRequestBody['kind'];

/** `flags` carries OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE. */
export interface MultipartRequest extends Base { type: 'multipart_request'; flags: number; body: MultipartRequestBody }
export interface MultipartReply extends Base { type: 'multipart_reply'; flags: number; body: MultipartReplyBody }

export type OfpMessage =
  | Hello | ErrorMsg | EchoRequest | EchoReply | Experimenter | FeaturesRequest | FeaturesReply
  | GetConfigRequest | GetConfigReply | SetConfig | PacketIn | FlowRemoved | PortStatus | PacketOut
  | FlowMod | GroupMod | PortMod | TableMod | MultipartRequest | MultipartReply | BarrierRequest
  | BarrierReply | QueueGetConfigRequest | QueueGetConfigReply | RoleRequest | RoleReply
  | GetAsyncRequest | GetAsyncReply | SetAsync | MeterMod;
export type OfpMessageType = OfpMessage['type'];
/** The message variant for a given `type` name, e.g. MessageOf<'flow_mod'>. */
export type MessageOf<T extends OfpMessageType> = Extract<OfpMessage, { type: T }>;
