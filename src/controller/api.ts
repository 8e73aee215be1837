// The controller's northbound HTTP API (fastify): the intent as JSON resources under /v1, server-sent
// events on /events, Prometheus text on /metrics and the OpenAPI 3 document, generated from the
// route schemas (themselves generated from intent.ts's zod schemas), on /openapi.json. Bearer token
// auth; every refusal is { "error": code, "message": one line } with 400/401/404/409/413.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { z } from 'zod';
import { UnknownSwitchError } from './controller.js';
import { StoreUnavailableError } from './store.js';
import { UI_ROUTES, registerUi } from './ui.js';
import type { Controller, ChangeResult } from './controller.js';
import { parseListen, TOKEN_FILE } from './config.js';
import type { ChannelRateSample, StampedEvent } from './events.js';
import {
  IntentError, addAttachment, assignChannel, attachBody, attachmentSchema, channelSchema, createChannel, createNetwork,
  deleteAttachment, deleteChannel, deleteNetwork, intentSchema, networkSchema, parseIntent, parseWith, patchBody, patchChannel,
  putAttachment,
} from './intent.js';

export interface ApiOptions {
  controller: Controller;
  /** The bearer token every request (but GET /openapi.json) must carry. */
  token: string;
  log: Logger;
  /** Prometheus registry served on /metrics; the API adds its request metrics. Default: the controller's. */
  registry?: Registry;
  /** Largest request body (default 1 MiB): larger ones get 413. */
  bodyLimitBytes?: number;
  /** SSE comment sent to idle event streams so proxies and clients see the connection live (default 15 s). */
  sseKeepaliveMs?: number;
}

export interface ApiServer {
  app: FastifyInstance;
  registry: Registry;
  /** Every route served, as "METHOD /path/:param" (the OpenAPI document lists the same). */
  routes: string[];
  /** http://HOST:PORT it listens on (the real port when asked for port 0). */
  url: string;
  close(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 1 << 20;
/** An event-stream client whose socket holds more than this unsent is too slow: dropped. */
const SSE_MAX_BUFFERED_BYTES = 4 << 20;
const PUBLIC_ROUTES = new Set<string>(['GET /openapi.json', ...UI_ROUTES]);

/** A refusal the API answers with its status and stable code (not an intent rule). */
class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); this.name = 'ApiError'; }
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, '; ').trim();

// ---------------------------------------------------------------------------------------------
// The token

/**
 * The API token of `stateDir`: read from `api-token`, or made (32 random bytes, hex, mode 0600)
 * when absent. Creation is atomic (written aside, fsync'd, hard-linked into place), so two
 * controllers starting at once agree and a crash never leaves an empty token file.
 */
export function loadOrCreateToken(stateDir: string): { token: string; file: string; created: boolean; looseMode: boolean } {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, TOKEN_FILE);
  let created = false;
  try {
    statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try { writeSync(fd, `${randomBytes(32).toString('hex')}\n`); fsyncSync(fd); } finally { closeSync(fd); }
    try { linkSync(tmp, file); created = true; } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally { unlinkSync(tmp); }
  }
  const token = readFileSync(file, 'utf8').trim();
  if (!/^[\x21-\x7e]{16,}$/.test(token)) {
    throw Object.assign(new Error(`${file} does not hold a usable API token (16 or more printable characters); delete it and a new one is made`), { code: 'CONFIG_TOKEN' });
  }
  return { token, file, created, looseMode: (statSync(file).mode & 0o077) !== 0 };
}

