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
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { learnFrame } from './switches-child.js';
import { EmulatedSwitch } from '../test/helpers/emulated-switch.js';
import { Lab, until } from '../test/unit/controller/lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

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
  const ctx = { meterIds: assignMeterIds(intent, {}), channelShares: new Map([['gold', 10_000_000]]), macAgingS: 300, banS: 5 };
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


/** The controller alone: an emulated switch (cbench) sends PACKET_INs of new sources; count the FLOW_MODs back. */
export async function learningCbench(): Promise<Figure> {
  const lab = await Lab.create();
  try {
    const ctl = await lab.startController({ learnRatePerPort: 1e9, lldpIntervalMs: 60_000 });
    const sw = await EmulatedSwitch.connect(lab.ofPort, 0x777n, 'cb/br0', ['vm0', 'vm1']);
    await until('switch', () => ctl.switches().some((s) => s.connected && s.lastReconcile));
    await ctl.change(() => parseIntent({ networks: [{ name: 'blue', vid: 100 }], attachments: [{ switch: 'cb/br0', port: 'vm0', network: 'blue' }, { switch: 'cb/br0', port: 'vm1', network: 'blue' }] }));
    const rates: number[] = [];
    const n = 20_000;
    for (let r = 0; r < 3; r++) {
      const base = sw.flowMods;
      const t0 = performance.now();
      sw.sendLearning(1, 100, n, r * n);
      await until('FLOW_MODs back', () => sw.flowMods - base >= 2 * n, 120_000);
      rates.push(n / ((performance.now() - t0) / 1000));
    }
    sw.close();
    return { name: 'MAC learning, controller alone (cbench-style emulated switch)', value: pct(rates, 50), unit: 'MACs/s', target: 20_000, note: `median of 3 x ${n} PACKET_INs -> 2 FLOW_MODs each` };
  } finally {
    await lab.close();
  }
}

/** MAC learning through PACKET_IN, the switch in its own process as in production. */
export async function learning(): Promise<Figure> {
  const lab = await Lab.create();
  const child = switchesChild(lab.ofPort, 1, 'h9-');
  try {
    const ctl = await lab.startController({ learnRatePerPort: 1e9, lldpIntervalMs: 60_000 });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await until('switch', () => ctl.switches().some((s) => s.connected));
    await ctl.change(() => parseIntent({ networks: [{ name: 'blue', vid: 100 }], attachments: [{ switch: 'h9-0/br0', port: 'vm0', network: 'blue' }, { switch: 'h9-0/br0', port: 'vm1', network: 'blue' }] }));
    const n = 10_000;
    const t0 = performance.now();
    child.stdin.write(`inject ${n}\n`);
    await until('all MACs learned', () => ctl.switches()[0]!.learnedMacs >= n, 120_000);
    const ms = performance.now() - t0;
    return { name: 'MAC learning, end to end through a Sluice switch (10,000 new sources)', value: n / (ms / 1000), unit: 'MACs/s', note: `${ms.toFixed(0)} ms; the switch in its own process` };
  } finally {
    await endChild(child);
    await lab.close();
  }
}

/** Sluice bridges in a process of their own (bench/switches-child.ts), as switches are in production. */
function switchesChild(ofPort: number, count: number, prefix: string): ChildProcessByStdio<Writable, Readable, null> {
  const extra = (process.env.SLUICE_BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...extra, '--import', 'tsx', path.join(HERE, 'switches-child.ts'), `tcp:127.0.0.1:${ofPort}`, String(count), prefix], { stdio: ['pipe', 'pipe', 'inherit'] });
}

async function endChild(child: ChildProcessByStdio<Writable, Readable, null>): Promise<void> {
  child.stdin.write('quit\n');
  await new Promise((r) => { child.once('exit', r); setTimeout(r, 3000); });
  child.kill('SIGKILL');
}

