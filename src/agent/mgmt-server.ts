// The local management API of `sluice switch`: JSON over HTTP on a Unix socket (default
// /run/sluice/<bridge>.sock). Routes map one-to-one onto SwitchDaemon methods. Whatever a client
// sends, the daemon lives on: every request it cannot serve gets a 4xx with one JSON line
// { error: CODE, message } (5xx only for its own failures). node:http only; the daemon serialises.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ApiError, SwitchError } from './daemon.js';
import type { SwitchDaemon } from './daemon.js';

export const SOCKET_DIR = '/run/sluice';
export function defaultSocketPath(bridge: string): string { return `${SOCKET_DIR}/${bridge}.sock`; }
/** Largest request body accepted (413 beyond). */
export const MAX_BODY_BYTES = 1 << 20;
/** Largest request head (request line + headers) accepted (431 beyond). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** A refused request's body is still read (and dropped) up to this size, so that its sender sees the answer. */
export const MAX_DRAIN_BYTES = 16 << 20;
const LINGER_MS = 2000;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_CONNECTIONS = 256;

type Handler = (d: SwitchDaemon, params: string[], body: unknown, query: URLSearchParams) => Promise<unknown> | unknown;
interface Route { method: string; re: RegExp; handler: Handler; status?: number }

const obj = (b: unknown): Record<string, unknown> => (b !== null && typeof b === 'object' && !Array.isArray(b) ? b as Record<string, unknown> : {});

/** POST /config/save takes no fields: where the config goes is the daemon's command line, never the client's. */
function saveRequest(body: unknown): void {
  if (body === undefined) return;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'config save takes no arguments: send {} or no body');
  if ('path' in body) throw new ApiError(400, 'config save does not take a path: the switch writes only the file it was started with (-c) or its --save-to file');
  const extra = Object.keys(body);
  if (extra.length) throw new ApiError(400, `config save takes no fields (got "${extra[0]}")`);
}

/** Names of the switch's channels, for "no channel X (channels: ...)". */
function channelNames(d: SwitchDaemon): string {
  return d.channelNames().join(', ') || 'none';
}

/**
 * POST /channels { name, rate, burst?, mode?, queue? }: create; 409 if the name is taken. A bridge
 * under a controller is refused by setChannel (409 naming the controller) before anything else.
 */
function createChannel(d: SwitchDaemon, body: unknown): Promise<unknown> {
  const { name, ...rest } = obj(body);
  if (d.bridgeConfig.controllers.length === 0) {
    if (typeof name !== 'string' || name === '') throw new ApiError(400, 'a new channel needs a "name" (a non-empty string)');
    if (d.channelNames().includes(name)) throw new ApiError(409, `channel "${name}" already exists on the switch; change it with PATCH /channels/${encodeURIComponent(name)} (sluice channel set ${name} ...)`);
    if (rest.rate === undefined) throw new ApiError(400, `channel "${name}" needs a rate`);
  }
  return d.setChannel(String(name), rest);
}

/** PATCH /channels/:name { rate?, burst?, mode?, queue? }: change in place (tokens kept); 404 naming the known channels. */
function changeChannel(d: SwitchDaemon, name: string, body: unknown): Promise<unknown> {
  if (d.bridgeConfig.controllers.length === 0 && !d.channelNames().includes(name)) {
    throw new ApiError(404, `no channel "${name}" (channels: ${channelNames(d)}); create it with POST /channels (sluice channel create ${name} --rate ...)`);
  }
  return d.setChannel(name, body);
}

