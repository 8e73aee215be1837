// The README's shell examples, for tests that run them: the lines of the ```sh blocks under one
// "## " section, comments stripped, split into words the way sh would for these simple lines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/** Lines (with `\` continuations joined) of the ```sh blocks of README section `title`. */
export function readmeShellLines(title: string): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = text.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`README has no section "## ${title}"`);
  const end = text.indexOf('\n## ', at + 4);
  const section = text.slice(at, end < 0 ? undefined : end);
  const lines: string[] = [];
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const l of m[1].replace(/\\\n\s*/g, '').split('\n')) {
      const code = l.replace(/\s+#\s.*$/, '').trim();
      if (code !== '') lines.push(code);
    }
  }
  return lines;
}

/** Words of a simple shell line: spaces split, "..." and '...' group (no escapes, no expansions). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g)) words.push(m[0].replace(/"([^"]*)"|'([^']*)'/g, '$1$2'));
  return words;
}
