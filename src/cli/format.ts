// The one unit style of every `sluice` table: rates in bits/s with SI prefixes ("20.0 Mbit/s",
// packet rates "10.0 kpps"), sizes in bytes with binary prefixes ("29.6 MiB"), packet and other
// counts with SI prefixes ("84.2k"). Three significant digits ("20.0 Mbit/s", "200 Mbit/s");
// --json keeps the exact numbers.
import { parseRate, parseSize } from '../qos/units.js';

const SI = ['', 'k', 'M', 'G', 'T', 'P'];
const BIN = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** v scaled by `step` until below it: [scaled, prefix index]. */
function scale(v: number, step: number, max: number): [number, number] {
  let i = 0;
  while (Math.abs(v) >= step && i < max) { v /= step; i++; }
  // 999.96 rounds to "1000": step up instead.
  if (i < max && Number(v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) >= step) { v /= step; i++; }
  return [v, i];
}
const digits3 = (v: number): string => v.toFixed(Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0);

/** A count (packets, entries): exact below 1000, else "84.2k", "1.25M". */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) < 1000) return String(n);
  const [v, i] = scale(n, 1000, SI.length - 1);
  return `${digits3(v)}${SI[i]}`;
}

/** A size in bytes: "512 B", "29.6 MiB". */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) < 1024) return `${n} B`;
  const [v, i] = scale(n, 1024, BIN.length - 1);
  return `${digits3(v)} ${BIN[i]}`;
}

/** A bit rate: "20.0 Mbit/s", "512 bit/s". */
export function fmtBitRate(bitsPerSec: number): string {
  const [v, i] = scale(bitsPerSec, 1000, SI.length - 1);
  return `${i === 0 ? String(Math.round(v * 100) / 100) : digits3(v)} ${SI[i]}bit/s`;
}

/** A packet rate: "10.0 kpps". */
export function fmtPktRate(pps: number): string {
  const [v, i] = scale(pps, 1000, SI.length - 1);
  return `${i === 0 ? String(Math.round(v * 100) / 100) : digits3(v)} ${SI[i]}pps`;
}

/** A channel's configured tc-style rate ("20mbit", "10kpps") in the table style; unparseable text as given. */
export function fmtRateText(s: string | undefined): string {
  if (s === undefined || s === '') return '-';
  try {
    const r = parseRate(s);
    return r.unit === 'pkt' ? fmtPktRate(r.perSec) : fmtBitRate(r.perSec);
  } catch { return s; }
}

/** A configured tc-style size ("64kb", "10pkt") in the table style. */
export function fmtSizeText(s: string | undefined): string {
  if (s === undefined || s === '') return '-';
  try {
    const z = parseSize(s);
    return z.unit === 'pkt' ? `${fmtCount(z.amount)} pkt` : fmtBytes(z.amount);
  } catch { return s; }
}

/** One flow of `flows dump --json`: the fields of an ovs-ofctl dump-flows line. */
export interface FlowRecord {
  table: number; priority: number; cookie: string;
  match: Record<string, string>; actions: string[];
  counters: { packets: number; bytes: number; durationS: number; idleAgeS?: number };
  idleTimeoutS?: number; hardTimeoutS?: number; flags?: string[];
}

/** Split on commas outside parentheses and brackets ("set_field:1->vlan_vid,output:2", "learn(a,b)"). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) { out.push(s.slice(start, i)); start = i + 1; }
  }
  if (start < s.length) out.push(s.slice(start));
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

const DEFAULT_PRIORITY = 32768;

/** A dump-flows line (as the switch's GET /flows gives it) as fields. */
export function parseFlowLine(line: string): FlowRecord {
  const text = line.trim();
  const at = text.lastIndexOf(' actions=');
  const actionsText = at >= 0 ? text.slice(at + 9) : text.startsWith('actions=') ? text.slice(8) : '';
  const before = at >= 0 ? text.slice(0, at) : '';
  const r: FlowRecord = { table: 0, priority: DEFAULT_PRIORITY, cookie: '0x0', match: {}, actions: splitTop(actionsText), counters: { packets: 0, bytes: 0, durationS: 0 } };
  const flags: string[] = [];
  for (const item of splitTop(before)) {
    const eq = item.indexOf('=');
    const k = eq < 0 ? item : item.slice(0, eq), v = eq < 0 ? '' : item.slice(eq + 1);
    switch (k) {
      case 'cookie': r.cookie = v; break;
      case 'duration': r.counters.durationS = Number.parseFloat(v); break;
      case 'table': r.table = Number(v); break;
      case 'n_packets': r.counters.packets = Number(v); break;
      case 'n_bytes': r.counters.bytes = Number(v); break;
      case 'idle_age': r.counters.idleAgeS = Number(v); break;
      case 'idle_timeout': r.idleTimeoutS = Number(v); break;
      case 'hard_timeout': r.hardTimeoutS = Number(v); break;
      case 'priority': r.priority = Number(v); break;
      case 'send_flow_rem': case 'check_overlap': case 'reset_counts': case 'no_packet_counts': case 'no_byte_counts': flags.push(k); break;
      default: r.match[k] = v;   // a shorthand (arp, ip) has no value: ""
    }
  }
  if (flags.length) r.flags = flags;
  return r;
}
