// An OpenFlow 1.3 meter (OFPMT_METER): bands of DROP or DSCP_REMARK, rates in kbit/s or pkt/s,
// one token bucket per band. Police only: the meter never queues. The agent builds these from
// METER_MOD and reads the counters for meter stats; the pipeline calls admit() per frame.
import type { Limiter } from './limiter.js';
import type { Batch } from '../packet/batch.js';
import type { Packet } from '../packet/packet.js';
import { TokenBucket } from './token-bucket.js';
import { FULL_FRAME_BYTES, DEFAULT_BURST_MS } from './units.js';

/** OFPMF_* meter flags. */
export const MeterFlags = { KBPS: 1 << 0, PKTPS: 1 << 1, BURST: 1 << 2, STATS: 1 << 3 } as const;
/** OFPMBT_* band types. */
export const MeterBandType = { DROP: 1, DSCP_REMARK: 2 } as const;
export type MeterBandTypeCode = (typeof MeterBandType)[keyof typeof MeterBandType];

/** A band as METER_MOD states it: rate in kbit/s (KBPS) or pkt/s (PKTPS); burst in kbit or packets. */
export interface MeterBandSpec { type: MeterBandTypeCode; rate: number; burstSize: number; precLevel?: number }

export interface MeterBandStats { packetBandCount: number; byteBandCount: number }
export interface MeterStats { meterId: number; packetInCount: number; byteInCount: number; bands: MeterBandStats[] }

/** Why a meter config was refused; the agent maps these to OFPMMFC_* error codes. */
export type MeterErrorCode = 'BAD_FLAGS' | 'BAD_RATE' | 'BAD_BURST' | 'BAD_BAND' | 'BAD_BAND_VALUE' | 'INVALID';
export class MeterConfigError extends RangeError {
  readonly code: MeterErrorCode;
  constructor(code: MeterErrorCode, message: string) { super(message); this.code = code; this.name = 'MeterConfigError'; }
}

const KNOWN_FLAGS = MeterFlags.KBPS | MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS;

/**
 * Validate flags and bands (throws MeterConfigError). Neither KBPS nor PKTPS means kbit/s; both
 * is BAD_FLAGS. Bands must have rate > 0; DSCP_REMARK needs precLevel 0-63 (default 1).
 */
export function checkMeterConfig(flags: number, bands: readonly MeterBandSpec[]): void {
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new MeterConfigError('BAD_FLAGS', `meter flags 0x${flags.toString(16)} has unknown bits`);
  if ((flags & MeterFlags.KBPS) && (flags & MeterFlags.PKTPS)) throw new MeterConfigError('BAD_FLAGS', 'meter flags KBPS and PKTPS are exclusive');
  if (!Array.isArray(bands) || bands.length === 0) throw new MeterConfigError('INVALID', 'a meter needs at least one band');
  if (bands.length > 16) throw new MeterConfigError('INVALID', `a meter has at most 16 bands, got ${bands.length}`);
  for (let i = 0; i < bands.length; i++) {
    const b = bands[i];
    if (b.type !== MeterBandType.DROP && b.type !== MeterBandType.DSCP_REMARK) throw new MeterConfigError('BAD_BAND', `band ${i}: type ${String(b.type)} is not DROP (1) or DSCP_REMARK (2)`);
    if (!Number.isInteger(b.rate) || b.rate <= 0 || b.rate > 0xffffffff) throw new MeterConfigError('BAD_RATE', `band ${i}: rate ${b.rate} must be an integer in 1-4294967295`);
    if (!Number.isInteger(b.burstSize) || b.burstSize < 0 || b.burstSize > 0xffffffff) throw new MeterConfigError('BAD_BURST', `band ${i}: burst_size ${b.burstSize} must be an integer in 0-4294967295`);
    if ((flags & MeterFlags.BURST) && b.burstSize === 0) throw new MeterConfigError('BAD_BURST', `band ${i}: burst_size must be > 0 with the BURST flag`);
    if (b.type === MeterBandType.DSCP_REMARK && b.precLevel !== undefined && (!Number.isInteger(b.precLevel) || b.precLevel < 0 || b.precLevel > 63)) {
      throw new MeterConfigError('BAD_BAND_VALUE', `band ${i}: prec_level ${b.precLevel} must be in 0-63`);
    }
  }
}

/** Bucket rate in tokens/s (bytes or packets) of a band. */
function tokensPerSec(flags: number, rate: number): number {
  return flags & MeterFlags.PKTPS ? rate : (rate * 1000) / 8;
}
/**
 * Bucket depth. With BURST: burst_size kbit (bytes = x*1000/8) or packets. Without: the channel
 * default, max(rate x 10 ms, 2 full frames) in bytes or max(rate x 10 ms, 2) packets.
 */
function burstTokens(flags: number, b: MeterBandSpec): number {
  const perSec = tokensPerSec(flags, b.rate);
  if ((flags & MeterFlags.BURST) && b.burstSize > 0) return flags & MeterFlags.PKTPS ? b.burstSize : (b.burstSize * 1000) / 8;
  const tenMs = (perSec * DEFAULT_BURST_MS) / 1000;
  return flags & MeterFlags.PKTPS ? Math.max(Math.ceil(tenMs), 2) : Math.max(Math.ceil(tenMs), 2 * FULL_FRAME_BYTES);
}

