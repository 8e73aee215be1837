// An in-process lab for controller tests and benches: Sluice bridges with memory ports, each run
// by its real OpenFlow agent connecting to a real Controller over TCP on 127.0.0.1, trunk ports
// wired to each other, and a poll loop that moves frames. Nothing here mocks OpenFlow.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../../../src/agent/openflow/agent.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { Controller } from '../../../src/controller/controller.js';
import type { ControllerOptions } from '../../../src/controller/controller.js';

export interface LabSwitch { name: string; bridge: Bridge; agent: OpenFlowAgent; ports: Map<string, MemoryPort> }

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => resolve(typeof a === 'object' && a ? a.port : 0)); });
  });
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class Lab {
  readonly switches: LabSwitch[] = [];
  controller: Controller | null = null;
  readonly stateDir = mkdtempSync(path.join(tmpdir(), 'sluice-ctl-'));
  private wires: [MemoryPort, MemoryPort][] = [];
  private timer: NodeJS.Timeout | null = null;
  readonly log = pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' });

  constructor(readonly ofPort: number) {}

  static async create(): Promise<Lab> { return new Lab(await freeTcpPort()); }

  async startController(opts: Partial<ControllerOptions> = {}): Promise<Controller> {
    this.controller = await Controller.start({
      stateDir: this.stateDir, openflow: `ptcp:${this.ofPort}:127.0.0.1`, log: this.log,
      lldpIntervalMs: 200, reconcileIntervalMs: 0, ...opts,
    });
    return this.controller;
  }

  async stopController(): Promise<void> {
    await this.controller?.stop();
    this.controller = null;
  }

  /** A bridge "<host>/br0" with the named memory ports (ofports 1..n in order), secure, agent connecting. */
  async addSwitch(host: string, portNames: string[], dpid: bigint): Promise<LabSwitch> {
    const bridge = new Bridge({ name: 'br0', datapathId: dpid, pool: new PacketPool(1024, 2048) });
    const ports = new Map<string, MemoryPort>();
    portNames.forEach((n, i) => {
      const mp = new MemoryPort(n);
      ports.set(n, mp);
      bridge.addPort({ ofport: i + 1, name: n, backend: mp });
    });
    for (const mp of ports.values()) await mp.open();
    const agent = new OpenFlowAgent(bridge, {
      controllers: [`tcp:127.0.0.1:${this.ofPort}`], failMode: 'secure', dpDesc: `${host}/br0`, log: this.log,
      reconnectMs: { min: 50, max: 200 }, portPollMs: 100,
    });
    await agent.start();
    const sw = { name: `${host}/br0`, bridge, agent, ports };
    this.switches.push(sw);
    this.ensureLoop();
    return sw;
  }

  /** Wire two memory ports back to back (a trunk cable). */
  wire(a: MemoryPort, b: MemoryPort): void { this.wires.push([a, b]); }
  unwire(a: MemoryPort): void { this.wires = this.wires.filter(([x, y]) => x !== a && y !== a); }

  private ensureLoop(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.step(), 2);
  }

  /** One pass: every bridge polls, frames cross the wires. */
  step(): void {
    const now = performance.timeOrigin + performance.now();
    for (let round = 0; round < 4; round++) {
      for (const s of this.switches) s.bridge.poll(now);
      for (const [a, b] of this.wires) {
        for (const f of a.takeSent()) b.inject(f.frame);
        for (const f of b.takeSent()) a.inject(f.frame);
      }
    }
  }

  /** Frames sent out of a port since the last call (trunks excluded: the wires take theirs). */
  take(sw: LabSwitch, port: string): Buffer[] { return sw.ports.get(port)!.takeSent().map((f) => f.frame); }
  drainAll(): void { for (const s of this.switches) for (const p of s.ports.values()) if (!this.wires.some(([a, b]) => a === p || b === p)) p.takeSent(); }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stopController();
    for (const s of this.switches) await s.agent.stop();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
