// The one root logger of a sluice process (pino): JSON lines, or pretty when stderr is a TTY.
// Components receive child loggers bound once (per port, per connection), never per packet.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info';
  const usePretty = opts.pretty ?? process.stderr.isTTY === true;
  if (usePretty) {
    return pino({ level, base: undefined }, pretty({ destination: 2, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}
