// Shared by the port e2e suites and the port benches (bench/ports-relay, bench/ports-pcap): an ARP
// request builder, a receiver that copies every frame a port delivers (tests only: it allocates;
// `collectFlagged` keeps the csumPartial flag too), a one-datagram UDP sender in Python,
// a two-port JS relay (a hub, batch by batch, nothing allocated per frame), a raw-socket 64-byte
// flooder in Python, and small figure helpers.
import { Batch, MAX_BURST } from '../../src/packet/batch.js';
import type { PacketPool } from '../../src/packet/pool.js';
import type { PortBackend } from '../../src/datapath/port.js';
import type { NetnsLab } from './netns.js';

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

/** Like `collect`, keeping each frame's csumPartial flag (what the port said about its checksum). */
export function collectFlagged(port: PortBackend, pool: PacketPool): Array<{ frame: Buffer; csumPartial: boolean; csumStart: number; gsoType: number; gsoSize: number; tsMs: number }> {
  const got: Array<{ frame: Buffer; csumPartial: boolean; csumStart: number; gsoType: number; gsoSize: number; tsMs: number }> = [];
  const b = new Batch();
  port.onReadable = () => {
    for (;;) {
      const n = port.recv(b, pool);
      for (let i = 0; i < b.count; i++) {
        const p = b.pkts[i];
        got.push({ frame: Buffer.from(p.frame()), csumPartial: p.csumPartial, csumStart: p.csumStart, gsoType: p.gsoType, gsoSize: p.gsoSize, tsMs: p.tsMs });
        pool.release(p);
      }
      b.clear();
      if (n < MAX_BURST) break;
    }
  };
  return got;
}

/** python3 -c UDP_PY DST_IP TAG: one 33-byte UDP datagram to DST_IP:9999, every payload byte TAG. */
export const UDP_PY = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes([int(sys.argv[2])]) * 33, (sys.argv[1], 9999))
`;

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

/** python3 -c FLOOD_PY DEV DSTHEX SECONDS: 64-byte frames (ethertype 0x88b5) as fast as it can; prints the count. */
export const FLOOD_PY = `
import socket, sys, time
dev, dst, secs = sys.argv[1], bytes.fromhex(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
f = dst + bytes.fromhex('020000000001') + b'\\x88\\xb5' + bytes(50)
n = 0; end = time.time() + secs
while time.time() < end:
    for _ in range(1000):
        try: s.send(f); n += 1
        except BlockingIOError: pass
        except OSError: pass
print(n)
`;

/** RX packet counter of `dev` in namespace `ns` (the truth for delivered frames). */
export function rxPackets(lab: NetnsLab, ns: string, dev: string): number {
  const out = lab.ip(ns, ['-s', '-j', 'link', 'show', dev]);
  return (JSON.parse(out) as { stats64: { rx: { packets: number } } }[])[0].stats64.rx.packets;
}

/** Percentile of an ascending array (nearest rank below). */
export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
