// Shared bits of the port e2e suites: an ARP request builder, a receiver that copies every frame
// a port delivers (tests only: it allocates), and a two-port JS relay like the bench's.
import { Batch, MAX_BURST } from '../../src/datapath/batch.js';
import type { PacketPool } from '../../src/datapath/pool.js';
import type { PortBackend } from '../../src/datapath/port.js';

/** Broadcast ARP who-has `targetIp` from `srcMac`/`srcIp` (42 bytes). */
export function arpRequest(srcMac: Buffer, srcIp: number[], targetIp: number[]): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6);
  srcMac.copy(f, 6);
  f.writeUInt16BE(0x0806, 12);
  f.writeUInt16BE(1, 14); f.writeUInt16BE(0x0800, 16); f[18] = 6; f[19] = 4; f.writeUInt16BE(1, 20);
  srcMac.copy(f, 22);
  Buffer.from(srcIp).copy(f, 28);
  Buffer.from(targetIp).copy(f, 38);
  return f;
}

/** Drain `port` on every readiness callback, keeping copies of the frames. */
export function collect(port: PortBackend, pool: PacketPool): Buffer[] {
  const frames: Buffer[] = [];
  const b = new Batch();
  port.onReadable = () => {
    for (;;) {
      const n = port.recv(b, pool);
      for (let i = 0; i < b.count; i++) { frames.push(Buffer.from(b.pkts[i].frame())); pool.release(b.pkts[i]); }
      b.clear();
      if (n < MAX_BURST) break;
    }
  };
  return frames;
}

/** Forward everything between two ports (a two-port hub), batch by batch. */
export function relay(a: PortBackend, z: PortBackend, pool: PacketPool): void {
  const b = new Batch();
  const pump = (from: PortBackend, to: PortBackend) => (): void => {
    for (;;) {
      const n = from.recv(b, pool);
      if (n > 0) to.send(b);
      for (let i = 0; i < b.count; i++) pool.release(b.pkts[i]);
      b.clear();
      if (n < MAX_BURST) break;
    }
  };
  a.onReadable = pump(a, z);
  z.onReadable = pump(z, a);
}
