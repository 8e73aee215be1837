// Match compilation: a MatchSpec (flow-types.ts) becomes the list of flow-key words with a nonzero
// mask and their value/mask pairs, so a lookup is `(key[w] & mask) === value` per listed word.
// Also the relations FLOW_MOD needs: identical (strict ops), overlap (CHECK_OVERLAP), covers (non-strict).
import { MATCH_WORDS, VID_PRESENT } from '../packet/flow-key.js';
import { FIELDS } from '../flow/types.js';
import type { FieldName, MatchSpec } from '../flow/types.js';

const NO_WORDS = new Int32Array(0);

/**
 * Compact form: `words`, the indices of the key words with a nonzero mask (ascending), and `vm`,
 * value and mask of each of those words interleaved (vm[2i] = value, vm[2i+1] = mask, as int32 so
 * `key[w] & mask`, a signed int32, compares directly with the value without `>>> 0`). Only the
 * words used are stored: two small typed arrays per flow (V8 keeps typed arrays up to 64 bytes on
 * the heap) instead of two 42-word arrays (off-heap backing stores: ~3x the allocation and GC cost
 * of a FLOW_MOD). `value`/`mask` rebuild the full-width arrays on demand (cold path).
 */
export class CompiledMatch {
  words: Int32Array = NO_WORDS;
  /** [value0, mask0, value1, mask1, ...] aligned with `words`. */
  vm: Int32Array = NO_WORDS;
  /** Mask signature (cold path): entries with equal signatures share a classifier subtable. */
  signature = '';
  /** The spec it was compiled from (normalised: masks filled in). */
  spec: MatchSpec = [];
  /** Value words over the whole flow key (a new array per call). */
  get value(): Int32Array {
    const out = new Int32Array(MATCH_WORDS);
    for (let i = 0; i < this.words.length; i++) out[this.words[i]] = this.vm[2 * i];
    return out;
  }
  /** Mask words over the whole flow key (a new array per call). */
  get mask(): Int32Array {
    const out = new Int32Array(MATCH_WORDS);
    for (let i = 0; i < this.words.length; i++) out[this.words[i]] = this.vm[2 * i + 1];
    return out;
  }
}

function fieldFullMask(bits: number): bigint { return bits <= 128 ? FULL_MASKS[bits] : (1n << BigInt(bits)) - 1n; }

/** Exact value of `field` in the spec, or undefined if absent or masked. */
function exactValue(spec: MatchSpec, field: FieldName): bigint | undefined {
  for (let i = 0; i < spec.length; i++) {
    const f = spec[i];
    if (f.field === field && (f.mask === undefined || f.mask === fieldFullMask(FIELDS[field].bits))) return f.value;
  }
  return undefined;
}

const ETH_IPV4 = 0x0800n, ETH_IPV6 = 0x86ddn, ETH_ARP = 0x0806n;

/** Prerequisite kind per field (a number switch: a string switch over ~30 names is slow before the JIT). */
const PRE_NONE = 0, PRE_IPV4 = 1, PRE_IP = 2, PRE_TCP = 3, PRE_UDP = 4, PRE_SCTP = 5, PRE_ICMP4 = 6, PRE_ICMP6 = 7, PRE_ARP = 8, PRE_IPV6 = 9, PRE_VLAN_PCP = 10;
const PRE_KIND: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  ipv4_src: PRE_IPV4, ipv4_dst: PRE_IPV4,
  ip_dscp: PRE_IP, ip_ecn: PRE_IP, ip_proto: PRE_IP,
  tcp_src: PRE_TCP, tcp_dst: PRE_TCP, udp_src: PRE_UDP, udp_dst: PRE_UDP, sctp_src: PRE_SCTP, sctp_dst: PRE_SCTP,
  icmpv4_type: PRE_ICMP4, icmpv4_code: PRE_ICMP4, icmpv6_type: PRE_ICMP6, icmpv6_code: PRE_ICMP6,
  arp_op: PRE_ARP, arp_spa: PRE_ARP, arp_tpa: PRE_ARP, arp_sha: PRE_ARP, arp_tha: PRE_ARP,
  ipv6_src: PRE_IPV6, ipv6_dst: PRE_IPV6, ipv6_flabel: PRE_IPV6,
  vlan_pcp: PRE_VLAN_PCP,
});

