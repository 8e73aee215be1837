// Test helper: locates the third-party Ryu OpenFlow 1.3 vectors in ../shared/vectors (never
// copied into the repo) and loads each .packet with its Ryu .packet.json decoding.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const projectRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const VECTORS_DIR = resolve(projectRoot, '../shared/vectors');
export const OF13_DIR = join(VECTORS_DIR, 'openflow13');
export const haveOf13 = existsSync(OF13_DIR);
if (!haveOf13) console.log(`OpenFlow vector tests skipped: ${OF13_DIR} is absent (third-party vectors live outside the repo)`);

export interface Vector { name: string; bytes: Buffer; json: unknown }
export function loadVectors(): Vector[] {
  if (!haveOf13) return [];
  return readdirSync(OF13_DIR)
    .filter((f) => f.endsWith('.packet'))
    .sort()
    .map((f) => ({ name: f, bytes: readFileSync(join(OF13_DIR, f)), json: JSON.parse(readFileSync(join(OF13_DIR, `${f}.json`), 'utf8')) }));
}
/** Index of the first differing byte, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}