const ROUTES: Route[] = [
  { method: 'GET', re: /^\/ports$/, handler: async (d) => ({ ports: await d.listPorts() }) },
  { method: 'POST', re: /^\/ports$/, status: 201, handler: async (d, _p, b) => ({ port: await d.addPort(b) }) },
  { method: 'DELETE', re: /^\/ports\/([^/]+)$/, handler: async (d, [n]) => { await d.removePort(n); return { deleted: n }; } },
  { method: 'PATCH', re: /^\/ports\/([^/]+)$/, handler: async (d, [n], b) => ({ port: await d.patchPort(n, b) }) },
  { method: 'GET', re: /^\/fdb$/, handler: async (d) => ({ fdb: await d.fdb() }) },
  { method: 'GET', re: /^\/stats$/, handler: (d) => d.stats() },
  { method: 'GET', re: /^\/channels$/, handler: async (d) => ({ channels: await d.listChannels() }) },
  { method: 'POST', re: /^\/channels$/, status: 201, handler: async (d, _p, b) => ({ channel: await createChannel(d, b) }) },
  { method: 'PATCH', re: /^\/channels\/([^/]+)$/, handler: async (d, [n], b) => ({ channel: await changeChannel(d, n, b) }) },
  // The old upsert (creates or changes), kept for clients written against it; the CLI uses POST/PATCH.
  { method: 'PUT', re: /^\/channels\/([^/]+)$/, handler: async (d, [n], b) => ({ channel: await d.setChannel(n, b) }) },
  { method: 'DELETE', re: /^\/channels\/([^/]+)$/, handler: async (d, [n]) => { await d.deleteChannel(n); return { deleted: n }; } },
  { method: 'GET', re: /^\/flows$/, handler: async (d, _p, _b, q) => ({ flows: await d.dumpFlows(q.get('filter') ?? undefined) }) },
  { method: 'POST', re: /^\/flows$/, status: 201, handler: async (d, _p, b) => ({ flow: await d.addFlow(obj(b).flow) }) },
  { method: 'DELETE', re: /^\/flows$/, handler: async (d, _p, b) => ({ deleted: await d.deleteFlows(obj(b).filter, obj(b).strict === true) }) },
  { method: 'POST', re: /^\/config\/save$/, handler: async (d, _p, b) => { saveRequest(b); return { saved: await d.saveConfig() }; } },
  { method: 'POST', re: /^\/config\/reload$/, handler: async (d) => ({ changes: await d.reload() }) },
];

/** The JSON error body: a stable code and one line of text. */
export interface ApiErrorBody { error: string; message: string }

export class MgmtServer {
  private readonly server: http.Server;
  private listening = false;

  constructor(private readonly daemon: SwitchDaemon, readonly socketPath: string, private readonly log: Logger) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      // handle() catches everything it can; this catch is the backstop that keeps a bug in it
      // from becoming an unhandled rejection (which ends the process, and forwarding with it).
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err, method: req.method }, 'management request failed');
        send(res, 500, { error: 'SW_ERR_INTERNAL', message: oneLine(err instanceof Error ? err.message : String(err)) });
      });
    };
    // No Host check: it means nothing on a Unix socket, and node's refusal is a bare 400.
    this.server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, requireHostHeader: false }, onRequest);
    this.server.maxConnections = MAX_CONNECTIONS;
    // An Expect other than 100-continue is ignored (RFC 9110 10.1.1 allows it) instead of node's bodiless 417.
    this.server.on('checkExpectation', onRequest);
    // What node's HTTP parser refuses (bad request line, bad headers, oversize head, timeouts)
    // arrives here instead of the handler: answer like any other refusal, then close.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    // CONNECT, which node would otherwise drop without a word.
    this.server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
      refuseRaw(socket as net.Socket, 405, 'SW_ERR_METHOD', `method CONNECT is not allowed on ${show(req.url ?? '')}`);
    });
  }

  /**
   * Listen on the socket (directory created 0755). A socket file nobody answers on is stale and
   * replaced; a live one (another switch), or anything that is not a socket, is refused.
   */
  async listen(): Promise<void> {
    const path = this.socketPath;
    await claimSocketPath(path);
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error): void => reject(new SwitchError('SW_ERR_SOCKET', `cannot listen on ${path}: ${e.message}`));
      this.server.once('error', onErr);
      this.server.listen(path, () => { this.server.off('error', onErr); resolve(); });
    });
    try { chmodSync(path, 0o660); } catch { /* best effort */ }
    this.listening = true;
    this.server.on('error', (err) => this.log.error({ err }, 'management socket error'));
    this.log.info({ socket: path }, 'management API listening');
  }

  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    try { unlinkSync(this.socketPath); } catch { /* gone already */ }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let status = 200;
    let out: unknown;
    let path = '';
    try {
      const target = parseTarget(req.url);
      path = target.path;
      const route = ROUTES.find((r) => r.method === req.method && r.re.test(path));
      if (!route) {
        const allowed = ROUTES.filter((r) => r.re.test(path)).map((r) => r.method);
        if (allowed.length) {
          res.setHeader('allow', allowed.join(', '));
          throw new ApiError(405, `method ${show(req.method ?? '')} is not allowed on ${show(path)} (allowed: ${allowed.join(', ')})`);
        }
        throw new ApiError(404, `no route ${show(req.method ?? '')} ${show(path)}`);
      }
      const params = (route.re.exec(path) ?? []).slice(1).map(decodeSegment);
      const body = await readJson(req);
      out = await route.handler(this.daemon, params, body, target.query);
      status = route.status ?? 200;
    } catch (err) {
      if (err instanceof ApiError) {
        status = err.status;
        out = { error: err.code, message: oneLine(err.message) } satisfies ApiErrorBody;
      } else {
        status = 500;
        out = { error: 'SW_ERR_INTERNAL', message: oneLine(err instanceof Error ? err.message : String(err)) } satisfies ApiErrorBody;
        this.log.error({ err, method: req.method, path }, 'management request failed');
      }
    }
    // A refused request's body is read to its end before the answer (up to MAX_DRAIN_BYTES): a
    // client still writing it would otherwise meet a closed socket and never see the answer.
    if (!req.complete && !(await drainBody(req))) res.setHeader('connection', 'close');
    send(res, status, out);
  }

  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const s = socket as net.Socket;
    if (lingering.has(s)) return;                  // the rest of a request already refused
    if (this.log.isLevelEnabled('debug')) this.log.debug({ code: err.code, reason: err.message }, 'malformed management request');
    // As node's own handler: no answer in the middle of another one.
    if (err.code === 'ECONNRESET' || !s.writable || s.bytesWritten > 0) { s.destroy(); return; }
    refuseRaw(s, ...clientErrorReply(err));
  }
}