/** OpenFlow 1.3 prerequisites (OXM table 11); returns a message or '' when met. `et`/`proto`: exact eth_type/ip_proto of the spec. */
function prerequisiteError(spec: MatchSpec, field: FieldName, et: bigint | undefined, proto: bigint | undefined): string {
  const kind = PRE_KIND[field] ?? PRE_NONE;
  if (kind === PRE_NONE) return '';
  const isIp = et === ETH_IPV4 || et === ETH_IPV6;
  let ok = true, what = '';
  switch (kind) {
    case PRE_IPV4: ok = et === ETH_IPV4; what = 'eth_type=0x0800'; break;
    case PRE_IP: ok = isIp; what = 'eth_type=0x0800 or 0x86dd'; break;
    case PRE_TCP: ok = isIp && proto === 6n; what = 'ip_proto=6 (tcp)'; break;
    case PRE_UDP: ok = isIp && proto === 17n; what = 'ip_proto=17 (udp)'; break;
    case PRE_SCTP: ok = isIp && proto === 132n; what = 'ip_proto=132 (sctp)'; break;
    case PRE_ICMP4: ok = et === ETH_IPV4 && proto === 1n; what = 'eth_type=0x0800,ip_proto=1'; break;
    case PRE_ICMP6: ok = et === ETH_IPV6 && proto === 58n; what = 'eth_type=0x86dd,ip_proto=58'; break;
    case PRE_ARP: ok = et === ETH_ARP; what = 'eth_type=0x0806'; break;
    case PRE_IPV6: ok = et === ETH_IPV6; what = 'eth_type=0x86dd'; break;
    case PRE_VLAN_PCP: {
      for (const f of spec) {
        if (f.field === 'vlan_vid' && (f.value & BigInt(VID_PRESENT)) !== 0n) return '';
      }
      return 'vlan_pcp requires a vlan_vid match with OFPVID_PRESENT';
    }
  }
  return ok ? '' : `${field} requires ${what}`;
}

/** Full masks by field width (BigInt shifts are not free: ~20 % of compileMatch). */
const FULL_MASKS: bigint[] = Array.from({ length: 129 }, (_, bits) => (1n << BigInt(bits)) - 1n);
/** Bits of the low 32 of a word (Number() of this BigInt & 0xffffffff). */
const U32 = 0xffffffffn;
/** Scratch value/mask words of compileMatch (only words marked used are read back). */
const scratchValue = new Int32Array(MATCH_WORDS), scratchMask = new Int32Array(MATCH_WORDS);
/** Words, masks and signature of the last distinct shape compiled (shared by the matches of that shape; never mutated). */
let lastWords: Int32Array = NO_WORDS, lastMasks: Int32Array = NO_WORDS, lastSig = '';

