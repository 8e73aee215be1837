// e2e: QemuStreamPort against small framed-socket peers on Unix sockets in a temp dir (no root):
// frames split across writes and several per write, one write per send batch, oversized frames
// dropped and counted, reconnect with backoff (connect role) and a new client after a disconnect
// (listen role).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Batch } from '../../src/packet/batch.js';
import { PacketPool } from '../../src/packet/pool.js';
import { QEMU_MAX_FRAME_BYTES, QemuStreamPort } from '../../src/datapath/ports/qemu-stream.js';
import type { PortStatusEvent } from '../../src/datapath/ports/io-counters.js';
import { waitFor } from '../helpers/netns.js';
import { collect } from './ports-util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

function tempSock(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slqs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'sock');
}

function frame(seq: number, len = 60): Buffer {
  const f = Buffer.alloc(len, 0xa5);
  f.fill(0xff, 0, 6);
  f.writeUInt16BE(0x88b5, 12);
  f.writeUInt32BE(seq, 14);
  return f;
}
function framed(f: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(f.length);
  return Buffer.concat([h, f]);
}
/** Parse a byte stream of length-prefixed frames (test side). */
function unframe(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o + 4 <= stream.length) {
    const n = stream.readUInt32BE(o);
    if (o + 4 + n > stream.length) break;
    out.push(stream.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}
function connectClient(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(p, () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => { s.destroy(); });
  });
}
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('QemuStreamPort', () => {
  it('listen role: reassembles frames split across writes and packed several per write', async () => {
    const p = tempSock();
    const port = new QemuStreamPort({ path: p }, 'listen');
    cleanups.push(() => port.close());
    await port.open();
    const pool = new PacketPool(256);
    const got = collect(port, pool);
    const client = await connectClient(p);
    await waitFor(() => port.up, 2000, 'accepted client');

    const frames = [frame(0), frame(1, 1514), frame(2, 64), frame(3, 200)];
    const stream = Buffer.concat(frames.map(framed));
    // Split everywhere awkward: inside a length prefix, inside a frame, then the rest in one write.
    const cuts = [2, 5, 70, 1600, stream.length];
    let prev = 0;
    for (const cut of cuts) { client.write(stream.subarray(prev, cut)); prev = cut; await tick(10); }
    await waitFor(() => got.length >= 4, 2000, 'four frames');
    expect(got.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
    expect(port.counters.rxFrames).toBe(4);

    // 100 frames in one write: all arrive, in order, taking more than one batch.
    client.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => framed(frame(1000 + i)))));
    await waitFor(() => got.length >= 104, 2000, '100 more frames');
    expect(got.slice(4).map((f) => f.readUInt32BE(14))).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
  });

  it('drops and counts oversized frames but keeps the stream in sync', async () => {
    const p = tempSock();
    const port = new QemuStreamPort({ path: p }, 'listen');
    cleanups.push(() => port.close());
    await port.open();
    const pool = new PacketPool(64);
    const got = collect(port, pool);
    const client = await connectClient(p);
    const big = Buffer.alloc(QEMU_MAX_FRAME_BYTES + 1, 0x11);
    client.write(Buffer.concat([framed(frame(1)), framed(big), framed(frame(2))]));
    await waitFor(() => got.length >= 2, 2000, 'frames around the oversized one');
    expect(got.map((f) => f.readUInt32BE(14))).toEqual([1, 2]);
    expect(port.counters.rxDrops).toBe(1);
  });

  it('sends a batch as one socket write with QEMU framing', async () => {
    const p = tempSock();
    const port = new QemuStreamPort({ path: p }, 'listen');
    cleanups.push(() => port.close());
    await port.open();
    const client = await connectClient(p);
    await waitFor(() => port.up, 2000, 'accepted client');
    const chunks: Buffer[] = [];
    client.on('data', (d: Buffer) => chunks.push(d));
    const pool = new PacketPool(128);
    const b = new Batch();
    for (let i = 0; i < 64; i++) { const pk = pool.alloc()!; const f = frame(i, 60 + i); pk.load(f, 0, f.length); b.push(pk); }
    const calls = port.counters.nativeCalls;
    expect(port.send(b)).toBe(64);
    expect(port.counters.nativeCalls - calls).toBe(1);
    await waitFor(() => unframe(Buffer.concat(chunks)).length >= 64, 2000, '64 frames at the client');
    const out = unframe(Buffer.concat(chunks));
    expect(out.map((f) => f.length)).toEqual(Array.from({ length: 64 }, (_, i) => 60 + i));
    expect(out.map((f) => f.readUInt32BE(14))).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });

  it('listen role: accepts one client at a time, and a new client after a disconnect', async () => {
    const p = tempSock();
    const port = new QemuStreamPort({ path: p }, 'listen');
    cleanups.push(() => port.close());
    const events: PortStatusEvent[] = [];
    port.onStatus = (ev) => events.push(ev);
    await port.open();
    const pool = new PacketPool(64);
    const got = collect(port, pool);
    const c1 = await connectClient(p);
    await waitFor(() => port.up, 2000, 'first client');
    const c2 = await connectClient(p).catch(() => null);
    let c2closed = c2 === null;
    c2?.on('close', () => { c2closed = true; });
    await waitFor(() => c2closed, 2000, 'second client refused');
    c1.write(framed(frame(7)).subarray(0, 10));   // half a frame, then hang up
    await tick();
    c1.destroy();
    await waitFor(() => !port.up, 2000, 'disconnect seen');
    const c3 = await connectClient(p);
    await waitFor(() => port.up, 2000, 'third client');
    c3.write(framed(frame(8)));
    await waitFor(() => got.length >= 1, 2000, 'frame from the new client');
    expect(got.map((f) => f.readUInt32BE(14))).toEqual([8]);   // the half frame did not leak over
    expect(port.connections).toBe(2);
    expect(events.map((e) => e.up)).toEqual([true, false, true]);
  });

  it('connect role: retries until the peer listens, and reconnects with backoff after a drop', async () => {
    const p = tempSock();
    const peers: net.Socket[] = [];
    const received: Buffer[] = [];
    const server = net.createServer((s) => { peers.push(s); s.on('data', (d: Buffer) => received.push(d)); });
    cleanups.push(() => new Promise<void>((r) => { for (const s of peers) s.destroy(); server.close(() => r()); }));

    const port = new QemuStreamPort({ path: p }, 'connect');
    cleanups.push(() => port.close());
    const events: PortStatusEvent[] = [];
    port.onStatus = (ev) => events.push(ev);
    await port.open();            // nobody listens yet: resolves, keeps trying
    expect(port.up).toBe(false);
    const pool = new PacketPool(64);
    const got = collect(port, pool);
    await new Promise<void>((r) => server.listen(p, () => r()));
    await waitFor(() => port.up && peers.length === 1, 3000, 'first connection');

    peers[0].write(framed(frame(5)));
    await waitFor(() => got.length === 1, 2000, 'frame from the peer');
    expect(got[0].readUInt32BE(14)).toBe(5);

    peers[0].destroy();           // the peer drops us: we reconnect
    await waitFor(() => peers.length === 2 && port.up, 3000, 'reconnection');
    expect(port.connections).toBe(2);
    const b = new Batch();
    const pk = pool.alloc()!;
    pk.load(frame(6), 0, 60);
    b.push(pk);
    expect(port.send(b)).toBe(1);
    pool.release(pk);
    await waitFor(() => unframe(Buffer.concat(received)).length === 1, 2000, 'frame at the new peer');
    expect(unframe(Buffer.concat(received))[0].readUInt32BE(14)).toBe(6);
    expect(events.map((e) => e.up)).toEqual([true, false, true]);
  });

  it('drops sends while disconnected instead of throwing', async () => {
    const port = new QemuStreamPort({ path: tempSock() }, 'connect');
    cleanups.push(() => port.close());
    await port.open();
    const b = new Batch();
    const pool = new PacketPool(4);
    const pk = pool.alloc()!;
    pk.load(frame(1), 0, 60);
    b.push(pk);
    expect(port.send(b)).toBe(0);
    expect(port.counters.txDrops).toBe(1);
    expect(() => new QemuStreamPort({ host: '127.0.0.1', port: 70000 }, 'connect')).toThrow(RangeError);
  });
});
