// Shared helpers for the datapath tests: flow specs, frames, a fake Limiter and a bridge with memory ports.
import { buildFrame } from '../../../src/packet/build.js';
import type { FrameSpec } from '../../../src/packet/build.js';
import type { Action, FlowSpec, Instructions, MatchSpec } from '../../../src/flow/types.js';
import { OFPP } from '../../../src/flow/types.js';
import type { Limiter } from '../../../src/qos/limiter.js';
import type { Packet } from '../../../src/packet/packet.js';
import type { Batch } from '../../../src/packet/batch.js';
import { Bridge } from '../../../src/datapath/bridge.js';
import type { BridgeOptions } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { PacketPool } from '../../../src/packet/pool.js';
import type { VlanPortConfig } from '../../../src/vlan/port-mode.js';

export function flow(p: Partial<FlowSpec> & { match?: MatchSpec; instructions?: Instructions }): FlowSpec {
  return { tableId: 0, priority: 100, match: [], instructions: {}, cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0, ...p };
}
export const out = (port: number): Action => ({ type: 'output', port });
export const apply = (...actions: Action[]): Instructions => ({ applyActions: actions });
export const IP = [{ field: 'eth_type' as const, value: 0x0800n }];
export const UDP = [...IP, { field: 'ip_proto' as const, value: 17n }];

export const MAC = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
export function udpFrame(src: number, dst: number, opts: { vid?: number; pcp?: number; sport?: number; dport?: number; ipDst?: string; ttl?: number; dstMac?: string } = {}): Buffer {
  const spec: FrameSpec = {
    dst: opts.dstMac ?? MAC(dst), src: MAC(src),
    vlans: opts.vid !== undefined ? [{ vid: opts.vid, pcp: opts.pcp ?? 0 }] : undefined,
    payload: { kind: 'ipv4', src: `10.0.0.${src}`, dst: opts.ipDst ?? `10.0.0.${dst}`, ttl: opts.ttl ?? 64, l4: { kind: 'udp', sport: opts.sport ?? 1000, dport: opts.dport ?? 2000, payload: new Uint8Array(18) } },
  };
  return buildFrame(spec);
}
export const BCAST = 'ff:ff:ff:ff:ff:ff';

/** A Limiter double: admits while `allow` is true, counts calls; shaping queues up to `queueMax`. */
export class FakeLimiter implements Limiter {
  calls = 0;
  allow = true;
  readonly queue: Packet[] = [];
  releaseAtMs = Infinity;
  constructor(readonly shaping = false, readonly queueMax = 4) {}
  admit(lenBytes: number, _nowMs: number): boolean { void lenBytes; this.calls++; return this.allow; }
  enqueue(pkt: Packet, _nowMs: number): boolean { this.calls++; if (this.queue.length >= this.queueMax) return false; this.queue.push(pkt); return true; }
  drain(nowMs: number, out: Batch): number {
    let n = 0;
    while (nowMs >= this.releaseAtMs && this.queue.length > 0 && out.count < out.pkts.length) { out.pkts[out.count++] = this.queue.shift()!; n++; }
    return n;
  }
  nextReleaseMs(nowMs: number): number { return this.queue.length === 0 ? Infinity : Math.max(nowMs, this.releaseAtMs); }
}

export interface TestBridge { br: Bridge; ports: MemoryPort[]; pool: PacketPool }
/** A bridge with memory ports 1..n (port i named p<i>), optional VLAN configs by ofport. */
export function makeBridge(n: number, vlans: Record<number, VlanPortConfig> = {}, opts: Partial<BridgeOptions> = {}): TestBridge {
  const pool = new PacketPool(256, 2048);
  const br = new Bridge({ name: 'br0', pool, ...opts });
  const ports: MemoryPort[] = [];
  for (let i = 1; i <= n; i++) {
    const mp = new MemoryPort(`p${i}`);
    ports.push(mp);
    br.addPort({ ofport: i, name: `p${i}`, backend: mp, vlan: vlans[i] });
  }
  return { br, ports, pool };
}
/** Inject `frame` on ofport `inPort` (1-based), poll once, return frames sent per port (index = ofport-1). */
export function send(t: TestBridge, inPort: number, frame: Uint8Array, nowMs = 0): Buffer[][] {
  t.ports[inPort - 1].inject(frame);
  t.br.poll(nowMs);
  return t.ports.map((p) => p.takeSent().map((s) => s.frame));
}
export { OFPP };