/** Sockets answered by refuseRaw, now only read until the client is done. */
const lingering = new WeakSet<net.Socket>();

/**
 * Answer on a socket node's HTTP layer has let go of, then close it lingering (RFC 9112 9.6): our
 * side is shut after the answer, but what the client still sends is read and dropped until it
 * closes (or LINGER_MS), so that it reads the answer instead of a reset.
 */
function refuseRaw(s: net.Socket, status: number, code: string, message: string): void {
  const text = JSON.stringify({ error: code, message } satisfies ApiErrorBody);
  lingering.add(s);
  s.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  const t = setTimeout(() => s.destroy(), LINGER_MS);
  t.unref();
  s.once('close', () => clearTimeout(t));
  s.once('end', () => s.destroy());
  s.on('data', () => undefined);
  s.resume();
}

/** Read and drop the rest of a request body; false if it is over MAX_DRAIN_BYTES or breaks off. */
function drainBody(req: http.IncomingMessage): Promise<boolean> {
  if (req.complete || req.readableEnded) return Promise.resolve(true);
  if (req.destroyed || Number(req.headers['content-length'] ?? 0) > MAX_DRAIN_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    let size = 0;
    const done = (ok: boolean): void => { req.off('data', onData); req.off('end', onEnd); req.off('error', onError); req.off('close', onClose); resolve(ok); };
    const onData = (c: Buffer): void => { size += c.length; if (size > MAX_DRAIN_BYTES) { req.pause(); done(false); } };
    const onEnd = (): void => done(true);
    const onError = (): void => done(false);
    const onClose = (): void => done(req.complete);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    req.resume();
  });
}

function clientErrorReply(err: NodeJS.ErrnoException): [number, string, string] {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': return [431, 'SW_ERR_HEADERS_TOO_LARGE', `request line and headers are over ${MAX_HEADER_BYTES} bytes`];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return [413, 'SW_ERR_TOO_LARGE', 'chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT': return [408, 'SW_ERR_TIMEOUT', 'the request did not arrive in time'];
    default: return [400, 'SW_ERR_BAD_REQUEST', `malformed HTTP request: ${oneLine(err.message).slice(0, 120)}${err.code ? ` (${err.code})` : ''}`];
  }
}

