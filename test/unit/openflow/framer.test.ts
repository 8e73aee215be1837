// OfpFramer: exact slicing whatever the chunking (every split point, many messages per chunk, one
// byte per chunk, a 64 KiB message in 1-byte reads), the per-turn message budget (yield with
// setImmediate, in order, with backlog notices), and header lengths it must refuse.
import { describe, it, expect } from 'vitest';
import { OFPBRC, OFPET, OfpError, OfpFramer, encodeMessage, type OfpMessage } from '../../../src/openflow/index.js';

const echo = (xid: number, bytes: number): Buffer => encodeMessage({ type: 'echo_request', xid, data: Buffer.alloc(bytes, xid & 0xff) } as OfpMessage);
/** Messages of mixed sizes (8 .. 300 bytes), concatenated. */
function stream(n: number): { all: Buffer; msgs: Buffer[] } {
  const msgs: Buffer[] = [];
  for (let i = 0; i < n; i++) msgs.push(echo(i + 1, (i * 37) % 293));
  return { all: Buffer.concat(msgs), msgs };
}
/** A framer with an unlimited budget that records copies of what it hands out. */
function recorder(budget = 1_000_000): { f: OfpFramer; got: Buffer[] } {
  const got: Buffer[] = [];
  const f = new OfpFramer((buf, off, len) => got.push(Buffer.from(buf.subarray(off, off + len))), { budget });
  return { f, got };
}
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function expectBadLen(fn: () => void, text: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(OfpError);
  const e = err as OfpError;
  expect([e.type, e.code]).toEqual([OFPET.BAD_REQUEST, OFPBRC.BAD_LEN]);
  expect(e.message).toMatch(text);
  expect(e.message).not.toContain('\n');
}

describe('OfpFramer slicing', () => {
  it('every split point of a three-message stream gives the same three messages', () => {
    const { all, msgs } = stream(3);
    for (let cut = 0; cut <= all.length; cut++) {
      for (let cut2 = cut; cut2 <= all.length; cut2 += 11) {
        const { f, got } = recorder();
        f.push(all.subarray(0, cut)); f.push(all.subarray(cut, cut2)); f.push(all.subarray(cut2));
        if (got.length !== 3 || !got.every((m, i) => m.equals(msgs[i])) || f.buffered !== 0) expect(got, `cuts at ${cut}, ${cut2}`).toEqual(msgs);
      }
    }
  });

  it('many messages in one chunk are handed out zero-copy, in order', () => {
    const { all, msgs } = stream(500);
    const views: Buffer[] = [];
    const f = new OfpFramer((buf, off, len) => { views.push(buf.subarray(off, off + len)); }, { budget: 1000 });
    f.push(all);
    expect(views).toEqual(msgs);
    expect(views.every((v) => v.buffer === all.buffer)).toBe(true);
  });

  it('a 1-byte-per-chunk stream, and a 64 KiB message read a byte at a time', () => {
    const { all, msgs } = stream(40);
    const a = recorder();
    for (let i = 0; i < all.length; i++) a.f.push(all.subarray(i, i + 1));
    expect(a.got).toEqual(msgs);
    const big = echo(9, 0xffff - 8);
    expect(big.length).toBe(0xffff);
    const b = recorder();
    let wrong = 0;
    for (let i = 0; i < big.length; i++) {
      b.f.push(big.subarray(i, i + 1));
      if (i < big.length - 1 && b.f.buffered !== i + 1) wrong++;
    }
    expect(wrong).toBe(0);
    expect(b.got).toEqual([big]);
    expect(b.f.buffered).toBe(0);
  });

  it('a message ending exactly at a chunk boundary, then the next header split 1 + 7', () => {
    const { all, msgs } = stream(2);
    const { f, got } = recorder();
    f.push(all.subarray(0, msgs[0].length));
    expect(got).toEqual([msgs[0]]);
    f.push(all.subarray(msgs[0].length, msgs[0].length + 1));
    f.push(all.subarray(msgs[0].length + 1));
    expect(got).toEqual(msgs);
  });
});

