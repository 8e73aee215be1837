// `sluice controller`: run the controller daemon in the foreground (the intent and its state file,
// OpenFlow to the switches, the northbound API with its token) until SIGTERM/SIGINT, which stop it
// cleanly. Options come from controller.yaml (-c) and the command line, which wins.
import type { Argv, CommandModule } from 'yargs';
import type { Controller } from '../controller/controller.js';
import type { ApiServer } from '../controller/api.js';
import type { StateStore } from '../controller/store.js';
import { ControllerConfigError, DEFAULT_API_LISTEN, checkOpenflowListen, checkStore, defaultStateDir, loadControllerConfig, parseListen } from '../controller/config.js';
import type { ControllerFileConfig } from '../controller/config.js';
import { checkLogLevel, createLogger, LOG_FORMATS, type LogFormat } from './log.js';
import { notifyReady } from './sd-notify.js';
import { UsageError } from './errors.js';

interface ControllerCmdArgs {
  config?: string; state?: string; store?: string; openflow?: string; api?: string; cert?: string; key?: string; ca?: string;
  'lease-ttl'?: number; 'reconcile-interval'?: number; 'lldp-interval'?: number; 'rate-interval'?: number; 'split-interval'?: number; 'mac-aging'?: number; 'log-level'?: string; 'log-format'?: LogFormat;
}

/** The effective settings: file values under command-line ones, checked whole. */
export function controllerSettings(a: ControllerCmdArgs): Required<Pick<ControllerFileConfig, 'api' | 'state'>> & ControllerFileConfig {
  const f: ControllerFileConfig = a.config ? loadControllerConfig(a.config) : {};
  const s: ControllerFileConfig & { api: string; state: string } = { ...f, api: a.api ?? f.api ?? DEFAULT_API_LISTEN, state: a.state ?? f.state ?? defaultStateDir() };
  if (a.openflow !== undefined) s.openflow = checkOpenflowListen(a.openflow);
  if (a.store !== undefined) s.store = checkStore(a.store);
  parseListen(s.api);
  const tlsArgs = [a.cert, a.key, a.ca];
  if (tlsArgs.some((x) => x !== undefined)) {
    if (tlsArgs.some((x) => x === undefined)) throw new UsageError('--cert, --key and --ca go together (PEM files: ours, our key, the CA that signs the switches)');
    s.tls = { cert: a.cert!, key: a.key!, ca: a.ca! };
  }
  if (s.openflow?.startsWith('pssl:') && !s.tls) throw new UsageError(`${s.openflow} needs --cert, --key and --ca (or tls: in the config file)`);
  const num = (v: number | undefined, what: string, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isFinite(v) || v < min) throw new UsageError(`--${what} ${v}: give a number of seconds, ${min} or more`);
    return v;
  };
  s.reconcileIntervalS = num(a['reconcile-interval'], 'reconcile-interval', 0) ?? s.reconcileIntervalS;
  s.lldpIntervalS = num(a['lldp-interval'], 'lldp-interval', 0.1) ?? s.lldpIntervalS;
  s.rateIntervalS = num(a['rate-interval'], 'rate-interval', 0) ?? s.rateIntervalS;
  s.splitIntervalS = num(a['split-interval'], 'split-interval', 0) ?? s.splitIntervalS;
  s.macAgingS = num(a['mac-aging'], 'mac-aging', 1) ?? s.macAgingS;
  if (a['lease-ttl'] !== undefined && !Number.isInteger(a['lease-ttl'])) throw new UsageError(`--lease-ttl ${a['lease-ttl']}: give a whole number of seconds, 1 or more`);
  s.leaseTtlS = num(a['lease-ttl'], 'lease-ttl', 1) ?? s.leaseTtlS;
  return s;
}