function send(res: http.ServerResponse, status: number, out: unknown): void {
  if (res.headersSent || res.destroyed) { res.end(); return; }
  const text = JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Split an origin-form request target ("/ports/a?x=1"); anything else is a 400. Never throws otherwise. */
function parseTarget(raw: string | undefined): { path: string; query: URLSearchParams } {
  const t = raw ?? '';
  if (!t.startsWith('/')) throw new ApiError(400, `request target ${show(t)} is not a path such as /ports`);
  const hash = t.indexOf('#');
  const noFrag = hash < 0 ? t : t.slice(0, hash);
  const q = noFrag.indexOf('?');
  return { path: q < 0 ? noFrag : noFrag.slice(0, q), query: new URLSearchParams(q < 0 ? '' : noFrag.slice(q + 1)) };
}

function decodeSegment(s: string): string {
  try { return decodeURIComponent(s); } catch {
    throw new ApiError(400, `path segment ${show(s)} is not valid percent-encoding`);
  }
}

/** A client-supplied string for a message: quoted, escaped, and cut at 100 characters. */
function show(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

/** One line, no control characters (messages end up in a terminal). */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\s*[\r\n]+\s*/g, '; ').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
}

/** The body as JSON (undefined when empty); 413 over MAX_BODY_BYTES, 400 when not JSON. */
function readJson(req: http.IncomingMessage): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    return Promise.reject(new ApiError(413, `request body of ${declared} bytes is over the limit of ${MAX_BODY_BYTES} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => { req.off('data', onData); req.off('end', onEnd); req.off('error', onError); };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        // Stop reading (without destroying the socket, so the 413 can still be sent).
        done(); req.pause();
        reject(new ApiError(413, `request body is over the limit of ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => {
      done();
      if (size === 0) { resolve(undefined); return; }
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) {
        reject(new ApiError(400, `request body is not JSON: ${(e as Error).message}`));
      }
    };
    const onError = (e: Error): void => { done(); reject(new ApiError(400, `request body not received: ${e.message}`)); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** 'alive': something accepts connections on `path`; 'stale': refused (nobody listens); 'unknown': no answer either way. */
export function probeSocket(path: string, timeoutMs = 2000): Promise<'alive' | 'stale' | 'unknown'> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const t = setTimeout(() => { s.destroy(); resolve('unknown'); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve('alive'); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      // EAGAIN: a listener whose backlog is full is very much alive.
      resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'stale' : e.code === 'EAGAIN' ? 'alive' : 'unknown');
    });
  });
}

/**
 * Make `path` free for our listener, or throw SwitchError SW_ERR_SOCKET (one line): a stale
 * socket (connection refused) is removed; a live one, one that does not answer, or any file that is
 * not a socket is left alone. Called before the switch opens its ports, and again just before listen.
 */
export async function claimSocketPath(path: string): Promise<void> {
  try { mkdirSync(dirname(path), { recursive: true, mode: 0o755 }); } catch (e) {
    throw new SwitchError('SW_ERR_SOCKET', `cannot create the directory of ${path}: ${(e as Error).message}`);
  }
  let st: ReturnType<typeof lstatSync> | undefined;
  try { st = lstatSync(path); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new SwitchError('SW_ERR_SOCKET', `cannot check ${path}: ${(e as Error).message}`);
  }
  if (!st.isSocket()) {
    const what = st.isFile() ? 'a regular file' : st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'not a socket';
    throw new SwitchError('SW_ERR_SOCKET', `${path} exists and is ${what}, not a socket; not replacing it (remove it or choose another --socket)`);
  }
  const state = await probeSocket(path);
  if (state === 'alive') throw new SwitchError('SW_ERR_SOCKET', `another switch is already serving ${path}; stop it or use --socket`);
  if (state === 'unknown') throw new SwitchError('SW_ERR_SOCKET', `${path} is a socket that neither answers nor refuses; not replacing it (remove it or choose another --socket)`);
  try { unlinkSync(path); } catch { /* raced away */ }
}
