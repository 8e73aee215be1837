// `sluice stats`: per-port and per-channel counters of a running switch, drops by reason.
import type { CommandModule } from 'yargs';
import type { ChannelView, PortView } from '../agent/daemon.js';
import { client, dropsText, out, outJson, table, withClientOptions } from './switch-client.js';
import { fmtBytes, fmtCount, fmtRateText } from './format.js';
import type { ClientArgs } from './switch-client.js';

interface StatsReply {
  bridge: string; ports: PortView[]; channels: ChannelView[]; drops: Record<string, number>;
  exec: Record<string, number>; flowCacheEntries: number;
}

/** A channel group member's rate column: its share now, and its min/max/weight. */
export function memberRate(c: ChannelView): string {
  const mbit = (bps: number | undefined): string => `${((bps ?? 0) / 1e6).toFixed(1)}Mbit`;
  return `${mbit(c.shareBps)} now (min ${c.min ? fmtRateText(c.min) : '0'}, max ${fmtRateText(c.max ?? c.rate)}, weight ${c.weight ?? 1})`;
}

export const statsCommand: CommandModule<object, ClientArgs> = {
  command: 'stats',
  describe: 'Per-port and per-channel counters, drops by reason',
  builder: (y) => withClientOptions(y),
  handler: async (a) => {
    const r = await client(a).get<StatsReply>('/stats');
    if (a.json) { outJson(r); return; }
    out(`bridge ${r.bridge}`);
    out(table(['port', 'ofport', 'link', 'rx pkts', 'rx bytes', 'tx pkts', 'tx bytes', 'drops (by reason)'],
      r.ports.map((p) => [p.name, p.ofport, p.link, fmtCount(p.rxPackets), fmtBytes(p.rxBytes), fmtCount(p.txPackets), fmtBytes(p.txBytes), dropsText(p.drops)])));
    if (r.channels.length) {
      out(table(['channel', 'rate', 'mode', 'passed pkts', 'passed bytes', 'dropped pkts', 'dropped bytes', 'queued'],
        r.channels.map((c) => [c.group !== undefined ? `${c.name} (${c.group})` : c.name, c.group !== undefined ? memberRate(c) : fmtRateText(c.rate), c.mode, fmtCount(c.passedPackets), fmtBytes(c.passedBytes), fmtCount(c.droppedPackets), fmtBytes(c.droppedBytes), fmtCount(c.queued)])));
    }
    const tunnels = r.ports.filter((p) => p.tunnel !== undefined);
    const vteps = tunnels.flatMap((p) => p.tunnel!.endpoints.map((e) => {
      const b = p.tunnel!.bfd?.find((x) => x.vtep === e.vtep);
      const macs = p.tunnel!.vteps.filter((m) => m.vtep === e.vtep).length;
      return [p.name, e.vtep, e.up ? 'yes' : 'no', b ? `${b.state}${b.diagnostic !== 'No Diagnostic' ? ` (${b.diagnostic})` : ''}` : '-', fmtCount(macs)];
    }));
    if (vteps.length) out(table(['tunnel', 'remote vtep', 'in use', 'bfd', 'macs'], vteps));
    out(`bridge drops: ${dropsText(r.drops)}`);
    out(`flow cache: ${fmtCount(r.flowCacheEntries)} entries, ${fmtCount(r.exec['cache-hits'] ?? 0)} hits, ${fmtCount(r.exec['cache-misses'] ?? 0)} misses`);
  },
};
