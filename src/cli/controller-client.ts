// Shared bits of the CLI commands that talk to `sluice controller` over its northbound API: where it
// is (--controller, $SLUICE_CONTROLLER, http://127.0.0.1:6680), the token (--token-file,
// $SLUICE_TOKEN, the default state directory's api-token), requests with fetch (undici), the event
// stream, and errors that carry their exit code: 1 refused or failed, 2 bad request, 3 unreachable.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { DEFAULT_API_URL, FETCH_BAD_PORTS, TOKEN_FILE, defaultStateDir } from '../controller/config.js';
import { UsageError } from './errors.js';

export interface ControllerArgs { controller?: string; 'token-file'?: string; json?: boolean; timeout?: number }

/** Options every controller command accepts (put on the command or group so subcommands inherit them). */
export function withControllerOptions<T>(y: Argv<T>): Argv<T & ControllerArgs> {
  return y
    .option('controller', { type: 'string', describe: `controller API URL (default $SLUICE_CONTROLLER or ${DEFAULT_API_URL})` })
    .option('token-file', { type: 'string', describe: 'file holding the API token (default $SLUICE_TOKEN, else api-token in the default state directory)' })
    .option('timeout', { type: 'number', describe: 'seconds to wait for the controller (default 30)' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' }) as Argv<T & ControllerArgs>;
}

/** Ends a command with one line and `exitCode` (1 refused or failed, 2 bad request, 3 unreachable). */
export class ControllerError extends Error {
  constructor(readonly code: 'CTL_ERR_UNREACHABLE' | 'CTL_ERR_API' | 'CTL_ERR_ANSWER', readonly exitCode: 1 | 2 | 3, message: string, readonly status = 0, readonly apiCode = '') {
    super(message);
    this.name = 'ControllerError';
  }
}

function causeCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return '';
}

interface TokenSource { token?: string; from: string }

/** The token: --token-file, $SLUICE_TOKEN, or the default state directory's api-token (may be absent). */
export function resolveToken(args: ControllerArgs, env: NodeJS.ProcessEnv = process.env, stateDir = defaultStateDir(env)): TokenSource {
  const file = args['token-file'];
  if (file !== undefined) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) {
      throw new UsageError(`--token-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const t = text.trim();
    if (t === '') throw new UsageError(`--token-file ${file} is empty`);
    return { token: t, from: file };
  }
  if (env.SLUICE_TOKEN !== undefined && env.SLUICE_TOKEN.trim() !== '') return { token: env.SLUICE_TOKEN.trim(), from: '$SLUICE_TOKEN' };
  const def = path.join(stateDir, TOKEN_FILE);
  try {
    const t = readFileSync(def, 'utf8').trim();
    return t ? { token: t, from: def } : { from: def };
  } catch { return { from: def }; }
}

export function resolveControllerUrl(args: ControllerArgs, env: NodeJS.ProcessEnv = process.env): { url: string; explicit: boolean } {
  const given = args.controller ?? env.SLUICE_CONTROLLER;
  const raw = given ?? DEFAULT_API_URL;
  let u: URL;
  try { u = new URL(raw); } catch { throw new UsageError(`controller URL ${JSON.stringify(raw)} is not a URL (e.g. http://127.0.0.1:6680)`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`controller URL ${raw}: only http:// and https:// are spoken`);
  if (u.port !== '' && FETCH_BAD_PORTS.has(Number(u.port))) throw new UsageError(`controller URL ${raw}: port ${u.port} is one fetch refuses to connect to (the controller never listens there)`);
  return { url: raw.replace(/\/+$/, ''), explicit: given !== undefined };
}

/** One server-sent event as read off the stream. */
export interface SseMessage { id?: string; data: string }

export class ControllerClient {
  /** A hint appended when the controller is unreachable (e.g. how to reach a switch instead). */
  unreachableHint = '';

  constructor(readonly baseUrl: string, private readonly tokenSource: TokenSource, readonly timeoutMs = 30_000) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...extra };
    if (this.tokenSource.token !== undefined) h.authorization = `Bearer ${this.tokenSource.token}`;
    return h;
  }

  private unreachable(err: unknown, method: string): ControllerError {
    const maybe = method === 'GET' ? '' : ' (the change may or may not have been made)';
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return new ControllerError('CTL_ERR_UNREACHABLE', 3, `the controller at ${this.baseUrl} did not answer within ${this.timeoutMs / 1000} s${maybe}`);
    }
    const code = causeCode(err);
    const why = code === 'ECONNREFUSED' ? 'connection refused' : code || (err instanceof Error ? err.message : String(err));
    return new ControllerError('CTL_ERR_UNREACHABLE', 3, `cannot reach the controller at ${this.baseUrl} (${why})${maybe}; is \`sluice controller\` running? (--controller URL or $SLUICE_CONTROLLER point elsewhere)${this.unreachableHint}`);
  }

  private refused(status: number, data: unknown, text: string): ControllerError {
    const d = (data ?? {}) as { error?: unknown; message?: unknown };
    const apiCode = typeof d.error === 'string' ? d.error : '';
    let msg = typeof d.message === 'string' ? d.message : apiCode || `HTTP ${status}${text ? `: ${text.slice(0, 80).replace(/\s+/g, ' ')}` : ''}`;
    if (status === 401) {
      msg = this.tokenSource.token === undefined
        ? `the controller wants its API token and none was found (looked in ${this.tokenSource.from}); give --token-file FILE or set $SLUICE_TOKEN`
        : `the controller refused the token from ${this.tokenSource.from}: ${msg}`;
    } else if (status >= 500) {
      msg = `the controller failed (HTTP ${status}): ${msg}`;
    }
    return new ControllerError('CTL_ERR_API', status === 400 ? 2 : 1, msg.replace(/\s*\n\s*/g, '; '), status, apiCode);
  }

  /** One request; resolves with the parsed JSON answer of a 2xx, rejects with a ControllerError. */
  async request<T = unknown>(method: string, urlPath: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const init: RequestInit = { method, headers: this.headers(body === undefined ? extraHeaders : { 'content-type': 'application/json', ...extraHeaders }), signal: AbortSignal.timeout(this.timeoutMs) };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try { res = await fetch(this.baseUrl + urlPath, init); } catch (e) { throw this.unreachable(e, method); }
    let text: string;
    try { text = await res.text(); } catch (e) {
      if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) throw this.unreachable(e, method);
      throw new ControllerError('CTL_ERR_ANSWER', 1, `the controller's answer (HTTP ${res.status}) was cut off: ${causeCode(e) || (e as Error).message}`, res.status);
    }
    let data: unknown;
    try { data = text === '' ? undefined : JSON.parse(text); } catch {
      if (res.status >= 400) throw this.refused(res.status, undefined, text);
      throw new ControllerError('CTL_ERR_ANSWER', 1, `the controller answered HTTP ${res.status} with something that is not JSON: ${JSON.stringify(text.slice(0, 60))}${text.length > 60 ? '...' : ''}`, res.status);
    }
    if (res.status >= 400) throw this.refused(res.status, data, text);
    if (res.status < 200 || res.status >= 300 || data === undefined || data === null || typeof data !== 'object') {
      throw new ControllerError('CTL_ERR_ANSWER', 1, `the controller answered HTTP ${res.status} without the JSON object expected`, res.status);
    }
    return data as T;
  }

  get<T = unknown>(p: string): Promise<T> { return this.request<T>('GET', p); }
  post<T = unknown>(p: string, body?: unknown, headers?: Record<string, string>): Promise<T> { return this.request<T>('POST', p, body, headers); }
  put<T = unknown>(p: string, body: unknown, headers?: Record<string, string>): Promise<T> { return this.request<T>('PUT', p, body, headers); }
  patch<T = unknown>(p: string, body: unknown): Promise<T> { return this.request<T>('PATCH', p, body); }
  delete<T = unknown>(p: string): Promise<T> { return this.request<T>('DELETE', p); }

  /**
   * Open GET /events (after `lastId` when given) and yield its messages until the stream ends.
   * Connecting is bounded by the timeout; once open, the stream has none (keepalives arrive).
   */
  async *events(lastId: string | undefined, onOpen?: () => void, opts: { rates?: boolean } = {}): AsyncGenerator<SseMessage> {
    // One controller for the connect timeout and for closing the stream when the consumer stops.
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), this.timeoutMs);
    try {
      let res: Response;
      try {
        res = await fetch(`${this.baseUrl}/events${opts.rates ? '?rates=true' : ''}`, { headers: this.headers({ accept: 'text/event-stream', ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) }), signal: ac.signal });
      } catch (e) {
        throw this.unreachable(ac.signal.reason ?? e, 'GET');
      } finally { clearTimeout(timer); }
      if (res.status >= 400) {
        const text = await res.text().catch(() => '');
        let data: unknown;
        try { data = JSON.parse(text); } catch { data = undefined; }
        throw this.refused(res.status, data, text);
      }
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body) {
        throw new ControllerError('CTL_ERR_ANSWER', 1, `the controller answered GET /events with ${res.headers.get('content-type') ?? 'no content type'}, not an event stream`, res.status);
      }
      onOpen?.();
      const decoder = new TextDecoder();
      let buf = '';
      const it = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      for (;;) {
        let step: IteratorResult<Uint8Array>;
        try { step = await it.next(); } catch (e) {
          throw new ControllerError('CTL_ERR_UNREACHABLE', 3, `the event stream from ${this.baseUrl} broke (${causeCode(e) || (e as Error).message})`);
        }
        if (step.done) return;
        buf += decoder.decode(step.value, { stream: true });
        let m: RegExpExecArray | null;
        while ((m = /\r?\n\r?\n/.exec(buf)) !== null) {
          const block = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          const msg = parseSseBlock(block);
          if (msg) yield msg;
        }
      }
    } finally {
      clearTimeout(timer);
      ac.abort();   // closes the connection when the consumer stopped early
    }
  }
}

