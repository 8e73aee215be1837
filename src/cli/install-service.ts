// `sluice install-service --switch CONFIG | --controller`: write a systemd unit (Type=notify,
// sandboxed, Restart=on-failure) from packaging/systemd/*.service.in with the ExecStart of this
// install: this node binary and this package's bin/sluice.js, absolute. `--dry-run` prints it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { LOG_FORMATS, type LogFormat } from './log.js';
import { UsageError } from './errors.js';

interface InstallArgs {
  switch?: string; controller?: boolean; 'unit-dir': string; 'unit-name'?: string; 'dry-run': boolean;
  'log-format'?: LogFormat; args?: string;
}

/** The package root (holds package.json): from src/cli or dist/cli alike. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let d = from; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json')) && existsSync(path.join(d, 'bin', 'sluice.js'))) return d;
    if (path.dirname(d) === d) throw new Error(`cannot find the sluice package root above ${from}`);
  }
}

/** One ExecStart word, quoted for systemd: "..." with \ and " escaped, % and $ doubled. */
export function systemdWord(w: string): string {
  const esc = w.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? esc : `"${esc.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export interface UnitSpec { kind: 'switch' | 'controller'; config?: string; logFormat?: LogFormat; extraArgs?: string[]; node?: string; root?: string }

/** The unit file text for `spec`. */
export function renderUnit(spec: UnitSpec): string {
  const root = spec.root ?? packageRoot();
  const tpl = readFileSync(path.join(root, 'packaging', 'systemd', `sluice-${spec.kind}.service.in`), 'utf8');
  const argv = [spec.node ?? process.execPath, path.join(root, 'bin', 'sluice.js'), spec.kind];
  let rw = '';
  if (spec.kind === 'switch') {
    if (!spec.config) throw new UsageError('install-service --switch needs the switch config file');
    const cfg = path.resolve(spec.config);
    argv.push('-c', cfg);
    // /run/sluice (sockets) and the config's folder (`sluice config save` rewrites the file atomically).
    rw = ['/run/sluice', '/var/lib/sluice/switch', path.dirname(cfg)].map(systemdWord).join(' ');
    spec = { ...spec, config: cfg };
  } else {
    argv.push('--state', '/var/lib/sluice/controller');
  }
  if (spec.logFormat) argv.push('--log-format', spec.logFormat);
  argv.push(...(spec.extraArgs ?? []));
  return tpl
    .replace(/@EXEC_START@/g, argv.map(systemdWord).join(' '))
    .replace(/@READ_WRITE_PATHS@/g, rw)
    .replace(/@CONFIG@/g, (spec.config ?? '').replace(/%/g, '%%'));
}

export const installServiceCommand: CommandModule<object, InstallArgs> = {
  command: 'install-service',
  describe: 'Write a systemd unit for `sluice switch` or `sluice controller` (this node, this install)',
  builder: (y) => y
    .option('switch', { type: 'string', describe: 'unit for the switch daemon with this config (YAML)' })
    .option('controller', { type: 'boolean', describe: 'unit for the controller daemon' })
    .option('unit-dir', { type: 'string', default: '/etc/systemd/system', describe: 'where to write the unit' })
    .option('unit-name', { type: 'string', describe: 'file name (default sluice-switch.service / sluice-controller.service)' })
    .option('log-format', { choices: LOG_FORMATS, describe: 'pass --log-format to the daemon (default there: text)' })
    .option('args', { type: 'string', describe: 'more daemon options, space-separated, e.g. --args="--metrics-port 9477" (with =)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print the unit instead of writing it' })
    .example('$0 install-service --switch /etc/sluice/sluice.yaml', '')
    .example('$0 install-service --controller --dry-run', '') as Argv<InstallArgs>,
  handler: (a) => {
    if ((a.switch === undefined) === (a.controller !== true)) throw new UsageError('install-service needs exactly one of --switch CONFIG or --controller');
    const kind = a.switch !== undefined ? 'switch' : 'controller';
    if (kind === 'switch' && !existsSync(a.switch!)) throw new UsageError(`--switch ${a.switch}: no such config file`);
    const extraArgs = a.args ? a.args.trim().split(/\s+/) : [];
    const text = renderUnit({ kind, config: a.switch, logFormat: a['log-format'], extraArgs });
    if (a['dry-run']) { process.stdout.write(text); return; }
    const name = a['unit-name'] ?? `sluice-${kind}.service`;
    if (!/^[A-Za-z0-9:_.@-]+\.service$/.test(name)) throw new UsageError(`--unit-name ${name}: give a file name ending in .service`);
    mkdirSync(a['unit-dir'], { recursive: true });
    const file = path.join(a['unit-dir'], name);
    writeFileSync(file, text, { mode: 0o644 });
    process.stdout.write(`wrote ${file}\nnext: systemctl daemon-reload && systemctl enable --now ${name}\n`);
  },
};
