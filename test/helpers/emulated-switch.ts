// A small cbench (the classic OpenFlow controller benchmark): an emulated switch that completes the
// handshake the controller asks for (features, desc, port_desc, role, empty flow/group/meter
// tables, barriers, echo) and then sends PACKET_INs with new source MACs as fast as the controller
// takes them, counting the FLOW_MODs that come back. It measures the controller alone, with no
// datapath behind it. Used by bench/controller.bench.ts and the controller's TLS test.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { OFPCR, OFPR, OFP_NO_BUFFER, OfpFramer, decodeMessage, encodeMessage } from '../../src/openflow/index.js';
import type { MeterStats, MultipartReplyBody, OfpMessage, Port } from '../../src/openflow/index.js';

const port = (no: number, name: string): Port => ({
  portNo: no, hwAddr: `02:00:00:00:ff:${no.toString(16).padStart(2, '0')}`, name, config: 0, state: 0, curr: 0, advertised: 0,
  supported: 0, peer: 0, currSpeed: 10_000_000, maxSpeed: 10_000_000,
});

export class EmulatedSwitch {
  flowMods = 0;
  /** What it answers to meter stats requests (OFPMP_METER); none: an empty reply. */
  meterStats: (() => MeterStats[]) | null = null;
  private readonly sock: Socket;

  private constructor(sock: Socket, readonly dpid: bigint, readonly dpDesc: string, readonly portNames: string[]) {
    this.sock = sock;
    sock.setNoDelay(true);
    const framer = new OfpFramer((b, o, l) => this.onMessage(decodeMessage(b, o, l)));
    sock.on('data', (c: Buffer) => framer.push(c));
    sock.on('error', () => undefined);
  }

  /** Connect over TCP to 127.0.0.1:portNo, or over the socket `open` returns once it is connected. */
  static async connect(portNo: number, dpid: bigint, dpDesc: string, portNames: string[], open?: () => Promise<Socket>): Promise<EmulatedSwitch> {
    const sock = open ? await open() : connect({ port: portNo, host: '127.0.0.1' });
    if (!open) await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    const s = new EmulatedSwitch(sock, dpid, dpDesc, portNames);
    s.send({ type: 'hello', xid: 1, version: 4, elements: [] });
    return s;
  }

  private send(m: OfpMessage): void { this.sock.write(encodeMessage(m)); }

  private reply(xid: number, body: MultipartReplyBody): void { this.send({ type: 'multipart_reply', xid, flags: 0, body }); }

  private onMessage(m: OfpMessage): void {
    switch (m.type) {
      case 'features_request':
        this.send({ type: 'features_reply', xid: m.xid, datapathId: this.dpid, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0, reserved: 0 });
        break;
      case 'role_request': this.send({ type: 'role_reply', xid: m.xid, role: OFPCR.ROLE_MASTER, generationId: m.generationId }); break;
      case 'barrier_request': this.send({ type: 'barrier_reply', xid: m.xid }); break;
      case 'echo_request': this.send({ type: 'echo_reply', xid: m.xid, data: m.data }); break;
      case 'flow_mod': this.flowMods++; break;
      case 'multipart_request':
        switch (m.body.kind) {
          case 'desc': this.reply(m.xid, { kind: 'desc', mfrDesc: 'cbench', hwDesc: '', swDesc: '', serialNum: '', dpDesc: this.dpDesc }); break;
          case 'port_desc': this.reply(m.xid, { kind: 'port_desc', ports: this.portNames.map((n, i) => port(i + 1, n)) }); break;
          case 'flow': this.reply(m.xid, { kind: 'flow', flows: [] }); break;
          case 'group_desc': this.reply(m.xid, { kind: 'group_desc', groups: [] }); break;
          case 'meter_config': this.reply(m.xid, { kind: 'meter_config', meters: [] }); break;
          case 'meter': this.reply(m.xid, { kind: 'meter', meters: this.meterStats?.() ?? [] }); break;
          default: this.send({ type: 'error', xid: m.xid, errType: 1, code: 2, data: Buffer.alloc(0) });   // OFPBRC_BAD_MULTIPART
        }
        break;
      default: break;
    }
  }

  /** PACKET_INs from `inPort` for tagged frames with `count` new source MACs, in one write. */
  sendLearning(inPort: number, vid: number, count: number, first = 0): void {
    const msgs: Buffer[] = [];
    for (let i = first; i < first + count; i++) {
      const f = Buffer.alloc(64);
      f.fill(0xff, 0, 6);
      f.writeUInt16BE(0x0200, 6); f.writeUInt32BE(i, 8);
      f.writeUInt16BE(0x8100, 12); f.writeUInt16BE(vid, 14); f.writeUInt16BE(0x0800, 16);
      msgs.push(encodeMessage({ type: 'packet_in', xid: 0, bufferId: OFP_NO_BUFFER, totalLen: 64, reason: OFPR.ACTION, tableId: 1, cookie: 0n, match: [{ field: 'in_port', value: BigInt(inPort) }], data: f }));
    }
    this.sock.write(Buffer.concat(msgs));
  }

  get closed(): boolean { return this.sock.destroyed; }
  close(): void { this.sock.destroy(); }
}
