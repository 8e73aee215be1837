// Bounds-checked reader and two-mode writer used by every OpenFlow encoder/decoder. The reader
// throws OfpError (default OFPBRC_BAD_LEN) instead of RangeError; the writer either writes into a
// buffer or only measures (buf = null), so encodingLength and encode share one code path.
import { OFPBRC, OFPET } from './constants.js';
import { OfpError } from './errors.js';

export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly errType: number = OFPET.BAD_REQUEST,
    readonly errCode: number = OFPBRC.BAD_LEN,
    readonly what = 'message',
  ) {}
  get left(): number { return this.end - this.pos; }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new OfpError(this.errType, this.errCode, `Truncated ${this.what}: need ${n} bytes at ${this.pos}, ${this.end - this.pos} left`);
    }
  }
  /** Sub-reader over the next n bytes (advances this reader), with its own error code. */
  sub(n: number, errType = this.errType, errCode = this.errCode, what = this.what): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n, errType, errCode, what);
    this.pos += n;
    return r;
  }
  u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  u64(): bigint {
    this.need(8);
    // Two u32 reads and at most one shift: cheaper than readBigUInt64BE, and no BigInt at all for 0.
    const buf = this.buf, p = this.pos;
    const hi = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
    const lo = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
    this.pos = p + 8;
    if (hi === 0) return lo === 0 ? 0n : BigInt(lo);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
  skip(n: number): void { this.need(n); this.pos += n; }
  /** Copy of the next n bytes (decoded messages never alias the input buffer). */
  bytes(n: number): Buffer { this.need(n); const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n)); this.pos += n; return b; }
  rest(): Buffer { return this.bytes(this.left); }
  /** NUL-terminated UTF-8 string in a fixed n-byte field. */
  str(n: number): string {
    this.need(n);
    let e = this.pos;
    const lim = this.pos + n;
    while (e < lim && this.buf[e] !== 0) e++;
    const s = this.buf.toString('utf8', this.pos, e);
    this.pos = lim;
    return s;
  }
  mac(): string {
    this.need(6);
    const parts: string[] = [];
    for (let i = 0; i < 6; i++) parts.push(this.buf[this.pos + i]!.toString(16).padStart(2, '0'));
    this.pos += 6;
    return parts.join(':');
  }
  fail(code: number, message: string, type = this.errType): never { throw new OfpError(type, code, message); }
}

export class Writer {
  constructor(
    readonly buf: Buffer | null,
    public pos: number,
  ) {}
  u8(v: number): void { if (this.buf) this.buf.writeUInt8(v, this.pos); this.pos += 1; }
  u16(v: number): void { if (this.buf) this.buf.writeUInt16BE(v, this.pos); this.pos += 2; }
  u32(v: number): void { if (this.buf) this.buf.writeUInt32BE(v >>> 0 === v ? v : checkU32(v), this.pos); this.pos += 4; }
  u64(v: bigint): void { if (this.buf) this.buf.writeBigUInt64BE(v, this.pos); this.pos += 8; }
  zeros(n: number): void { if (this.buf) this.buf.fill(0, this.pos, this.pos + n); this.pos += n; }
  bytes(b: Uint8Array): void { if (this.buf) this.buf.set(b, this.pos); this.pos += b.length; }
  /** Fixed n-byte NUL-padded string field (truncated to n-1 bytes so a NUL always ends it). */
  str(s: string, n: number): void {
    if (this.buf) {
      this.buf.fill(0, this.pos, this.pos + n);
      const b = Buffer.from(s, 'utf8');
      this.buf.set(b.subarray(0, n - 1), this.pos);
    }
    this.pos += n;
  }
  mac(s: string): void {
    const parts = s.split(':');
    if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new RangeError(`Invalid MAC address "${s}"`);
    for (const p of parts) this.u8(parseInt(p, 16));
  }
  patchU16(at: number, v: number): void { if (this.buf) this.buf.writeUInt16BE(v, at); }
  /** Pad with zeros from `start` to a multiple of 8. */
  pad8(start: number): void { this.zeros(pad8(this.pos - start) - (this.pos - start)); }
}

function checkU32(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`Value ${v} does not fit in 32 bits`);
  return v;
}

export const pad8 = (n: number): number => (n + 7) & ~7;
