// The `sluice` command (yargs). One file per command group registers itself here; this file owns
// argument-error handling and the single place where errors become one line and an exit code.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isInputError, oneLine } from './errors.js';
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

export function buildCli(argv: string[]): Argv {
  return yargs(argv)
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
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw Object.assign(new Error(msg), { code: 'SW_ERR_USAGE' });
    });
}

export async function main(argv: string[] = hideBin(process.argv)): Promise<number> {
  try {
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
