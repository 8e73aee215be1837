// Test-side capture construction: classic pcap in either byte order, µs or ns magic, and pcapng
// with several interfaces/sections, so the reader's variants and error paths can be exercised
// without checked-in binaries. Also the path to the shared third-party vectors.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/vectors relative to the project root (the repo is two levels above test/helpers). */
export const VECTORS_DIR = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));
export const CAPTURES_DIR = `${VECTORS_DIR}captures/`;
export const vectorsPresent = existsSync(CAPTURES_DIR);

export interface TestRecord { tsSec: number; frac: number; data: Uint8Array; origLen?: number }

function w32(b: Buffer, o: number, v: number, le: boolean): void { if (le) b.writeUInt32LE(v >>> 0, o); else b.writeUInt32BE(v >>> 0, o); }
function w16(b: Buffer, o: number, v: number, le: boolean): void { if (le) b.writeUInt16LE(v, o); else b.writeUInt16BE(v, o); }

/** Classic pcap: `frac` is µs, or ns when `nanos`. */
export function makePcap(records: TestRecord[], opts: { bigEndian?: boolean; nanos?: boolean; linkType?: number; snapLen?: number } = {}): Buffer {
  const le = !opts.bigEndian;
  const h = Buffer.alloc(24);
  w32(h, 0, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  w16(h, 4, 2, le); w16(h, 6, 4, le);
  w32(h, 16, opts.snapLen ?? 65535, le); w32(h, 20, opts.linkType ?? 1, le);
  const parts = [h];
  for (const r of records) {
    const rh = Buffer.alloc(16);
    w32(rh, 0, r.tsSec, le); w32(rh, 4, r.frac, le); w32(rh, 8, r.data.length, le); w32(rh, 12, r.origLen ?? r.data.length, le);
    parts.push(rh, Buffer.from(r.data));
  }
  return Buffer.concat(parts);
}

function block(type: number, body: Buffer, le: boolean): Buffer {
  const padded = Buffer.alloc((body.length + 3) & ~3);
  body.copy(padded);
  const total = 12 + padded.length;
  const b = Buffer.alloc(total);
  w32(b, 0, type, le); w32(b, 4, total, le); padded.copy(b, 8); w32(b, total - 4, total, le);
  return b;
}
function option(code: number, value: Buffer, le: boolean): Buffer {
  const b = Buffer.alloc(4 + ((value.length + 3) & ~3));
  w16(b, 0, code, le); w16(b, 2, value.length, le); value.copy(b, 4);
  return b;
}

export interface NgInterface { linkType: number; snapLen?: number; tsresol?: number; tsoffsetSec?: number }
export type NgBlock =
  | { kind: 'shb' }
  | { kind: 'idb'; iface: NgInterface }
  | { kind: 'epb'; ifIndex: number; ts: bigint; data: Uint8Array; origLen?: number }
  | { kind: 'spb'; data: Uint8Array; origLen?: number }
  | { kind: 'other'; type: number; body: Buffer };

/** pcapng from a list of blocks (start with { kind: 'shb' }); byte order for the whole file. */
export function makePcapng(blocks: NgBlock[], opts: { bigEndian?: boolean } = {}): Buffer {
  const le = !opts.bigEndian;
  const out: Buffer[] = [];
  for (const bl of blocks) {
    switch (bl.kind) {
      case 'shb': {
        const body = Buffer.alloc(16);
        w32(body, 0, 0x1a2b3c4d, le); w16(body, 4, 1, le); w16(body, 6, 0, le);
        body.writeInt32LE(-1, 8); body.writeInt32LE(-1, 12);   // section length unknown
        out.push(block(0x0a0d0d0a, body, le));
        break;
      }
      case 'idb': {
        const fixed = Buffer.alloc(8);
        w16(fixed, 0, bl.iface.linkType, le); w32(fixed, 4, bl.iface.snapLen ?? 0, le);
        const opts: Buffer[] = [];
        if (bl.iface.tsresol !== undefined) opts.push(option(9, Buffer.from([bl.iface.tsresol]), le));
        if (bl.iface.tsoffsetSec !== undefined) {
          const v = Buffer.alloc(8);
          if (le) v.writeBigInt64LE(BigInt(bl.iface.tsoffsetSec)); else v.writeBigInt64BE(BigInt(bl.iface.tsoffsetSec));
          opts.push(option(14, v, le));
        }
        if (opts.length) opts.push(Buffer.alloc(4));   // opt_endofopt
        out.push(block(1, Buffer.concat([fixed, ...opts]), le));
        break;
      }
      case 'epb': {
        const fixed = Buffer.alloc(20);
        w32(fixed, 0, bl.ifIndex, le); w32(fixed, 4, Number(bl.ts >> 32n), le); w32(fixed, 8, Number(bl.ts & 0xffffffffn), le);
        w32(fixed, 12, bl.data.length, le); w32(fixed, 16, bl.origLen ?? bl.data.length, le);
        out.push(block(6, Buffer.concat([fixed, Buffer.from(bl.data)]), le));
        break;
      }
      case 'spb': {
        const fixed = Buffer.alloc(4);
        w32(fixed, 0, bl.origLen ?? bl.data.length, le);
        out.push(block(3, Buffer.concat([fixed, Buffer.from(bl.data)]), le));
        break;
      }
      case 'other': out.push(block(bl.type, bl.body, le)); break;
    }
  }
  return Buffer.concat(out);
}