/** One SSE block (lines up to a blank line) -> a message, or undefined for comments and retry-only blocks. */
export function parseSseBlock(block: string): SseMessage | undefined {
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return undefined;
  return id === undefined ? { data: data.join('\n') } : { id, data: data.join('\n') };
}

/** The client for these arguments. */
export function controllerClient(args: ControllerArgs): ControllerClient {
  const { url } = resolveControllerUrl(args);
  const t = args.timeout;
  if (t !== undefined && (!Number.isFinite(t) || t <= 0)) throw new UsageError(`--timeout ${t}: give a number of seconds above 0`);
  return new ControllerClient(url, resolveToken(args), t === undefined ? 30_000 : t * 1000);
}

/** "SWITCH:PORT" split at the last ':' (switch names may hold '/' and ':'). */
export function parseSwitchPort(s: string): { switch: string; port: string } {
  const at = s.lastIndexOf(':');
  if (at <= 0 || at === s.length - 1) throw new UsageError(`"${s}": write SWITCH:PORT (e.g. host1/br0:vm1)`);
  return { switch: s.slice(0, at), port: s.slice(at + 1) };
}

/** The API path of an attachment (the switch name URL-encoded: host1/br0 -> host1%2Fbr0). */
export function attachmentPath(sw: string, port: string): string {
  return `/v1/attachments/${encodeURIComponent(sw)}/${encodeURIComponent(port)}`;
}
