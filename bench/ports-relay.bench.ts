// Bench: a JS relay between two SystemPorts (AF_PACKET, one native call per batch) joining two
// namespaces h1 and h2 over veths, offloads off. Prints delivered 64-byte frames/s (a python3 raw
// socket floods from h1; h2's veth RX counter is the truth), ping RTT p50/p99, native calls and
// syscalls per frame. Plain script, no assertions: `node --import tsx bench/ports-relay.bench.ts`.
import { PacketPool } from '../src/packet/pool.js';
import type { PortBackend } from '../src/datapath/port.js';
import { SystemPort } from '../src/datapath/ports/system.js';
import { NetnsLab, hasCommand } from '../test/helpers/netns.js';
import { privileged } from '../test/helpers/privileged.js';
import { FLOOD_PY, pct, relay, rxPackets } from '../test/helpers/relay.js';

const FLOOD_SECONDS = 3;

async function main(): Promise<void> {
  const p = privileged();
  if (!p.ok) { console.log(`ports-relay bench skipped: ${p.reason}`); return; }
  const lab = new NetnsLab();
  const ports: SystemPort[] = [];
  try {
    const h1 = lab.addNs('h1'), h2 = lab.addNs('h2');
    const p1 = lab.name('p1'), v1 = lab.name('v1'), p2 = lab.name('p2'), v2 = lab.name('v2');
    lab.addVeth(p1, v1, h1);
    lab.addVeth(p2, v2, h2);
    lab.addr(h1, v1, '10.90.0.1/24');
    lab.addr(h2, v2, '10.90.0.2/24');
    const off = [lab.offloadsOff(null, p1), lab.offloadsOff(null, p2), lab.offloadsOff(h1, v1), lab.offloadsOff(h2, v2)].every(Boolean);
    const s1 = new SystemPort(p1), s2 = new SystemPort(p2);
    ports.push(s1, s2);
    await s1.open();
    await s2.open();
    relay(s1, s2, new PacketPool(4096));
    console.log(`topology h1(${v1}) -- ${p1} [Sluice JS relay, 2 SystemPorts] ${p2} -- h2(${v2}); offloads ${off ? 'off' : 'NOT turned off (ethtool missing)'}`);

    if (hasCommand('ping')) {
      await lab.execAsync(h1, ['ping', '-c', '2', '-W', '1', '10.90.0.2']);   // warm ARP
      const r = await lab.execAsync(h1, ['ping', '-c', '100', '-i', '0.01', '-W', '1', '10.90.0.2'], 30_000);
      const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
      if (rtts.length > 0) console.log(`ping RTT: ${rtts.length}/100 replies, p50 ${pct(rtts, 0.5).toFixed(0)} us, p99 ${pct(rtts, 0.99).toFixed(0)} us`);
      else console.log(`ping failed: ${r.stdout}${r.stderr}`);
    } else console.log('ping RTT: skipped (iputils-ping not installed)');

    if (hasCommand('python3')) {
      for (const c of [s1.counters, s2.counters]) c.reset();
      const before = rxPackets(lab, h2, v2);
      const dst = lab.mac(h2, v2).toString('hex');
      const t0 = performance.now();
      const r = await lab.execAsync(h1, ['python3', '-c', FLOOD_PY, v1, dst, String(FLOOD_SECONDS)], 60_000);
      await new Promise((res) => setTimeout(res, 200));
      const secs = (performance.now() - t0 - 200) / 1000;
      const offered = Number(r.stdout.trim());
      const delivered = rxPackets(lab, h2, v2) - before;
      const relayed = s2.counters.txFrames;
      const calls = s1.counters.nativeCalls + s2.counters.nativeCalls;
      const sys = s1.counters.syscalls + s2.counters.syscalls;
      console.log(`64-byte flood: offered ${(offered / secs / 1000).toFixed(0)} kpps, delivered ${(delivered / secs / 1000).toFixed(0)} kpps ` +
        `(${delivered} of ${offered}, ${(100 * (1 - delivered / Math.max(1, offered))).toFixed(1)} % lost)`);
      console.log(`per relayed frame: ${(calls / Math.max(1, relayed)).toFixed(3)} native calls, ${(sys / Math.max(1, relayed)).toFixed(3)} syscalls, ` +
        `${(s1.counters.wakeups / Math.max(1, relayed)).toFixed(3)} wakeups; rx drops ${s1.counters.rxDrops}, tx drops ${s2.counters.txDrops}`);
    } else console.log('flood: skipped (python3 not installed)');
  } finally {
    for (const p of ports) await p.close();
    lab.cleanup();
  }
}

await main();
