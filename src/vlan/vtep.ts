// The VTEP table of a VXLAN tunnel port: the remote tunnel endpoints it knows (configured and
// learned), the flood list of each VNI (head-end replication), and which remote VTEP each inner MAC
// was last seen behind, per VNI, learned from decapsulated frames and aged like the MAC table
// (the Linux vxlan device's FDB in learning mode). A VTEP marked down (BFD) leaves the flood
// lists and loses its MACs until it is up again. Hot path (learn, lookup): no allocation.
import { formatTunnelAddr } from './vxlan-encap.js';
import type { TunnelAddr } from './vxlan-encap.js';

export const DEFAULT_VTEP_MACS = 8192;
export const DEFAULT_VTEP_AGING_MS = 300_000;

/** A learned (VNI, MAC) -> VTEP entry as `sluice fdb`-like listings show it (cold path). */
export interface VtepMacEntry { vni: number; mac: number; vtep: string; ageS: number }

export class VtepTable {
  /** Remote endpoints by index (never removed: indices stay valid in flood lists and slots). */
  readonly vteps: TunnelAddr[] = [];
  /** 1 while a VTEP may be used (BFD up, or no BFD), by index. */
  private alive = new Uint8Array(16);
  private readonly byV4 = new Map<number, number>();
  /** IPv6 endpoints by a hash of their words (verified on lookup). */
  private readonly byV6 = new Map<number, number>();
  /** Flood list of each VNI (VTEP indices, configured order); VNIs not listed use `defaultFlood`. */
  private readonly flood = new Map<number, number[]>();
  private defaultFlood: number[] = [];
  /** Learned MACs: per VNI, MAC -> slot. */
  private readonly macs = new Map<number, Map<number, number>>();
  private readonly slotVtep: Int32Array;
  private readonly slotSeenMs: Float64Array;
  private readonly slotVni: Int32Array;
  private readonly slotMac: Float64Array;
  private readonly freeSlots: number[] = [];
  /** Counters: learned (new entries), moved (MAC seen behind another VTEP), evicted (table full), aged. */
  learned = 0; moved = 0; evicted = 0; aged = 0;

  constructor(readonly capacity = DEFAULT_VTEP_MACS, public agingMs = DEFAULT_VTEP_AGING_MS) {
    this.slotVtep = new Int32Array(capacity);
    this.slotSeenMs = new Float64Array(capacity);
    this.slotVni = new Int32Array(capacity);
    this.slotMac = new Float64Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.freeSlots.push(i);
  }

  /** Index of a VTEP, adding it (alive) if new. */
  intern(a: TunnelAddr): number {
    const found = this.find(a.family, a.w0, a.w1, a.w2, a.w3);
    if (found >= 0) return found;
    const i = this.vteps.length;
    this.vteps.push(a);
    if (i >= this.alive.length) { const n = new Uint8Array(this.alive.length * 2); n.set(this.alive); this.alive = n; }
    this.alive[i] = 1;
    if (a.family === 4) this.byV4.set(a.w0, i); else if (!this.byV6.has(v6Hash(a.w0, a.w1, a.w2, a.w3))) this.byV6.set(v6Hash(a.w0, a.w1, a.w2, a.w3), i);
    return i;
  }

  /** Index of a known VTEP, or -1. Hot path (a datagram's sender): no allocation. */
  find(family: number, w0: number, w1: number, w2: number, w3: number): number {
    if (family === 4) return this.byV4.get(w0 >>> 0) ?? -1;
    const i = this.byV6.get(v6Hash(w0, w1, w2, w3));
    if (i !== undefined && same(this.vteps[i], w0, w1, w2, w3)) return i;
    for (let k = 0; k < this.vteps.length; k++) if (this.vteps[k].family === 6 && same(this.vteps[k], w0, w1, w2, w3)) return k;
    return -1;
  }

  /** The sender of a datagram as a VTEP index, interned (with its text made once) when first seen. */
  internWords(family: number, w0: number, w1: number, w2: number, w3: number): number {
    const i = this.find(family, w0, w1, w2, w3);
    if (i >= 0) return i;
    const f = family === 4 ? 4 : 6;
    return this.intern({ family: f, w0: w0 >>> 0, w1: w1 >>> 0, w2: w2 >>> 0, w3: w3 >>> 0, text: formatTunnelAddr(f, w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0) });
  }

  isAlive(i: number): boolean { return this.alive[i] === 1; }

