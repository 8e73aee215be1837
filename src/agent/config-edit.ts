// `config save` edits the user's own document instead of printing the running config afresh: the
// file the switch loaded (or last saved) is parsed as a `yaml` Document, which keeps comments,
// flow or block style, quoting and key order; only what differs between that file's config and the
// running one is set or deleted in it. Defaults are compared, never written: a key left implicit
// stays implicit while its value is unchanged, and a port or channel added through the API is
// written without the defaults the parser filled in.
import { isCollection, isMap, isSeq, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { parseConfig, toFileObject } from './config.js';
import type { SluiceConfig } from './config.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * `baseText` (the user's file, which parses to some config) with the changes that make it say
 * `running`. Returns null when the edit cannot be made faithfully (the caller then writes the full
 * form): the result is checked to load back as exactly the running config.
 */
export function editConfigText(baseText: string, fileName: string, running: SluiceConfig): string | null {
  let base: SluiceConfig;
  try { base = parseConfig(baseText, fileName); } catch { return null; }
  const before = toFileObject(base), after = toFileObject(running);
  if (same(before, after)) return baseText;
  const doc = parseDocument(baseText);
  if (doc.errors.length > 0 || !isMap(doc.contents)) return null;
  const reEmitted = doc.toString(EMIT);
  patchMap(doc, [], before, after);
  const text = doc.toString(EMIT);
  const loadsAs = (t: string): boolean => { try { return same(toFileObject(parseConfig(t, fileName)), after); } catch { return false; } };
  if (!loadsAs(text)) return null;
  const restored = restoreLines(baseText, reEmitted, text);
  return restored !== null && loadsAs(restored) ? restored : text;
}

const EMIT = { lineWidth: 0 } as const;

/**
 * The Document re-emits what it did not change with normalised spacing (one space before a
 * trailing comment, say). Line i of `reEmitted` (the untouched document re-emitted) is line i of
 * `original` respaced; every line of `edited` equal to such a line is given back as the user wrote
 * it, in order. Null when re-emitting moved lines (then `edited` stands as it is).
 */
function restoreLines(original: string, reEmitted: string, edited: string): string | null {
  const o = original.split('\n'), r = reEmitted.split('\n');
  if (o.length !== r.length) return null;
  const byText = new Map<string, string[]>();
  for (let i = 0; i < r.length; i++) {
    const q = byText.get(r[i]);
    if (q) q.push(o[i]); else byText.set(r[i], [o[i]]);
  }
  return edited.split('\n').map((line) => byText.get(line)?.shift() ?? line).join('\n');
}

function patchMap(doc: Document, path: string[], a: Obj, b: Obj): void {
  for (const k of Object.keys(a)) if (!(k in b)) doc.deleteIn([...path, k]);
  for (const [k, v] of Object.entries(b)) {
    const at = [...path, k];
    if (!(k in a)) { add(doc, at, v); continue; }
    const old = a[k];
    if (same(old, v)) continue;
    const node = doc.getIn(at, true);
    if (isObj(old) && isObj(v) && isMap(node)) patchMap(doc, at, old, v);
    else if (Array.isArray(old) && Array.isArray(v) && isSeq(node)) patchSeq(doc, at, old, v);
    else if (node === undefined) add(doc, at, v);          // an implicit default that changed
    else doc.setIn(at, v);
  }
}

/** A list of scalars (flows, vids): drop what went, append what came, keep the rest (and its comments). */
function patchSeq(doc: Document, path: string[], a: unknown[], b: unknown[]): void {
  const node = doc.getIn(path, true);
  const scalar = (x: unknown): boolean => x === null || typeof x !== 'object';
  const kept = a.filter((x) => b.includes(x));
  if (!isSeq(node) || node.items.length !== a.length || !a.every(scalar) || !b.every(scalar) || !same(kept, b.slice(0, kept.length))) {
    doc.setIn(path, b);
    return;
  }
  for (let i = a.length - 1; i >= 0; i--) if (!b.includes(a[i])) node.items.splice(i, 1);
  for (const x of b.slice(kept.length)) node.add(doc.createNode(x));
}

/**
 * Add a key the user's document does not have. What the API added is written without defaults,
 * and in the style of its siblings (`ports: { a: {...}, b: {...} }` or `a: { ofport: 1 }` lines
 * get a flow map too).
 */
function add(doc: Document, path: string[], value: unknown): void {
  const v = withoutDefaults(path, value);
  const node = doc.createNode(v) as Node;
  const parent = doc.getIn(path.slice(0, -1), true);
  if (isCollection(node) && isMap(parent)) {
    const siblings = parent.items.map((p) => p.value).filter((x) => isCollection(x));
    if (siblings.length > 0 && siblings.every((x) => isCollection(x) && x.flow)) node.flow = true;
  }
  doc.setIn(path, node);
}

/** Drop the values the parser would fill in anyway, for a port or channel the user never wrote. */
function withoutDefaults(path: string[], value: unknown): unknown {
  if (!isObj(value)) return value;
  const out: Obj = { ...value };
  if (path.length === 4 && path[0] === 'bridges' && path[2] === 'ports') {
    if (out.device === path[3]) delete out.device;
    if (out.role === 'connect') delete out.role;
  } else if (path.length === 2 && path[0] === 'channels') {
    if (out.mode === 'police') delete out.mode;
  }
  return out;
}
