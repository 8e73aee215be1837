// ovs-testcontroller (a real learning-switch controller) drives Sluice over an active connection:
// the agent connects to `ovs-testcontroller ptcp:PORT:127.0.0.1`; an ARP + ICMP exchange between
// two MACs on MemoryPorts goes up as PACKET_IN, and comes back as PACKET_OUT / FLOW_MOD.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Bridge } from '../../src/datapath/bridge.js';
import { MemoryPort } from '../../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../../src/agent/openflow/agent.js';
import { buildFrame } from '../../src/packet/build.js';
import { describeWithTools } from '../helpers/privileged.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const a = s.address(); const p = typeof a === 'object' && a ? a.port : 0; s.close(() => resolve(p)); });
  });
}
const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) { if (Date.now() - t0 > ms) throw new Error('condition not met in time'); await new Promise((r) => setTimeout(r, 10)); }
};

const MAC1 = '02:00:00:00:00:01', MAC2 = '02:00:00:00:00:02';
const arpReq = buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: MAC1, payload: { kind: 'arp', op: 1, sha: MAC1, spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' } });
const arpRep = buildFrame({ dst: MAC1, src: MAC2, payload: { kind: 'arp', op: 2, sha: MAC2, spa: '10.0.0.2', tha: MAC1, tpa: '10.0.0.1' } });
const icmp = (dst: string, src: string, ipSrc: string, ipDst: string, type: number): Buffer =>
  buildFrame({ dst, src, payload: { kind: 'ipv4', src: ipSrc, dst: ipDst, l4: { kind: 'icmp', type, code: 0, id: 1, seq: 1, payload: Buffer.alloc(32, 9) } } });

describeWithTools('ovs-testcontroller controls Sluice', () => {
  let ctl: ChildProcess | null = null;
  let tmp = '';
  let agent: OpenFlowAgent;
  let bridge: Bridge;
  let poller: NodeJS.Timeout;
  const p1 = new MemoryPort('p1'), p2 = new MemoryPort('p2'), p3 = new MemoryPort('p3');

  beforeAll(async () => {
    const port = await freePort();
    tmp = mkdtempSync(join(tmpdir(), 'sluice-tc-'));
    ctl = spawn('ovs-testcontroller', ['-O', 'OpenFlow13', `ptcp:${port}:127.0.0.1`, '--no-chdir', `--unixctl=${join(tmp, 'tc.ctl')}`, '-vconsole:off'], { stdio: 'ignore' });
    bridge = new Bridge({ name: 'br-tc', datapathId: 0x7c01n });
    bridge.addPort({ ofport: 1, name: 'p1', backend: p1 });
    bridge.addPort({ ofport: 2, name: 'p2', backend: p2 });
    bridge.addPort({ ofport: 3, name: 'p3', backend: p3 });
    agent = new OpenFlowAgent(bridge, { controllers: [`tcp:127.0.0.1:${port}`], failMode: 'secure', reconnectMs: { min: 50, max: 200 }, captureDir: process.env.TC_CAP });
    await agent.start();
    poller = setInterval(() => bridge.poll(performance.timeOrigin + performance.now()), 1);
    await until(() => agent.sessions().some((s) => s.state === 'open'), 10_000);
    // the controller's handshake (features, set_config, table-miss flow) has arrived when a
    // table-0 priority-0 CONTROLLER entry is present
    await until(() => bridge.dumpFlows({ tableId: 0 }).some((f) => f.priority === 0 && f.instructions.applyActions?.some((a) => a.type === 'output' && a.port === 0xfffffffd) === true), 10_000);
  });
  afterAll(async () => {
    clearInterval(poller);
    await agent?.stop();
    if (ctl?.pid !== undefined) ctl.kill('SIGTERM');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('learns MACs through PACKET_IN and forwards an ARP/ICMP exchange to the right ports', async () => {
    // ARP request floods (unknown destination) to p2 and p3
    p1.inject(arpReq);
    await until(() => p2.sent.length >= 1 && p3.sent.length >= 1);
    expect(p2.takeSent()[0]!.frame).toEqual(arpReq);
    expect(p3.takeSent()[0]!.frame).toEqual(arpReq);
    // ARP reply to MAC1, which the controller has learnt on p1: only p1 gets it
    p2.inject(arpRep);
    await until(() => p1.sent.length >= 1);
    expect(p1.takeSent()[0]!.frame).toEqual(arpRep);
    // ICMP echo both ways
    const req = icmp(MAC2, MAC1, '10.0.0.1', '10.0.0.2', 8), rep = icmp(MAC1, MAC2, '10.0.0.2', '10.0.0.1', 0);
    p1.inject(req);
    await until(() => p2.sent.length >= 1);
    p2.inject(rep);
    await until(() => p1.sent.length >= 1);
    expect(p2.takeSent().map((s) => s.frame)).toEqual([req]);
    expect(p1.takeSent().map((s) => s.frame)).toEqual([rep]);
    await new Promise((r) => setTimeout(r, 50));
    expect(p3.takeSent()).toHaveLength(0);
    // the learning switch installed unicast flows in our tables
    const flows = bridge.dumpFlows();
    const learnt = flows.filter((f) => f.match.some((m) => m.field === 'eth_dst'));
    expect(learnt.length).toBeGreaterThan(0);
    expect(agent.packetInsSent).toBeGreaterThanOrEqual(2);
  });
}, { tools: ['ovs-testcontroller'] });
