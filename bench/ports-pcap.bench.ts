// Bench: the two `system` port backends side by side — SystemPort (our AF_PACKET N-API shim,
// recvmmsg/sendmmsg, one native call per batch) and PcapLivePort (libpcap through the `cap`
// package, one JS callback and one send() per frame) — each as a JS relay between two veths
// joining namespaces h1 and h2, offloads off (the topology of ports-relay.bench.ts). Rounds are
// interleaved (shim, pcap, shim, pcap, ...) and medians reported: delivered 64-byte frames/s at
// the flooder's max rate (h2's veth RX counter is the truth), the relay process's CPU during the
// flood, ping RTT p50/p99, JS callbacks per relayed frame. Figures only, no assertions.
// `node --import tsx bench/ports-pcap.bench.ts [rounds]` (root; python3, ping, ethtool).
import { PacketPool } from '../src/packet/pool.js';
import type { PortBackend } from '../src/datapath/port.js';
import { SystemPort } from '../src/datapath/ports/system.js';
import { PcapLivePort } from '../src/datapath/ports/pcap-live.js';
import type { PortIoCounters } from '../src/datapath/ports/io-counters.js';
import { NetnsLab, hasCommand } from '../test/helpers/netns.js';
import { privileged } from '../test/helpers/privileged.js';
import { FLOOD_PY, median, pct, relay, rxPackets } from '../test/helpers/relay.js';

interface Figure { name: string; value: number; unit: string; note?: string }

const FLOOD_SECONDS = 3;
const PINGS = 100;

type Variant = 'shim' | 'pcap';
const LABEL: Record<Variant, string> = { shim: 'AF_PACKET shim (SystemPort)', pcap: 'libpcap via cap (PcapLivePort)' };

interface Round { kpps: number; offeredKpps: number; lossPct: number; cpuPct: number; cpuUsPerFrame: number; p50: number; p99: number; cbPerFrame: number; sysPerFrame: number }

interface Topo { lab: NetnsLab; h1: string; h2: string; p1: string; p2: string; v1: string; v2: string; offloadsOff: boolean }

function topology(lab: NetnsLab): Topo {
  const h1 = lab.addNs('h1'), h2 = lab.addNs('h2');
  const p1 = lab.name('p1'), v1 = lab.name('v1'), p2 = lab.name('p2'), v2 = lab.name('v2');
  lab.addVeth(p1, v1, h1);
  lab.addVeth(p2, v2, h2);
  lab.addr(h1, v1, '10.91.0.1/24');
  lab.addr(h2, v2, '10.91.0.2/24');
  const offloadsOff = [lab.offloadsOff(null, p1), lab.offloadsOff(null, p2), lab.offloadsOff(h1, v1), lab.offloadsOff(h2, v2)].every(Boolean);
  return { lab, h1, h2, p1, p2, v1, v2, offloadsOff };
}

