// Property-based fuzzing of any HTTP/1.1 server reached through a `connect` function (the switch's
// Unix-socket management API today, a TCP controller API tomorrow): random and mutated raw requests
// are written to a raw socket, so malformed HTTP really reaches the parser, and every answer is judged
// (no 5xx; 4xx as one JSON line { error, message }); after each batch the caller checks the server still works.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';

/** One fuzz case: the parts of a request, then byte-level mutations of its serialisation. */
export interface FuzzCase {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer | null;
  framing: 'length' | 'chunked' | 'none' | 'wrong-length';
  mutations: Mutation[];
  /** Write the bytes in this many pieces (1 = one write). */
  pieces: number;
}
export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'dup'; at: number; len: number }
  | { op: 'truncate'; at: number }
  | { op: 'bare-lf' };

export interface FuzzRoute { method: string; path: string; body?: fc.Arbitrary<unknown> }

/** A response as read off the wire. */
export interface WireResponse { status: number; headers: Record<string, string>; body: Buffer }

export interface HttpFuzzOptions {
  /** A new connection to the server under test. */
  connect: () => Duplex | Promise<Duplex>;
  /** Routes to start from; ":x" segments are filled from `names`; `body` makes bodies for the route's own requests. */
  routes: FuzzRoute[];
  names?: string[];
  /** JSON bodies that reach the handlers' validation (mixed with arbitrary JSON and junk bytes). */
  bodies?: fc.Arbitrary<unknown>;
  /** Query strings worth trying (without "?"). */
  queries?: string[];
  /** Options of the server under test that change parsing (maxHeaderSize, requireHostHeader, ...), for the reference parser. */
  serverOptions?: http.ServerOptions;
  /** A body size the server must refuse with 413 (sent now and then); default 1 MiB + 1. */
  oversizeBody?: number;
  /** Number of batches (fast-check runs) and cases per batch. */
  batches?: number;
  batchSize?: number;
  seed?: number;
  /** Skip a case whose bytes match (e.g. a request that could create real devices). */
  exclude?: (raw: Buffer) => boolean;
  /** After each batch: throw if the server no longer does its job. */
  afterBatch: () => Promise<void>;
  /** The longest any one answer may take (a server that neither answers nor closes fails). */
  answerTimeoutMs?: number;
}

export interface HttpFuzzReport { cases: number; skipped: number; responses: number; byStatus: Record<number, number>; silent: number }

const DEFAULT_OVERSIZE = (1 << 20) + 1;

// ------------------------------------------------------------------------------------------------
// Serialising a case

export function serialise(c: FuzzCase): Buffer {
  const head: string[] = [`${c.method} ${c.target} ${c.version}`.replace(/ +$/, '')];
  for (const [k, v] of c.headers) head.push(`${k}: ${v}`);
  let body: Buffer = Buffer.alloc(0);
  if (c.body !== null) {
    if (c.framing === 'length') head.push(`content-length: ${c.body.length}`);
    else if (c.framing === 'wrong-length') head.push(`content-length: ${Math.max(0, c.body.length + ((c.body.length % 7) - 3))}`);
    if (c.framing === 'chunked') {
      head.push('transfer-encoding: chunked');
      const half = c.body.length >> 1;
      const parts = [c.body.subarray(0, half), c.body.subarray(half)].filter((p) => p.length > 0);
      body = Buffer.concat([...parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
    } else body = c.body;
  }
  let raw: Buffer = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
  for (const m of c.mutations) raw = mutate(raw, m);
  return raw;
}

function mutate(b: Buffer, m: Mutation): Buffer {
  if (b.length === 0) return m.op === 'insert' ? Buffer.from(m.bytes) : b;
  const at = 'at' in m ? m.at % b.length : 0;
  switch (m.op) {
    case 'flip': { const o = Buffer.from(b); o[at] ^= 1 << m.bit; return o; }
    case 'set': { const o = Buffer.from(b); o[at] = m.byte; return o; }
    case 'insert': return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case 'delete': return Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    case 'dup': return Buffer.concat([b.subarray(0, at + m.len), b.subarray(at, at + m.len), b.subarray(at + m.len)]);
    case 'truncate': return b.subarray(0, at);
    case 'bare-lf': return Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  }
}

// ------------------------------------------------------------------------------------------------
// Generators

// No HEAD: its answers carry a content-length but no body, which a raw reader cannot tell apart.
const TOKENS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'PROPFIND', 'get', 'G ET', ''];
const PCT = ['%', '%z', '%zz', '%00', '%C0%AF', '%E0%80', '%ff', '%2F', '%2e%2e', '..', '.', '//', '[', ']', '?', '#', ' ', '\t', '\u00e9', '\u0000', ';'];

function nameArb(names: string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom(...PCT) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) });
}

const jsonBytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v) ?? 'null');

/** A route's own method and path (its ":x" filled in), now and then with a query, mostly with a body of its own kind. */
function routeLineArb(routes: FuzzRoute[], names: string[], queries: string[]): fc.Arbitrary<{ method: string; target: string; body?: Buffer }> {
  return fc.constantFrom(...routes).chain((r) => fc.tuple(nameArb(names), fc.option(fc.constantFrom(...queries), { freq: 4 }),
    r.body ? fc.option(r.body.map(jsonBytes), { freq: 4, nil: undefined }) : fc.constant(undefined))
    .map(([n, q, body]) => ({ method: r.method, target: r.path.replace(/:[a-z]+/g, n) + (q === null ? '' : `?${q}`), ...(body ? { body } : {}) })));
}

function targetArb(routes: FuzzRoute[], names: string[], queries: string[]): fc.Arbitrary<string> {
  const name = nameArb(names);
  const fromRoute = fc.tuple(fc.constantFrom(...routes.map((r) => r.path)), name).map(([p, n]) => p.replace(/:[a-z]+/g, n));
  const withQuery = fc.tuple(fromRoute, fc.oneof(fc.constantFrom(...queries), fc.string({ maxLength: 30 }))).map(([p, q]) => `${p}?${q}`);
  const junkPath = fc.array(fc.oneof(fc.constantFrom(...PCT), fc.constantFrom(...names), fc.string({ maxLength: 6 })), { maxLength: 6 }).map((a) => `/${a.join('/')}`);
  return fc.oneof(
    { weight: 6, arbitrary: fromRoute },
    { weight: 2, arbitrary: withQuery },
    { weight: 3, arbitrary: junkPath },
    { weight: 1, arbitrary: fc.constantFrom('//[', '*', 'http://x/ports', 'x', '', '/%', '/ports/%zz', '/../../etc/passwd', '/ports?filter=%zz') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => `/${'a'.repeat(n)}`) },
  );
}

const HEADER_NAMES = ['content-type', 'content-length', 'transfer-encoding', 'expect', 'connection', 'upgrade', 'host', 'x-junk', 'Content-Length', 'te', 'trailer', ''];
const HEADER_VALUES = ['application/json', 'text/plain', 'chunked', 'gzip, chunked', 'chunked, gzip', '100-continue', 'something', 'close', 'keep-alive', 'Upgrade',
  'websocket', 'h2c', '-1', '0', '1', '999999999999999999999', 'abc', ' 5', '5 5', '\u0000', '\u00ff', ''];

function headersArb(): fc.Arbitrary<Array<[string, string]>> {
  const header = fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HEADER_NAMES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 12 }) }),
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HEADER_VALUES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) }),
  );
  // Mostly clean heads, so that requests reach the handlers; the rest carry junk headers.
  const extras = fc.oneof({ weight: 3, arbitrary: fc.constant([] as Array<[string, string]>) }, { weight: 1, arbitrary: fc.array(header, { minLength: 1, maxLength: 4 }) });
  return fc.tuple(fc.boolean(), fc.boolean(), extras).map(([host, json, rest]) => [
    ...(host ? [['host', 'sluice'] as [string, string]] : []), ...(json ? [['content-type', 'application/json'] as [string, string]] : []), ...rest,
  ]);
}

