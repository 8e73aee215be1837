// The one root logger of a sluice process (pino): JSON lines, or plain text (`--log-format`).
// Components receive child loggers bound once (per port, per connection), never per packet.
import { fstatSync } from 'node:fs';
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

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * True when stderr is the journal stream systemd gave us (JOURNAL_STREAM is "DEV:INODE" of that
 * stream, and a child that redirected stderr must not believe it still writes to the journal).
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  const m = /^(\d+):(\d+)$/.exec(js);
  if (!m) return false;
  try {
    const st = fstatSync(2, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch { return false; }
}

/**
 * The format when none is given: text for a person (stderr a TTY) and for the journal (journald
 * stamps time, PID and unit on every line itself, and `journalctl` shows text best); JSON lines
 * everywhere else (pipes, files, log shippers), as before.
 */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  return process.stderr.isTTY === true || stderrIsJournal(env) ? 'text' : 'json';
}

export function createLogger(opts: { level?: string; pretty?: boolean; format?: LogFormat } = {}): Logger {
  // pino throws a bare Error on an unknown level; $SLUICE_LOG_LEVEL is user input like the option.
  const level = checkLogLevel(opts.level) ?? checkLogLevel(process.env.SLUICE_LOG_LEVEL, '$SLUICE_LOG_LEVEL') ?? 'info';
  const format: LogFormat = opts.format ?? (opts.pretty === undefined ? defaultLogFormat() : opts.pretty ? 'text' : 'json');
  if (format === 'text') {
    // In the journal: no colours and no time of our own (journald adds it); on a TTY: both.
    const journal = stderrIsJournal();
    return pino({ level, base: undefined }, pretty({
      destination: 2, sync: true, colorize: !journal && process.stderr.isTTY === true,
      translateTime: journal ? false : 'HH:MM:ss.l', ignore: journal ? 'pid,hostname,time' : 'pid,hostname',
    }));
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