  /** Mark a VTEP up or down; down flushes every MAC learned behind it. Returns the MACs flushed. */
  setAlive(i: number, up: boolean): number {
    this.alive[i] = up ? 1 : 0;
    return up ? 0 : this.flushVtep(i);
  }

  /** The flood list of `vni` (or of every VNI without one of its own, when vni is -1). */
  setFlood(vni: number, vteps: number[]): void {
    if (vni < 0) this.defaultFlood = [...vteps]; else this.flood.set(vni, [...vteps]);
  }

  /** VTEPs a frame of `vni` with an unknown destination goes to (down ones are skipped by the caller via isAlive). */
  floodList(vni: number): readonly number[] { return this.flood.get(vni) ?? this.defaultFlood; }

  /** Learn (or refresh, or move) `mac` of `vni` behind VTEP `vtep`. */
  learn(vni: number, mac: number, vtep: number, nowMs: number): void {
    let m = this.macs.get(vni);
    if (m === undefined) { m = new Map(); this.macs.set(vni, m); }
    const s = m.get(mac);
    if (s !== undefined) {
      if (this.slotVtep[s] !== vtep) { this.slotVtep[s] = vtep; this.moved++; }
      this.slotSeenMs[s] = nowMs;
      return;
    }
    let slot = this.freeSlots.pop();
    if (slot === undefined) slot = this.evictFrom(m, nowMs);
    this.slotVtep[slot] = vtep; this.slotSeenMs[slot] = nowMs; this.slotVni[slot] = vni; this.slotMac[slot] = mac;
    m.set(mac, slot);
    this.learned++;
  }

  /** The VTEP `mac` of `vni` was last seen behind, or -1 (unknown, aged out, or its VTEP down). */
  lookup(vni: number, mac: number, nowMs: number): number {
    const m = this.macs.get(vni);
    if (m === undefined) return -1;
    const s = m.get(mac);
    if (s === undefined) return -1;
    if (nowMs - this.slotSeenMs[s] > this.agingMs) { this.drop(m, mac, s); this.aged++; return -1; }
    const v = this.slotVtep[s];
    return this.alive[v] === 1 ? v : -1;
  }

  /** Forget every MAC learned behind VTEP `vtep`; returns how many. */
  flushVtep(vtep: number): number {
    let n = 0;
    for (const m of this.macs.values()) {
      for (const [mac, s] of m) if (this.slotVtep[s] === vtep) { this.drop(m, mac, s); n++; }
    }
    return n;
  }

  /** Remove entries older than the aging time (call from a timer, not per frame). */
  expire(nowMs: number): number {
    let n = 0;
    for (const m of this.macs.values()) {
      for (const [mac, s] of m) if (nowMs - this.slotSeenMs[s] > this.agingMs) { this.drop(m, mac, s); n++; }
    }
    this.aged += n;
    return n;
  }

  get size(): number { return this.capacity - this.freeSlots.length; }

  /** Learned entries, for stats and tests (cold path). */
  entries(nowMs: number): VtepMacEntry[] {
    const out: VtepMacEntry[] = [];
    for (const [vni, m] of this.macs) {
      for (const [mac, s] of m) out.push({ vni, mac, vtep: this.vteps[this.slotVtep[s]].text, ageS: Math.max(0, Math.floor((nowMs - this.slotSeenMs[s]) / 1000)) });
    }
    return out.sort((a, b) => a.vni - b.vni || a.mac - b.mac);
  }

  private drop(m: Map<number, number>, mac: number, s: number): void {
    m.delete(mac);
    this.freeSlots.push(s);
  }

  /** Table full: free the oldest entry of this VNI's map (insertion order), else of any VNI. */
  private evictFrom(m: Map<number, number>, nowMs: number): number {
    if (this.expire(nowMs) > 0) return this.freeSlots.pop()!;
    let victim = m.size > 0 ? m : null;
    if (victim === null) for (const other of this.macs.values()) if (other.size > 0) { victim = other; break; }
    const [mac, s] = victim!.entries().next().value as [number, number];
    victim!.delete(mac);
    this.evicted++;
    return s;
  }
}

function v6Hash(w0: number, w1: number, w2: number, w3: number): number {
  return (Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1), 0x85ebca6b) ^ Math.imul(w2 ^ Math.imul(w3, 0xc2b2ae35), 0x27d4eb2f)) >>> 0;
}

function same(a: TunnelAddr, w0: number, w1: number, w2: number, w3: number): boolean {
  return a.w0 === w0 >>> 0 && a.w1 === w1 >>> 0 && a.w2 === w2 >>> 0 && a.w3 === w3 >>> 0;
}
