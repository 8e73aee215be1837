// The man page sluice(1), generated from the yargs command tree: the help of `sluice` and of every
// command and subcommand, as yargs prints it at a fixed width, in roff. `npm run man` writes
// man/sluice.1; a unit test regenerates it and compares, so the page cannot drift from the code.
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildCli, VERSION } from './main.js';

/** The width the page's help text is wrapped at (man indents it further). */
const MAN_WIDTH = 78;

/** What `sluice ARGS --help` prints, without printing or exiting. */
export function helpText(args: string[]): Promise<string> {
  const argv = [...args, '--help'];
  const y = buildCli(argv, { wrap: MAN_WIDTH }).exitProcess(false);
  return new Promise((resolve, reject) => {
    y.parse(argv, {}, (err: Error | undefined, _a: unknown, out: string) => (err ? reject(err) : resolve(out)));
  });
}

/** Subcommands listed under "Commands:" in a help text: `sluice channel create <name>` -> "create". */
function subcommands(help: string, path: string[]): string[] {
  const at = help.indexOf('\nCommands:\n');
  if (at < 0) return [];
  const prefix = ['sluice', ...path].join(' ') + ' ';
  const names: string[] = [];
  for (const line of help.slice(at + 11).split('\n')) {
    if (line.trim() === '' ) break;
    const t = line.trimStart();
    if (!t.startsWith(prefix)) continue;
    const name = t.slice(prefix.length).split(/\s/)[0]!;
    if (/^[a-z][\w-]*$/.test(name) && !names.includes(name)) names.push(name);
  }
  return names;
}

function roffText(s: string): string {
  return s.replace(/\\/g, '\\e').split('\n').map((l) => (/^[.']/.test(l) ? `\\&${l}` : l)).join('\n');
}

export async function manPage(): Promise<string> {
  const top = await helpText([]);
  const parts: string[] = [
    `.TH SLUICE 1 "" "sluice ${VERSION}" "User Commands"`,
    '.SH NAME',
    'sluice \\- a software-defined virtual switch (OpenFlow 1.3, 802.1Q, token-bucket channels)',
    '.SH SYNOPSIS',
    '.B sluice',
    '.I command',
    '[options]',
    '.SH DESCRIPTION',
    '.nf', roffText(top.trimEnd()), '.fi',
    '.SH COMMANDS',
  ];
  const walk = async (path: string[]): Promise<void> => {
    const help = await helpText(path);
    parts.push(`.SS "sluice ${path.join(' ')}"`, '.nf', roffText(help.trimEnd()), '.fi');
    for (const sub of subcommands(help, path)) await walk([...path, sub]);
  };
  for (const cmd of subcommands(top, [])) if (cmd !== 'completion') await walk([cmd]);
  parts.push(
    '.SH EXIT STATUS',
    '0 done; 1 a replay missed its expectation, or the controller refused or failed;',
    '2 bad arguments or input (one line on stderr); 3 the controller cannot be reached.',
    '.SH ENVIRONMENT',
    'SLUICE_LOG_LEVEL, SLUICE_CONTROLLER, SLUICE_TOKEN',
    '.SH SEE ALSO',
    'The README in the Sluice source tree; sluice completion (bash and zsh).',
  );
  return `${parts.join('\n')}\n`;
}

export const MAN_PATH = fileURLToPath(new URL('../../man/sluice.1', import.meta.url));

if (process.argv[1] !== undefined && /cli\/man\.[jt]s$/.test(process.argv[1])) {
  const page = await manPage();
  mkdirSync(fileURLToPath(new URL('../../man/', import.meta.url)), { recursive: true });
  writeFileSync(MAN_PATH, page);
  process.stdout.write(`wrote ${MAN_PATH} (${page.split('\n').length} lines)\n`);
}