describe('OfpFramer per-turn budget', () => {
  it('hands out at most `budget` messages per turn, the rest in later turns, in order', async () => {
    const { all, msgs } = stream(25);
    const got: number[] = [];
    const backlog: boolean[] = [];
    const f = new OfpFramer((buf, off) => got.push(buf.readUInt32BE(off + 4)), { budget: 10, onBacklog: (w) => backlog.push(w) });
    f.push(all);
    expect(got.length).toBe(10);
    expect(f.waiting).toBe(true);
    f.push(echo(99, 0));                 // arrives while waiting: queued behind, not handed out now
    expect(got.length).toBe(10);
    await nextTurn();
    expect(got.length).toBe(20);
    await nextTurn();
    expect(got).toEqual([...msgs.map((m) => m.readUInt32BE(4)), 99]);
    expect(backlog).toEqual([true, false]);
    await nextTurn();
    expect(f.waiting).toBe(false);
    expect(f.buffered).toBe(0);
  });

  it('bytes pushed after the budget is used say so (onBacklog) even when the turn ended on a partial header', async () => {
    const got: number[] = [];
    const backlog: boolean[] = [];
    const f = new OfpFramer((buf, off) => got.push(buf.readUInt32BE(off + 4)), { budget: 2, onBacklog: (w) => backlog.push(w) });
    const third = echo(3, 4);
    f.push(Buffer.concat([echo(1, 0), echo(2, 0), third.subarray(0, 3)]));
    expect(got).toEqual([1, 2]);
    expect(backlog).toEqual([]);           // 3 bytes held: not yet a message waiting
    f.push(third.subarray(3));            // the budget is used: held for the next turn...
    expect(f.waiting).toBe(true);
    expect(backlog).toEqual([true]);       // ...and the owner is told, so it can tell when it ends
    await nextTurn();
    expect(got).toEqual([1, 2, 3]);
    expect(backlog).toEqual([true, false]);
  });

  it('the budget counts across pushes in one turn', async () => {
    const { msgs } = stream(6);
    const { f, got } = recorder(4);
    for (const m of msgs) f.push(m);
    expect(got.length).toBe(4);
    await nextTurn();
    expect(got).toEqual(msgs);
  });

  it('a framing error found in a later turn goes through the turn wrapper', async () => {
    const errors: string[] = [];
    const got: Buffer[] = [];
    const f = new OfpFramer((b, o, l) => got.push(b.subarray(o, o + l)), {
      budget: 1,
      turn: (drain) => { try { drain(); } catch (e) { errors.push((e as Error).message); } },
    });
    const bad = Buffer.from('0400000400000000', 'hex');
    f.push(Buffer.concat([echo(1, 0), bad]));
    expect(got.length).toBe(1);
    await nextTurn();
    expect(errors).toEqual(['OpenFlow header length 4 is below 8']);
    expectBadLen(() => f.push(echo(2, 0)), /below 8/);
  });
});

describe('OfpFramer header lengths', () => {
  it('zero and 4 are refused (split header too), with the header as error data', () => {
    const { f } = recorder();
    f.push(Buffer.from('04020000', 'hex'));
    let data: Uint8Array | undefined;
    try { f.push(Buffer.from('0000002a', 'hex')); } catch (e) { data = (e as OfpError).data; }
    expect(Buffer.from(data ?? []).toString('hex')).toBe('040200000000002a');
    expectBadLen(() => recorder().f.push(Buffer.from('0400000400000000', 'hex')), /header length 4 is below 8/);
  });

  it('a length above maxLen is refused before the message arrives', () => {
    const f = new OfpFramer(() => {}, { maxLen: 1024 });
    f.push(echo(1, 1000));   // 1008 bytes: fine
    expectBadLen(() => f.push(echo(2, 2000).subarray(0, 8)), /header length 2008 is above the limit of 1024/);
    expect(f.buffered).toBe(0);
  });

  it('refuses nonsensical options in one line', () => {
    expect(() => new OfpFramer(() => {}, { budget: 0 })).toThrow(/budget 0 must be a positive integer/);
    expect(() => new OfpFramer(() => {}, { maxLen: 70000 })).toThrow(/maxLen 70000 is out of range 8-65535/);
  });
});