export class Meter implements Limiter {
  readonly shaping = false;
  readonly meterId: number;
  flags: number;
  bands: MeterBandSpec[];
  private buckets: TokenBucket[];
  private perPacket: boolean;
  // Band order by rate, highest first: the first exceeded band in this order is the one that applies.
  private order: Int32Array;
  packetInCount = 0;
  byteInCount = 0;
  packetBandCount: Float64Array;
  byteBandCount: Float64Array;
  /** Frames that a DSCP_REMARK band applied to (passed unmarked; see README). */
  remarkedPackets = 0;
  /** Index of the band that applied to the last frame, -1 if none. */
  lastBand = -1;

  constructor(meterId: number, flags: number, bands: MeterBandSpec[], nowMs: number = Number.NaN) {
    checkMeterConfig(flags, bands);
    this.meterId = meterId;
    this.flags = flags;
    this.bands = bands.map((b) => ({ ...b }));
    this.perPacket = (flags & MeterFlags.PKTPS) !== 0;
    this.buckets = bands.map((b) => new TokenBucket(tokensPerSec(flags, b.rate), burstTokens(flags, b), nowMs));
    this.order = sortByRate(bands);
    this.packetBandCount = new Float64Array(bands.length);
    this.byteBandCount = new Float64Array(bands.length);
  }

  /**
   * One frame in: every band's bucket is refilled; a band is exceeded when its bucket lacks the
   * frame's tokens. Buckets that have them are debited (the meter measures the offered rate).
   * The exceeded band with the highest rate applies: DROP drops; DSCP_REMARK passes (counted).
   */
  admit(lenBytes: number, nowMs: number, frames = 1): boolean {
    this.packetInCount += frames;
    this.byteInCount += lenBytes;
    const need = this.perPacket ? frames : lenBytes;
    const debt = frames > 1;   // a super-frame: see Limiter.admit
    const buckets = this.buckets, order = this.order;
    let applied = -1;
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      const b = buckets[i];
      b.refill(nowMs);
      if (!(debt ? b.takeDebt(need) : b.tryTake(need)) && applied < 0) applied = i;
    }
    this.lastBand = applied;
    if (applied < 0) return true;
    this.packetBandCount[applied] += frames;
    this.byteBandCount[applied] += lenBytes;
    if (this.bands[applied].type === MeterBandType.DROP) return false;
    this.remarkedPackets++;
    return true;
  }

  enqueue(_pkt: Packet, _nowMs: number): boolean { return false; }
  drain(_nowMs: number, _out: Batch): number { return 0; }
  nextReleaseMs(_nowMs: number): number { return Infinity; }

  /**
   * METER_MOD modify. Validates first (nothing changes on error). Band i keeps band i's tokens,
   * clamped to its new burst (Open vSwitch refills on modify; Sluice keeps, per DESIGN); new bands
   * start full. Changing between KBPS and PKTPS starts every bucket full. Counters are kept.
   */
  reconfigure(flags: number, bands: MeterBandSpec[], nowMs: number = Number.NaN): void {
    checkMeterConfig(flags, bands);
    const sameUnit = ((flags ^ this.flags) & MeterFlags.PKTPS) === 0;
    const buckets = bands.map((b, i) => {
      const rate = tokensPerSec(flags, b.rate), burst = burstTokens(flags, b);
      const old = this.buckets[i];
      if (!old || !sameUnit) return new TokenBucket(rate, burst, nowMs === nowMs ? nowMs : old?.lastMs ?? nowMs);
      if (nowMs === nowMs) old.refill(nowMs);
      old.reconfigure(rate, burst);
      return old;
    });
    const pc = new Float64Array(bands.length), bc = new Float64Array(bands.length);
    pc.set(this.packetBandCount.subarray(0, Math.min(bands.length, this.packetBandCount.length)));
    bc.set(this.byteBandCount.subarray(0, Math.min(bands.length, this.byteBandCount.length)));
    this.flags = flags;
    this.bands = bands.map((b) => ({ ...b }));
    this.perPacket = (flags & MeterFlags.PKTPS) !== 0;
    this.buckets = buckets;
    this.order = sortByRate(bands);
    this.packetBandCount = pc;
    this.byteBandCount = bc;
  }

  /** Tokens of band `i` (for tests and `sluice stats`). */
  bandTokens(i: number): number { return this.buckets[i].tokens; }

  stats(): MeterStats {
    const bands: MeterBandStats[] = [];
    for (let i = 0; i < this.bands.length; i++) bands.push({ packetBandCount: this.packetBandCount[i], byteBandCount: this.byteBandCount[i] });
    return { meterId: this.meterId, packetInCount: this.packetInCount, byteInCount: this.byteInCount, bands };
  }
}

function sortByRate(bands: readonly MeterBandSpec[]): Int32Array {
  const idx = bands.map((_, i) => i).sort((a, b) => bands[b].rate - bands[a].rate || a - b);
  return Int32Array.from(idx);
}
