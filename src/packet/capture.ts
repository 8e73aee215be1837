// Capture files: reads classic pcap (µs and ns magics, both byte orders) and pcapng (sections,
// several interfaces with their own link type and if_tsresol/if_tsoffset, EPB/SPB/obsolete PB),
// and writes classic pcap. Cold path; every failure is a one-line CaptureError naming the file.
import { readFile, writeFile } from 'node:fs/promises';

export const LinkType = { ETHERNET: 1, RAW: 101, IEEE802_11: 105, LINUX_SLL: 113 } as const;
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAP_FILE_HEADER_LEN = 24, PCAP_RECORD_HEADER_LEN = 16;
const BT_IDB = 1, BT_OPB = 2, BT_SPB = 3, BT_EPB = 6;
const OPT_END = 0, OPT_IF_TSRESOL = 9, OPT_IF_TSOFFSET = 14;
export const DEFAULT_SNAPLEN = 262144;

export interface CaptureRecord { tsSec: number; tsNsec: number; data: Buffer; origLen: number; ifIndex: number; linkType: number }

export type CaptureErrorCode = 'CAPTURE_BAD_MAGIC' | 'CAPTURE_TRUNCATED' | 'CAPTURE_BAD_BLOCK' | 'CAPTURE_LINKTYPE' | 'CAPTURE_IO';
export class CaptureError extends Error {
  override name = 'CaptureError';
  constructor(readonly code: CaptureErrorCode, message: string) { super(message); }
}

/** Time of a record in ms (float). */
export function tsMsOf(r: CaptureRecord): number { return r.tsSec * 1000 + r.tsNsec / 1e6; }

/** Throw CAPTURE_LINKTYPE unless every record is Ethernet. */
export function requireEthernet(records: readonly CaptureRecord[], name = 'capture'): void {
  for (let i = 0; i < records.length; i++) {
    if (records[i].linkType !== LinkType.ETHERNET) {
      throw new CaptureError('CAPTURE_LINKTYPE', `${name}: record ${i + 1} has link type ${records[i].linkType}, only Ethernet (1) is supported`);
    }
  }
}

/** Parse a whole capture held in memory; pcap or pcapng detected from the magic. */
export function parseCapture(data: Buffer, name = 'capture'): CaptureRecord[] {
  if (data.length === 0) throw new CaptureError('CAPTURE_TRUNCATED', `${name}: empty file`);
  if (data.length < 4) throw new CaptureError('CAPTURE_TRUNCATED', `${name}: file header is truncated (${data.length} bytes)`);
  const m = data.readUInt32LE(0);
  if (m === PCAPNG_SHB) return parsePcapng(data, name);
  if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS) return parsePcap(data, name, true, m === PCAP_MAGIC_NS);
  const mb = data.readUInt32BE(0);
  if (mb === PCAP_MAGIC_US || mb === PCAP_MAGIC_NS) return parsePcap(data, name, false, mb === PCAP_MAGIC_NS);
  throw new CaptureError('CAPTURE_BAD_MAGIC', `${name}: not a pcap or pcapng file (magic 0x${mb.toString(16).padStart(8, '0')})`);
}

function parsePcap(data: Buffer, name: string, le: boolean, nanos: boolean): CaptureRecord[] {
  if (data.length < PCAP_FILE_HEADER_LEN) {
    throw new CaptureError('CAPTURE_TRUNCATED', `${name}: pcap file header is truncated (${data.length} of ${PCAP_FILE_HEADER_LEN} bytes)`);
  }
  const u32 = (o: number): number => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const linkType = u32(20) & 0xffff;   // upper bits: FCS length flags
  const out: CaptureRecord[] = [];
  let o = PCAP_FILE_HEADER_LEN;
  while (o < data.length) {
    const n = out.length + 1;
    const left = data.length - o;
    if (left < PCAP_RECORD_HEADER_LEN) {
      throw new CaptureError('CAPTURE_TRUNCATED', `${name}: record ${n} at byte ${o} is truncated (header needs ${PCAP_RECORD_HEADER_LEN} bytes, ${left} left)`);
    }
    const tsSec = u32(o), frac = u32(o + 4), capLen = u32(o + 8), origLen = u32(o + 12);
    const bodyLeft = left - PCAP_RECORD_HEADER_LEN;
    if (capLen > bodyLeft) {
      throw new CaptureError('CAPTURE_TRUNCATED', `${name}: record ${n} at byte ${o} is truncated (caplen ${capLen}, ${bodyLeft} bytes left)`);
    }
    const s = o + PCAP_RECORD_HEADER_LEN;
    out.push({ tsSec, tsNsec: nanos ? frac : frac * 1000, data: data.subarray(s, s + capLen), origLen, ifIndex: 0, linkType });
    o = s + capLen;
  }
  return out;
}

