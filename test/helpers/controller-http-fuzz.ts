// A property-based HTTP/1.1 fuzzer for the controller's API (fast-check): requests built from the
// real routes and body corpus, then mutated at every layer (request line, headers, framing, path,
// body), sent raw over net.Socket. Each case must end in an HTTP answer that is not 5xx, or the
// server closing the connection; a time budget bounds the run.
import net from 'node:net';
import fc from 'fast-check';

export interface RawRequest {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
  body: Buffer;
  framing: 'length' | 'none' | 'short' | 'long' | 'chunked' | 'bad-chunked' | 'both' | 'dup-length';
  eol: '\r\n' | '\n';
}

export interface RawAnswer { status?: number; closed: boolean; head: string; body: string }

export interface FuzzOptions {
  host: string;
  port: number;
  token: string;
  /** Route patterns, "METHOD /v1/x/:param". */
  routes: string[];
  /** Valid JSON bodies to start from. */
  corpus: unknown[];
  durationMs: number;
  seed: number;
  /** Called once every `probeEvery` cases; must throw if the server stopped answering. */
  probe?: () => Promise<void>;
  probeEvery?: number;
}

export interface FuzzStats { cases: number; statuses: Map<number, number>; closedWithoutAnswer: number; codes: Map<string, number> }

/** The bytes of a request as the fuzzer framed it. */
export function encodeRaw(r: RawRequest): Buffer {
  const lines = [`${r.method} ${r.target} ${r.version}`.trimEnd(), ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  let body = r.body;
  switch (r.framing) {
    case 'length': lines.push(`Content-Length: ${body.length}`); break;
    case 'short': lines.push(`Content-Length: ${Math.max(0, body.length - 3)}`); break;
    case 'long': lines.push(`Content-Length: ${body.length + 7}`); break;
    case 'dup-length': lines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`); break;
    case 'both': lines.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked'); break;
    case 'chunked':
    case 'bad-chunked': {
      lines.push('Transfer-Encoding: chunked');
      const size = r.framing === 'chunked' ? body.length.toString(16) : `${(body.length + 5).toString(16)}zz`;
      body = Buffer.concat([Buffer.from(`${size}\r\n`), body, Buffer.from(body.length ? '\r\n0\r\n\r\n' : '\r\n')]);
      break;
    }
    case 'none': break;
  }
  return Buffer.concat([Buffer.from(lines.join(r.eol) + r.eol + r.eol, 'latin1'), body]);
}

/** Send raw bytes; wait for an answer (head and a Content-Length body) or the close. Half-closes after a quiet spell. */
export function sendRaw(host: string, port: number, bytes: Buffer, quietMs = 300, giveUpMs = 20_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let got = '';
    let done = false;
    const finish = (a: RawAnswer): void => { if (done) return; done = true; clearTimeout(quiet); clearTimeout(giveUp); s.destroy(); resolve(a); };
    const quiet = setTimeout(() => { if (!done) s.end(); }, quietMs);   // a request waiting for more bytes sees EOF
    const giveUp = setTimeout(() => { if (!done) { done = true; s.destroy(); reject(new Error(`no answer and no close within ${giveUpMs} ms`)); } }, giveUpMs);
    const answer = (closed: boolean): RawAnswer | undefined => {
      const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(got);
      const end = got.indexOf('\r\n\r\n');
      if (!m || end < 0) return undefined;
      const head = got.slice(0, end), body = got.slice(end + 4);
      const len = /\r\ncontent-length: *(\d+)/i.exec(head);
      const status = Number(m[1]);
      if (!closed && status >= 200 && len && body.length < Number(len[1])) return undefined;   // wait for the rest
      return { status, closed, head, body };
    };
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length >= 5 && !got.startsWith('HTTP/')) { finish({ closed: false, head: got.slice(0, 200), body: '' }); return; }
      const a = answer(false);
      if (a) finish(a);
    });
    const closed = (): void => finish(answer(true) ?? { closed: true, head: got, body: '' });
    s.on('error', closed);
    s.on('close', closed);
    s.write(bytes);
  });
}

const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_./%:?&=#[]{}"\' \\~'.split('')), maxLength: 40 });
const anyText = fc.string({ unit: 'binary', maxLength: 60 });

/** Mutate a JSON value: change, drop or add fields, wrong types, deep nesting, odd numbers. */
function mutateJson(v: unknown): fc.Arbitrary<unknown> {
  const weird = fc.oneof(
    fc.constantFrom(null, true, -1, 0, 1e308, -0, 4095, 65536, 2 ** 53 + 1, '', '0', '-', '\u0000', 'a'.repeat(300), [], {}),
    fc.jsonValue({ maxDepth: 3 }),
  );
  if (v === null || typeof v !== 'object') return fc.oneof(fc.constant(v), weird);
  if (Array.isArray(v)) {
    return fc.oneof(
      fc.constant(v),
      fc.tuple(...v.map((x) => mutateJson(x))),
      fc.tuple(fc.array(weird, { maxLength: 3 })).map(([extra]) => [...v, ...extra]),
      weird,
    );
  }
  const entries = Object.entries(v as Record<string, unknown>);
  return fc.oneof(
    fc.constant(v),
    fc.tuple(...entries.map(([, x]) => mutateJson(x))).map((xs) => Object.fromEntries(entries.map(([k], i) => [k, xs[i]]))),
    fc.subarray(entries).map((es) => Object.fromEntries(es)),
    fc.tuple(printable, weird).map(([k, x]) => ({ ...(v as object), [k]: x })),
    weird,
  );
}

/**
 * A well-formed request to a real route (right token, JSON body from the corpus, maybe mutated),
 * then none, one or two mutations of the HTTP layer: method, target, version, headers, framing,
 * line ends, auth. Most requests so reach the routes; the rest probe the parser and framing.
 */
export function requestArb(o: FuzzOptions): fc.Arbitrary<RawRequest> {
  const param = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('blue', 'gold', 'host1%2Fbr0', 'vm1', '%2F', '%', '%zz', '..', '.', '%00', 'a'.repeat(2000), 'x%2Fy%3Az', '%E2%82%AC', '%C0%AF') },
    { weight: 3, arbitrary: printable.filter((s) => s.length > 0).map(encodeURIComponent) },
  );
  const query = fc.option(fc.tuple(fc.constantFrom('dry-run', 'switch', 'network', 'channel', 'since', 'x'), fc.oneof(fc.constantFrom('true', 'false', '1', '', 'host1%2Fbr0'), printable.map(encodeURIComponent))), { nil: undefined });
  const route = fc.tuple(fc.constantFrom(...o.routes), param, param, query).map(([r, p1, p2, q]) => {
    let n = 0;
    const [method, pattern] = r.split(' ') as [string, string];
    const t = pattern.replace(/:\w+/g, () => (n++ === 0 ? p1 : p2));
    return { method, target: q ? `${t}?${q[0]}=${q[1]}` : t };
  });
  const body = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...o.corpus).chain((c) => mutateJson(c)).map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
    { weight: 1, arbitrary: fc.constantFrom(...o.corpus).map((c) => JSON.stringify(c)).chain((s) => fc.nat({ max: s.length }).map((n) => Buffer.from(s.slice(0, n)))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.nat({ max: 20000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), Buffer.from('{"__proto__":{"admin":true},"name":"proto","vid":3}'), Buffer.from('{"constructor":{"prototype":{"x":1}}}'), Buffer.from('\ufeff{}')) },
  );
  const clean: fc.Arbitrary<RawRequest> = fc.tuple(route, body).map(([r, b]) => ({
    method: r.method, target: r.target, version: 'HTTP/1.1', body: b, framing: 'length', eol: '\r\n',
    headers: [['Host', 'sluice'], ['Authorization', `Bearer ${o.token}`], ['Content-Type', 'application/json']],
  }));
  type Mutation = (r: RawRequest) => RawRequest;
  const header = fc.oneof(
    fc.constantFrom<[string, string]>(['Content-Type', 'text/plain'], ['Content-Type', 'application/json; charset=latin1'], ['Content-Encoding', 'gzip'],
      ['Expect', '100-continue'], ['Connection', 'close'], ['If-None-Match', '*'], ['Last-Event-ID', 'x'], ['Last-Event-ID', '99999999999'], ['Host', ''], ['X-Long', 'x'.repeat(20000)]),
    fc.tuple(printable.map((s) => s.replace(/[: ]/g, '') || 'X'), anyText.map((s) => s.replace(/[\r\n]/g, ''))),
  );
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.constantFrom('HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'BREW', 'get', 'G ET', '').map((m): Mutation => (r) => ({ ...r, method: m })),
    fc.oneof(
      fc.constantFrom('*', '/', '//v1//networks', '/v1/networks/../networks', 'http://evil/v1/networks', '/v1/networks?dry-run=true&dry-run=false', `/${'a/'.repeat(3000)}`, '/v1/apply?dry-run=%', '/v1/networks#x'),
      printable.map((s) => `/v1/${s}`),
      anyText.map((s) => s.replace(/[\r\n]/g, '') || '/'),
    ).map((t): Mutation => (r) => ({ ...r, target: t })),
    fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', '', 'http/1.1').map((v): Mutation => (r) => ({ ...r, version: v })),
    fc.array(header, { minLength: 1, maxLength: 3 }).map((hs): Mutation => (r) => ({ ...r, headers: [...r.headers, ...hs] })),
    fc.constantFrom<RawRequest['framing']>('none', 'short', 'long', 'chunked', 'bad-chunked', 'both', 'dup-length').map((f): Mutation => (r) => ({ ...r, framing: f })),
    fc.constant<Mutation>((r) => ({ ...r, eol: '\n' })),
    fc.oneof(fc.constant(''), anyText.map((t) => `Bearer ${t.replace(/[\r\n]/g, '')}`), fc.constant(`Bearer ${o.token}, Bearer x`), fc.constant('Basic YTpi'))
      .map((v): Mutation => (r) => ({ ...r, headers: r.headers.filter(([k]) => k !== 'Authorization').concat(v === '' ? [] : [['Authorization', v]]) })),
  );
  const mutations = fc.oneof({ weight: 3, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) });
  return fc.tuple(clean, mutations).map(([r, ms]) => ms.reduce((x, m) => m(x), r));
}

/** Run random requests for `durationMs`; throws (with fast-check's counterexample) on a 5xx or a hang. */
export async function fuzzHttp(o: FuzzOptions): Promise<FuzzStats> {
  const stats: FuzzStats = { cases: 0, statuses: new Map(), closedWithoutAnswer: 0, codes: new Map() };
  const every = o.probeEvery ?? 50;
  await fc.assert(fc.asyncProperty(requestArb(o), async (r) => {
    const a = await sendRaw(o.host, o.port, encodeRaw(r));
    stats.cases++;
    if (a.status === undefined) stats.closedWithoutAnswer++;
    else {
      stats.statuses.set(a.status, (stats.statuses.get(a.status) ?? 0) + 1);
      let code = '';
      try { code = String((JSON.parse(a.body) as { error?: unknown }).error ?? ''); } catch { /* not our JSON */ }
      const k = `${a.status} ${code || '-'}`;
      stats.codes.set(k, (stats.codes.get(k) ?? 0) + 1);
    }
    if (a.status !== undefined && a.status >= 500 && a.status !== 503) throw new Error(`answered ${a.status}: ${a.head.slice(0, 300)}`);
    if (a.status === undefined && !a.closed) throw new Error(`answered something that is not HTTP: ${JSON.stringify(a.head)}`);
    if (o.probe && stats.cases % every === 0) await o.probe();
  }), { seed: o.seed, numRuns: 1_000_000, interruptAfterTimeLimit: o.durationMs, markInterruptAsFailure: false, endOnFailure: true });
  return stats;
}
