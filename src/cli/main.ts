// The `sluice` command (yargs). One file per command group registers itself here; this file owns
// argument-error handling and the single place where errors become one line and an exit code.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFileSync } from 'node:fs';
import { didYouMean, isInputError, oneLine, UsageError } from './errors.js';
import { replayCommand } from './replay.js';
import { traceCommand } from './trace.js';
import { captureCommand } from './capture.js';
import { switchCommand } from './switch.js';
import { portCommand } from './port.js';
import { fdbCommand } from './fdb.js';
import { statsCommand } from './stats.js';
import { channelCommand } from './channel.js';
import { flowsCommand } from './flows.js';
import { configCommand } from './config-cmd.js';
import { demoCommand } from './demo.js';
import { controllerCommand } from './controller.js';
import { netCommand } from './net.js';
import { attachCommand, detachCommand } from './attach.js';
import { switchesCommand, topologyCommand, reconcileCommand } from './switches.js';
import { applyCommand } from './apply.js';
import { eventsCommand } from './events.js';
import { ControllerError } from './controller-client.js';
import { installServiceCommand } from './install-service.js';

/** The version in package.json (src/cli and dist/cli are both two levels below it). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * yargs' own messages as one line: an unknown option gets a "did you mean" from the options of the
 * command it was given to; the rest ("Invalid values:\n  Argument: ...") are joined.
 */
export function usageMessage(msg: string, y: Argv | undefined, argv: readonly string[]): string {
  const cmd = /^Did you mean (\S+)\?$/.exec(msg);
  if (cmd) return `unknown command "${argv.find((a) => !a.startsWith('-')) ?? ''}" (did you mean "sluice ${cmd[1]}"?)`;
  const unknown = /^Unknown arguments?: (.+)$/s.exec(msg);
  if (!unknown) return oneLine(msg);
  const opts = (y as unknown as { getOptions?: () => unknown } | undefined)?.getOptions?.() as { key?: Record<string, unknown>; alias?: Record<string, string[]> } | undefined;
  const known = [...Object.keys(opts?.key ?? {}), ...Object.values(opts?.alias ?? {}).flat()].filter((k) => k.length > 1 && k !== '$0');
  // yargs names an option without its dashes: show it as it was typed.
  const typed = (w: string): string => argv.find((a) => a === `--${w}` || a.startsWith(`--${w}=`) || a === `-${w}`)?.split('=')[0] ?? w;
  // yargs also reports the camelCase twin of a kebab-case option (--state-dir, stateDir): once is enough.
  const raw = unknown[1].split(/,\s*/).map((w) => w.trim()).filter(Boolean);
  const kebab = (w: string): string => w.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const words = raw.filter((w) => kebab(w) === w || !raw.includes(kebab(w))).map(typed);
  const first = words[0] ?? '';
  const hint = first.startsWith('-') ? didYouMean(first.replace(/^-+/, ''), known) : undefined;
  const what = first.startsWith('-') ? 'unknown option' : 'unexpected argument';
  return `${what}${words.length > 1 ? 's' : ''} ${words.join(', ')}${hint ? ` (did you mean --${hint}?)` : ''}`;
}

export function buildCli(argv: string[], opts: { wrap?: number } = {}): Argv {
  // yargs keeps one instance and loads the running command's options into it, so at fail() time
  // its getOptions() are the options of the command that was given the bad argument.
  const cli: Argv = yargs(argv);
  return cli
    .scriptName('sluice')
    .usage('$0 <command> [options]\n\nSluice: a software-defined virtual switch (OpenFlow 1.3, 802.1Q, token-bucket channels).')
    .command(replayCommand)
    .command(traceCommand)
    .command(captureCommand)
    .command(switchCommand)
    .command(portCommand)
    .command(fdbCommand)
    .command(statsCommand)
    .command(channelCommand)
    .command(flowsCommand)
    .command(configCommand)
    .command(demoCommand)
    .command(controllerCommand)
    .command(netCommand)
    .command(attachCommand)
    .command(detachCommand)
    .command(switchesCommand)
    .command(topologyCommand)
    .command(reconcileCommand)
    .command(applyCommand)
    .command(eventsCommand)
    .command(installServiceCommand)
    .demandCommand(1, 'Name a command (sluice --help lists them).')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(VERSION)
    .completion('completion', 'Print a completion script: sluice completion bash|zsh (see the README to install)')
    .wrap(opts.wrap ?? Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      // A YError is yargs reporting the command line (a coerce that threw, a missing value), not a bug.
      if (err) throw err.name === 'YError' ? Object.assign(new Error(oneLine(err.message)), { code: 'SW_ERR_USAGE' }) : err;
      throw Object.assign(new Error(usageMessage(msg, cli, argv)), { code: 'SW_ERR_USAGE' });
    });
}

/**
 * `sluice completion bash|zsh`: yargs picks the script by $SHELL, so the shell named on the command
 * line is passed on that way (and the word dropped). Without a name, $SHELL decides.
 */
function completionArgs(argv: string[]): string[] {
  if (argv[0] !== 'completion' || argv.length < 2 || argv[1]!.startsWith('-')) return argv;
  const shell = argv[1]!;
  if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion "${shell}": sluice has completion scripts for bash and zsh`);
  process.env.SHELL = `/bin/${shell}`;
  return [argv[0], ...argv.slice(2)];
}

export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
  try {
    argv = completionArgs(argv);
    await buildCli(argv).parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof ControllerError) {
      // 1: the controller refused or failed; 2: it called the request bad (400); 3: unreachable.
      process.stderr.write(`sluice: ${oneLine(err.message)}\n`);
      return err.exitCode;
    }
    if (isInputError(err)) {
      process.stderr.write(`sluice: ${oneLine(err.message)}\n`);
      return 2;
    }
    throw err;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /cli\/main\.[jt]s$/.test(process.argv[1]);
if (invokedDirectly) run();

/** Run the CLI as a process: exit code from main(), internal errors with their stack. */
export function run(): void {
  main().then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`sluice: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