function bodyArb(domain: fc.Arbitrary<unknown> | undefined, oversize: number): fc.Arbitrary<Buffer | null> {
  const json = jsonBytes;
  const arbs: Array<fc.WeightedArbitrary<Buffer | null>> = [
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)) },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"a":', 'null', '[]', '"x"', '1e999', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}').map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.constant(null).map(() => Object.assign(Buffer.alloc(oversize, 0x20), { [fc.toStringMethod]: () => `Buffer.alloc(${oversize}, 0x20)` })) },
  ];
  if (domain) arbs.push({ weight: 6, arbitrary: domain.map(json) });
  return fc.oneof(...arbs);
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0, 0x0a, 0x0d, 0x20, 0x3a, 0x25, 0x7f, 0xff, 0x80) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...['\r\n', '\r\n\r\n', ':', ' ', '\u0000', 'GET / HTTP/1.1\r\n\r\n'].map((s) => Buffer.from(s, 'latin1')))) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.constant({ op: 'bare-lf' as const }),
);

export function caseArb(o: Pick<HttpFuzzOptions, 'routes' | 'names' | 'bodies' | 'queries' | 'oversizeBody'>): fc.Arbitrary<FuzzCase> {
  const methods = [...new Set(o.routes.map((r) => r.method))];
  const names = o.names ?? ['x'], queries = o.queries ?? [''];
  const anyLine: fc.Arbitrary<{ method: string; target: string; body?: Buffer }> = fc.record({
    method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...methods) }, { weight: 2, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 8 }) }),
    target: targetArb(o.routes, names, queries),
  });
  return fc.record({
    line: fc.oneof({ weight: 2, arbitrary: routeLineArb(o.routes, names, queries) }, { weight: 1, arbitrary: anyLine }),
    version: fc.oneof({ weight: 10, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/1.1 ', 'http/1.1', 'HTTP/1.12', '') }),
    headers: headersArb(),
    body: bodyArb(o.bodies, o.oversizeBody ?? DEFAULT_OVERSIZE),
    framing: fc.constantFrom('length', 'length', 'length', 'length', 'chunked', 'none', 'wrong-length'),
    mutations: fc.oneof({ weight: 4, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
    pieces: fc.integer({ min: 1, max: 3 }),
  }).map(({ line: { body, ...line }, ...rest }) => ({ ...rest, ...line, body: body ?? rest.body }));
}

// ------------------------------------------------------------------------------------------------
// The reference: node's own parser says how many answers the bytes call for

/**
 * An in-process node HTTP server with the target's parser options, answering every request at
 * once. Fed the same bytes, it tells how many answers to wait for before half-closing, and whether
 * anything at all is owed after the half-close.
 */
interface RefState { bytes: number; complete: number; errors: number }
type RefSocket = net.Socket & { fuzzState?: RefState };

class Reference {
  private server!: http.Server;
  private dir = '';
  /** The state of the connection being judged (one at a time). */
  private current: RefState = { bytes: 0, complete: 0, errors: 0 };

  async start(opts: http.ServerOptions): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'http-fuzz-'));
    this.server = http.createServer(opts, (req, res) => {
      const st = (req.socket as RefSocket).fuzzState;
      req.on('end', () => { if (st) st.complete++; res.end(); });
      req.on('error', () => undefined);
      req.resume();
    });
    this.server.on('connection', (s: RefSocket) => {
      const st = this.current;
      s.fuzzState = st;
      s.on('data', (d: Buffer) => { st.bytes += d.length; });
    });
    this.server.on('clientError', (_e, s: RefSocket) => { if (s.fuzzState) s.fuzzState.errors++; s.destroy(); });
    // CONNECT and Upgrade requests are requests too: count them once their head is parsed.
    const asRequest = (_req: http.IncomingMessage, s: Duplex): void => { const st = (s as RefSocket).fuzzState; if (st) st.complete++; s.destroy(); };
    this.server.on('connect', asRequest);
    this.server.on('upgrade', asRequest);
    await new Promise<void>((r) => this.server.listen(join(this.dir, 'ref.sock'), r));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Answers owed before a half-close (requests the parser completed, or 1 for a parse error). */
  async judge(raw: Buffer): Promise<number> {
    const st: RefState = { bytes: 0, complete: 0, errors: 0 };
    this.current = st;
    const sock = net.connect(join(this.dir, 'ref.sock'));
    let closed = false;
    sock.on('close', () => { closed = true; });
    sock.on('error', () => undefined);
    sock.on('data', () => undefined);
    await new Promise<void>((r) => sock.once('connect', r));
    sock.write(raw);
    // Wait until the server read every byte (or gave up on the connection), then let the
    // parser's callbacks and the handlers' 'end' events run.
    const until = Date.now() + 30_000;
    while (st.bytes < raw.length && !closed && st.errors === 0) {
      if (Date.now() > until) throw new Error('the reference parser did not read the request');
      await new Promise((r) => setTimeout(r, 1));
    }
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    sock.destroy();
    return st.complete + (st.errors > 0 && st.complete === 0 ? 1 : 0);
  }
}

// ------------------------------------------------------------------------------------------------
// Talking to the target

/** Parse as many complete responses as `buf` holds (1xx skipped); throws on bytes that are no HTTP response. */
export function parseResponses(buf: Buffer): { responses: WireResponse[]; rest: Buffer } {
  const responses: WireResponse[] = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) break;
    const lines = buf.subarray(off, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*$/.exec(lines[0]!);
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) throw new Error(`bad response header ${JSON.stringify(l.slice(0, 80))}`);
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(m[1]);
    let body: Buffer, next: number;
    if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      const c = dechunk(buf, end + 4);
      if (!c) break;
      [body, next] = c;
    } else {
      const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : status < 200 || status === 204 || status === 304 ? 0 : NaN;
      if (!Number.isInteger(len)) throw new Error(`response ${status} without a usable content-length (${headers['content-length'] ?? 'none'})`);
      if (buf.length < end + 4 + len) break;
      body = buf.subarray(end + 4, end + 4 + len);
      next = end + 4 + len;
    }
    off = next;
    if (status >= 100 && status < 200) continue;
    responses.push({ status, headers, body });
  }
  return { responses, rest: buf.subarray(off) };
}

