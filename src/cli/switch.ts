// `sluice switch -c sluice.yaml`: run the switch daemon in the foreground until SIGTERM/SIGINT.
// SIGHUP re-reads the config and applies only the difference; a bad file is logged on one line
// and nothing changes. Startup errors (config, port open, socket in use) end with one line, exit 2.
import type { CommandModule } from 'yargs';
import { serveSwitch } from '../agent/serve.js';
import { checkLogLevel, createLogger, LOG_FORMATS, type LogFormat } from './log.js';
import { notifyReady } from './sd-notify.js';
import { UsageError } from './errors.js';

interface SwitchArgs { config?: string; bridge?: string; socket?: string; 'save-to'?: string; 'metrics-port'?: number; 'log-level'?: string; 'log-format'?: LogFormat }

export const switchCommand: CommandModule<object, SwitchArgs> = {
  command: 'switch',
  describe: 'Run the switch daemon (ports, management socket, metrics, OpenFlow)',
  builder: (y) => y
    .option('config', { alias: 'c', type: 'string', describe: 'switch config (YAML)' })
    .option('bridge', { alias: 'b', type: 'string', describe: 'bridge to run when the config has several' })
    .option('socket', { type: 'string', describe: 'management socket (default /run/sluice/<bridge>.sock)' })
    .option('save-to', { type: 'string', describe: '`sluice config save` writes this file instead of the config file' })
    .option('metrics-port', { type: 'number', describe: 'serve Prometheus /metrics on 127.0.0.1:PORT' })
    .option('log-level', { type: 'string', coerce: (v: string) => checkLogLevel(v), describe: 'trace, debug, info, warn, error (default info or $SLUICE_LOG_LEVEL)' })
    .option('log-format', { choices: LOG_FORMATS, describe: 'json lines or text (default: text on a TTY or the journal, else json)' })
    .example('$0 switch -c /etc/sluice/sluice.yaml --metrics-port 9477', ''),
  handler: async (args) => {
    if (!args.config) throw new UsageError('switch needs -c CONFIG (a sluice.yaml)');
    if (args['save-to'] === '') throw new UsageError('--save-to needs a file path');
    const mp = args['metrics-port'];
    if (mp !== undefined && (!Number.isInteger(mp) || mp < 0 || mp > 65535)) throw new UsageError(`--metrics-port ${mp} is not a TCP port (0-65535)`);
    const log = createLogger({ level: args['log-level'], format: args['log-format'] });
    // Handlers go in before the socket appears: a SIGHUP sent as soon as the switch answers must
    // reload, not kill it (SIGHUP's default action), and an early SIGTERM must still clean up.
    let sw: Awaited<ReturnType<typeof serveSwitch>> | undefined;
    let stopRequested: NodeJS.Signals | undefined;
    let finish: () => void = () => {};
    const onHup = (): void => {
      if (!sw) { log.warn('SIGHUP while starting: the config is being read now anyway'); return; }
      sw.daemon.reload().catch((err: unknown) => {
        const msg = err instanceof Error ? err.message.replace(/\s*\n\s*/g, '; ') : String(err);
        log.error({ reason: msg }, `config reload failed; nothing changed: ${msg}`);
      });
    };
    const onStop = (sig: NodeJS.Signals): void => {
      log.info({ signal: sig }, 'stopping');
      process.off('SIGHUP', onHup); process.off('SIGTERM', onStop); process.off('SIGINT', onStop);
      if (!sw) { stopRequested = sig; return; }
      sw.stop().then(finish, (err: unknown) => { log.error({ err }, 'clean shutdown failed'); finish(); });
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    try {
      // A datapath worker that dies is a bug that stops forwarding: stop cleanly and exit 1 (systemd restarts us).
      const onDatapathFailure = (): void => { process.exitCode = 1; onStop('SIGTERM'); };
      sw = await serveSwitch({ configPath: args.config, bridge: args.bridge, socketPath: args.socket, saveTo: args['save-to'], metricsPort: mp, log, onDatapathFailure });
    } catch (err) {
      process.off('SIGHUP', onHup); process.off('SIGTERM', onStop); process.off('SIGINT', onStop);
      throw err;
    }
    // Ports open, management socket listening: now a Type=notify unit may count us as started
    // (not awaited: a signal in the meantime must find the stop path below already in place).
    void notifyReady(log, `switch running, management socket ${sw.mgmt.socketPath}`);
    await new Promise<void>((resolve) => {
      finish = resolve;
      if (stopRequested !== undefined) { const sig = stopRequested; stopRequested = undefined; sw!.stop().then(resolve, () => resolve()); log.info({ signal: sig }, 'stopped after start-up'); }
    });
  },
};
