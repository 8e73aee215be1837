// Incremental OpenFlow framer: takes TCP chunks as they come and hands each complete message to
// onMessage as (buf, off, len). Chunks are kept in a list with a read cursor, never re-concatenated:
// a message inside one chunk is passed zero-copy, one spanning chunks is copied once, exactly, when
// its last byte arrives; so a byte costs O(1) however small the reads (the old framer re-joined the
// pending bytes on every chunk: quadratic on a 1-byte-per-read stream). The 8-byte header is read
// across chunk boundaries. At most `budget` messages are handled per event-loop turn; the rest wait
// for a setImmediate turn, so one peer's burst cannot keep the loop from everything else (other
// sessions, timers, the datapath). A header length below 8 or above maxLen is a fatal framing error.
import { OFPBRC, OFPET, OFP_HEADER_LEN } from './constants.js';
import { OfpError } from './errors.js';

/** Largest message the 16-bit header length can announce. */
export const OFP_MAX_MESSAGE_LEN = 0xffff;
/** Messages per event-loop turn unless FramerOptions.budget says otherwise. */
export const DEFAULT_FRAMER_BUDGET = 256;

export interface FramerOptions {
  /** Messages handed to onMessage per turn before yielding with setImmediate (default 256). */
  budget?: number;
  /** Longest message accepted, 8 .. 65535 (default 65535): a longer header is a framing error. */
  maxLen?: number;
  /**
   * Runs a turn the framer scheduled itself (after a yield), e.g. inside the owner's cork/uncork
   * and the same try/catch as its push() calls: a framing error found there is thrown through it.
   * Without it such an error is kept and thrown by the next push().
   */
  turn?: (drain: () => void) => void;
  /**
   * true when the framer yields with bytes of further messages waiting (the turn's budget is used
   * up), false once it has caught up: the owner may pause its socket meanwhile, so what waits stays
   * bounded.
   */
  onBacklog?: (waiting: boolean) => void;
}

export class OfpFramer {
  /** Unconsumed chunks are chunks[head .. count); chunks[head] is read from byte `pos`. Slots are reused, never shrunk. */
  private chunks: Buffer[] = [];
  private count = 0;
  private head = 0;
  private pos = 0;
  /** Bytes not yet handed out (the whole message being received included). */
  private queued = 0;
  private failed: OfpError | null = null;
  /** Messages handed out this event-loop turn; `armed`: a setImmediate will start the next turn. */
  private used = 0;
  private armed = false;
  private backlog = false;
  private readonly budget: number;
  private readonly maxLen: number;
  private readonly nextTurn = (): void => {
    this.armed = false;
    this.used = 0;
    if (this.failed === null && this.queued >= OFP_HEADER_LEN) this.runTurn(); else this.caughtUp();
  };
  private readonly drainBound = (): void => { this.drain(); };

