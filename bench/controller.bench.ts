// Controller benchmarks (issue [1 of 5]): compiling an intent of 1,000 networks for 10 switches;
// reconciling a switch that holds ~10,000 flows with no difference and with 1 % changed; a
// channel change in force on 10 switches (every switch answered a barrier); MAC learning through
// PACKET_IN. Real Sluice bridges with their real OpenFlow agents over TCP on 127.0.0.1, in this
// process with the controller (one core shared). Figures only, no asserts.
import { compile } from '../src/controller/compile.js';
import type { SwitchView } from '../src/controller/compile.js';
import { assignMeterIds } from '../src/controller/controller.js';
import { createChannel, parseIntent, patchChannel, putAttachment } from '../src/controller/intent.js';
import type { Intent } from '../src/controller/intent.js';
import { buildFrame } from '../src/packet/build.js';
import { Lab, until } from '../test/unit/controller/lab.js';

export interface Figure { name: string; value: number; unit: string; target?: number; targetMax?: number; note?: string }

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!; };

function bigIntent(networks: number, switches: number, portsPerSwitch: number): Intent {
  const nets = Array.from({ length: networks }, (_, i) => ({ name: `n${i}`, vid: i + 1 }));
  const atts = [];
  for (let s = 0; s < switches; s++) for (let p = 0; p < portsPerSwitch; p++) atts.push({ switch: `h${s}/br0`, port: `vm${p}`, network: `n${(s * portsPerSwitch + p) % networks}`, channel: p % 2 ? 'gold' : undefined });
  return parseIntent({ networks: nets, channels: [{ name: 'gold', rate: '100mbit' }], attachments: atts.map((a) => (a.channel ? a : { switch: a.switch, port: a.port, network: a.network })) });
}

function compileFigure(): Figure {
  const intent = bigIntent(1000, 10, 100);
  const views: SwitchView[] = Array.from({ length: 10 }, (_, s) => ({
    names: [`h${s}/br0`], ports: new Map([...Array.from({ length: 100 }, (_, p) => [`vm${p}`, p + 1] as [string, number]), ['t1', 200], ['t2', 201]]),
    trunks: [{ port: 200, blocked: false }, { port: 201, blocked: false }], learned: [], bans: [],
  }));
  const ctx = { meterIds: assignMeterIds(intent, {}), channelSwitches: new Map([['gold', 10]]), macAgingS: 300, banS: 5 };
  let flows = 0;
  for (const v of views) flows += compile(intent, v, ctx).flows.size;   // warm-up
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (const v of views) compile(intent, v, ctx);
    runs.push(performance.now() - t0);
  }
  return { name: 'intent -> desired flows, 1,000 networks x 10 switches', value: pct(runs, 50), unit: 'ms', note: `${flows} flows in all, median of 5` };
}

const mac = (i: number): string => `02:${((i >> 24) & 255).toString(16).padStart(2, '0')}:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
const frameFrom = (i: number): Buffer => buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: mac(i), payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport: 1, dport: 2, payload: new Uint8Array(18) } } });

/** Learning rate, then the reconcile of the ~10,000 flows it leaves (no difference, then 1 % deleted behind its back). */
async function learningAndReconcile(): Promise<Figure[]> {
  const lab = await Lab.create();
  try {
    const ctl = await lab.startController({ learnRatePerPort: 1e9, lldpIntervalMs: 60_000 });
    const sw = await lab.addSwitch('h0', ['vm0', 'vm1'], 0x100n);
    await until('switch', () => ctl.switches().some((s) => s.connected));
    await ctl.change((i) => parseIntent({ networks: [{ name: 'blue', vid: 100 }], attachments: [{ switch: 'h0/br0', port: 'vm0', network: 'blue' }, { switch: 'h0/br0', port: 'vm1', network: 'blue' }] }));
    const n = 5000;
    const frames = Array.from({ length: n }, (_, i) => frameFrom(i));
    const port = sw.ports.get('vm0')!;
    const t0 = performance.now();
    for (const f of frames) port.inject(f);
    await until('all MACs learned', () => ctl.switches()[0]!.learnedMacs >= n, 120_000);
    const learnMs = performance.now() - t0;
    await ctl.reconcile();
    const flows = sw.bridge.dumpFlows().length;
    const clean: number[] = [];
    let sent = 0;
    for (let r = 0; r < 5; r++) {
      const [s] = await ctl.reconcile('h0/br0');
      clean.push(s!.ms);
      sent += s!.flowMods + s!.groupMods + s!.meterMods;
    }
    const dirty: number[] = [];
    let restored = 0;
    for (let r = 0; r < 5; r++) {
      const victims = sw.bridge.dumpFlows({ tableId: 2 }).slice(0, Math.round(flows / 100));
      for (const v of victims) sw.bridge.flowMod({ command: 'delete_strict', spec: v.spec }, Date.now());
      const [s] = await ctl.reconcile('h0/br0');
      dirty.push(s!.ms);
      restored += s!.flowMods;
    }
    return [
      { name: 'MAC learning through PACKET_IN (5,000 new sources)', value: n / (learnMs / 1000), unit: 'MACs/s', target: 20_000, note: `${learnMs.toFixed(0)} ms; switch, agent and controller share one process` },
      { name: `reconcile, ${flows} flows, no difference`, value: pct(clean, 50), unit: 'ms', note: `p50 of 5; FLOW/GROUP/METER_MODs sent: ${sent}` },
      { name: `reconcile, ${flows} flows, 1 % deleted behind its back`, value: pct(dirty, 50), unit: 'ms', note: `p50 of 5; ${restored / 5} FLOW_MODs per reconcile` },
    ];
  } finally {
    await lab.close();
  }
}

/** `channel set` -> every one of 10 switches has the new meter (each answered a barrier). */
async function channelSet(): Promise<Figure> {
  const lab = await Lab.create();
  try {
    const ctl = await lab.startController({ lldpIntervalMs: 60_000 });
    for (let s = 0; s < 10; s++) await lab.addSwitch(`h${s}`, ['vm0', 'vm1'], BigInt(0x200 + s));
    await until('10 switches', () => ctl.switches().filter((s) => s.connected).length === 10);
    await ctl.change(() => createChannel(parseIntent({ networks: [{ name: 'blue', vid: 100 }] }), { name: 'gold', rate: '100mbit' }));
    for (let s = 0; s < 10; s++) await ctl.change((i) => putAttachment(i, `h${s}/br0`, 'vm0', { network: 'blue', channel: 'gold' }));
    const lat: number[] = [];
    for (let r = 0; r < 60; r++) {
      const rate = `${200 - (r % 2) * 100}mbit`;
      const t0 = performance.now();
      const res = await ctl.change((i) => patchChannel(i, 'gold', { rate }));
      lat.push(performance.now() - t0);
      if (res.switches.length !== 10 || res.switches.some((s) => s.meterMods !== 1)) throw new Error('a switch did not get the meter change');
    }
    const sw = lab.switches[0]!;
    return { name: 'channel set -> new rate in force on 10 switches, p99', value: pct(lat.slice(10), 99), unit: 'ms', targetMax: 20, note: `p50 ${pct(lat.slice(10), 50).toFixed(2)} ms over 50 changes; ${sw.name} and 9 more` };
  } finally {
    await lab.close();
  }
}

export async function run(): Promise<Figure[]> {
  return [compileFigure(), ...(await learningAndReconcile()), await channelSet()];
}
