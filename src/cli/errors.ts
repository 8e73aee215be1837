// Errors that end a CLI command with one line and exit code 2 (bad input), as opposed to bugs,
// which keep their stack. Only cli/ prints them; everything below throws.

/** A wrong command line: unknown port, missing option, conflicting flags. */
export class UsageError extends Error {
  readonly code = 'SW_ERR_USAGE';
}

/** Error codes of user-input errors raised anywhere in the project (config, captures, flows, ports). */
const INPUT_ERROR_CODES = /^(SW_ERR_|CONFIG_|CAPTURE_|FLOW_|OFP_|E[A-Z]+$)/;
const INPUT_ERROR_NAMES = new Set(['UsageError', 'ConfigError', 'CaptureError', 'FlowSyntaxError', 'RangeError', 'TypeError']);

/** True when `err` is the user's input at fault: print its message on one line, exit 2. */
export function isInputError(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && INPUT_ERROR_CODES.test(code)) return true;
  // RangeError/TypeError are what validation throws (STYLE 4.8); a TypeError from a bug has a
  // message like "x is not a function" — keep those as bugs.
  if (err.name === 'TypeError' && /is not a function|Cannot read prop|undefined/.test(err.message)) return false;
  return INPUT_ERROR_NAMES.has(err.name) || INPUT_ERROR_NAMES.has(err.constructor.name);
}

/** One line, whatever the message holds. */
export function oneLine(msg: string): string {
  return msg.replace(/\s*\n\s*/g, '; ').trim();
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** The option closest to `word` if it is close enough (as the flow syntax's "did you mean"), else undefined. */
export function didYouMean(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const o of options) {
    const d = o.startsWith(word) && word.length >= 3 ? 1 : editDistance(word, o);
    if (d < bestD) { best = o; bestD = d; }
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}
