// A single-producer single-consumer ring of byte records in one preallocated SharedArrayBuffer: the
// control thread writes the datapath calls into it (worker-datapath.ts), the datapath worker takes
// them out one at a time between its poll passes (datapath-worker.ts). Nothing is allocated per
// record on either side beyond the record itself, nothing is copied twice, and the worker can stop
// after any record (its time budget) where a posted message is deserialized whole.
//
// Layout: Int32 header [written, read] (free-running byte counters, mod 2^32), then `capacity`
// bytes of data (a power of two). A record is a u32 length and its bytes, padded to 4; a record
// that would cross the end is preceded by a WRAP marker and starts at offset 0. The writer
// publishes a record by storing `written` after its bytes (Atomics: release), the reader frees it
// by storing `read` (the writer sees the space).

const HEADER_BYTES = 8;
const W = 0, R = 1;
const WRAP = 0xffffffff;

const pad4 = (n: number): number => (n + 3) & ~3;

export class SharedRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  private readonly head: Int32Array;
  private readonly data: Uint8Array;
  private readonly words: DataView;

  /** A new ring of `capacity` bytes (a power of two), or a view of one made by the other side. */
  constructor(capacityOrBuffer: number | SharedArrayBuffer) {
    if (typeof capacityOrBuffer === 'number') {
      if (capacityOrBuffer < 64 || (capacityOrBuffer & (capacityOrBuffer - 1)) !== 0 || capacityOrBuffer > 2 ** 30) throw new RangeError('SharedRing capacity must be a power of two, 64 B to 1 GiB');
      this.buffer = new SharedArrayBuffer(HEADER_BYTES + capacityOrBuffer);
    } else {
      this.buffer = capacityOrBuffer;
    }
    this.capacity = this.buffer.byteLength - HEADER_BYTES;
    this.head = new Int32Array(this.buffer, 0, 2);
    this.data = new Uint8Array(this.buffer, HEADER_BYTES, this.capacity);
    this.words = new DataView(this.buffer, HEADER_BYTES, this.capacity);
  }

  /** The largest record this ring takes (a quarter of it: a wrap never makes a record unwritable). */
  get maxRecord(): number { return (this.capacity >>> 2) - 4; }

  /** Bytes written and not yet read. */
  get used(): number { return (Atomics.load(this.head, W) - Atomics.load(this.head, R)) >>> 0; }

  // ---------------------------------------------------------------- producer

  /** Append one record; false (nothing written) when the ring has no room for it now. */
  tryWrite(bytes: Uint8Array): boolean {
    const len = bytes.length;
    if (len > this.maxRecord) throw new RangeError(`a ring record of ${len} bytes exceeds the ring's ${this.maxRecord}`);
    const w = Atomics.load(this.head, W) >>> 0;
    const free = this.capacity - ((w - (Atomics.load(this.head, R) >>> 0)) >>> 0);
    const at = w & (this.capacity - 1);
    const need = 4 + pad4(len);
    const tail = this.capacity - at;
    const skip = need > tail ? tail : 0;   // the rest of the ring up to its end, marked WRAP
    if (skip + need > free) return false;
    if (skip > 0) this.words.setUint32(at, WRAP, true);
    const start = skip > 0 ? 0 : at;
    this.words.setUint32(start, len, true);
    this.data.set(bytes, start + 4);
    Atomics.store(this.head, W, (w + skip + need) | 0);
    return true;
  }

  // ---------------------------------------------------------------- consumer

  /**
   * The next record as a view into the ring (valid until release()), or null when none is written.
   * Call release() once done with it.
   */
  peek(): Uint8Array | null {
    let r = Atomics.load(this.head, R) >>> 0;
    const w = Atomics.load(this.head, W) >>> 0;
    if (r === w) return null;
    let at = r & (this.capacity - 1);
    let len = this.words.getUint32(at, true);
    if (len === WRAP) {
      r = (r + (this.capacity - at)) >>> 0;
      Atomics.store(this.head, R, r | 0);
      if (r === w) return null;
      at = 0;
      len = this.words.getUint32(0, true);
    }
    this.pendingRelease = 4 + pad4(len);
    return this.data.subarray(at + 4, at + 4 + len);
  }

  private pendingRelease = 0;

  /** Free the record peek() returned (the writer may reuse its bytes from now on). */
  release(): void {
    if (this.pendingRelease === 0) return;
    Atomics.store(this.head, R, ((Atomics.load(this.head, R) >>> 0) + this.pendingRelease) | 0);
    this.pendingRelease = 0;
  }
}
