// The one root logger of a sluice process (pino): JSON lines, or pretty when stderr is a TTY.
// Components receive child loggers bound once (per port, per connection), never per packet.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { UsageError } from './errors.js';

export type { Logger };

/** pino's levels, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** A --log-level value (yargs `coerce`): one of LOG_LEVELS, else a UsageError (one line, exit 2). */
export function checkLogLevel(level: string | undefined, source = '--log-level'): string | undefined {
  if (level === undefined) return undefined;
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level;
  throw new UsageError(`${source} "${level}" is not a log level (${LOG_LEVELS.join(', ')})`);
}

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  // pino throws a bare Error on an unknown level; $SLUICE_LOG_LEVEL is user input like the option.
  const level = checkLogLevel(opts.level) ?? checkLogLevel(process.env.SLUICE_LOG_LEVEL, '$SLUICE_LOG_LEVEL') ?? 'info';
  const usePretty = opts.pretty ?? process.stderr.isTTY === true;
  if (usePretty) {
    return pino({ level, base: undefined }, pretty({ destination: 2, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}
