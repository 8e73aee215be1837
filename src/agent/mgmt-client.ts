// Client side of the management API: finds the socket of the running switch (--socket, --bridge,
// or the only socket in /run/sluice), sends one JSON request, and turns refusals into errors with
// stable codes (SW_ERR_NO_SWITCH, SW_ERR_API) whose messages the CLI prints as one line.
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { SOCKET_DIR, defaultSocketPath } from './mgmt-server.js';

export class NoSwitchError extends Error {
  readonly code = 'SW_ERR_NO_SWITCH';
  constructor(readonly socketPath: string) {
    super(`no switch is running (no socket at ${socketPath}); start one with: sluice switch -c CONFIG`);
    this.name = 'NoSwitchError';
  }
}

/** The daemon refused the request (4xx) or failed (5xx); `message` is its one-line reason, `apiCode` its code. */
export class MgmtApiError extends Error {
  readonly code = 'SW_ERR_API';
  constructor(readonly status: number, message: string, readonly apiCode?: string) { super(message); this.name = 'MgmtApiError'; }
}

/** Which socket to talk to: explicit path, the bridge's default, or the only one in /run/sluice. */
export function resolveSocket(opts: { socket?: string; bridge?: string }, dir = SOCKET_DIR): string {
  if (opts.socket) return opts.socket;
  if (opts.bridge) return defaultSocketPath(opts.bridge);
  let socks: string[] = [];
  try { socks = readdirSync(dir).filter((f) => f.endsWith('.sock')).sort(); } catch { /* no directory: none running */ }
  if (socks.length === 1) return `${dir}/${socks[0]}`;
  if (socks.length > 1) {
    throw Object.assign(new Error(`several switches are running (${socks.map((s) => s.replace(/\.sock$/, '')).join(', ')}); name one with --bridge or --socket`), { code: 'SW_ERR_USAGE' });
  }
  return defaultSocketPath('br0');
}

export class MgmtClient {
  constructor(readonly socketPath: string, private readonly timeoutMs = 15_000) {}

  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath, method, path,
        headers: payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        timeout: this.timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let data: unknown;
          try { data = text ? JSON.parse(text) : {}; } catch { reject(new MgmtApiError(res.statusCode ?? 0, `the switch answered with something that is not JSON: ${text.slice(0, 80)}`)); return; }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const { error, message } = (data ?? {}) as { error?: unknown; message?: unknown };
            const text = typeof message === 'string' ? message : typeof error === 'string' ? error : `HTTP ${status}`;
            reject(new MgmtApiError(status, text, typeof error === 'string' && typeof message === 'string' ? error : undefined));
            return;
          }
          resolve(data as T);
        });
      });
      req.on('timeout', () => req.destroy(new MgmtApiError(0, `the switch at ${this.socketPath} did not answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof MgmtApiError) reject(err);
        else if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTDIR') reject(new NoSwitchError(this.socketPath));
        else reject(new MgmtApiError(0, `cannot talk to the switch at ${this.socketPath}: ${err.message}`));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T = unknown>(path: string): Promise<T> { return this.request<T>('GET', path); }
  post<T = unknown>(path: string, body?: unknown): Promise<T> { return this.request<T>('POST', path, body ?? {}); }
  put<T = unknown>(path: string, body: unknown): Promise<T> { return this.request<T>('PUT', path, body); }
  patch<T = unknown>(path: string, body: unknown): Promise<T> { return this.request<T>('PATCH', path, body); }
  delete<T = unknown>(path: string, body?: unknown): Promise<T> { return this.request<T>('DELETE', path, body); }
}
