// Per-connection OpenFlow capture: records every byte the agent receives and sends on one TCP
// connection as a pcap of synthesized Ethernet/IPv4/TCP segments (with a 3-way handshake and
// consistent sequence numbers), so tshark can dissect the session without a live capture.
import { PcapWriter } from '../../packet/capture.js';

const MSS = 32_000;

function ipv4Bytes(addr: string): number[] {
  const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])] : [127, 0, 0, 1];
}
function checksum(b: Buffer, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | (i + 1 < len ? b[off + i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

interface End { ip: number[]; port: number; seq: number; mac: number[] }

export class ConnectionCapture {
  readonly pcap = new PcapWriter();
  private readonly sw: End;
  private readonly peer: End;

  /** `sw` is the agent's socket address, `peer` the remote one. */
  constructor(swAddr: string, swPort: number, peerAddr: string, peerPort: number, tsMs: number, agentConnected: boolean) {
    this.sw = { ip: ipv4Bytes(swAddr), port: swPort, seq: 1000, mac: [0x02, 0, 0, 0, 0, 1] };
    this.peer = { ip: ipv4Bytes(peerAddr), port: peerPort, seq: 5000, mac: [0x02, 0, 0, 0, 0, 2] };
    const [a, b] = agentConnected ? [this.sw, this.peer] : [this.peer, this.sw];
    this.segment(tsMs, a, b, 0x02, Buffer.alloc(0));           // SYN
    a.seq++;
    this.segment(tsMs, b, a, 0x12, Buffer.alloc(0));           // SYN-ACK
    b.seq++;
    this.segment(tsMs, a, b, 0x10, Buffer.alloc(0));           // ACK
  }

  /** Bytes the agent received (`dir` = 'in') or sent ('out'). */
  add(tsMs: number, dir: 'in' | 'out', data: Uint8Array): void {
    const [from, to] = dir === 'in' ? [this.peer, this.sw] : [this.sw, this.peer];
    for (let off = 0; off < data.length; off += MSS) {
      const chunk = Buffer.from(data.subarray(off, Math.min(data.length, off + MSS)));
      this.segment(tsMs, from, to, 0x18, chunk);                // PSH|ACK
      from.seq = (from.seq + chunk.length) >>> 0;
    }
  }

  private segment(tsMs: number, from: End, to: End, flags: number, payload: Buffer): void {
    const f = Buffer.alloc(14 + 20 + 20 + payload.length);
    f.set(to.mac, 0); f.set(from.mac, 6); f.writeUInt16BE(0x0800, 12);
    const ip = 14;
    f[ip] = 0x45; f.writeUInt16BE(20 + 20 + payload.length, ip + 2); f.writeUInt16BE(0x4000, ip + 6);
    f[ip + 8] = 64; f[ip + 9] = 6; f.set(from.ip, ip + 12); f.set(to.ip, ip + 16);
    f.writeUInt16BE(checksum(f, ip, 20), ip + 10);
    const t = ip + 20;
    f.writeUInt16BE(from.port, t); f.writeUInt16BE(to.port, t + 2);
    f.writeUInt32BE(from.seq >>> 0, t + 4); f.writeUInt32BE(flags === 0x02 ? 0 : to.seq >>> 0, t + 8);
    f[t + 12] = 5 << 4; f[t + 13] = flags; f.writeUInt16BE(65535, t + 14);
    payload.copy(f, t + 20);
    // TCP checksum over the pseudo-header
    const ph = Buffer.alloc(12 + 20 + payload.length);
    ph.set(from.ip, 0); ph.set(to.ip, 4); ph[9] = 6; ph.writeUInt16BE(20 + payload.length, 10);
    f.copy(ph, 12, t);
    f.writeUInt16BE(checksum(ph, 0, ph.length), t + 16);
    this.pcap.add(tsMs, f);
  }
}