interface Iface { linkType: number; snapLen: number; unitsPerSec: bigint; offsetSec: bigint }

function parsePcapng(data: Buffer, name: string): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  let ifaces: Iface[] = [];
  let le = true;
  let o = 0;
  let blockNo = 0;
  const u32 = (p: number): number => (le ? data.readUInt32LE(p) : data.readUInt32BE(p));
  const u16 = (p: number): number => (le ? data.readUInt16LE(p) : data.readUInt16BE(p));
  const bad = (msg: string): never => { throw new CaptureError('CAPTURE_BAD_BLOCK', `${name}: block ${blockNo} at byte ${o}: ${msg}`); };
  while (o < data.length) {
    blockNo++;
    const left = data.length - o;
    if (left < 12) throw new CaptureError('CAPTURE_TRUNCATED', `${name}: block ${blockNo} at byte ${o} is truncated (${left} bytes left)`);
    const type = data.readUInt32LE(o);   // the SHB type is a palindrome; other types use the section order
    if (type === PCAPNG_SHB) {
      const bom = data.readUInt32LE(o + 8);
      if (bom === PCAPNG_BOM) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else bad(`bad byte-order magic 0x${bom.toString(16)}`);
      ifaces = [];
    }
    const blockType = u32(o);
    const total = u32(o + 4);
    if (total < 12 || total % 4 !== 0) bad(`bad block length ${total}`);
    if (total > left) throw new CaptureError('CAPTURE_TRUNCATED', `${name}: block ${blockNo} at byte ${o} is truncated (length ${total}, ${left} bytes left)`);
    if (u32(o + total - 4) !== total) bad(`trailing length ${u32(o + total - 4)} does not match ${total}`);
    const body = o + 8, bodyEnd = o + total - 4;
    if (blockType === PCAPNG_SHB) {
      if (bodyEnd - body < 16) bad('section header too short');
    } else if (blockType === BT_IDB) {
      if (bodyEnd - body < 8) bad('interface description too short');
      const iface: Iface = { linkType: u16(body), snapLen: u32(body + 4), unitsPerSec: 1_000_000n, offsetSec: 0n };
      // Options: code u16, length u16, value padded to 4.
      let p = body + 8;
      while (p + 4 <= bodyEnd) {
        const code = u16(p), olen = u16(p + 2);
        if (code === OPT_END) break;
        if (p + 4 + olen > bodyEnd) bad(`option ${code} overruns the block`);
        if (code === OPT_IF_TSRESOL && olen >= 1) {
          const r = data[p + 4];
          iface.unitsPerSec = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
        } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
          iface.offsetSec = le ? data.readBigInt64LE(p + 4) : data.readBigInt64BE(p + 4);
        }
        p += 4 + ((olen + 3) & ~3);
      }
      ifaces.push(iface);
    } else if (blockType === BT_EPB || blockType === BT_OPB) {
      const epb = blockType === BT_EPB;
      if (bodyEnd - body < 20) bad('packet block too short');
      const ifIndex = epb ? u32(body) : u16(body);
      const iface = ifaces[ifIndex];
      if (!iface) bad(`packet on interface ${ifIndex}, but the section describes ${ifaces.length}`);
      const capLen = u32(body + 12), origLen = u32(body + 16);
      if (body + 20 + capLen > bodyEnd) bad(`captured length ${capLen} overruns the block`);
      const ts = (BigInt(u32(body + 4)) << 32n) | BigInt(u32(body + 8));
      out.push({ ...splitTs(ts, iface), data: data.subarray(body + 20, body + 20 + capLen), origLen, ifIndex, linkType: iface.linkType });
    } else if (blockType === BT_SPB) {
      const iface = ifaces[0];
      if (!iface) bad('simple packet block without an interface');
      if (bodyEnd - body < 4) bad('simple packet block too short');
      const origLen = u32(body);
      let capLen = Math.min(origLen, bodyEnd - body - 4);
      if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
      out.push({ tsSec: 0, tsNsec: 0, data: data.subarray(body + 4, body + 4 + capLen), origLen, ifIndex: 0, linkType: iface.linkType });
    }
    // Any other block (NRB, ISB, DSB, custom...) is skipped.
    o += total;
  }
  return out;
}

