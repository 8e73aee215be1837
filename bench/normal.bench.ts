// Cost of one NORMAL decision (VLAN classification + source learning + destination lookup/flood)
// with 1,000 learned MACs, for known unicast and for broadcast flood. Prints ns/decision; no
// assertions. Run: node --import tsx bench/normal.bench.ts
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { FlowKey, K, VID_PRESENT, macHi, macLo } from '../src/packet/flow-key.js';
import { Normal, NormalDecision } from '../src/datapath/normal.js';

const MACS = 1000;
const ACCESS_PORTS = 12;       // access VLAN 10
const TRUNK_PORTS = 4;         // trunk [10, 20]
const PORTS = ACCESS_PORTS + TRUNK_PORTS;
const ITERATIONS = 2_000_000;
const WARMUP = 300_000;
const BROADCAST = 0xffff_ffff_ffff;
const BATCH = 64;

/** One printed figure (the shape bench/run.ts prints). */
export interface NormalFigure { name: string; value: number; unit: string; note?: string }

function portOf(i: number): number { return 1 + (i % PORTS); }

function makeKey(i: number, dst: number): FlowKey {
  const k = new FlowKey();
  const inPort = portOf(i);
  const src = 0x0200_0000_0000 + i;
  k.w[K.IN_PORT] = inPort;
  k.w[K.ETH_SRC_HI] = macHi(src); k.w[K.ETH_SRC_LO] = macLo(src);
  k.w[K.ETH_DST_HI] = macHi(dst); k.w[K.ETH_DST_LO] = macLo(dst);
  k.w[K.ETH_TYPE] = 0x0800;
  if (inPort > ACCESS_PORTS) { k.w[K.VLAN_VID] = VID_PRESENT | 10; k.w[K.VLAN_PCP] = 0; }
  return k;
}

function measure(normal: Normal, keys: FlowKey[], out: NormalDecision, iterations: number, t0: number): number {
  const n = keys.length;
  let sink = 0;
  const start = performance.now();
  // Like the Bridge: the clock is read once per batch of BATCH frames and passed down.
  for (let i = 0; i < iterations; i += BATCH) {
    const nowMs = t0 + i * 1e-4;
    const end = Math.min(i + BATCH, iterations);
    for (let j = i; j < end; j++) {
      const k = keys[j % n];
      normal.decide(k.w[K.IN_PORT], k, nowMs, out);
      sink += out.count;
    }
  }
  const ns = ((performance.now() - start) * 1e6) / iterations;
  if (sink < 0) console.log(sink);   // keep the loop's result observable
  return ns;
}

/** ns per decide() for known unicast and for broadcast flood, over 1,000 learned MACs. */
export function run(iterations: number = ITERATIONS): NormalFigure[] {
  const normal = new Normal({ macTableSize: 8192, agingMs: 300_000 });
  for (let p = 1; p <= PORTS; p++) {
    normal.setPort({
      ofport: p,
      vlan: p <= ACCESS_PORTS ? { mode: 'access', vid: 10 } : { mode: 'trunk', vids: [10, 20] },
      canFlood: true, canForward: true,
    });
  }
  const out = new NormalDecision();
  const unicast: FlowKey[] = [];
  const flood: FlowKey[] = [];
  for (let i = 0; i < MACS; i++) {
    unicast.push(makeKey(i, 0x0200_0000_0000 + ((i + 7) % MACS)));
    flood.push(makeKey(i, BROADCAST));
  }
  measure(normal, flood, out, MACS, 0);                            // learn all 1,000 sources
  measure(normal, unicast, out, WARMUP, 1);
  const knownUnicastNs = measure(normal, unicast, out, iterations, 2);
  measure(normal, flood, out, WARMUP, 3);
  const floodNs = measure(normal, flood, out, iterations, 4);
  const note = `${MACS} learned MACs, ${PORTS} ports`;
  return [
    { name: 'decide(): known unicast', value: knownUnicastNs, unit: 'ns/decision', note },
    { name: `decide(): broadcast flood (${PORTS - 1} outputs)`, value: floodNs, unit: 'ns/decision', note },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const f of run()) console.log(`${f.name.padEnd(44)} ${f.value.toFixed(1).padStart(7)} ${f.unit}  (${f.note})`);
}
