// build-native.mjs — builds Sluice's N-API I/O addon (src/datapath/native) with node-gyp at install.
// Never fails the install: on any problem it prints one line saying what is unavailable and exits 0.
// Run by `npm install` ("install" script) or by hand: `node scripts/build-native.mjs`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'src', 'datapath', 'native');

function giveUp(reason) {
  console.log(`sluice: native I/O addon not built (${reason}); tap/system ports are unavailable, replay still works`);
  process.exit(0);
}

if (process.platform !== 'linux') giveUp(`platform ${process.platform} is not Linux`);
if (!existsSync(path.join(nativeDir, 'binding.gyp'))) giveUp('src/datapath/native/binding.gyp is missing');

let gypJs;
try {
  gypJs = createRequire(path.join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  giveUp('node-gyp is not installed');
}

const args = [gypJs, 'rebuild'];
// npm passes its `nodedir` config as npm_config_nodedir; by hand, use the headers next to this node.
const nodedir = process.env.npm_config_nodedir
  ?? [path.resolve(process.execPath, '..', '..')].find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
if (nodedir) args.push(`--nodedir=${nodedir}`);

const r = spawnSync(process.execPath, args, { cwd: nativeDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (r.error) giveUp(`node-gyp did not run: ${r.error.message}`);
if (r.status !== 0) {
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim());
  const why = lines.find((l) => /error:/i.test(l) && !l.startsWith('gyp ERR! stack'))
    ?? lines.find((l) => l.startsWith('gyp ERR!') && !l.includes('stack')) ?? `node-gyp exited with ${r.status}`;
  giveUp(why.replace(/^gyp ERR! /, '').replace(/\s+/g, ' ').slice(0, 200));
}
if (!existsSync(path.join(nativeDir, 'build', 'Release', 'sluice_io.node'))) giveUp('node-gyp succeeded but sluice_io.node is missing');
