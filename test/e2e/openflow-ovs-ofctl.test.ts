// Real `ovs-ofctl -O OpenFlow13` against the agent's passive listener on 127.0.0.1: every command
// the switch answers, with the bridge polled in-process while ovs-ofctl runs (async spawn). Each
// connection is recorded to a pcap and checked with tshark (no malformed or error-level items).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Bridge } from '../../src/datapath/bridge.js';
import { MemoryPort } from '../../src/datapath/ports/memory.js';
import { parseFlow } from '../../src/flow/syntax.js';
import type { FlowSpec } from '../../src/flow/types.js';
import { OpenFlowAgent } from '../../src/agent/openflow/agent.js';
import { OfClient } from '../../src/agent/openflow/client.js';
import { portHwAddr } from '../../src/agent/openflow/stats.js';
import { buildFrame } from '../../src/packet/build.js';
import { OFPBRC, OFPET, OFPPMFC, encodeMessage } from '../../src/openflow/index.js';
import { describeWithTools, itWithTools } from '../helpers/privileged.js';

function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out, err }); });
  });
}

const bigJson = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x));
/** Match + actions + table/priority/cookie, order-independent in the match. */
function norm(f: FlowSpec): string {
  const match = [...f.match].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
  return bigJson({ t: f.tableId, p: f.priority, c: f.cookie, m: match, i: f.instructions });
}
const flowLines = (out: string): string[] => out.split('\n').filter((l) => l.includes(' cookie='));

const A = '02:00:00:00:00:0a', B = '02:00:00:00:00:0b';
const udp = (dst: string, src: string, ipDst = '10.0.0.2'): Buffer =>
  buildFrame({ dst, src, payload: { kind: 'ipv4', src: '10.0.0.1', dst: ipDst, l4: { kind: 'udp', sport: 1, dport: 2, payload: Buffer.alloc(50) } } });