/** Reconcile of the ~10,000 flows that learning leaves (no difference, then 1 % deleted behind its back). */
async function reconcileFigures(): Promise<Figure[]> {
  const lab = await Lab.create();
  try {
    const ctl = await lab.startController({ learnRatePerPort: 1e9, lldpIntervalMs: 60_000 });
    const sw = await lab.addSwitch('h0', ['vm0', 'vm1'], 0x100n);
    await until('switch', () => ctl.switches().some((s) => s.connected));
    await ctl.change(() => parseIntent({ networks: [{ name: 'blue', vid: 100 }], attachments: [{ switch: 'h0/br0', port: 'vm0', network: 'blue' }, { switch: 'h0/br0', port: 'vm1', network: 'blue' }] }));
    const n = 5000;
    const port = sw.ports.get('vm0')!;
    for (let i = 0; i < n; i++) port.inject(learnFrame(i));
    await until('all MACs learned', () => ctl.switches()[0]!.learnedMacs >= n, 120_000);
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
  const child = switchesChild(lab.ofPort, 10, 'h');
  try {
    const ctl = await lab.startController({ lldpIntervalMs: 60_000 });
    await until('10 switches', () => ctl.switches().filter((s) => s.connected).length === 10, 30_000);
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
    return { name: 'channel set -> new rate in force on 10 switches, p99', value: pct(lat.slice(10), 99), unit: 'ms', targetMax: 20, note: `p50 ${pct(lat.slice(10), 50).toFixed(2)} ms over 50 changes (each durable, every switch answered a barrier); switches in another process` };
  } finally {
    await endChild(child);
    await lab.close();
  }
}

/**
 * Re-split of one channel over 10 switches by demand: a round reads the 10 switches' meter stats,
 * water-fills the rate and sends METER_MOD MODIFY (with barriers) where a part moved. Demand comes
 * and goes on the first switch, so every other round moves every part.
 */
export async function resplitRounds(): Promise<Figure[]> {
  const lab = await Lab.create();
  const child = switchesChild(lab.ofPort, 10, 'h');
  try {
    const ctl = await lab.startController({ lldpIntervalMs: 60_000, splitIntervalMs: 0 });
    await until('10 switches', () => ctl.switches().filter((s) => s.connected).length === 10, 30_000);
    await ctl.change(() => createChannel(parseIntent({ networks: [{ name: 'blue', vid: 100 }] }), { name: 'gold', rate: '100mbit' }));
    for (let s = 0; s < 10; s++) await ctl.change((i) => putAttachment(i, `h${s}/br0`, 'vm0', { network: 'blue', channel: 'gold' }));
    await ctl.reconcile();
    const moved: number[] = [], still: number[] = [];
    let mods = 0;
    for (let r = 0; r < 80; r++) {
      if (r % 4 < 2) child.stdin.write('repeat 3000\n');   // 3,000 x 64 B in a few ms: far above any part
      await new Promise((res) => setTimeout(res, 20));
      const round = await ctl.resplit();
      if (round === null || r < 8) continue;
      (round.meterMods > 0 ? moved : still).push(round.readMs + round.sendMs);
      mods += round.meterMods;
    }
    return [
      { name: 're-split of a channel over 10 switches, a round that moves parts', value: pct(moved, 50), unit: 'ms', note: `p50 of ${moved.length} rounds (p99 ${pct(moved, 99).toFixed(2)} ms), ${(mods / Math.max(1, moved.length)).toFixed(1)} METER_MODs a round; read 10 meter stats in parallel + decreases, barrier, increases, barrier; switches in another process` },
      { name: 're-split of a channel over 10 switches, a round that moves nothing', value: pct(still, 50), unit: 'ms', note: `p50 of ${still.length} rounds: the meter stats read alone` },
    ];
  } finally {
    await endChild(child);
    await lab.close();
  }
}

export async function run(): Promise<Figure[]> {
  return [compileFigure(), await learningCbench(), await learning(), ...(await reconcileFigures()), await channelSet(), ...(await resplitRounds())];
}
