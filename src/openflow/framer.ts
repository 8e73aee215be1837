// Incremental OpenFlow framer (ws-style state machine): accumulates TCP chunks and hands each
// complete message to onMessage as (buf, off, len). Zero-copy when a message sits inside one
// chunk; only messages spanning chunks are copied. Header length < 8 is a fatal framing error.
import { OFPBRC, OFPET, OFP_HEADER_LEN } from './constants.js';
import { OfpError } from './errors.js';

export class OfpFramer {
  /** Bytes of an incomplete message carried over from earlier chunks. */
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private failed: OfpError | null = null;

  constructor(private readonly onMessage: (buf: Buffer, off: number, len: number) => void) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number { return this.pendingLen; }

  /**
   * Feed one chunk. Throws OfpError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN) when a header's length is
   * below 8; the stream cannot be resynchronised, so later pushes throw the same error.
   */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    let buf = chunk;
    let off = 0;
    if (this.pendingLen > 0) {
      // Complete the carried-over message by copying only what it still needs.
      this.pending.push(chunk);
      this.pendingLen += chunk.length;
      const joined = this.pendingLen;
      if (joined < OFP_HEADER_LEN) return;
      const head = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, joined);
      const need = this.lengthAt(head, 0);
      if (joined < need) { this.pending = [head]; return; }
      const msg = head.length === need ? head : Buffer.from(head.subarray(0, need));
      const consumedFromChunk = chunk.length - (joined - need);
      this.pending = [];
      this.pendingLen = 0;
      this.onMessage(msg, 0, need);
      buf = chunk;
      off = consumedFromChunk;
    }
    const end = buf.length;
    while (end - off >= OFP_HEADER_LEN) {
      const len = this.lengthAt(buf, off);
      if (end - off < len) break;
      this.onMessage(buf, off, len);
      off += len;
    }
    if (off < end) {
      this.pending = [buf.subarray(off)];
      this.pendingLen = end - off;
    }
  }

  private lengthAt(buf: Buffer, off: number): number {
    const len = buf.readUInt16BE(off + 2);
    if (len < OFP_HEADER_LEN) {
      this.failed = new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_LEN, `OpenFlow header length ${len} is below 8`, Buffer.from(buf.subarray(off, off + OFP_HEADER_LEN)));
      this.pending = [];
      this.pendingLen = 0;
      throw this.failed;
    }
    return len;
  }
}