  constructor(private readonly onMessage: (buf: Buffer, off: number, len: number) => void, private readonly opts: FramerOptions = {}) {
    const budget = opts.budget ?? DEFAULT_FRAMER_BUDGET, maxLen = opts.maxLen ?? OFP_MAX_MESSAGE_LEN;
    if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`OpenFlow framer budget ${budget} must be a positive integer`);
    if (!Number.isInteger(maxLen) || maxLen < OFP_HEADER_LEN || maxLen > OFP_MAX_MESSAGE_LEN) throw new RangeError(`OpenFlow framer maxLen ${maxLen} is out of range 8-65535`);
    this.budget = budget;
    this.maxLen = maxLen;
  }

  /** Bytes held: an incomplete message, and whole ones waiting for the next turn. */
  get buffered(): number { return this.queued; }

  /** True while messages wait for a later turn (this turn's budget is used up). */
  get waiting(): boolean { return this.used >= this.budget && this.queued >= OFP_HEADER_LEN; }

  /**
   * Feed one chunk; complete messages go to onMessage, at most `budget` of them now. Throws
   * OfpError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN) when a header's length is below 8 or above maxLen;
   * the stream cannot be resynchronised, so later pushes throw the same error.
   */
  push(chunk: Buffer): void {
    if (this.failed !== null) throw this.failed;
    if (chunk.length === 0) return;
    if (this.count === this.chunks.length) this.chunks.push(chunk); else this.chunks[this.count] = chunk;
    this.count++;
    this.queued += chunk.length;
    if (this.used < this.budget) this.drain();   // else the next turn gets to it, in order
    else this.markBacklog();   // `waiting` and onBacklog(true) go together: caughtUp() ends both
  }

  private markBacklog(): void {
    if (this.queued >= OFP_HEADER_LEN && !this.backlog) {
      this.backlog = true;
      if (this.opts.onBacklog !== undefined) this.opts.onBacklog(true);
    }
  }

  private runTurn(): void {
    if (this.failed !== null) return;
    const turn = this.opts.turn;
    if (turn !== undefined) { turn(this.drainBound); return; }
    try { this.drain(); } catch (e) { if (!(e instanceof OfpError)) throw e; /* kept in failed: the next push throws it */ }
  }

  /**
   * Hand out whole messages until this turn's budget is used up; the first one arms a setImmediate
   * that starts the next turn (a fresh budget, and whatever is still waiting).
   */
  private drain(): void {
    while (this.used < this.budget) {
      if (this.queued < OFP_HEADER_LEN) { this.caughtUp(); return; }
      const len = this.headerLength();
      if (this.queued < len) { this.caughtUp(); return; }
      if (!this.armed) { this.armed = true; setImmediate(this.nextTurn); }
      this.used++;
      const c = this.chunks[this.head];
      if (c.length - this.pos >= len) {
        const off = this.pos;
        this.consume(len);
        this.onMessage(c, off, len);
      } else {
        this.onMessage(this.take(len), 0, len);
      }
    }
    this.markBacklog();
  }

  private caughtUp(): void {
    if (!this.backlog) return;
    this.backlog = false;
    if (this.opts.onBacklog !== undefined) this.opts.onBacklog(false);
  }

  /** The byte `i` bytes past the cursor (i < queued). */
  private byteAt(i: number): number {
    let k = this.head, at = this.pos + i;
    while (at >= this.chunks[k].length) { at -= this.chunks[k].length; k++; }
    return this.chunks[k][at];
  }

  /** The length field of the header at the cursor (queued >= 8), validated. */
  private headerLength(): number {
    const c = this.chunks[this.head], p = this.pos;
    const len = c.length - p >= 4 ? (c[p + 2] << 8) | c[p + 3] : (this.byteAt(2) << 8) | this.byteAt(3);
    if (len >= OFP_HEADER_LEN && len <= this.maxLen) return len;
    const header = Buffer.alloc(OFP_HEADER_LEN);
    for (let i = 0; i < OFP_HEADER_LEN; i++) header[i] = this.byteAt(i);
    const why = len < OFP_HEADER_LEN ? `is below ${OFP_HEADER_LEN}` : `is above the limit of ${this.maxLen}`;
    this.failed = new OfpError(OFPET.BAD_REQUEST, OFPBRC.BAD_LEN, `OpenFlow header length ${len} ${why}`, header);
    this.chunks = []; this.count = 0; this.head = 0; this.pos = 0; this.queued = 0;
    throw this.failed;
  }

  /** Advance the cursor by `len` bytes (all in chunks[head] .. onwards), dropping spent chunks. */
  private consume(len: number): void {
    this.queued -= len;
    let left = len;
    while (left > 0) {
      const room = this.chunks[this.head].length - this.pos;
      if (left < room) { this.pos += left; return; }
      left -= room;
      this.nextChunk();
    }
  }

  /** Copy the next `len` bytes (spanning chunks) into a new buffer and advance past them. */
  private take(len: number): Buffer {
    const msg = Buffer.allocUnsafe(len);
    let filled = 0;
    while (filled < len) {
      const c = this.chunks[this.head];
      const n = Math.min(len - filled, c.length - this.pos);
      c.copy(msg, filled, this.pos, this.pos + n);
      filled += n;
      this.pos += n;
      if (this.pos === c.length) this.nextChunk();
    }
    this.queued -= len;
    return msg;
  }

  private nextChunk(): void {
    this.chunks[this.head] = EMPTY;   // let the spent chunk go now
    this.head++;
    this.pos = 0;
    if (this.head === this.count) { this.head = 0; this.count = 0; return; }
    if (this.head >= 1024 && this.head * 2 >= this.count) {
      // a long run of tiny reads behind a big message: move the live slots down
      this.chunks.copyWithin(0, this.head, this.count);
      this.chunks.fill(EMPTY, this.count - this.head, this.count);
      this.count -= this.head;
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);