function splitTs(ts: bigint, iface: Iface): { tsSec: number; tsNsec: number } {
  const sec = ts / iface.unitsPerSec;
  const rem = ts % iface.unitsPerSec;
  return { tsSec: Number(sec + iface.offsetSec), tsNsec: Number((rem * 1_000_000_000n) / iface.unitsPerSec) };
}

/** Read and parse a capture file; I/O failures become CAPTURE_IO. */
export async function readCaptureFile(path: string): Promise<CaptureRecord[]> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new CaptureError('CAPTURE_IO', `${path}: cannot read capture: ${why}`);
  }
  return parseCapture(data, path);
}

export interface PcapWriterOptions { nanos?: boolean; snapLen?: number; linkType?: number }

/** Builds a classic little-endian pcap in memory. */
export class PcapWriter {
  readonly nanos: boolean;
  readonly snapLen: number;
  readonly linkType: number;
  private readonly chunks: Buffer[] = [];
  count = 0;

  constructor(opts: PcapWriterOptions = {}) {
    this.nanos = opts.nanos ?? false;
    this.snapLen = opts.snapLen ?? DEFAULT_SNAPLEN;
    this.linkType = opts.linkType ?? LinkType.ETHERNET;
    if (!Number.isInteger(this.snapLen) || this.snapLen <= 0) throw new RangeError(`pcap snaplen ${this.snapLen} must be a positive integer`);
    const h = Buffer.alloc(PCAP_FILE_HEADER_LEN);
    h.writeUInt32LE(this.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, 0);
    h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); h.writeUInt32LE(0, 12);
    h.writeUInt32LE(this.snapLen, 16); h.writeUInt32LE(this.linkType, 20);
    this.chunks.push(h);
  }

  /** Add a frame stamped `tsMs` (float ms since the epoch); frames longer than snaplen are cut. */
  add(tsMs: number, frame: Uint8Array, origLen: number = frame.length): void {
    let sec = Math.floor(tsMs / 1000);
    let nsec = Math.round((tsMs - sec * 1000) * 1e6);
    if (nsec >= 1e9) { sec++; nsec -= 1e9; }
    this.addTs(sec, nsec, frame, origLen);
  }

  /** Add with an exact (seconds, nanoseconds) stamp; rounded to µs unless nanos. */
  addTs(tsSec: number, tsNsec: number, frame: Uint8Array, origLen: number = frame.length): void {
    let sec = tsSec, frac = this.nanos ? tsNsec : Math.round(tsNsec / 1000);
    if (!this.nanos && frac >= 1_000_000) { sec++; frac -= 1_000_000; }
    const capLen = Math.min(frame.length, this.snapLen);
    const r = Buffer.alloc(PCAP_RECORD_HEADER_LEN + capLen);
    r.writeUInt32LE(sec >>> 0, 0); r.writeUInt32LE(frac, 4);
    r.writeUInt32LE(capLen, 8); r.writeUInt32LE(Math.max(origLen, capLen) >>> 0, 12);
    r.set(frame.subarray(0, capLen), PCAP_RECORD_HEADER_LEN);
    this.chunks.push(r);
    this.count++;
  }

  toBuffer(): Buffer { return Buffer.concat(this.chunks); }

  async writeFile(path: string): Promise<void> {
    try {
      await writeFile(path, this.toBuffer());
    } catch (e) {
      throw new CaptureError('CAPTURE_IO', `${path}: cannot write capture: ${(e as Error).message}`);
    }
  }
}

/** Write records as a classic pcap: ns resolution if any stamp needs it, the records' link type. */
export async function writePcapFile(path: string, records: readonly CaptureRecord[]): Promise<void> {
  const linkType = records.length > 0 ? records[0].linkType : LinkType.ETHERNET;
  for (let i = 0; i < records.length; i++) {
    if (records[i].linkType !== linkType) {
      throw new CaptureError('CAPTURE_LINKTYPE', `${path}: record ${i + 1} has link type ${records[i].linkType}, but record 1 has ${linkType}; a pcap holds one link type`);
    }
  }
  const nanos = records.some((r) => r.tsNsec % 1000 !== 0);
  const w = new PcapWriter({ nanos, linkType });
  for (const r of records) w.addTs(r.tsSec, r.tsNsec, r.data, r.origLen);
  await w.writeFile(path);
}