function sameToken(given: string, want: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// Schemas: documentation only (the OpenAPI document). Requests are checked by intent.ts's zod
// schemas, which name the field in one line; responses are plain JSON.stringify.

type Json = Record<string, unknown>;
const fromZod = (s: z.ZodType): Json => {
  const j = z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as Json;
  delete j.$schema;
  return j;
};
const str = { type: 'string' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const nullable = (s: Json): Json => ({ ...s, nullable: true });
const obj = (properties: Json, required: string[] = Object.keys(properties)): Json => ({ type: 'object', properties, required });
const arr = (items: Json): Json => ({ type: 'array', items });

const S = {
  network: fromZod(networkSchema),
  channelIn: fromZod(channelSchema),
  attachment: fromZod(attachmentSchema),
  attachBody: fromZod(attachBody),
  patchBody: fromZod(patchBody),
  intent: fromZod(intentSchema),
  channelBody: obj({ channel: nullable({ ...str, description: 'channel name, or null for none' }) }),
  error: obj({ error: { ...str, description: 'stable code, e.g. duplicate-vid' }, message: { ...str, description: 'one line naming the field' } }),
  reconcile: obj({
    switch: str, dpid: str, ok: bool, flowMods: int, groupMods: int, meterMods: int, errors: arr(str),
    adopted: { ...int, description: 'learned MACs adopted from what the switch held' }, ms: { type: 'number' }, at: { ...str, format: 'date-time' },
  }),
  channelView: obj({
    name: str, rate: str, burst: str, meterId: int, attachments: int,
    min: { ...str, description: 'each switch\'s guaranteed part when the channel is split by demand' },
    split: { type: 'string', enum: ['demand', 'even'], description: 'how a channel over several switches is split among them' },
    shares: arr(obj({
      switch: str, rate: { ...str, description: 'the rate of its meter on this switch' }, connected: bool,
      demand: { ...str, description: 'split by demand: what this switch offered when last measured (smoothed)' },
    }, ['switch', 'rate', 'connected'])),
  }, ['name', 'rate', 'meterId', 'attachments', 'shares']),
  diff: (() => {
    const part = obj({ added: arr(str), removed: arr(str), changed: arr(str) });
    return obj({ networks: part, channels: part, attachments: part });
  })(),
  switchInfo: obj({
    name: { ...str, description: 'its dp_desc (default <hostname>/<bridge>), or its dpid' }, dpid: str, connected: bool,
    peer: nullable({ ...str, description: 'address of its OpenFlow connection' }), role: nullable({ type: 'string', enum: ['master', 'slave'] }),
    ports: arr(obj({
      name: str, number: int, up: bool, role: { type: 'string', enum: ['access', 'trunk', 'blocked', 'unused'] },
      network: str, peer: { ...str, description: 'the far end of a trunk, SWITCH:PORT' },
    }, ['name', 'number', 'up', 'role'])),
    learnedMacs: int,
    tunnel: nullable({ ...obj({ port: str, vtep: { ...str, description: 'IPv4 address of its VXLAN endpoint' } }), description: 'its VXLAN tunnel port, when it has one (connected switches)' }),
    lastReconcile: nullable({ type: 'object', additionalProperties: true, description: 'as POST /v1/reconcile answers for one switch' }),
  }),
  linkEnd: obj({ switch: str, dpid: str, port: int, portName: str }),
};
const reconciled = arr(S.reconcile);
const errors = (...codes: number[]): Json => Object.fromEntries(codes.map((c) => [c, { description: { 400: 'bad request', 401: 'no or wrong token', 404: 'not found', 409: 'conflicts with the intent', 413: 'body too large', 503: 'the store (etcd) did not confirm the change: not acknowledged' }[c], ...S.error }]));
const nameParam = obj({ name: str });
const attParams = obj({
  switch: { ...str, description: 'switch name, URL-encoded (host1/br0 is host1%2Fbr0)' },
  port: { ...str, description: 'port name on that switch' },
});

// ---------------------------------------------------------------------------------------------

function boolQuery(v: unknown, what: string): boolean {
  if (v === undefined || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw new ApiError(400, 'bad-request', `${what}: write true or false, not ${JSON.stringify(v)}`);
}

function strQuery(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new ApiError(400, 'bad-request', `${what}: give it once, not empty`);
  return v;
}

/** Build the API (routes registered, not listening). Exported for in-process tests (app.inject). */
export async function buildApi(opts: ApiOptions): Promise<{ app: FastifyInstance; registry: Registry; routes: string[] }> {
  const ctl = opts.controller;
  const log = opts.log;
  const bodyLimit = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const registry = opts.registry ?? ctl.registry;
  const sseClients = new Set<ServerResponse>();

  const app = Fastify({
    bodyLimit,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // A request Node's HTTP parser refuses never reaches a route: answer it in our shape too.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) { socket.destroy(); return; }
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const [status, text, what] = code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'headers-too-large']
        : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'request-timeout'] : [400, 'Bad Request', 'bad-http'];
      const body = JSON.stringify({ error: what, message: `not a request this server can read (${code || err.message})` });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    frameworkErrors: (err, _req, reply) => {
      const r = reply as unknown as { code(n: number): { type(t: string): { send(b: string): unknown } } };
      r.code(400).type('application/json').send(JSON.stringify({ error: 'bad-url', message: oneLine(err.message) }));
    },
  });
  const routes: string[] = [];
  app.addHook('onRoute', (r) => { for (const m of [r.method].flat()) routes.push(`${m} ${r.url}`); });
  // Requests are checked by zod inside the handlers; the schemas are there for the OpenAPI document.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Bodies are JSON whatever their Content-Type says (curl -d sends form encoding); empty is none.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') { done(null, undefined); return; }
    try { done(null, JSON.parse(text)); } catch (e) {
      done(new ApiError(400, 'bad-json', `request body is not JSON: ${(e as Error).message}`) as unknown as FastifyError, undefined);
    }
  });

  // -------------------------------------------------------------------------- metrics
  const requests = new Counter({ name: 'sluice_api_requests_total', help: 'Northbound API requests by method, route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({ name: 'sluice_api_request_duration_seconds', help: 'Northbound API request handling time', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10], registers: [registry] });
  new Gauge({ name: 'sluice_api_event_streams', help: 'Clients following GET /events', registers: [registry], collect(this: Gauge) { this.set(sseClients.size); } });
  new Gauge({
    name: 'sluice_intent_objects', help: 'Objects in the intent, by kind', labelNames: ['kind'], registers: [registry],
    collect(this: Gauge) {
      const i = ctl.intent;
      this.set({ kind: 'network' }, i.networks.length); this.set({ kind: 'channel' }, i.channels.length); this.set({ kind: 'attachment' }, i.attachments.length);
    },
  });
  // The API's metrics live as long as it does (a controller may serve a new API later).
  app.addHook('onClose', async () => {
    for (const n of ['sluice_api_requests_total', 'sluice_api_request_duration_seconds', 'sluice_api_event_streams', 'sluice_intent_objects']) registry.removeSingleMetric(n);
  });
  const routeOf = (req: FastifyRequest): string => (req.routeOptions.url ?? 'unmatched');
  app.addHook('onResponse', async (req, reply) => {
    const route = routeOf(req);
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    if (log.isLevelEnabled('debug')) log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'api request');
  });

  // -------------------------------------------------------------------------- auth and errors
  app.addHook('onRequest', async (req, reply) => {
    if (PUBLIC_ROUTES.has(`${req.method} ${routeOf(req)}`)) return;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h) : null;
    if (!m || !sameToken(m[1]!, opts.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="sluice"')
        .send({ error: 'unauthorized', message: m ? 'the bearer token is wrong' : 'give the API token as "Authorization: Bearer TOKEN" (it is in the state directory, file api-token)' });
    }
  });

  // A route that takes a body gets one: an empty request is refused before the handler.
  app.addHook('preHandler', async (req) => {
    if (req.routeOptions.schema?.body !== undefined && (req.body === undefined || req.body === null)) {
      throw new ApiError(400, 'bad-request', 'request body is empty: give a JSON object');
    }
  });

  app.setNotFoundHandler((req, reply) => {
    const p = req.url.split('?')[0]!;
    const hint = /^\/v1\/attachments\/[^/]+\/[^/]+\/(?!channel$)/.test(p) ? ' (a switch name with "/" must be URL-encoded: host1%2Fbr0)' : '';
    void reply.code(404).send({ error: 'no-route', message: `no route ${req.method} ${p.slice(0, 200)}${hint}` });
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof IntentError || err instanceof ApiError) return reply.code(err.status).send({ error: err.code, message: oneLine(err.message) });
    if (err instanceof UnknownSwitchError) return reply.code(404).send({ error: err.code, message: oneLine(err.message) });
    if (err instanceof StoreUnavailableError) {
      log.warn({ method: req.method, url: req.url, err: err.message }, 'change not acknowledged: the store is out of reach');
      return reply.code(503).send({ error: err.code, message: oneLine(err.message) });
    }
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'body-too-large', message: `request body over ${bodyLimit} bytes` });
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = (fe.code ?? 'bad-request').replace(/^FST_ERR_/, '').toLowerCase().replace(/_/g, '-');
      return reply.code(status).send({ error: code, message: oneLine(fe.message) });
    }
    log.error({ err, method: req.method, url: req.url }, 'api request failed');
    return reply.code(500).send({ error: 'internal', message: oneLine(err.message || 'internal error') });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Sluice controller API', version: '1', description: 'The intent (networks, channels, attachments) of a Sluice controller, its switches, topology and events.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token in the state directory, file api-token' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'intent', description: 'networks, channels, attachments' },
        { name: 'switches', description: 'switches, topology, reconciliation' },
        { name: 'observe', description: 'events and metrics' },
        { name: 'ui', description: 'the live dashboard (/ui): static files, no data, no token' },
      ],
    },
  });

  // -------------------------------------------------------------------------- helpers
  const change = async (mutate: Parameters<Controller['change']>[0], dryRun = false): Promise<ChangeResult> => ctl.change(mutate, { dryRun });
  const channelView = (name: string) => ctl.channelViews().find((c) => c.name === name);
  const attKey = (sw: string, port: string): string => `${sw}:${port}`;

  // -------------------------------------------------------------------------- networks
  app.get('/v1/networks', {
    schema: { tags: ['intent'], summary: 'List networks', response: { 200: obj({ networks: arr(S.network) }), ...errors(401) } },
  }, async () => ({ networks: ctl.intent.networks }));

  app.post('/v1/networks', {
    schema: { tags: ['intent'], summary: 'Create a network', body: S.network, response: { 201: obj({ network: S.network, reconciled }), ...errors(400, 401, 409, 413, 503) } },
  }, async (req, reply) => {
    const r = await change((i) => createNetwork(i, req.body));
    const name = (req.body as { name: string }).name;
    return reply.code(201).send({ network: r.intent.networks.find((n) => n.name === name), reconciled: r.switches });
  });

  app.get<{ Params: { name: string } }>('/v1/networks/:name', {
    schema: { tags: ['intent'], summary: 'One network and its attachments', params: nameParam, response: { 200: obj({ network: S.network, attachments: arr(S.attachment) }), ...errors(401, 404) } },
  }, async (req) => {
    const n = ctl.intent.networks.find((x) => x.name === req.params.name);
    if (!n) throw new IntentError(404, 'unknown-network', `network "${req.params.name}" does not exist`);
    return { network: n, attachments: ctl.intent.attachments.filter((a) => a.network === n.name) };
  });

  app.delete<{ Params: { name: string } }>('/v1/networks/:name', {
    schema: { tags: ['intent'], summary: 'Delete a network (refused while attached)', params: nameParam, response: { 200: obj({ deleted: str, reconciled }), ...errors(401, 404, 409, 503) } },
  }, async (req) => {
    const r = await change((i) => deleteNetwork(i, req.params.name));
    return { deleted: req.params.name, reconciled: r.switches };
  });

  // -------------------------------------------------------------------------- attachments
  app.get<{ Querystring: Record<string, unknown> }>('/v1/attachments', {
    schema: {
      tags: ['intent'], summary: 'List attachments (optionally of one network, switch or channel)',
      querystring: { type: 'object', properties: { network: str, switch: str, channel: str } },
      response: { 200: obj({ attachments: arr(S.attachment) }), ...errors(400, 401) },
    },
  }, async (req) => {
    const network = strQuery(req.query.network, 'network'), sw = strQuery(req.query.switch, 'switch'), channel = strQuery(req.query.channel, 'channel');
    return {
      attachments: ctl.intent.attachments.filter((a) => (network === undefined || a.network === network) && (sw === undefined || a.switch === sw) && (channel === undefined || a.channel === channel)),
    };
  });

  app.put<{ Params: { switch: string; port: string } }>('/v1/attachments/:switch/:port', {
    schema: {
      tags: ['intent'], summary: 'Attach a port to a network (creates or replaces; with If-None-Match: * only creates)',
      params: attParams, body: S.attachBody,
      headers: { type: 'object', properties: { 'if-none-match': { ...str, description: '"*": refuse with 409 port-attached when the port is attached already' } } },
      response: { 200: obj({ attachment: S.attachment, reconciled }), 201: obj({ attachment: S.attachment, reconciled }), ...errors(400, 401, 404, 409, 503) },
    },
  }, async (req, reply) => {
    const { switch: sw, port } = req.params;
    const createOnly = req.headers['if-none-match'] === '*';
    const r = await change((i) => (createOnly ? addAttachment(i, sw, port, req.body) : putAttachment(i, sw, port, req.body)));
    const att = r.intent.attachments.find((a) => a.switch === sw && a.port === port);
    return reply.code(r.diff.attachments.added.includes(attKey(sw, port)) ? 201 : 200).send({ attachment: att, reconciled: r.switches });
  });

  app.put<{ Params: { switch: string; port: string } }>('/v1/attachments/:switch/:port/channel', {
    schema: {
      tags: ['intent'], summary: 'Move an attachment to a channel (null: no channel)', params: attParams, body: S.channelBody,
      response: { 200: obj({ attachment: S.attachment, reconciled }), ...errors(400, 401, 404, 503) },
    },
  }, async (req) => {
    const { switch: sw, port } = req.params;
    const b = parseWith(z.strictObject({ channel: channelSchema.shape.name.nullable() }), req.body, 'body');
    const r = await change((i) => assignChannel(i, sw, port, b.channel));
    return { attachment: r.intent.attachments.find((a) => a.switch === sw && a.port === port), reconciled: r.switches };
  });

  app.delete<{ Params: { switch: string; port: string } }>('/v1/attachments/:switch/:port', {
    schema: { tags: ['intent'], summary: 'Detach a port', params: attParams, response: { 200: obj({ deleted: str, reconciled }), ...errors(401, 404, 503) } },
  }, async (req) => {
    const { switch: sw, port } = req.params;
    const r = await change((i) => deleteAttachment(i, sw, port));
    return { deleted: attKey(sw, port), reconciled: r.switches };
  });

  // -------------------------------------------------------------------------- channels
  app.get('/v1/channels', {
    schema: { tags: ['intent'], summary: 'List channels with their meter ids and per-switch shares', response: { 200: obj({ channels: arr(S.channelView) }), ...errors(401) } },
  }, async () => ({ channels: ctl.channelViews() }));

  app.post('/v1/channels', {
    schema: { tags: ['intent'], summary: 'Create a channel', body: S.channelIn, response: { 201: obj({ channel: S.channelView, reconciled }), ...errors(400, 401, 409, 413, 503) } },
  }, async (req, reply) => {
    const r = await change((i) => createChannel(i, req.body));
    return reply.code(201).send({ channel: channelView((req.body as { name: string }).name), reconciled: r.switches });
  });

  app.get<{ Params: { name: string } }>('/v1/channels/:name', {
    schema: { tags: ['intent'], summary: 'One channel and its attachments', params: nameParam, response: { 200: obj({ channel: S.channelView, attachments: arr(S.attachment) }), ...errors(401, 404) } },
  }, async (req) => {
    const c = channelView(req.params.name);
    if (!c) throw new IntentError(404, 'unknown-channel', `channel "${req.params.name}" does not exist`);
    return { channel: c, attachments: ctl.intent.attachments.filter((a) => a.channel === c.name) };
  });

  app.patch<{ Params: { name: string } }>('/v1/channels/:name', {
    schema: { tags: ['intent'], summary: 'Change a channel\'s rate, burst, min or split (live, tokens kept)', params: nameParam, body: S.patchBody, response: { 200: obj({ channel: S.channelView, reconciled }), ...errors(400, 401, 404, 503) } },
  }, async (req) => {
    const r = await change((i) => patchChannel(i, req.params.name, req.body));
    return { channel: channelView(req.params.name), reconciled: r.switches };
  });

  app.delete<{ Params: { name: string } }>('/v1/channels/:name', {
    schema: { tags: ['intent'], summary: 'Delete a channel (refused while assigned)', params: nameParam, response: { 200: obj({ deleted: str, reconciled }), ...errors(401, 404, 409, 503) } },
  }, async (req) => {
    const r = await change((i) => deleteChannel(i, req.params.name));
    return { deleted: req.params.name, reconciled: r.switches };
  });

  // -------------------------------------------------------------------------- the whole intent
  app.get('/v1/intent', {
    schema: { tags: ['intent'], summary: 'The whole intent document (what POST /v1/apply takes)', response: { 200: S.intent, ...errors(401) } },
  }, async () => ctl.intent);

  app.post<{ Querystring: Record<string, unknown> }>('/v1/apply', {
    schema: {
      tags: ['intent'], summary: 'Replace the whole intent, atomically (dry-run: only show the difference)',
      querystring: { type: 'object', properties: { 'dry-run': { ...bool, description: 'true: change nothing, answer the difference' } } },
      body: S.intent,
      response: { 200: obj({ dryRun: bool, applied: bool, diff: S.diff, intent: S.intent, reconciled }), ...errors(400, 401, 404, 409, 413, 503) },
    },
  }, async (req) => {
    const dryRun = boolQuery(req.query['dry-run'], 'dry-run');
    const next = parseIntent(req.body);
    const r = await change(() => next, dryRun);
    return { dryRun, applied: r.applied, diff: r.diff, intent: r.intent, reconciled: r.switches };
  });

  // -------------------------------------------------------------------------- switches
  app.get('/v1/switches', {
    schema: { tags: ['switches'], summary: 'Switches that connected (and are connected or not now): ports, role, learned MACs, last reconcile', response: { 200: obj({ switches: arr(S.switchInfo) }), ...errors(401) } },
  }, async () => ({ switches: ctl.switches() }));

  app.get('/v1/topology', {
    schema: {
      tags: ['switches'], summary: 'Switches and the trunk links between them (LLDP)',
      response: { 200: obj({ switches: arr(obj({ name: str, dpid: str, connected: bool })), links: arr(obj({ a: S.linkEnd, b: S.linkEnd, blocked: { ...bool, description: 'off the spanning tree: carries no network' } })) }), ...errors(401) },
    },
  }, async () => ctl.topology());

  app.post<{ Querystring: Record<string, unknown> }>('/v1/reconcile', {
    schema: {
      tags: ['switches'], summary: 'Reconcile now (read back what the switch holds, send the difference): one switch or every connected one',
      querystring: { type: 'object', properties: { switch: { ...str, description: 'name or dpid; default every connected switch' } } },
      response: { 200: obj({ reconciled }), ...errors(400, 401, 404) },
    },
  }, async (req) => ({ reconciled: await ctl.reconcile(strQuery(req.query.switch, 'switch')) }));

  // -------------------------------------------------------------------------- events, metrics, the document
  const keepaliveMs = opts.sseKeepaliveMs ?? 15_000;
  app.get<{ Querystring: Record<string, unknown> }>('/events', {
    schema: {
      tags: ['observe'], summary: 'Server-sent events: one JSON event per message, its seq as the SSE id; Last-Event-ID (or ?since=) replays what was missed',
      querystring: {
        type: 'object', properties: {
          since: { ...int, description: 'replay retained events after this seq (as Last-Event-ID)' },
          rates: { ...bool, description: 'true: also channel-rate samples (no id, never replayed), one per channel each sampling period' },
        },
      },
      headers: { type: 'object', properties: { 'last-event-id': str } },
      response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: str } } }, ...errors(400, 401) },
    },
  }, (req, reply) => {
    const raw = req.headers['last-event-id'] ?? req.query.since;
    let after: number | undefined;
    if (raw !== undefined) {
      if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw.trim())) throw new ApiError(400, 'bad-request', `Last-Event-ID/since: ${JSON.stringify(raw).slice(0, 40)} is not an event seq`);
      after = Number(raw.trim());
    }
    const rates = boolQuery(req.query.rates, 'rates');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const send = (e: StampedEvent): void => {
      if (res.writableEnded || res.destroyed) return;
      res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
      if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
        log.warn({ remote: req.ip }, 'event stream client too slow: dropped');
        res.destroy();
      }
    };
    if (after !== undefined) {
      const past = ctl.events.since(after);
      if (past.length > 0 && past[0]!.seq > after + 1) {
        res.write(`data: ${JSON.stringify({ type: 'events-missed', after, next: past[0]!.seq })}\n\n`);
      }
      for (const e of past) send(e);
    }
    ctl.events.on('event', send);
    // Samples carry no id: a client that reconnects resumes after the last event, not the last sample.
    const sendSample = (x: ChannelRateSample): void => {
      if (res.writableEnded || res.destroyed) return;
      res.write(`data: ${JSON.stringify(x)}\n\n`);
      if (res.writableLength > SSE_MAX_BUFFERED_BYTES) { log.warn({ remote: req.ip }, 'event stream client too slow: dropped'); res.destroy(); }
    };
    if (rates) ctl.events.on('sample', sendSample);
    const ping = setInterval(() => { if (!res.writableEnded) res.write(': keepalive\n\n'); }, keepaliveMs);
    ping.unref();
    sseClients.add(res);
    res.on('close', () => { ctl.events.off('event', send); ctl.events.off('sample', sendSample); clearInterval(ping); sseClients.delete(res); });
  });

  app.get('/metrics', {
    schema: { tags: ['observe'], summary: 'Prometheus metrics', response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: str } } }, ...errors(401) } },
  }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  app.get('/openapi.json', {
    schema: { tags: ['observe'], summary: 'This OpenAPI 3 document (no token needed)', security: [], response: { 200: { description: 'OpenAPI 3.0 document', type: 'object', additionalProperties: true } } },
  }, async () => app.swagger());

  // -------------------------------------------------------------------------- the dashboard
  registerUi(app, log);

  // Event streams never end on their own: end them so close() does not wait for the clients.
  app.addHook('preClose', async () => { for (const r of sseClients) r.end(); });

  await app.ready();
  return { app, registry, routes };
}

/** Build the API and listen on `listen` ("HOST:PORT"). */
export async function startApi(opts: ApiOptions & { listen: string }): Promise<ApiServer> {
  const { host, port } = parseListen(opts.listen);
  const { app, registry, routes } = await buildApi(opts);
  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close();
    throw Object.assign(new Error(`cannot serve the API on ${opts.listen}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`), { code: 'SW_ERR_API_LISTEN' });
  }
  const addr = app.server.address();
  const realPort = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${realPort}`;
  return { app, registry, routes, url, close: () => app.close() };
}

