// What the control thread (WorkerDatapath) and the datapath worker (datapath-worker.ts) say to
// each other: calls in through a SharedRing (each with a sequence number; 0 = no reply wanted),
// replies in the same order, and events out. All of it structured-cloneable. The shared Int32Array holds
// the counters both sides read without a message (SHARED indices).
import type { FlowStats } from '../datapath/pipeline.js';
import type { PortStatusEvent } from '../datapath/ports/io-counters.js';
import type { MessagePort } from 'node:worker_threads';

/** Indices into the shared Int32Array. */
export const SHARED = {
  /** PACKET_INs posted by the worker and not yet taken by the control thread. */
  PacketInInFlight: 0,
  /** PACKET_INs dropped because PacketInInFlight was at its bound (a counter). */
  PacketInDropped: 1,
  /** 1 once the worker has closed every port. */
  Stopped: 2,
  /** Set by the control thread after writing calls to the ring: the worker takes them before its next batch. */
  Pending: 3,
  /** Set by the control thread when a call did not fit in the ring: the worker posts 'space' once it has freed some. */
  RingWaiting: 4,
  LENGTH: 5,
} as const;

export interface WorkerInit {
  config: unknown;
  bridge: string;
  logLevel: string;
  shared: SharedArrayBuffer;
  /** The bridge's counters (CounterArena): written by the worker, read by the control thread. */
  counters: SharedArrayBuffer;
  packetInMax: number;
  /** The calls, control -> worker (SharedRing of v8-serialized Call records, in order). */
  ring: SharedArrayBuffer;
  /** The worker's end of the control channel: doorbells in (wake an idle worker); replies and events out. */
  port: MessagePort;
}

export interface Call { id: number; m: string; a: unknown[] }
export interface Reply { id: number; v?: unknown; e?: { name: string; message: string; port?: string; device?: string; reason?: string } }

export type ToControl =
  | { t: 'ready' }
  | { t: 'replies'; r: Reply[] }
  | { t: 'space' }
  | { t: 'pin'; data: Uint8Array; totalLen: number; inPort: number; reason: number; tableId: number; cookie: bigint; tunnelId: number; tunSrc: number }
  | { t: 'frem'; st: FlowStats; reason: number }
  | { t: 'port'; name: string; ev: PortStatusEvent }
  | { t: 'log'; line: string };
