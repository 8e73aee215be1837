// Everything `sluice switch` runs, started and stopped as one: the daemon (ports, live loop,
// OpenFlow), the management socket and, when asked, the Prometheus endpoint. Used by the CLI
// command and by in-process tests; signal handling stays in cli/switch.ts.
import type { Logger } from 'pino';
import { SwitchDaemon } from './daemon.js';
import type { DaemonOptions } from './daemon.js';
import { MgmtServer, claimSocketPath, defaultSocketPath } from './mgmt-server.js';
import { loadConfigFile } from './config.js';
import { pickBridge } from './build.js';
import { MetricsServer, createMetricsRegistry } from './metrics.js';

export interface ServeOptions extends DaemonOptions {
  /** Management socket; default /run/sluice/<bridge>.sock. */
  socketPath?: string;
  /** Serve /metrics on 127.0.0.1:port (0 = any free port); undefined = no metrics. */
  metricsPort?: number;
}

export interface RunningSwitch {
  daemon: SwitchDaemon;
  mgmt: MgmtServer;
  metrics: MetricsServer | null;
  stop(): Promise<void>;
}

export async function serveSwitch(opts: ServeOptions): Promise<RunningSwitch> {
  const log: Logger = opts.log;
  // The socket is claimed before any port opens: a second switch started on a live socket must
  // not attach to the first one's devices even for a moment.
  const { config, text } = await loadConfigFile(opts.configPath);
  const socketPath = opts.socketPath ?? defaultSocketPath(pickBridge(config, opts.bridge));
  await claimSocketPath(socketPath);
  const daemon = await SwitchDaemon.startWith({ ...opts, socketPath }, config, text);
  const mgmt = new MgmtServer(daemon, socketPath, log.child({ component: 'mgmt' }));
  let metrics: MetricsServer | null = null;
  try {
    await mgmt.listen();
    if (opts.metricsPort !== undefined) {
      metrics = new MetricsServer(createMetricsRegistry(daemon), log.child({ component: 'metrics' }));
      await metrics.listen(opts.metricsPort);
    }
  } catch (e) {
    await mgmt.close();
    await daemon.stop();
    throw e;
  }
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await mgmt.close();
    if (metrics) await metrics.close();
    await daemon.stop();
  })());
  return { daemon, mgmt, metrics, stop };
}
