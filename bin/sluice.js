#!/usr/bin/env node
// Entry point of the `sluice` command: the compiled CLI lives in dist/ (built by `npm install`).
// It runs from the clone for any user who can read it (nothing is written there), and a CLI that
// cannot load says why in one line (SLUICE_DEBUG=1 keeps the stack) instead of failing silently.
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /dist\/cli\/main\.js/.test(String(err.message))) {
    process.stderr.write('sluice: not built yet; run `npm install` (or `npm run build`) in the project folder\n');
    process.exit(2);
  }
  if (process.env.SLUICE_DEBUG) throw err;
  const msg = String(err && err.message ? err.message : err).split('\n')[0];
  process.stderr.write(`sluice: cannot load the CLI from dist/ (${err && err.code ? `${err.code}: ` : ''}${msg}); rebuild it with \`npm run build\` (SLUICE_DEBUG=1 shows the stack)\n`);
  process.exit(2);
}
cli.run();
