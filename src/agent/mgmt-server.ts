// The local management API of `sluice switch`: JSON over HTTP on a Unix socket (default
// /run/sluice/<bridge>.sock). Routes map one-to-one onto SwitchDaemon methods; errors come back as
// 400/404/409 with { error: "one line" }. node:http only; one request at a time reaches the daemon.
import http from 'node:http';
import net from 'node:net';
import { chmodSync, mkdirSync, unlinkSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ApiError, SwitchError } from './daemon.js';
import type { SwitchDaemon } from './daemon.js';

export const SOCKET_DIR = '/run/sluice';
export function defaultSocketPath(bridge: string): string { return `${SOCKET_DIR}/${bridge}.sock`; }
const MAX_BODY_BYTES = 1 << 20;

type Handler = (d: SwitchDaemon, params: string[], body: unknown, query: URLSearchParams) => Promise<unknown> | unknown;
interface Route { method: string; re: RegExp; handler: Handler; status?: number }

const obj = (b: unknown): Record<string, unknown> => (b !== null && typeof b === 'object' && !Array.isArray(b) ? b as Record<string, unknown> : {});
const ROUTES: Route[] = [
  { method: 'GET', re: /^\/ports$/, handler: (d) => ({ ports: d.listPorts() }) },
  { method: 'POST', re: /^\/ports$/, status: 201, handler: async (d, _p, b) => ({ port: await d.addPort(b) }) },
  { method: 'DELETE', re: /^\/ports\/([^/]+)$/, handler: async (d, [n]) => { await d.removePort(n); return { deleted: n }; } },
  { method: 'PATCH', re: /^\/ports\/([^/]+)$/, handler: async (d, [n], b) => ({ port: await d.patchPort(n, b) }) },
  { method: 'GET', re: /^\/fdb$/, handler: (d) => ({ fdb: d.fdb() }) },
  { method: 'GET', re: /^\/stats$/, handler: (d) => d.stats() },
  { method: 'GET', re: /^\/channels$/, handler: (d) => ({ channels: d.listChannels() }) },
  { method: 'PUT', re: /^\/channels\/([^/]+)$/, handler: async (d, [n], b) => ({ channel: await d.setChannel(n, b) }) },
  { method: 'DELETE', re: /^\/channels\/([^/]+)$/, handler: async (d, [n]) => { await d.deleteChannel(n); return { deleted: n }; } },
  { method: 'GET', re: /^\/flows$/, handler: (d, _p, _b, q) => ({ flows: d.dumpFlows(q.get('filter') ?? undefined) }) },
  { method: 'POST', re: /^\/flows$/, status: 201, handler: async (d, _p, b) => ({ flow: await d.addFlow(obj(b).flow) }) },
  { method: 'DELETE', re: /^\/flows$/, handler: async (d, _p, b) => ({ deleted: await d.deleteFlows(obj(b).filter, obj(b).strict === true) }) },
  { method: 'POST', re: /^\/config\/save$/, handler: async (d, _p, b) => ({ saved: await d.saveConfig(typeof obj(b).path === 'string' ? obj(b).path as string : undefined) }) },
  { method: 'POST', re: /^\/config\/reload$/, handler: async (d) => ({ changes: await d.reload() }) },
];

export class MgmtServer {
  private readonly server: http.Server;
  private listening = false;

  constructor(private readonly daemon: SwitchDaemon, readonly socketPath: string, private readonly log: Logger) {
    this.server = http.createServer((req, res) => { void this.handle(req, res); });
  }

  /** Listen on the socket (directory created 0755; a stale socket file is replaced, a live one refused). */
  async listen(): Promise<void> {
    const path = this.socketPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    if (existsSync(path)) {
      if (await socketAlive(path)) throw new SwitchError('SW_ERR_SOCKET', `another switch is already serving ${path}; stop it or use --socket`);
      try { unlinkSync(path); } catch { /* raced away */ }
    }
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
    const url = new URL(req.url ?? '/', 'http://sluice');
    let status = 200;
    let out: unknown;
    try {
      const route = ROUTES.find((r) => r.method === req.method && r.re.test(url.pathname));
      if (!route) {
        const any = ROUTES.some((r) => r.re.test(url.pathname));
        throw new ApiError(any ? 400 : 404, any ? `method ${req.method} is not allowed on ${url.pathname}` : `no route ${req.method} ${url.pathname}`);
      }
      const params = (route.re.exec(url.pathname) ?? []).slice(1).map(decodeURIComponent);
      const body = await readJson(req);
      out = await route.handler(this.daemon, params, body, url.searchParams);
      status = route.status ?? 200;
    } catch (err) {
      if (err instanceof ApiError) { status = err.status; out = { error: oneLine(err.message) }; }
      else {
        status = 500;
        out = { error: oneLine(err instanceof Error ? err.message : String(err)) };
        this.log.error({ err, method: req.method, path: url.pathname }, 'management request failed');
      }
    }
    const text = JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

function oneLine(s: string): string { return s.replace(/\s*\n\s*/g, '; ').trim(); }

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(400, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  if (size === 0) return undefined;
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) {
    throw new ApiError(400, `request body is not JSON: ${(e as Error).message}`);
  }
}

/** True when something accepts connections on the Unix socket `path`. */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