/** A chunked body starting at `off`: [body, offset after it], or null while incomplete. */
function dechunk(buf: Buffer, off: number): [Buffer, number] | null {
  const parts: Buffer[] = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', off, 'latin1');
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(off, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isInteger(size) || size < 0) throw new Error(`bad chunk size ${JSON.stringify(buf.subarray(off, eol).toString('latin1').slice(0, 20))}`);
    if (size === 0) {
      const fin = buf.indexOf('\r\n\r\n', eol, 'latin1');   // (no trailers expected)
      return fin < 0 ? null : [Buffer.concat(parts), fin + 4];
    }
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
}

/**
 * Send `raw` in `pieces` writes, wait for `expect` answers (or the server closing), half-close, and
 * read until the server closes. Rejects when the server neither answers nor closes in `timeoutMs`.
 */
async function exchange(sock: Duplex, raw: Buffer, pieces: number, expect: number, timeoutMs: number): Promise<{ answers: WireResponse[]; writeFailed: boolean }> {
  let got = Buffer.alloc(0);
  let closed = false;
  let writeFailed = false;
  let wake: (() => void) | null = null;
  const poke = (): void => { const w = wake; wake = null; w?.(); };
  sock.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); poke(); });
  // A server that answered and closed while we were still writing: EPIPE, and node drops the socket
  // (possibly before reading the answer). The caller then tries again in one write.
  sock.on('error', () => { writeFailed = true; });
  sock.on('close', () => { closed = true; poke(); });
  sock.on('end', () => { closed = true; poke(); });
  const waitUntil = async (cond: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the server neither answered nor closed within ${timeoutMs} ms (${what})`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, Math.min(left, 200)); });
    }
  };
  const step = Math.max(1, Math.ceil(raw.length / pieces));
  for (let o = 0; o < raw.length && !closed; o += step) {
    sock.write(raw.subarray(o, o + step));
    if (pieces > 1) await new Promise((r) => setImmediate(r));
  }
  await waitUntil(() => closed || parseResponses(got).responses.length >= expect, `${expect} answer(s) owed before half-close`);
  if (!closed) sock.end();
  await waitUntil(() => closed, 'close after half-close');
  sock.destroy();
  return { answers: parseResponses(got).responses, writeFailed };
}

// ------------------------------------------------------------------------------------------------
// The property

function describeCase(raw: Buffer): string {
  const s = raw.toString('latin1');
  return JSON.stringify(s.length > 300 ? `${s.slice(0, 300)}…(${s.length} bytes)` : s);
}

/** Judge one answer: no 5xx, 4xx as one JSON line { error: string, message: string }. */
export function checkAnswer(r: WireResponse, raw: Buffer): void {
  if (r.status >= 500) throw new Error(`answered ${r.status} ${r.body.toString('utf8').slice(0, 200)} to ${describeCase(raw)}`);
  if (r.status >= 400) {
    const text = r.body.toString('utf8');
    let j: unknown;
    try { j = JSON.parse(text); } catch { throw new Error(`${r.status} without a JSON body (${JSON.stringify(text.slice(0, 80))}) for ${describeCase(raw)}`); }
    const e = j as { error?: unknown; message?: unknown };
    if (typeof e.error !== 'string' || typeof e.message !== 'string' || text.includes('\n') || e.message.includes('\n')) {
      throw new Error(`${r.status} body is not one line of { error, message }: ${text.slice(0, 200)} for ${describeCase(raw)}`);
    }
  }
}

/**
 * Throw `batches` batches of `batchSize` random and mutated requests at the server, one
 * connection each, judging every answer; `afterBatch` runs after each batch. fast-check shrinks a
 * failing batch to a small counterexample and reports its seed (replay with `seed`).
 */
export async function fuzzHttp(o: HttpFuzzOptions): Promise<HttpFuzzReport> {
  const ref = new Reference();
  await ref.start(o.serverOptions ?? {});
  const report: HttpFuzzReport = { cases: 0, skipped: 0, responses: 0, byStatus: {}, silent: 0 };
  const timeoutMs = o.answerTimeoutMs ?? 20_000;
  try {
    await fc.assert(fc.asyncProperty(fc.array(caseArb(o), { minLength: 1, maxLength: o.batchSize ?? 12 }), async (cases) => {
      for (const c of cases) {
        const raw = serialise(c);
        if (o.exclude?.(raw)) { report.skipped++; continue; }
        report.cases++;
        const owed = await ref.judge(raw);
        let { answers, writeFailed } = await exchange(await o.connect(), raw, c.pieces, owed, timeoutMs);
        if (answers.length === 0 && owed > 0 && writeFailed) ({ answers } = await exchange(await o.connect(), raw, 1, owed, timeoutMs));
        for (const a of answers) {
          checkAnswer(a, raw);
          report.byStatus[a.status] = (report.byStatus[a.status] ?? 0) + 1;
          if (process.env.HTTP_FUZZ_TRACE) console.log(a.status, a.body.toString('utf8').slice(0, 160), '<=', describeCase(raw).slice(0, 160));
        }
        report.responses += answers.length;
        if (owed > 0 && answers.length === 0) throw new Error(`no answer to ${describeCase(raw)}`);
        if (answers.length === 0 && raw.toString('latin1').trim() !== '') report.silent++;
      }
      await o.afterBatch();
    }), { numRuns: o.batches ?? 20, seed: o.seed, endOnFailure: false, verbose: 0 });
  } finally {
    await ref.stop();
  }
  return report;
}