/** Compile and validate; throws RangeError naming the field on an unknown field, width, mask or prerequisite error. */
export function compileMatch(spec: MatchSpec): CompiledMatch {
  // ~1.5 us for a 4-field match on Node 20 (was ~6: a Set, closures and repeated spec scans per field); /tmp flow-mod script in the report.
  const m = new CompiledMatch();
  const sv = scratchValue, sm = scratchMask;
  let usedLo = 0, usedHi = 0;   // word bitmap (MATCH_WORDS <= 64)
  const norm: MatchSpec = [];
  const et = exactValue(spec, 'eth_type'), proto = exactValue(spec, 'ip_proto');
  for (const f of spec) {
    const def = (FIELDS as Record<string, { words: readonly number[]; bits: number; maskable: boolean } | undefined>)[f.field];
    if (def === undefined) throw new RangeError(`Unknown match field "${String(f.field)}"`);
    if (typeof f.value !== 'bigint' || (f.mask !== undefined && typeof f.mask !== 'bigint')) {
      throw new RangeError(`Match field ${f.field}: value and mask must be bigint`);
    }
    const full = fieldFullMask(def.bits);
    const mask = f.mask === undefined ? full : f.mask;
    if (f.value < 0n || f.value > full) throw new RangeError(`Match field ${f.field}: value 0x${f.value.toString(16)} is wider than ${def.bits} bits`);
    if (mask < 0n || mask > full) throw new RangeError(`Match field ${f.field}: mask 0x${mask.toString(16)} is wider than ${def.bits} bits`);
    if (!def.maskable && mask !== full) throw new RangeError(`Match field ${f.field} cannot be masked`);
    if (mask !== full && (f.value & ~mask) !== 0n) throw new RangeError(`Match field ${f.field}: value has bits outside the mask`);
    const pre = prerequisiteError(spec, f.field, et, proto);
    if (pre !== '') throw new RangeError(`Match field ${pre}`);
    const n = def.words.length;
    for (let i = 0; i < n; i++) {
      const w = def.words[i];
      const bit = 1 << (w & 31);
      if (((w < 32 ? usedLo : usedHi) & bit) !== 0) throw new RangeError(`Match field ${f.field} is given twice (or with a field sharing its slot)`);
      if (w < 32) usedLo |= bit; else usedHi |= bit;
      if (n === 1) { sv[w] = Number(f.value) | 0; sm[w] = Number(mask) | 0; continue; }
      const shift = BigInt(32 * (n - 1 - i));
      sv[w] = Number((f.value >> shift) & U32) | 0;
      sm[w] = Number((mask >> shift) & U32) | 0;
    }
    // An entry without a mask is already normal: keep it (instructions are kept by reference too).
    if (mask !== 0n) norm.push(f.mask === undefined ? f : mask === full ? { field: f.field, value: f.value } : { field: f.field, value: f.value, mask });
  }
  let count = 0;
  for (let w = 0; w < MATCH_WORDS; w++) if ((((w < 32 ? usedLo : usedHi) >>> (w & 31)) & 1) !== 0 && sm[w] !== 0) count++;
  let sig = '';
  if (count > 0) {
    const vm = new Int32Array(2 * count);
    // Flows of one burst mostly share a shape: reuse the last words array and signature string
    // (already flattened and hashed by the classifier's Map) when words and masks are the same.
    const lw = lastWords;
    let same = lw.length === count;
    let i = 0;
    for (let w = 0; w < MATCH_WORDS; w++) {
      if ((((w < 32 ? usedLo : usedHi) >>> (w & 31)) & 1) === 0 || sm[w] === 0) continue;
      if (same && (lw[i] !== w || lastMasks[i] !== sm[w])) same = false;
      vm[2 * i] = sv[w]; vm[2 * i + 1] = sm[w];
      i++;
    }
    if (same) {
      m.words = lw;
      sig = lastSig;
    } else {
      const words = new Int32Array(count), masks = new Int32Array(count);
      i = 0;
      for (let w = 0; w < MATCH_WORDS; w++) {
        if ((((w < 32 ? usedLo : usedHi) >>> (w & 31)) & 1) === 0 || sm[w] === 0) continue;
        words[i] = w; masks[i] = sm[w];
        sig += (i === 0 ? '' : ',') + w + ':' + (sm[w] >>> 0);
        i++;
      }
      m.words = words;
      lastWords = words; lastMasks = masks; lastSig = sig;
    }
    m.vm = vm;
  }
  m.signature = sig;
  m.spec = norm;
  return m;
}

/** True if `key` (a flow key's words) matches. Hot path. */
export function matchKey(m: CompiledMatch, key: Uint32Array): boolean {
  const words = m.words, vm = m.vm;
  for (let i = 0; i < words.length; i++) {
    if ((key[words[i]] & vm[2 * i + 1]) !== vm[2 * i]) return false;
  }
  return true;
}

/** Same fields, masks and values (OFPFC_*_STRICT, and "identical" for ADD). */
export function matchesEqual(a: CompiledMatch, b: CompiledMatch): boolean {
  const aw = a.words, bw = b.words, n = aw.length;
  if (bw.length !== n) return false;
  for (let i = 0; i < n; i++) if (aw[i] !== bw[i]) return false;
  const av = a.vm, bv = b.vm;
  for (let i = 0; i < 2 * n; i++) if (av[i] !== bv[i]) return false;
  return true;
}

/** Some packet could match both (CHECK_OVERLAP at equal priority). Words only one side masks never conflict. */
export function matchesOverlap(a: CompiledMatch, b: CompiledMatch): boolean {
  const aw = a.words, bw = b.words, av = a.vm, bv = b.vm;
  let i = 0, j = 0;
  while (i < aw.length && j < bw.length) {
    if (aw[i] < bw[j]) { i++; continue; }
    if (aw[i] > bw[j]) { j++; continue; }
    const common = av[2 * i + 1] & bv[2 * j + 1];
    if ((av[2 * i] & common) !== (bv[2 * j] & common)) return false;
    i++; j++;
  }
  return true;
}

/** `entry` is as specific as `filter` or more (non-strict MODIFY/DELETE and stats requests). */
export function matchCovers(filter: CompiledMatch, entry: CompiledMatch): boolean {
  const fw = filter.words, ew = entry.words, fv = filter.vm, ev = entry.vm;
  let j = 0;
  for (let i = 0; i < fw.length; i++) {
    const w = fw[i];
    while (j < ew.length && ew[j] < w) j++;
    if (j === ew.length || ew[j] !== w) return false;   // entry wildcards a word the filter masks
    const fm = fv[2 * i + 1];
    if ((ev[2 * j + 1] & fm) !== fm || (ev[2 * j] & fm) !== fv[2 * i]) return false;
  }
  return true;
}
