#!/usr/bin/env node
// Entry point of the `sluice` command: the compiled CLI lives in dist/ (built by `npm install`).
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /dist\/cli\/main\.js/.test(String(err.message))) {
    process.stderr.write('sluice: not built yet; run `npm install` (or `npm run build`) in the project folder\n');
    process.exit(2);
  }
  throw err;
}
cli.run();