describeWithTools('ovs-ofctl -O OpenFlow13 against the agent', () => {
  let bridge: Bridge;
  const ports: MemoryPort[] = [];
  let agent: OpenFlowAgent;
  let target = '';
  let poller: NodeJS.Timeout;
  let dir = '';
  const ofctl = async (...args: string[]): Promise<string> => {
    const r = await run('ovs-ofctl', ['-O', 'OpenFlow13', ...args]);
    if (r.code !== 0) throw new Error(`ovs-ofctl ${args.join(' ')} failed (${r.code}): ${r.err}`);
    return r.out;
  };
  const dump = async (filter?: string): Promise<string[]> => flowLines(await ofctl('dump-flows', target, ...(filter ? [filter] : [])));
  const settle = async (): Promise<void> => { await new Promise((r) => setTimeout(r, 20)); };
  beforeEach(() => { for (const p of ports) p.takeSent(); });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ofctl-'));
    bridge = new Bridge({ name: 'br-ofctl', datapathId: 0x5eed0001n });
    for (let i = 1; i <= 3; i++) { const p = new MemoryPort(`p${i}`); ports.push(p); bridge.addPort({ ofport: i, name: `p${i}`, backend: p }); }
    agent = new OpenFlowAgent(bridge, { listen: 'ptcp:0:127.0.0.1', failMode: 'secure', captureDir: join(dir, 'cap') });
    await agent.start();
    target = `tcp:127.0.0.1:${agent.listeningPort}`;
    poller = setInterval(() => bridge.poll(performance.timeOrigin + performance.now()), 2);
  });
  afterAll(async () => {
    clearInterval(poller);
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('show, dump-desc, dump-tables, dump-ports, dump-ports-desc, dump-table-features', async () => {
    const show = await ofctl('show', target);
    expect(show).toContain('dpid:000000005eed0001');
    expect(show).toContain('n_tables:254, n_buffers:0');
    expect(show).toMatch(/capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS/);
    expect(show).toContain(` 1(p1): addr:${portHwAddr('p1')}`);
    const desc = await ofctl('dump-desc', target);
    expect(desc).toContain('Manufacturer: Sluice');
    expect(desc).toContain(`DP Description: ${hostname()}/br-ofctl`);   // <hostname>/<bridge> unless the config names it
    const tables = await ofctl('dump-tables', target);
    expect(tables).toMatch(/table 0:\s+active=1, lookup=\d+, matched=\d+/);
    expect(tables).toContain('253');
    const pd = await ofctl('dump-ports-desc', target);
    expect(pd.match(/\d\(p\d\): addr:/g)).toHaveLength(3);
    expect(pd).toContain('state:      LIVE');
    const tf = await ofctl('dump-table-features', target);
    expect(tf).toContain('table 0 ("table0")');
    expect(tf).toContain('table 253 ("table253")');
    expect(await ofctl('dump-group-features', target)).toContain('fast failover group');
    expect(await ofctl('meter-features', target)).toContain('max_meter:65535 max_bands:16');
    ports[0]!.inject(udp(B, A));
    await settle();
    const dp = await ofctl('dump-ports', target, '1');
    expect(dp).toMatch(/port\s+1: rx pkts=1, bytes=\d+/);
  });

  it('punix:PATH listener answers `ovs-ofctl show unix:PATH`; unix:PATH connects actively', async () => {
    const sock = join(dir, 'br.mgmt');
    writeFileSync(join(dir, 'not-a-socket'), 'x');
    const ux = new OpenFlowAgent(bridge, { listen: `punix:${sock}`, failMode: 'secure' });
    await ux.start();
    try {
      const show = await ofctl('show', `unix:${sock}`);
      expect(show).toContain('dpid:000000005eed0001');
      expect(show).toContain(` 2(p2): addr:${portHwAddr('p2')}`);
      expect(flowLines(await ofctl('dump-flows', `unix:${sock}`)).length).toBeGreaterThan(0);
    } finally {
      await ux.stop();
    }
    expect(existsSync(sock)).toBe(false);   // the listener removes its socket
    // a stale socket file left behind (crash) is replaced; a regular file is refused, not deleted
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);   // exits without unlinking
    expect(existsSync(sock)).toBe(true);
    const again = new OpenFlowAgent(bridge, { listen: `punix:${sock}`, failMode: 'secure' });
    await again.start();
    expect(await ofctl('show', `unix:${sock}`)).toContain('dpid:000000005eed0001');
    await again.stop();
    await expect(new OpenFlowAgent(bridge, { listen: `punix:${join(dir, 'not-a-socket')}`, failMode: 'secure' }).start()).rejects.toThrow();
    expect(existsSync(join(dir, 'not-a-socket'))).toBe(true);
    // active: the agent connects to a controller listening on a Unix socket and says HELLO
    const ctlPath = join(dir, 'ctl.sock');
    const got: Buffer[] = [];
    const ctl = createServer((c) => { c.on('data', (d: Buffer) => got.push(d)); c.write(encodeMessage({ type: 'hello', xid: 1, version: 4, elements: [] })); });
    await new Promise<void>((r) => ctl.listen(ctlPath, r));
    const act = new OpenFlowAgent(bridge, { controllers: [`unix:${ctlPath}`], failMode: 'secure', reconnectMs: { min: 20, max: 50 } });
    await act.start();
    try {
      const t0 = Date.now();
      while (!act.sessions().some((x) => x.state === 'open')) { if (Date.now() - t0 > 5000) throw new Error('no unix: session'); await settle(); }
      expect(act.sessions()[0]).toMatchObject({ kind: 'active', target: `unix:${ctlPath}`, peer: `unix:${ctlPath}` });
      expect(Buffer.concat(got)[1]).toBe(0);   // OFPT_HELLO first
    } finally {
      await act.stop();
      await new Promise<void>((r) => ctl.close(() => r()));
    }
  });

  it('add-flow / dump-flows (with filters) / counters / mod-flows / del-flows / dump-aggregate', async () => {
    await ofctl('del-flows', target);
    expect(await dump()).toEqual([]);
    await ofctl('add-flow', target, 'table=0,priority=100,cookie=0x1,in_port=1,actions=output:2');
    await ofctl('add-flow', target, 'table=0,priority=90,cookie=0x2,ip,nw_dst=10.9.0.0/16,actions=output:3');
    await ofctl('add-flow', target, 'table=0,priority=80,cookie=0x12,dl_dst=02:00:00:00:00:0b,actions=output:3');
    expect(await dump(), bridge.dumpFlows().map((f) => `${f.tableId}/${f.priority}`).join(' ')).toHaveLength(3);
    expect(await dump('in_port=1')).toHaveLength(1);
    expect(await dump('cookie=0x2/0xf')).toHaveLength(2);   // 0x2 and 0x12
    expect(await dump('out_port=3')).toHaveLength(2);
    // traffic moves the counters
    for (let i = 0; i < 3; i++) ports[0]!.inject(udp(B, A));
    ports[1]!.inject(udp(B, A, '10.9.1.1'));
    await settle();
    expect(ports[1]!.takeSent()).toHaveLength(3);
    expect(ports[2]!.takeSent()).toHaveLength(1);
    const l1 = (await dump('in_port=1'))[0]!;
    expect(l1).toMatch(/n_packets=3, n_bytes=\d+/);
    expect(Number(/n_bytes=(\d+)/.exec(l1)![1])).toBe(3 * udp(B, A).length);
    const agg = await ofctl('dump-aggregate', target);
    expect(agg).toMatch(/packet_count=4 byte_count=\d+ flow_count=3/);
    // mod-flows (non-strict) changes actions of in_port=1 flows
    await ofctl('mod-flows', target, 'in_port=1,actions=output:3');
    expect((await dump('in_port=1'))[0]).toContain('actions=output:3');
    // strict delete needs the exact priority
    await ofctl('--strict', 'del-flows', target, 'priority=99,ip,nw_dst=10.9.0.0/16');
    expect(await dump()).toHaveLength(3);
    await ofctl('--strict', 'del-flows', target, 'priority=90,ip,nw_dst=10.9.0.0/16');
    expect(await dump()).toHaveLength(2);
    // cookie mask: exact 0x1 leaves 0x12
    await ofctl('del-flows', target, 'cookie=0x1/-1');
    const left = await dump();
    expect(left).toHaveLength(1);
    expect(left[0]).toContain('cookie=0x12');
  });

  it('add-flows of 1,000 flows round-trips through dump-flows', async () => {
    await ofctl('del-flows', target);
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const k = i % 5;
      const prio = 1000 + i;
      if (k === 0) lines.push(`table=0,priority=${prio},cookie=0x${i.toString(16)},in_port=${1 + (i % 3)},dl_vlan=${1 + (i % 4000)},actions=output:${1 + ((i + 1) % 3)}`);
      else if (k === 1) lines.push(`table=1,priority=${prio},ip,nw_src=10.${i >> 8}.${i & 255}.0/24,actions=mod_dl_dst:02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},output:2`);
      else if (k === 2) lines.push(`table=2,priority=${prio},tcp,tp_dst=${i},actions=drop`);
      else if (k === 3) lines.push(`table=0,priority=${prio},dl_src=02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')},actions=push_vlan:0x8100,set_field:${4096 + (i % 4000)}->vlan_vid,output:3`);
      else lines.push(`table=3,priority=${prio},udp,nw_dst=192.168.${i >> 8}.${i & 255},tp_src=${i},actions=goto_table:4`);
    }
    const file = join(dir, 'flows.txt');
    writeFileSync(file, lines.join('\n') + '\n');
    await ofctl('add-flows', target, file);
    const out = await dump();
    expect(out).toHaveLength(1000);
    const want = lines.map((l) => norm(parseFlow(l))).sort();
    const got = out.map((l) => norm(parseFlow(l))).sort();
    expect(got).toEqual(want);
    expect(bridge.dumpFlows().length).toBe(1000);
  });

  it('add-group / dump-groups / group stats', async () => {
    await ofctl('del-flows', target);
    await ofctl('add-group', target, 'group_id=7,type=all,bucket=output:2,bucket=output:3');
    expect(await ofctl('dump-groups', target)).toContain('group_id=7,type=all,bucket=actions=output:2,bucket=actions=output:3');
    await ofctl('add-flow', target, 'priority=10,in_port=1,actions=group:7');
    ports[0]!.inject(udp(B, A));
    await settle();
    expect(ports[1]!.takeSent()).toHaveLength(1);
    expect(ports[2]!.takeSent()).toHaveLength(1);
    expect(await ofctl('dump-group-stats', target)).toMatch(/group_id=7,.*packet_count=1/);
    const dup = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'add-group', target, 'group_id=7,type=all,bucket=output:2']);
    expect(dup.code).not.toBe(0);
    expect(dup.err).toContain('OFPGMFC_GROUP_EXISTS');
  });

  it('add-meter / mod-meter / dump-meters / meter-stats; the meter polices', async () => {
    await ofctl('del-flows', target);
    await ofctl('add-meter', target, 'meter=1,pktps,burst,band=type=drop,rate=1,burst_size=2');
    expect(await ofctl('dump-meters', target)).toMatch(/meter=1 pktps burst bands=\s*type=drop rate=1 burst_size=2/);
    await ofctl('add-flow', target, 'priority=10,in_port=1,actions=meter:1,output:2');
    for (let i = 0; i < 5; i++) ports[0]!.inject(udp(B, A));
    await settle();
    expect(ports[1]!.takeSent()).toHaveLength(2);   // burst of 2 packets, the rest dropped
    const st = await ofctl('meter-stats', target);
    expect(st).toMatch(/meter:1 flow_count:1 packet_in_count:5 byte_in_count:\d+/);
    expect(st).toMatch(/0: packet_count:3/);
    await ofctl('mod-meter', target, 'meter=1,pktps,burst,band=type=drop,rate=100,burst_size=50');
    expect(await ofctl('dump-meters', target)).toContain('rate=100 burst_size=50');
    // a meter keeps its counters across modify (a meter is a channel)
    expect(await ofctl('meter-stats', target)).toMatch(/packet_in_count:5/);
    const dup = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'add-meter', target, 'meter=1,pktps,band=type=drop,rate=1']);
    expect(dup.err).toContain('OFPMMFC_METER_EXISTS');
    const unk = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'mod-meter', target, 'meter=9,pktps,band=type=drop,rate=1']);
    expect(unk.err).toContain('OFPMMFC_UNKNOWN_METER');
    await ofctl('del-meter', target, 'meter=1');
    expect(await dump()).toHaveLength(0);   // flows using a deleted meter go with it
  });

  it('packet-out sends the frame to a MemoryPort', async () => {
    const f = udp(B, A);
    await ofctl('packet-out', target, `in_port=controller packet=${f.toString('hex')} actions=output:3`);
    await settle();
    expect(ports[2]!.takeSent().map((s) => s.frame)).toEqual([f]);
  });

  it('mod-port down/up; NO_FLOOD via a raw PORT_MOD (ovs-ofctl drops no-flood in OpenFlow 1.3)', async () => {
    await ofctl('mod-port', target, 'p2', 'down');
    expect(await ofctl('dump-ports-desc', target)).toMatch(/2\(p2\): addr:[0-9a-f:]+\s+config:\s+PORT_DOWN\s+state:\s+LINK_DOWN/);
    expect(bridge.ports().find((p) => p.ofport === 2)!.config.down).toBe(true);
    await ofctl('mod-port', target, 'p2', 'up');
    expect(bridge.ports().find((p) => p.ofport === 2)!.config.down).toBe(false);
    // NORMAL floods to p2 and p3; after no-flood on p3 only p2 gets the flood
    await ofctl('del-flows', target);
    await ofctl('add-flow', target, 'priority=0,actions=NORMAL');
    const c = await OfClient.connect(agent.listeningPort);
    try {
      const st = c.waitFor((m) => m.type === 'port_status' || m.type === 'error');
      c.send({ type: 'port_mod', xid: 0x3333, portNo: 3, hwAddr: portHwAddr('p3'), config: 1 << 4, mask: 1 << 4, advertise: 0 });
      expect(await st).toMatchObject({ type: 'port_status', reason: 2, desc: { portNo: 3, config: 1 << 4 } });   // announced; no error
      ports[0]!.inject(udp('02:00:00:00:00:99', A));
      await settle();
      expect(ports[1]!.takeSent()).toHaveLength(1);
      expect(ports[2]!.takeSent()).toHaveLength(0);
      const bad = await c.request({ type: 'port_mod', xid: 0, portNo: 3, hwAddr: '02:00:00:00:00:01', config: 0, mask: 1, advertise: 0 });
      expect(bad).toMatchObject({ type: 'error', errType: OFPET.PORT_MOD_FAILED, code: OFPPMFC.BAD_HW_ADDR });
      const nop = await c.request({ type: 'port_mod', xid: 0, portNo: 42, hwAddr: '02:00:00:00:00:01', config: 0, mask: 1, advertise: 0 });
      expect(nop).toMatchObject({ type: 'error', errType: OFPET.PORT_MOD_FAILED, code: OFPPMFC.BAD_PORT });
    } finally { c.close(); }
  });

  it('answers a malformed message (raw bytes) with OFPT_ERROR and keeps the session', async () => {
    const c = await OfClient.connect(agent.listeningPort);
    try {
      const raw = Buffer.from([4, 0x42, 0, 12, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
      const p = c.waitFor((m) => m.xid === 0xdeadbeef);
      c.sendRaw(raw);
      expect(await p).toMatchObject({ type: 'error', errType: OFPET.BAD_REQUEST, code: OFPBRC.BAD_TYPE, data: raw });
      expect(await c.ping()).toBe(true);
    } finally { c.close(); }
    // ovs-ofctl still works afterwards
    expect(await ofctl('dump-desc', target)).toContain('Sluice');
  });

  itWithTools('tshark dissects every recorded session without malformed or error items', ['tshark'], async () => {
    await agent.stop();   // flushes the per-connection pcaps
    const files = readdirSync(join(dir, 'cap')).filter((f) => f.endsWith('.pcap'));
    expect(files.length).toBeGreaterThan(20);
    const port = target.split(':').pop()!;
    // one pass over all sessions (mergecap), else file by file
    const merged = join(dir, 'all.pcap');
    const m = await run('mergecap', ['-a', '-w', merged, ...files.map((f) => join(dir, 'cap', f))]);
    const inputs = m.code === 0 ? [merged] : files.map((f) => join(dir, 'cap', f));
    let ofCount = 0;
    for (const path of inputs) {
      const bad = await run('tshark', ['-n', '-r', path, '-d', `tcp.port==${port},openflow`, '-Y', '_ws.malformed || _ws.expert.severity >= error'], 60_000);
      expect(bad.code, bad.err).toBe(0);
      expect(bad.out.trim(), `${path}: ${bad.out}`).toBe('');
      const of = await run('tshark', ['-n', '-r', path, '-d', `tcp.port==${port},openflow`, '-Y', 'openflow_v4', '-T', 'fields', '-e', 'frame.number'], 60_000);
      ofCount += of.out.trim().split('\n').filter((l) => l.length > 0).length;
    }
    expect(ofCount).toBeGreaterThan(100);
  });
}, { tools: ['ovs-ofctl'] });
