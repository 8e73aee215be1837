// Prometheus metrics of `sluice switch` (prom-client, private registry): per-port rx/tx packets and
// bytes, drops by reason (per port and bridge-wide), per-channel counters, link state. Values are
// read from the datapath's counters when scraped (one read per scrape: a worker datapath's counters
// are in shared memory, read without a message; channels' counters are asked for); nothing is
// recorded on the hot path.
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ChannelView, PortView, SwitchDaemon } from './daemon.js';
import { SwitchError } from './daemon.js';

type Snapshot = { ports: PortView[]; channels: ChannelView[]; drops: Record<string, number>; packetInDropped: number };

/** A counter whose value is copied from the datapath at scrape time. */
function mirrorCounter(reg: Registry, name: string, help: string, labelNames: string[], snap: () => Promise<Snapshot>, fill: (s: Snapshot, set: (labels: Record<string, string>, v: number) => void) => void): void {
  new Counter({
    name, help, labelNames, registers: [reg],
    async collect(this: Counter) { const s = await snap(); this.reset(); fill(s, (l, v) => this.inc(l, v)); },
  });
}

export function createMetricsRegistry(d: SwitchDaemon): Registry {
  const reg = new Registry();
  reg.setDefaultLabels({ bridge: d.bridgeName });
  // One read of the datapath per scrape (every metric's collect() of one scrape shares it).
  let pending: Promise<Snapshot> | null = null;
  const snap = (): Promise<Snapshot> => (pending ??= (async () => {
    const { ports, channels, drops, exec } = await d.countersSnapshot();
    setImmediate(() => { pending = null; });
    return { ports, channels, drops, packetInDropped: exec['packet-in-dropped'] ?? 0 };
  })());
  const c = (name: string, help: string, labels: string[], fill: (s: Snapshot, set: (l: Record<string, string>, v: number) => void) => void): void => mirrorCounter(reg, name, help, labels, snap, fill);
  c('sluice_port_rx_packets_total', 'Frames received on the port', ['port'], (s, set) => { for (const p of s.ports) set({ port: p.name }, p.rxPackets); });
  c('sluice_port_rx_bytes_total', 'Bytes received on the port (Ethernet frame, no FCS)', ['port'], (s, set) => { for (const p of s.ports) set({ port: p.name }, p.rxBytes); });
  c('sluice_port_tx_packets_total', 'Frames transmitted on the port', ['port'], (s, set) => { for (const p of s.ports) set({ port: p.name }, p.txPackets); });
  c('sluice_port_tx_bytes_total', 'Bytes transmitted on the port', ['port'], (s, set) => { for (const p of s.ports) set({ port: p.name }, p.txBytes); });
  c('sluice_port_drops_total', 'Frames dropped, by port and reason', ['port', 'reason'], (s, set) => {
    for (const p of s.ports) for (const [r, n] of Object.entries(p.drops)) set({ port: p.name, reason: r }, n);
  });
  c('sluice_bridge_drops_total', 'Frames dropped on the bridge, by reason', ['reason'], (s, set) => {
    for (const [r, n] of Object.entries(s.drops)) set({ reason: r }, n);
  });
  c('sluice_packet_in_dropped_total', 'PACKET_INs dropped because the control thread was behind (worker datapath)', [], (s, set) => { set({}, s.packetInDropped); });
  new Gauge({
    name: 'sluice_port_up', help: '1 when the port link is up, 0 when down or gone', labelNames: ['port', 'state'], registers: [reg],
    async collect(this: Gauge) { const s = await snap(); this.reset(); for (const p of s.ports) this.set({ port: p.name, state: p.link }, p.link === 'up' ? 1 : 0); },
  });
  c('sluice_channel_passed_packets_total', 'Frames a channel let through', ['channel'], (s, set) => { for (const ch of s.channels) set({ channel: ch.name }, ch.passedPackets); });
  c('sluice_channel_passed_bytes_total', 'Bytes a channel let through', ['channel'], (s, set) => { for (const ch of s.channels) set({ channel: ch.name }, ch.passedBytes); });
  c('sluice_channel_dropped_packets_total', 'Frames a channel dropped (policing or full queue)', ['channel'], (s, set) => { for (const ch of s.channels) set({ channel: ch.name }, ch.droppedPackets); });
  c('sluice_channel_dropped_bytes_total', 'Bytes a channel dropped', ['channel'], (s, set) => { for (const ch of s.channels) set({ channel: ch.name }, ch.droppedBytes); });
  new Gauge({
    name: 'sluice_channel_queued_packets', help: 'Frames waiting in a shaping channel', labelNames: ['channel'], registers: [reg],
    async collect(this: Gauge) { const s = await snap(); this.reset(); for (const ch of s.channels) this.set({ channel: ch.name }, ch.queued); },
  });
  new Gauge({
    name: 'sluice_tunnel_bfd_up', help: '1 while the BFD session of a tunnel port to a remote VTEP is up and forwarding, else 0 (state: down, init, up, admin_down)',
    labelNames: ['port', 'vtep', 'state'], registers: [reg],
    async collect(this: Gauge) {
      this.reset();
      for (const t of await d.tunnels()) for (const b of t.tunnel.bfd ?? []) this.set({ port: t.port, vtep: b.vtep, state: b.state }, b.forwarding ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sluice_tunnel_remote_macs', help: 'MACs a tunnel port learned behind each remote VTEP', labelNames: ['port', 'vtep'], registers: [reg],
    async collect(this: Gauge) {
      this.reset();
      for (const t of await d.tunnels()) {
        const per = new Map<string, number>(t.tunnel.endpoints.map((e) => [e.vtep, 0]));
        for (const m of t.tunnel.vteps) per.set(m.vtep, (per.get(m.vtep) ?? 0) + 1);
        for (const [vtep, n] of per) this.set({ port: t.port, vtep }, n);
      }
    },
  });
  return reg;
}

/** Serve GET /metrics on 127.0.0.1:port (0 = any free port; see `.port`). */
export class MetricsServer {
  private readonly server: http.Server;
  port = 0;
  constructor(private readonly registry: Registry, private readonly log: Logger) {
    this.server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') { res.writeHead(404).end('see /metrics\n'); return; }
      this.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
      }, (err: unknown) => {
        this.log.error({ err }, 'metrics collection failed');
        res.writeHead(500).end('metrics collection failed\n');
      });
    });
  }

  async listen(port: number, host = '127.0.0.1'): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error): void => reject(new SwitchError('SW_ERR_METRICS', `cannot serve metrics on ${host}:${port}: ${e.message}`));
      this.server.once('error', onErr);
      this.server.listen(port, host, () => { this.server.off('error', onErr); resolve(); });
    });
    const a = this.server.address();
    this.port = a !== null && typeof a === 'object' ? a.port : port;
    this.log.info({ url: `http://${host}:${this.port}/metrics` }, 'metrics listening');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
