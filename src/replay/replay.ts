// The replay engine behind `sluice replay`: the real datapath over pcap/pcapng captures. Every
// port of the config becomes a memory port, input frames are merged by capture timestamp and
// injected on their port, and the clock is the captures' own, so token buckets are deterministic.
import { readCaptureFile, tsMsOf, PcapWriter, type CaptureRecord } from '../packet/capture.js';
import { MemoryPort } from '../datapath/ports/memory.js';
import type { SluiceConfig } from '../agent/config.js';
import { buildSwitch, pickBridge, type BuiltSwitch } from '../agent/build.js';

/** Ethernet, the only link type a port carries (pcap LINKTYPE_ETHERNET). */
const LINKTYPE_ETHERNET = 1;
/** After the last input frame, shaping queues get at most this long (capture time) to drain. */
const DRAIN_LIMIT_MS = 60_000;

export interface ReplayInput { port: string; file: string }
export interface PortSummary {
  port: string;
  ofport: number;
  in: number;
  out: number;
  drops: Record<string, number>;
}
export interface ReplayResult {
  built: BuiltSwitch;
  /** Frames each port transmitted, with the capture-clock time they left. */
  outputs: Map<string, Array<{ tsMs: number; frame: Buffer }>>;
  summary: PortSummary[];
  /** Capture-clock time of the first and last events. */
  startMs: number;
  endMs: number;
}

export class ReplayError extends Error {
  constructor(message: string, readonly code: string = 'SW_ERR_REPLAY') { super(message); }
}

/** Run the datapath over the inputs; throws ReplayError/CaptureError on bad input, never mid-run. */
/** Flow-cache mode of a replay: the configured default (megaflow), exact-key, or no cache at all. */
export type ReplayFlowCache = 'megaflow' | 'exact' | 'off';

export async function replay(config: SluiceConfig, inputs: ReplayInput[], opts: { bridge?: string; flowCache?: ReplayFlowCache } = {}): Promise<ReplayResult> {
  const bridgeName = pickBridge(config, opts.bridge);
  const memPorts = new Map<string, MemoryPort>();
  const built = buildSwitch(config, bridgeName, (name) => {
    const p = new MemoryPort(name);
    memPorts.set(name, p);
    return p;
  }, 0);

  // Validate every input before anything runs: unknown ports and bad captures are one-line errors.
  const records: Array<{ ts: number; seq: number; port: MemoryPort; rec: CaptureRecord }> = [];
  const injected = new Map<string, number>();
  let seq = 0;
  for (const input of inputs) {
    const port = memPorts.get(input.port);
    if (!port) {
      const known = [...memPorts.keys()].join(', ');
      throw new ReplayError(`--in ${input.port}=${input.file}: bridge ${bridgeName} has no port "${input.port}" (ports: ${known})`, 'SW_ERR_USAGE');
    }
    const recs = await readCaptureFile(input.file);
    for (const rec of recs) {
      if (rec.linkType !== LINKTYPE_ETHERNET) {
        throw new ReplayError(`${input.file}: frame ${seq + 1} has link type ${rec.linkType}; only Ethernet (1) can enter a port`, 'CAPTURE_LINKTYPE');
      }
      records.push({ ts: tsMsOf(rec), seq: seq++, port, rec });
    }
    injected.set(input.port, (injected.get(input.port) ?? 0) + recs.length);
  }
  records.sort((a, b) => a.ts - b.ts || a.seq - b.seq);

  const bridge = built.bridge;
  if (opts.flowCache !== undefined) {
    // Golden cases must not depend on the cache: test/pcap replays each in all three modes.
    bridge.exec.cacheEnabled = opts.flowCache !== 'off';
    bridge.exec.megaflow = opts.flowCache !== 'exact';
  }
  const startMs = records.length > 0 ? records[0].ts : 0;
  let now = startMs;
  for (const r of records) {
    runEventsBefore(bridge, now, r.ts);
    now = Math.max(now, r.ts);
    r.port.inject(r.rec.data);
    bridge.poll(now);
  }
  // Let shapers drain on the capture clock.
  now = runEventsBefore(bridge, now, now + DRAIN_LIMIT_MS + 1);

  const outputs = new Map<string, Array<{ tsMs: number; frame: Buffer }>>();
  const summary: PortSummary[] = [];
  for (const [name, port] of memPorts) {
    const sent = port.takeSent();
    outputs.set(name, sent);
    const ofport = bridge.portByName(name) ?? 0;
    const stats = bridge.portStats(ofport);
    const drops: Record<string, number> = { ...stats.drops };
    if (port.rxTooLong > 0) drops['too-long'] = port.rxTooLong;
    summary.push({ port: name, ofport, in: injected.get(name) ?? 0, out: sent.length, drops });
  }
  summary.sort((a, b) => a.ofport - b.ofport);
  return { built, outputs, summary, startMs, endMs: now };
}

/** Most timed events run between two input frames (a stuck shaper must not hang a replay). */
const MAX_EVENTS_BETWEEN_FRAMES = 1_000_000;

/**
 * Run the timed events (shaper releases) due before `untilMs`, in time order, on the capture
 * clock; the clock never moves backwards. Returns the clock after the last event.
 */
function runEventsBefore(bridge: BuiltSwitch['bridge'], nowMs: number, untilMs: number): number {
  for (let i = 0; i < MAX_EVENTS_BETWEEN_FRAMES; i++) {
    const next = bridge.nextEventMs(nowMs);
    if (!(next < untilMs)) break;            // also ends on Infinity (nothing pending)
    nowMs = Math.max(nowMs, next);
    bridge.poll(nowMs);
  }
  return nowMs;
}

/** Write each port's output as DIR/<port>.pcap (ports that sent nothing get an empty capture). */
export async function writeOutputs(result: ReplayResult, dir: string): Promise<string[]> {
  const { mkdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [name, frames] of result.outputs) {
    const w = new PcapWriter();
    for (const f of frames) w.add(f.tsMs, f.frame);
    const file = join(dir, `${name}.pcap`);
    await w.writeFile(file);
    files.push(file);
  }
  return files;
}
