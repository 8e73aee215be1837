// Entry point of the datapath worker thread (started by WorkerDatapath, worker-datapath.ts): a
// DatapathCore with the real port backends and the live loop, whose port fds are polled by this
// thread's own libuv loop, so the runner's moderation sleep and a long pass block only this thread.
// Changes from the control side arrive as records in a SharedRing (shared-ring.ts); they are taken
// one at a time and applied in order between poll passes, at most DRAIN_BUDGET_MS of them per turn,
// so a burst of 10,000 FLOW_MODs never stops forwarding for long. Results go back in the same order.
import { setPriority } from 'node:os';
import { deserialize } from 'node:v8';
import { workerData } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { DatapathCore, defaultBackend } from './datapath-core.js';
import type { SluiceConfig } from './config.js';
import { CounterArena } from '../datapath/counters.js';
import { SharedRing } from './shared-ring.js';
import { SHARED, type Call, type Reply, type ToControl, type WorkerInit } from './worker-protocol.js';

/** Longest stretch of control work per event-loop turn before the poll passes get their turn. */
export const DRAIN_BUDGET_MS = 0.5;

const init = workerData as WorkerInit;
const port = init.port;
const shared = new Int32Array(init.shared);

// Log records go to the main thread, which writes them through its own logger (one destination).
const log = pino({ level: init.logLevel, base: undefined, timestamp: false }, { write(line: string) { post({ t: 'log', line }); } });
function post(m: ToControl): void { port.postMessage(m); }

// SLUICE_DATAPATH_NICE=-5: this thread (and only it: Linux setpriority(0) is per thread) runs at a
// higher priority than the control thread, so on a busy machine the scheduler preempts in favour of
// forwarding (needs CAP_SYS_NICE for a negative value). Experimental; unset by default.
const nice = process.env.SLUICE_DATAPATH_NICE;
if (nice !== undefined && nice !== '') {
  try { setPriority(0, Number(nice)); } catch (e) { log.warn({ err: (e as Error).message, nice }, 'cannot set the datapath thread priority'); }
}

const core = DatapathCore.fromConfig(init.config as SluiceConfig, init.bridge, defaultBackend, log, new CounterArena(init.counters));
core.events = {
  packetIn(data, totalLen, inPort, reason, tableId, cookie, tunnelId, tunSrc) {
    // Bounded like Open vSwitch's pinsched: at most PACKET_IN_MAX in flight to the control side; the rest counted.
    if (Atomics.load(shared, SHARED.PacketInInFlight) >= init.packetInMax) { Atomics.add(shared, SHARED.PacketInDropped, 1); return; }
    Atomics.add(shared, SHARED.PacketInInFlight, 1);
    post({ t: 'pin', data: data.slice(), totalLen, inPort, reason, tableId, cookie, tunnelId, tunSrc });   // slice: copy only the frame, not the pool's buffer
  },
  flowRemoved(st, reason) { post({ t: 'frem', st, reason }); },
  portStatus(name, ev) { post({ t: 'port', name, ev }); },
};

// How long this thread's loop was kept from turning (a poll pass with its moderation sleeps, a drain
// chunk, a GC): reported with stats() as loop-delay-max-us / loop-delay-p99-us since the last read.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
/** Longest drain chunk (control work in one turn) since the last stats(), in µs. */
let drainMaxUs = 0;

const ring = new SharedRing(init.ring);
let scheduled = false;
let busy = false;
const replies: Reply[] = [];
/** Most calls taken in one drain chunk since the last stats(). */
let batchMax = 0;

// Idle: the doorbell (a message) wakes this thread's loop (epoll) and the calls are applied at once,
// in this callback (no setImmediate hop: a PACKET_OUT answering a PACKET_IN leaves now).
port.on('message', pump);