export const controllerCommand: CommandModule<object, ControllerCmdArgs> = {
  command: 'controller',
  describe: 'Run the controller daemon (OpenFlow to the switches, the northbound API)',
  builder: (y) => y
    .option('config', { alias: 'c', type: 'string', describe: 'controller.yaml (the options below as keys; the command line wins)' })
    .option('state', { type: 'string', describe: 'state directory: intent, API token (default /var/lib/sluice/controller as root, else $XDG_STATE_HOME/sluice/controller)' })
    .option('store', { type: 'string', describe: 'where the intent lives: file (the state directory, default) or etcd:URL[,URL...] (several controllers, one leader)' })
    .option('lease-ttl', { type: 'number', describe: 'etcd store: seconds the leader\'s election lease lives unrenewed (default 2); failover takes about this long' })
    .option('openflow', { type: 'string', describe: 'OpenFlow listener ptcp:PORT[:IP] or pssl:PORT[:IP] (default ptcp:6653)' })
    .option('api', { type: 'string', describe: `northbound API HOST:PORT (default ${DEFAULT_API_LISTEN})` })
    .option('cert', { type: 'string', describe: 'pssl: our certificate (PEM)' })
    .option('key', { type: 'string', describe: 'pssl: our private key (PEM)' })
    .option('ca', { type: 'string', describe: 'pssl: CA certificate the switches\' certificates must chain to (PEM)' })
    .option('reconcile-interval', { type: 'number', describe: 'seconds between periodic reconciles (0: only on changes)' })
    .option('lldp-interval', { type: 'number', describe: 'seconds between LLDP probes' })
    .option('rate-interval', { type: 'number', describe: 'seconds between channel rate samples (meter stats; 0: none; default 0.5)' })
    .option('split-interval', { type: 'number', describe: 'seconds between re-splits of channels over several switches by measured demand (0: never; default 0.1)' })
    .option('mac-aging', { type: 'number', describe: 'seconds a learned MAC stays without traffic' })
    .option('log-level', { type: 'string', coerce: (v: string) => checkLogLevel(v), describe: 'trace, debug, info, warn, error (default info or $SLUICE_LOG_LEVEL)' })
    .option('log-format', { choices: LOG_FORMATS, describe: 'json lines or text (default: text on a TTY or the journal, else json)' })
    .example('$0 controller --openflow ptcp:6653 --api 127.0.0.1:6680', '')
    .example('$0 controller -c /etc/sluice/controller.yaml', '') as Argv<ControllerCmdArgs>,
  handler: async (args) => {
    const s = controllerSettings(args);
    // Loaded here, not at the top: every other `sluice` command starts without fastify and the controller.
    const { Controller } = await import('../controller/controller.js');
    const { startApi, loadOrCreateToken } = await import('../controller/api.js');
    const log = createLogger({ level: args['log-level'], format: args['log-format'] });
    let ctl: Controller | undefined;
    let api: ApiServer | undefined;
    let stopping: Promise<void> | undefined;
    let finish: () => void = () => {};
    const stop = (): Promise<void> => (stopping ??= (async () => {
      try { await api?.close(); } catch (err) { log.error({ err }, 'closing the API failed'); }
      try { await ctl?.stop(); } catch (err) { log.error({ err }, 'stopping the controller failed'); }
    })());
    let early = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      log.info({ signal: sig }, 'stopping');
      process.off('SIGTERM', onSignal); process.off('SIGINT', onSignal);
      if (!api) { early = true; return; }
      void stop().then(() => finish());
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      try {
        let store: StateStore | undefined;
        if (s.store?.startsWith('etcd:')) {
          const { EtcdStateStore, parseEtcdStore } = await import('../controller/etcd.js');
          store = new EtcdStateStore({ endpoints: parseEtcdStore(s.store) });
        }
        ctl = await Controller.start({
          store,
          stateDir: s.state, openflow: s.openflow, tls: s.tls, log: log.child({ component: 'controller' }),
          reconcileIntervalMs: s.reconcileIntervalS === undefined ? undefined : s.reconcileIntervalS * 1000,
          lldpIntervalMs: s.lldpIntervalS === undefined ? undefined : s.lldpIntervalS * 1000,
          rateIntervalMs: s.rateIntervalS === undefined ? undefined : s.rateIntervalS * 1000,
          splitIntervalMs: s.splitIntervalS === undefined ? undefined : s.splitIntervalS * 1000,
          macAgingS: s.macAgingS, tunnels: s.tunnels, leaseTtlS: s.leaseTtlS,
        });
      } catch (err) {
        // A state file that does not load, a directory we may not write, a port in use: one line.
        if (err instanceof Error && (err.constructor === Error || typeof (err as { code?: unknown }).code === 'string')) {
          throw new ControllerConfigError(`cannot start the controller: ${err.message}`);
        }
        throw err;
      }
      const tok = loadOrCreateToken(s.state);
      if (tok.created) log.info({ file: tok.file }, 'API token created');
      if (tok.looseMode) log.warn({ file: tok.file }, 'the API token file is readable by others: chmod 600 it');
      const { host } = parseListen(s.api);
      if (!/^(127\.|::1$|localhost$)/.test(host)) log.warn({ api: s.api }, 'the API listens beyond this host over plain HTTP: the token crosses the network in the clear');
      api = await startApi({ controller: ctl, token: tok.token, log: log.child({ component: 'api' }), listen: s.api });
      log.info({ api: api.url, state: s.state, store: s.store ?? 'file', openflow: s.openflow ?? 'default' }, 'controller running');
      // OpenFlow and the API both listen: now a Type=notify unit may count us as started.
      void notifyReady(log, `controller running, API ${api.url}`);
    } catch (err) {
      process.off('SIGTERM', onSignal); process.off('SIGINT', onSignal);
      await stop();
      throw err;
    }
    await new Promise<void>((resolve) => {
      finish = resolve;
      if (early) void stop().then(resolve);
    });
    log.info('controller stopped');
  },
};
