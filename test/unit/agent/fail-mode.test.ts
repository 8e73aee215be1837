// fail-mode as Open vSwitch has it: a secure bridge starts with empty tables, so with no controller
// it forwards nothing and with static `flows:` exactly those; a standalone bridge keeps its default
// NORMAL entry. Built from config with memory ports, and once as a live daemon whose controller is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../../src/agent/config.js';
import { buildSwitch } from '../../../src/agent/build.js';
import { SwitchDaemon } from '../../../src/agent/daemon.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import type { Bridge } from '../../../src/datapath/bridge.js';
import { buildFrame } from '../../../src/packet/build.js';

const PORTS = '    ports:\n      m1: { ofport: 1, type: memory }\n      m2: { ofport: 2, type: memory }\n      m3: { ofport: 3, type: memory }\n';
const A_TO_B = buildFrame({ dst: '02:00:00:00:00:0b', src: '02:00:00:00:00:0a', payload: { kind: 'raw', etherType: 0x88b5, data: Buffer.alloc(50, 1) } });
const B_TO_A = buildFrame({ dst: '02:00:00:00:00:0a', src: '02:00:00:00:00:0b', payload: { kind: 'raw', etherType: 0x88b5, data: Buffer.alloc(50, 2) } });
const BCAST = buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:0c', payload: { kind: 'raw', etherType: 0x88b5, data: Buffer.alloc(50, 3) } });

function build(bridgeYaml: string): { bridge: Bridge; port: (n: string) => MemoryPort } {
  const cfg = parseConfig(`bridges:\n  br0:\n${bridgeYaml}${PORTS}`, 'test.yaml');
  const ports = new Map<string, MemoryPort>();
  const { bridge } = buildSwitch(cfg, 'br0', (name) => { const m = new MemoryPort(name); ports.set(name, m); return m; }, 0);
  return { bridge, port: (n) => ports.get(n)! };
}

/** Inject `frame` on port `from`, run one pass, and return what each port sent. */
function send(b: ReturnType<typeof build>, from: string, frame: Buffer): Record<string, Buffer[]> {
  for (const n of ['m1', 'm2', 'm3']) b.port(n).takeSent();
  b.port(from).inject(frame);
  b.bridge.poll(1000);
  return Object.fromEntries(['m1', 'm2', 'm3'].map((n) => [n, b.port(n).takeSent().map((s) => s.frame)]));
}
const flows = (b: Bridge): string[] => b.dumpFlows().map((f) => `table=${f.spec.tableId},priority=${f.spec.priority}`);

describe('fail-mode secure', () => {
  it('starts with empty tables and forwards nothing: unicast, flood and broadcast are table misses', () => {
    const b = build('    fail-mode: secure\n');
    expect(b.bridge.dumpFlows()).toEqual([]);
    expect(send(b, 'm1', A_TO_B)).toEqual({ m1: [], m2: [], m3: [] });
    expect(send(b, 'm2', B_TO_A)).toEqual({ m1: [], m2: [], m3: [] });
    expect(send(b, 'm3', BCAST)).toEqual({ m1: [], m2: [], m3: [] });
    expect(b.bridge.stats().drops['no-flow']).toBe(3);
    expect(b.bridge.fdb()).toEqual([]);                         // nothing learned either
  });

  it('with flows: in the config, forwards exactly what they say', () => {
    const b = build('    fail-mode: secure\n    flows:\n      - "priority=10,in_port=m1,actions=output:m2"\n');
    expect(flows(b.bridge)).toEqual(['table=0,priority=10']);
    expect(send(b, 'm1', A_TO_B)).toEqual({ m1: [], m2: [A_TO_B], m3: [] });
    expect(send(b, 'm1', BCAST)).toEqual({ m1: [], m2: [BCAST], m3: [] });     // output:m2, not a flood
    expect(send(b, 'm2', B_TO_A)).toEqual({ m1: [], m2: [], m3: [] });         // no flow for in_port=m2
    expect(send(b, 'm3', BCAST)).toEqual({ m1: [], m2: [], m3: [] });
  });

  it('a config flow that says NORMAL makes it a learning switch, still nothing more than that flow', () => {
    const b = build('    fail-mode: secure\n    flows:\n      - "priority=5,actions=NORMAL"\n');
    expect(flows(b.bridge)).toEqual(['table=0,priority=5']);
    expect(send(b, 'm1', A_TO_B)).toEqual({ m1: [], m2: [A_TO_B], m3: [A_TO_B] });
  });
});

describe('fail-mode standalone (unchanged)', () => {
  it('starts with priority=0 actions=NORMAL and learns', () => {
    for (const yaml of ['', '    fail-mode: standalone\n']) {
      const b = build(yaml);
      expect(b.bridge.dumpFlows().map((f) => [f.spec.priority, f.spec.match, f.spec.instructions])).toEqual([[0, [], { applyActions: [{ type: 'output', port: 0xfffffffa }] }]]);
      expect(send(b, 'm1', A_TO_B)).toEqual({ m1: [], m2: [A_TO_B], m3: [A_TO_B] });
      expect(send(b, 'm2', B_TO_A)).toEqual({ m1: [B_TO_A], m2: [], m3: [] });
    }
  });
});

describe('a live secure switch whose controller is down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-secure-'));
  let d: SwitchDaemon;
  const logs: string[] = [];
  beforeAll(async () => {
    // A port nothing listens on: the controller is down while the switch boots.
    const port = await new Promise<number>((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
    writeFileSync(join(dir, 'sluice.yaml'), `bridges:\n  br0:\n    fail-mode: secure\n    controllers: ["tcp:127.0.0.1:${port}"]\n${PORTS}`);
    const log = pino({ level: 'info' }, { write: (l: string) => { logs.push(l); } });
    d = await SwitchDaemon.start({ configPath: join(dir, 'sluice.yaml'), log });
  });
  afterAll(async () => { await d?.stop(); rmSync(dir, { recursive: true, force: true }); });

  it('forwards nothing through its live loop, and its tables stay empty', async () => {
    const port = (n: string): MemoryPort => d.bridge.ports().find((p) => p.name === n)!.backend as MemoryPort;
    port('m1').inject(A_TO_B);
    port('m3').inject(BCAST);
    d.runner.kick();
    // The frames were received (and dropped as table misses): wait for that, not for a time.
    const until = Date.now() + 10_000;
    while ((d.bridge.stats().drops['no-flow'] ?? 0) < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(d.bridge.stats().drops['no-flow']).toBe(2);
    for (const n of ['m1', 'm2', 'm3']) expect(port(n).sent).toEqual([]);
    expect(await d.dumpFlows()).toEqual([]);
    expect(logs.join('')).not.toMatch(/fail-open/);
  });
});