// Busy: the runner calls bridge.poll() once per batch and may stay in its pass (moderation sleeps
// included) for a few ms; calls written meanwhile (the Pending flag says so, one load per batch) are
// taken from the ring there, between two batches, within the budget.
let draining = false;
const realPoll = core.bridge.poll.bind(core.bridge);
core.bridge.poll = (nowMs: number): number => {
  if (Atomics.load(shared, SHARED.Pending) !== 0 && !draining) pump();
  return realPoll(nowMs);
};
function pump(): void {
  Atomics.store(shared, SHARED.Pending, 0);
  if (!busy) drain();
}

/** The next call in the ring, or null. A copy is decoded: a decoded byte array must not alias the ring. */
function nextCall(): Call | null {
  const rec = ring.peek();
  if (rec === null) return null;
  const c = deserialize(Buffer.from(rec)) as Call;
  ring.release();
  return c;
}

function schedule(): void {
  if (scheduled || busy) return;
  scheduled = true;
  setImmediate(drain);
}

/** Apply queued calls in order for at most DRAIN_BUDGET_MS; an async one (a device opening) is awaited before the next. */
function drain(): void {
  scheduled = false;
  if (draining) return;
  draining = true;
  try { drainChunk(); } finally { draining = false; }
}

function drainChunk(): void {
  const t0 = performance.now();
  let n = 0;
  let more = false;
  for (let c = nextCall(); c !== null; c = nextCall()) {
    n++;
    let r: unknown;
    try {
      r = invoke(c);
    } catch (e) {
      reply(c, undefined, e);
      continue;
    }
    if (r instanceof Promise) {
      busy = true;
      const call = c;
      r.then((v) => reply(call, v, undefined), (e: unknown) => reply(call, undefined, e)).finally(() => { busy = false; flush(); schedule(); });
      flush();
      return;
    }
    reply(c, r, undefined);
    if (performance.now() - t0 >= DRAIN_BUDGET_MS) { more = ring.used > 0; break; }
  }
  const us = (performance.now() - t0) * 1000;
  if (us > drainMaxUs) drainMaxUs = us;
  if (n > batchMax) batchMax = n;
  flush();
  if (more) schedule();
}

function invoke(c: Call): unknown {
  if (c.m === 'sync') return undefined;
  if (c.m === 'stats') {
    const s = core.stats();
    s.exec['loop-delay-max-us'] = Math.round(loopDelay.max / 1000);
    s.exec['loop-delay-p99-us'] = Math.round(loopDelay.percentile(99) / 1000);
    s.exec['drain-max-us'] = Math.round(drainMaxUs);
    s.exec['batch-max'] = batchMax;
    loopDelay.reset(); drainMaxUs = 0; batchMax = 0;
    return s;
  }
  if (c.m === 'stop') return core.stop().then(() => { Atomics.store(shared, SHARED.Stopped, 1); });
  const f = (core as unknown as Record<string, (...a: unknown[]) => unknown>)[c.m];
  if (typeof f !== 'function') throw new Error(`datapath worker: no method ${c.m}`);
  return f.apply(core, c.a);
}

function reply(c: Call, v: unknown, e: unknown): void {
  if (c.id === 0) {
    if (e !== undefined) log.error({ err: e, method: c.m }, 'datapath call failed');
    return;
  }
  if (e === undefined) { replies.push({ id: c.id, v }); return; }
  const err = e as { name?: string; message?: string; port?: string; device?: string; reason?: string };
  replies.push({ id: c.id, e: { name: err.name ?? 'Error', message: err.message ?? String(e), port: err.port, device: err.device, reason: err.reason } });
}

function flush(): void {
  if (replies.length !== 0) post({ t: 'replies', r: replies.splice(0) });
  // The control thread holds calls that did not fit: tell it the ring has room again.
  if (Atomics.load(shared, SHARED.RingWaiting) !== 0 && Atomics.exchange(shared, SHARED.RingWaiting, 0) !== 0) post({ t: 'space' });
}

post({ t: 'ready' });
