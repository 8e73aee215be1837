// Linux tc units for channel rates and bursts (cold path: config, CLI, controller API).
// Rates: bit/kbit/mbit/gbit/tbit (k = 1000), kibit/mibit/gibit (k = 1024), pps/kpps/mpps.
// Sizes: b/kb/mb/gb (bytes, k = 1024; tc's k/m/g shorthands too) or pkt. Both bounded (below).

export type RateUnit = 'bit' | 'pkt';
export type SizeUnit = 'byte' | 'pkt';
/** A rate: bits per second (unit 'bit') or packets per second (unit 'pkt'). */
export interface Rate { unit: RateUnit; perSec: number }
/** A size: bytes (unit 'byte') or packets (unit 'pkt'). */
export interface Size { unit: SizeUnit; amount: number }

const RATE_UNITS: Record<string, [RateUnit, number]> = {
  '': ['bit', 1], bit: ['bit', 1], kbit: ['bit', 1e3], mbit: ['bit', 1e6], gbit: ['bit', 1e9], tbit: ['bit', 1e12],
  kibit: ['bit', 1024], mibit: ['bit', 1024 ** 2], gibit: ['bit', 1024 ** 3],
  pps: ['pkt', 1], kpps: ['pkt', 1e3], mpps: ['pkt', 1e6],
};
// tc reads these as BYTES per second; users almost always mean bits. We refuse them (see README).
const BYTE_RATES: Record<string, string> = { bps: 'bit', kbps: 'kbit', mbps: 'mbit', gbps: 'gbit', tbps: 'tbit' };
const SIZE_UNITS: Record<string, [SizeUnit, number]> = {
  '': ['byte', 1], b: ['byte', 1], k: ['byte', 1024], kb: ['byte', 1024], m: ['byte', 1024 ** 2], mb: ['byte', 1024 ** 2],
  g: ['byte', 1024 ** 3], gb: ['byte', 1024 ** 3], pkt: ['pkt', 1], pkts: ['pkt', 1], packet: ['pkt', 1], packets: ['pkt', 1],
};

/**
 * Sane bounds, so no rate or size reaches a token bucket as 0, a denormal or 1e30 (where token
 * arithmetic stops being exact): 1 bit/s .. 1 Tbit/s, 1 .. 10^9 packets/s; bursts 1 byte .. 64 GiB
 * (over 0.5 s of 1 Tbit/s) or 1 .. 10^9 packets.
 */
export const MIN_BIT_RATE = 1, MAX_BIT_RATE = 1e12, MIN_PPS = 1, MAX_PPS = 1e9;
export const MAX_SIZE_BYTES = 64 * 1024 ** 3, MAX_SIZE_PKTS = 1e9;

const RATE_HINT = 'use bit, kbit, mbit, gbit, pps or kpps';
const SIZE_HINT = 'use b, kb, mb, gb (bytes, k = 1024) or pkt';
const NUM_UNIT = /^\s*(\d+(?:\.\d+)?|\.\d+)(?:e([+-]?\d+))?\s*([a-z]*)\s*$/i;

function split(s: unknown, what: string, hint: string, example: string): [number, string] {
  if (typeof s === 'number') s = String(s);
  if (typeof s !== 'string') throw new TypeError(`${JSON.stringify(s) ?? String(s)} is not ${what}: ${hint} (e.g. ${example})`);
  const m = NUM_UNIT.exec(s);
  if (!m) throw new TypeError(`"${s}" is not ${what}: ${hint} (e.g. ${example})`);
  const n = Number(m[1]) * (m[2] ? 10 ** Number(m[2]) : 1);
  return [n, m[3].toLowerCase()];
}

