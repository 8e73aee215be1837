// A Sluice bridge in its own process for the learning benchmark (bench/controller.bench.ts): two
// memory ports, its OpenFlow agent connecting to the controller given as argv[2] (tcp:HOST:PORT),
// dp_desc argv[3]. On "inject N" from stdin it feeds N broadcast frames with distinct source MACs
// into port vm0 and polls until they are through; it prints "ready" once started.
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
  const [target, dpDesc] = process.argv.slice(2);
  const bridge = new Bridge({ name: 'br0', datapathId: 0x900n, pool: new PacketPool(4096, 2048) });
  const vm0 = new MemoryPort('vm0', { record: false }), vm1 = new MemoryPort('vm1', { record: false });
  bridge.addPort({ ofport: 1, name: 'vm0', backend: vm0 });
  bridge.addPort({ ofport: 2, name: 'vm1', backend: vm1 });
  await vm0.open(); await vm1.open();
  const agent = new OpenFlowAgent(bridge, { controllers: [target!], failMode: 'secure', dpDesc, reconnectMs: { min: 50, max: 200 } });
  await agent.start();
  const poll = setInterval(() => { for (let i = 0; i < 8; i++) bridge.poll(performance.timeOrigin + performance.now()); }, 1);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = /^inject (\d+)$/.exec(line.trim());
    if (m) for (let i = 0; i < Number(m[1]); i++) vm0.inject(learnFrame(i));
    if (line.trim() === 'quit') { clearInterval(poll); void agent.stop().then(() => process.exit(0)); }
  });
  console.log('ready');
}

if (process.argv[1]?.endsWith('learn-switch.ts')) void main();
