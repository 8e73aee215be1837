// e2e: a VM attached the way QEMU's `-netdev stream,server=on` attaches it: the test plays QEMU,
// listening on a Unix socket with 4-byte-length framing; `sluice switch` connects to it and
// bridges it to a namespace host on a system port. ARP and ICMP cross in both directions, and the
// switch reconnects when "QEMU" drops the connection.
import { expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describePrivileged } from '../helpers/privileged.js';
import { waitFor } from '../helpers/netns.js';
import { addHost, ping, switchTestKit } from './switch-harness.js';
import { buildFrame } from '../../src/packet/build.js';

const VM_MAC = '02:00:00:00:0e:01', VM_IP = '10.98.0.2', HOST_IP = '10.98.0.1';

/** A fake QEMU: accepts one client at a time, unframes what it receives, answers ARP and ping for VM_IP. */
class FakeQemu {
  readonly received: Buffer[] = [];
  connections = 0;
  private sock: Socket | null = null;
  private constructor(readonly server: Server) {}

  static listen(path: string): Promise<FakeQemu> {
    return new Promise((resolve) => {
      const server = createServer();
      const q = new FakeQemu(server);
      server.on('connection', (s) => q.attach(s));
      server.listen(path, () => resolve(q));
    });
  }

  private attach(s: Socket): void {
    this.connections++;
    this.sock = s;
    let pending = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readUInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        this.received.push(Buffer.from(frame));
        this.answer(frame);
      }
    });
    s.on('error', () => {});
    s.on('close', () => { if (this.sock === s) this.sock = null; });
  }

  get connected(): boolean { return this.sock !== null; }

  send(frame: Buffer): void {
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(frame.length, 0);
    this.sock?.write(Buffer.concat([hdr, frame]));
  }

  dropConnection(): void { this.sock?.destroy(); this.sock = null; }

  /** The VM's network stack, reduced to ARP replies and ICMP echo replies for VM_IP. */
  private answer(f: Buffer): void {
    const src = f.subarray(6, 12).toString('hex').match(/../g)!.join(':');
    if (f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 1 && ip(f, 38) === VM_IP) {
      this.send(buildFrame({ dst: src, src: VM_MAC, payload: { kind: 'arp', op: 2, sha: VM_MAC, spa: VM_IP, tha: src, tpa: ip(f, 28) }, padTo60: true }));
    } else if (f.readUInt16BE(12) === 0x0800 && f[23] === 1 && f[34] === 8 && ip(f, 30) === VM_IP) {
      const ihl = (f[14] & 0x0f) * 4, icmpOff = 14 + ihl, totalLen = f.readUInt16BE(16);
      this.send(buildFrame({ dst: src, src: VM_MAC, payload: { kind: 'ipv4', src: VM_IP, dst: ip(f, 26), l4: {
        kind: 'icmp', type: 0, code: 0, id: f.readUInt16BE(icmpOff + 4), seq: f.readUInt16BE(icmpOff + 6),
        payload: f.subarray(icmpOff + 8, 14 + totalLen),
      } }, padTo60: true }));
    }
  }

  close(): Promise<void> { this.sock?.destroy(); return new Promise((r) => this.server.close(() => r())); }
}

function ip(f: Buffer, off: number): string { return `${f[off]}.${f[off + 1]}.${f[off + 2]}.${f[off + 3]}`; }

const { lab: newLab, start, defer } = switchTestKit();

describePrivileged('sluice switch: a QEMU stream port', () => {
  it('bridges a framed VM to a namespace: ARP and ping both ways, and reconnects after a drop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-qemu-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const qemu = await FakeQemu.listen(join(dir, 'vm1.sock'));
    defer(() => qemu.close());
    const lab = newLab();
    const host = addHost(lab, 'h', HOST_IP);
    await start(`bridges:\n  br0:\n    ports:\n      vm1: { ofport: 1, type: qemu-stream, path: ${join(dir, 'vm1.sock')}, role: connect }\n      h: { ofport: 2, type: system, device: ${host.root} }\n`);
    await waitFor(() => qemu.connected, 10_000, 'the switch to connect to the QEMU socket');

    // The namespace pings the VM: its ARP request reaches the VM through the switch, the VM's
    // replies come back framed, and ping succeeds.
    const p1 = await ping(lab, host, VM_IP, 3);
    expect(p1.code, p1.stdout + p1.stderr).toBe(0);
    expect(qemu.received.some((f) => f.readUInt16BE(12) === 0x0806)).toBe(true);
    expect(qemu.received.filter((f) => f.readUInt16BE(12) === 0x0800).length).toBeGreaterThanOrEqual(3);

    // "QEMU" drops the connection (as when the switch or the VM restarts); the switch reconnects
    // with backoff and traffic flows again.
    qemu.dropConnection();
    await waitFor(() => qemu.connections >= 2 && qemu.connected, 15_000, 'the switch to reconnect');
    const p2 = await ping(lab, host, VM_IP, 3);
    expect(p2.code, p2.stdout + p2.stderr).toBe(0);
  });
}, { tools: ['ping'] });