async function measure(t: Topo, variant: Variant): Promise<Round> {
  const { lab } = t;
  const a: PortBackend & { counters: PortIoCounters } = variant === 'shim' ? new SystemPort(t.p1) : new PcapLivePort(t.p1);
  const z: PortBackend & { counters: PortIoCounters } = variant === 'shim' ? new SystemPort(t.p2) : new PcapLivePort(t.p2);
  try {
    await a.open();
    await z.open();
    relay(a, z, new PacketPool(4096));
    // libpcap's `inbound` filter loses the first ~0.2 s of frames after open: settle, then warm ARP.
    await new Promise((r) => setTimeout(r, 300));
    await lab.execAsync(t.h1, ['ping', '-c', '3', '-i', '0.2', '-W', '1', '10.91.0.2']);
    const pr = await lab.execAsync(t.h1, ['ping', '-c', String(PINGS), '-i', '0.01', '-W', '1', '10.91.0.2'], 30_000);
    const rtts = [...pr.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((x, y) => x - y);

    for (const c of [a.counters, z.counters]) c.reset();
    const before = rxPackets(lab, t.h2, t.v2);
    const dst = lab.mac(t.h2, t.v2).toString('hex');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await lab.execAsync(t.h1, ['python3', '-c', FLOOD_PY, t.v1, dst, String(FLOOD_SECONDS)], 60_000);
    await new Promise((res) => setTimeout(res, 200));
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const secs = (wallMs - 200) / 1000;
    const offered = Number(r.stdout.trim());
    const delivered = rxPackets(lab, t.h2, t.v2) - before;
    const relayed = Math.max(1, z.counters.txFrames);
    return {
      kpps: delivered / secs / 1000,
      offeredKpps: offered / secs / 1000,
      lossPct: 100 * (1 - delivered / Math.max(1, offered)),
      cpuPct: (100 * (cpu.user + cpu.system) / 1000) / wallMs,
      cpuUsPerFrame: (cpu.user + cpu.system) / relayed,
      p50: rtts.length ? pct(rtts, 0.5) : NaN,
      p99: rtts.length ? pct(rtts, 0.99) : NaN,
      cbPerFrame: a.counters.wakeups / relayed,
      sysPerFrame: (a.counters.syscalls + z.counters.syscalls) / relayed,
    };
  } finally {
    // Close before any device goes away: cap aborts the process on POLLERR (see pcap-live.ts).
    await a.close();
    await z.close();
  }
}

export async function run(rounds = 3, log: (s: string) => void = () => {}): Promise<Figure[]> {
  const p = privileged();
  if (!p.ok) { log(`ports-pcap bench skipped: ${p.reason}`); return []; }
  for (const cmd of ['python3', 'ping']) {
    if (!hasCommand(cmd)) { log(`ports-pcap bench skipped: ${cmd} is not installed`); return []; }
  }
  const lab = new NetnsLab();
  const results: Record<Variant, Round[]> = { shim: [], pcap: [] };
  let offloadsOff = false;
  try {
    const t = topology(lab);
    offloadsOff = t.offloadsOff;
    log(`topology h1(${t.v1}) -- ${t.p1} [JS relay] ${t.p2} -- h2(${t.v2}); offloads ${offloadsOff ? 'off' : 'NOT turned off (ethtool missing)'}; ${rounds} interleaved rounds`);
    for (let i = 0; i < rounds; i++) {
      for (const v of ['shim', 'pcap'] as Variant[]) {
        const r = await measure(t, v);
        results[v].push(r);
        log(`  round ${i + 1} ${v.padEnd(4)}: delivered ${r.kpps.toFixed(0)} kpps of ${r.offeredKpps.toFixed(0)} offered ` +
          `(${r.lossPct.toFixed(1)} % lost), relay CPU ${r.cpuPct.toFixed(0)} % (${r.cpuUsPerFrame.toFixed(2)} us a frame), ping p50 ${r.p50.toFixed(0)} / p99 ${r.p99.toFixed(0)} us, ` +
          `${r.cbPerFrame.toFixed(3)} JS callbacks and ${r.sysPerFrame.toFixed(3)} counted syscalls per frame`);
      }
    }
  } finally {
    lab.cleanup();
  }
  const figs: Figure[] = [];
  const note = `median of ${rounds}, offloads ${offloadsOff ? 'off' : 'on'}`;
  for (const v of ['shim', 'pcap'] as Variant[]) {
    const rs = results[v];
    const m = (f: (r: Round) => number): number => median(rs.map(f));
    figs.push(
      { name: `${LABEL[v]}: 64 B delivered at max offered rate`, value: m((r) => r.kpps), unit: 'kpps', note: `${note}; offered ${m((r) => r.offeredKpps).toFixed(0)} kpps` },
      { name: `${LABEL[v]}: loss at max offered rate`, value: m((r) => r.lossPct), unit: '%', note },
      { name: `${LABEL[v]}: relay CPU during the flood`, value: m((r) => r.cpuPct), unit: '% of a core', note },
      { name: `${LABEL[v]}: relay CPU per relayed frame`, value: m((r) => r.cpuUsPerFrame), unit: 'us', note: 'user + system, whole process' },
      { name: `${LABEL[v]}: ping RTT p50`, value: m((r) => r.p50), unit: 'us', note: `${PINGS} pings at 10 ms` },
      { name: `${LABEL[v]}: ping RTT p99`, value: m((r) => r.p99), unit: 'us', note: `${PINGS} pings at 10 ms` },
      { name: `${LABEL[v]}: JS callbacks per relayed frame`, value: m((r) => r.cbPerFrame), unit: 'calls', note: v === 'shim' ? 'uv_poll wake-ups' : "cap's per-frame 'packet' emits" },
    );
  }
  const ratio = median(results.pcap.map((r) => r.kpps)) / median(results.shim.map((r) => r.kpps));
  figs.push({ name: 'libpcap / shim, delivered 64 B frames', value: ratio, unit: 'x' });
  return figs;
}

const invokedDirectly = process.argv[1] !== undefined && /ports-pcap\.bench\.[jt]s$/.test(process.argv[1]);
if (invokedDirectly) {
  const rounds = Number(process.argv[2] ?? 3);
  const figs = await run(Number.isInteger(rounds) && rounds > 0 ? rounds : 3, (s) => console.log(s));
  for (const f of figs) {
    const v = f.value >= 100 ? f.value.toFixed(0) : f.value >= 10 ? f.value.toFixed(1) : f.value.toFixed(2);
    console.log(`  ${f.name.padEnd(62)} ${v.padStart(8)} ${f.unit}${f.note ? `  — ${f.note}` : ''}`);
  }
}
