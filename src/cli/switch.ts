// `sluice switch -c sluice.yaml`: run the switch daemon in the foreground until SIGTERM/SIGINT.
// SIGHUP re-reads the config and applies only the difference; a bad file is logged on one line
// and nothing changes. Startup errors (config, port open, socket in use) end with one line, exit 2.
import type { CommandModule } from 'yargs';
import { serveSwitch } from '../agent/serve.js';
import { createLogger } from './log.js';
import { UsageError } from './errors.js';

interface SwitchArgs { config?: string; bridge?: string; socket?: string; 'metrics-port'?: number; 'log-level'?: string }

export const switchCommand: CommandModule<object, SwitchArgs> = {
  command: 'switch',
  describe: 'Run the switch daemon (ports, management socket, metrics, OpenFlow)',
  builder: (y) => y
    .option('config', { alias: 'c', type: 'string', describe: 'switch config (YAML)' })
    .option('bridge', { alias: 'b', type: 'string', describe: 'bridge to run when the config has several' })
    .option('socket', { type: 'string', describe: 'management socket (default /run/sluice/<bridge>.sock)' })
    .option('metrics-port', { type: 'number', describe: 'serve Prometheus /metrics on 127.0.0.1:PORT' })
    .option('log-level', { type: 'string', describe: 'trace, debug, info, warn, error (default info or $SLUICE_LOG_LEVEL)' })
    .example('$0 switch -c /etc/sluice/sluice.yaml --metrics-port 9477', ''),
  handler: async (args) => {
    if (!args.config) throw new UsageError('switch needs -c CONFIG (a sluice.yaml)');
    const mp = args['metrics-port'];
    if (mp !== undefined && (!Number.isInteger(mp) || mp < 0 || mp > 65535)) throw new UsageError(`--metrics-port ${mp} is not a TCP port (0-65535)`);
    const log = createLogger({ level: args['log-level'] });
    const sw = await serveSwitch({ configPath: args.config, bridge: args.bridge, socketPath: args.socket, metricsPort: mp, log });
    await new Promise<void>((resolve) => {
      const onHup = (): void => {
        sw.daemon.reload().catch((err: unknown) => {
          const msg = err instanceof Error ? err.message.replace(/\s*\n\s*/g, '; ') : String(err);
          log.error({ reason: msg }, `config reload failed; nothing changed: ${msg}`);
        });
      };
      const onStop = (sig: NodeJS.Signals): void => {
        log.info({ signal: sig }, 'stopping');
        process.off('SIGHUP', onHup); process.off('SIGTERM', onStop); process.off('SIGINT', onStop);
        sw.stop().then(resolve, (err: unknown) => { log.error({ err }, 'clean shutdown failed'); resolve(); });
      };
      process.on('SIGHUP', onHup);
      process.on('SIGTERM', onStop);
      process.on('SIGINT', onStop);
    });
  },
};
