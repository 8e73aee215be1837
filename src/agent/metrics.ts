// Prometheus metrics of `sluice switch` (prom-client, private registry): per-port rx/tx packets and
// bytes, drops by reason (per port and bridge-wide), per-channel counters, link state. Values are
// read from the datapath's counters when scraped; nothing is recorded on the hot path.
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { SwitchDaemon } from './daemon.js';
import { SwitchError } from './daemon.js';

/** A counter whose value is copied from the datapath at scrape time. */
function mirrorCounter(reg: Registry, name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, v: number) => void) => void): void {
  new Counter({
    name, help, labelNames, registers: [reg],
    collect(this: Counter) { this.reset(); fill((l, v) => this.inc(l, v)); },
  });
}

export function createMetricsRegistry(d: SwitchDaemon): Registry {
  const reg = new Registry();
  reg.setDefaultLabels({ bridge: d.bridgeName });
  const ports = () => d.listPorts();
  mirrorCounter(reg, 'sluice_port_rx_packets_total', 'Frames received on the port', ['port'], (set) => { for (const p of ports()) set({ port: p.name }, p.rxPackets); });
  mirrorCounter(reg, 'sluice_port_rx_bytes_total', 'Bytes received on the port (Ethernet frame, no FCS)', ['port'], (set) => { for (const p of ports()) set({ port: p.name }, p.rxBytes); });
  mirrorCounter(reg, 'sluice_port_tx_packets_total', 'Frames transmitted on the port', ['port'], (set) => { for (const p of ports()) set({ port: p.name }, p.txPackets); });
  mirrorCounter(reg, 'sluice_port_tx_bytes_total', 'Bytes transmitted on the port', ['port'], (set) => { for (const p of ports()) set({ port: p.name }, p.txBytes); });
  mirrorCounter(reg, 'sluice_port_drops_total', 'Frames dropped, by port and reason', ['port', 'reason'], (set) => {
    for (const p of ports()) for (const [r, n] of Object.entries(p.drops)) set({ port: p.name, reason: r }, n);
  });
  mirrorCounter(reg, 'sluice_bridge_drops_total', 'Frames dropped on the bridge, by reason', ['reason'], (set) => {
    for (const [r, n] of Object.entries(d.bridge.stats().drops)) set({ reason: r }, n);
  });
  new Gauge({
    name: 'sluice_port_up', help: '1 when the port link is up, 0 when down or gone', labelNames: ['port', 'state'], registers: [reg],
    collect(this: Gauge) { this.reset(); for (const p of ports()) this.set({ port: p.name, state: p.link }, p.link === 'up' ? 1 : 0); },
  });
  const chans = () => d.listChannels();
  mirrorCounter(reg, 'sluice_channel_passed_packets_total', 'Frames a channel let through', ['channel'], (set) => { for (const c of chans()) set({ channel: c.name }, c.passedPackets); });
  mirrorCounter(reg, 'sluice_channel_passed_bytes_total', 'Bytes a channel let through', ['channel'], (set) => { for (const c of chans()) set({ channel: c.name }, c.passedBytes); });
  mirrorCounter(reg, 'sluice_channel_dropped_packets_total', 'Frames a channel dropped (policing or full queue)', ['channel'], (set) => { for (const c of chans()) set({ channel: c.name }, c.droppedPackets); });
  mirrorCounter(reg, 'sluice_channel_dropped_bytes_total', 'Bytes a channel dropped', ['channel'], (set) => { for (const c of chans()) set({ channel: c.name }, c.droppedBytes); });
  new Gauge({
    name: 'sluice_channel_queued_packets', help: 'Frames waiting in a shaping channel', labelNames: ['channel'], registers: [reg],
    collect(this: Gauge) { this.reset(); for (const c of chans()) this.set({ channel: c.name }, c.queued); },
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
