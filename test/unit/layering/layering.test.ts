// The folder graph of DESIGN.md ("Layering"): every import between src/ folders follows an allowed
// edge, and the graph has no cycle. The controller programs switches only over OpenFlow, so it
// never imports the datapath or the switch's agent.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../../src');

/** Folder -> the folders it may import. Anything not listed is a layering violation. */
const ALLOWED: Record<string, readonly string[]> = {
  packet: [],
  openflow: [],
  vlan: ['packet'],
  qos: ['packet'],
  flow: ['openflow', 'packet'],
  datapath: ['packet', 'vlan', 'qos', 'flow'],
  agent: ['packet', 'vlan', 'qos', 'flow', 'openflow', 'datapath'],
  controller: ['packet', 'flow', 'openflow', 'qos'],
  replay: ['packet', 'flow', 'datapath', 'agent'],
  demo: ['agent', 'packet'],
  cli: ['packet', 'flow', 'openflow', 'qos', 'datapath', 'agent', 'controller', 'replay', 'demo'],
};

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every (from folder, to folder, file) edge among src/ folders. */
function edges(): { from: string; to: string; file: string }[] {
  const out: { from: string; to: string; file: string }[] = [];
  for (const file of tsFiles(SRC)) {
    const from = path.relative(SRC, file).split(path.sep)[0]!;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = path.relative(SRC, path.resolve(path.dirname(file), m[1]!)).split(path.sep)[0]!;
      if (to !== from && !to.startsWith('..')) out.push({ from, to, file: path.relative(SRC, file) });
    }
  }
  return out;
}

describe('layering (DESIGN.md)', () => {
  const all = edges();

  it('finds the imports it checks', () => {
    expect(all.some((e) => e.from === 'datapath' && e.to === 'packet')).toBe(true);
  });

  it('every folder is known and imports only what it may', () => {
    const bad = all.filter((e) => !(ALLOWED[e.from] ?? []).includes(e.to)).map((e) => `${e.file} imports ${e.to}/`);
    expect(bad).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of all) (graph.get(e.from) ?? graph.set(e.from, new Set()).get(e.from)!).add(e.to);
    const state = new Map<string, 'open' | 'done'>();
    const cycle: string[] = [];
    const visit = (n: string, trail: string[]): boolean => {
      if (state.get(n) === 'done') return false;
      if (state.get(n) === 'open') { cycle.push(...trail, n); return true; }
      state.set(n, 'open');
      for (const m of graph.get(n) ?? []) if (visit(m, [...trail, n])) return true;
      state.set(n, 'done');
      return false;
    };
    for (const n of graph.keys()) if (visit(n, [])) break;
    expect(cycle).toEqual([]);
  });
});