/** Parse a tc-style rate ("50mbit", "10kpps", "1e6bit"; a bare number is bit/s as in tc). */
export function parseRate(s: string): Rate {
  const [n, u] = split(s, 'a rate', RATE_HINT, '50mbit');
  const entry = RATE_UNITS[u];
  if (!entry) {
    const bits = BYTE_RATES[u];
    if (bits) throw new RangeError(`"${s}" is not accepted: tc reads "${u}" as BYTES per second; write bits (e.g. ${n}${bits}) or ${n * 8}${bits} for ${n} ${u.toUpperCase().replace('BPS', 'B')}/s`);
    throw new RangeError(`"${s}" is not a rate: ${RATE_HINT} (e.g. ${n}mbit)`);
  }
  const perSec = n * entry[1];
  const [lo, hi, range] = entry[0] === 'pkt' ? [MIN_PPS, MAX_PPS, '1pps-1000mpps'] : [MIN_BIT_RATE, MAX_BIT_RATE, '1bit-1tbit'];
  if (!(perSec >= lo && perSec <= hi)) throw new RangeError(`rate "${s}" is out of range ${range}`);
  return { unit: entry[0], perSec };
}

/** Parse a tc-style size ("64kb", "1514b", "10pkt"; a bare number is bytes as in tc). */
export function parseSize(s: string): Size {
  const [n, u] = split(s, 'a size', SIZE_HINT, '64kb');
  const entry = SIZE_UNITS[u];
  if (!entry) {
    const hint = /bit$/.test(u) ? ' (sizes are in bytes, not bits)' : '';
    throw new RangeError(`"${s}" is not a size: ${SIZE_HINT}${hint} (e.g. ${n}kb)`);
  }
  const amount = n * entry[1];
  const [lo, hi, range] = entry[0] === 'pkt' ? [1, MAX_SIZE_PKTS, '1pkt-1000000000pkt'] : [1, MAX_SIZE_BYTES, '1b-64gb'];
  if (!(amount >= lo && amount <= hi)) throw new RangeError(`size "${s}" is out of range ${range}`);
  if (entry[0] === 'pkt' && !Number.isInteger(amount)) throw new RangeError(`size "${s}" must be a whole number of packets`);
  return { unit: entry[0], amount };
}

function pick(v: number, units: Array<[string, number]>): string {
  for (const [name, mult] of units) {
    const q = v / mult;
    if (q >= 1 && Number.isInteger(q)) return `${q}${name}`;
  }
  const [name, mult] = units[units.length - 1];
  return `${v / mult}${name}`;
}

/** Shortest exact tc spelling: formatRate(parseRate("50mbit")) === "50mbit". */
export function formatRate(r: Rate): string {
  return r.unit === 'pkt'
    ? pick(r.perSec, [['mpps', 1e6], ['kpps', 1e3], ['pps', 1]])
    : pick(r.perSec, [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3], ['bit', 1]]);
}

/** Shortest exact tc spelling: formatSize(parseSize("64kb")) === "64kb". */
export function formatSize(s: Size): string {
  return s.unit === 'pkt' ? `${s.amount}pkt` : pick(s.amount, [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024], ['b', 1]]);
}

/** Largest Ethernet frame we count for default bursts (1500 MTU + 14 header, no FCS). */
export const FULL_FRAME_BYTES = 1514;
/** Default burst window: 10 ms of rate. Small enough that a 1 s window stays within ~1 % of the rate. */
export const DEFAULT_BURST_MS = 10;

/**
 * Default burst for a rate: max(rate x 10 ms, 2 full frames) in bytes for bit rates, and
 * max(rate x 10 ms, 2 packets) for packet rates. Returned in the bucket's units (bytes or packets).
 */
export function defaultBurst(rate: Rate): Size {
  if (rate.unit === 'pkt') return { unit: 'pkt', amount: Math.max(Math.ceil((rate.perSec * DEFAULT_BURST_MS) / 1000), 2) };
  return { unit: 'byte', amount: Math.max(Math.ceil((rate.perSec / 8) * DEFAULT_BURST_MS / 1000), 2 * FULL_FRAME_BYTES) };
}
