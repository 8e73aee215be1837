// Sluice bridges in a process of their own for the controller benchmarks (bench/controller.bench.ts),
// as switches are in production: argv[3] bridges "<argv[4]><i>/br0" (dpid 0x900 + i), each with
// two memory ports and its OpenFlow agent connecting to the controller at argv[2] (tcp:HOST:PORT).
// On "inject N" from stdin it feeds N broadcast frames with distinct source MACs into the first
// bridge's port vm0 ("repeat N": N copies of one frame); it prints "ready" once started and ends on "quit".
import { createInterface } from 'node:readline';
import { Bridge } from '../src/datapath/bridge.js';
import { MemoryPort } from '../src/datapath/ports/memory.js';
import { OpenFlowAgent } from '../src/agent/openflow/agent.js';
import { PacketPool } from '../src/packet/pool.js';
import { buildFrame } from '../src/packet/build.js';

export const learnMac = (i: number): string =>
  `02:${((i >> 24) & 255).toString(16).padStart(2, '0')}:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
export const learnFrame = (i: number): Buffer => buildFrame({
  dst: 'ff:ff:ff:ff:ff:ff', src: learnMac(i),
  payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(18) } },
});

async function main(): Promise<void> {
  const [target, countText = '1', prefix = 'h'] = process.argv.slice(2);
  const bridges: Bridge[] = [];
  const agents: OpenFlowAgent[] = [];
  let first: MemoryPort | null = null;
  for (let i = 0; i < Number(countText); i++) {
    const bridge = new Bridge({ name: 'br0', datapathId: BigInt(0x900 + i), pool: new PacketPool(4096, 2048) });
    const vm0 = new MemoryPort('vm0', { record: false }), vm1 = new MemoryPort('vm1', { record: false });
    bridge.addPort({ ofport: 1, name: 'vm0', backend: vm0 });
    bridge.addPort({ ofport: 2, name: 'vm1', backend: vm1 });
    await vm0.open(); await vm1.open();
    first ??= vm0;
    const agent = new OpenFlowAgent(bridge, { controllers: [target!], failMode: 'secure', dpDesc: `${prefix}${i}/br0`, reconnectMs: { min: 50, max: 200 } });
    await agent.start();
    bridges.push(bridge); agents.push(agent);
  }
  // Poll while there is work, as the runner does on readiness; a slow tick for timeouts otherwise.
  let pumping = false;
  const pump = (): void => {
    let n = 0;
    for (const b of bridges) n += b.poll(performance.timeOrigin + performance.now());
    if (n > 0) setImmediate(pump); else pumping = false;
  };
  const poll = setInterval(() => { if (!pumping) { pumping = true; pump(); } }, 100);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = /^inject (\d+)$/.exec(line.trim());
    if (m) {
      for (let i = 0; i < Number(m[1]); i++) first!.inject(learnFrame(i));
      if (!pumping) { pumping = true; pump(); }
    }
    const r = /^repeat (\d+)$/.exec(line.trim());
    if (r) {
      const f = learnFrame(0);
      for (let i = 0; i < Number(r[1]); i++) first!.inject(f);
      if (!pumping) { pumping = true; pump(); }
    }
    if (line.trim() === 'quit') { clearInterval(poll); void Promise.all(agents.map((a) => a.stop())).then(() => process.exit(0)); }
  });
  console.log('ready');
}

if (process.argv[1]?.endsWith('switches-child.ts')) void main();
