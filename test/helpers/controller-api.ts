// A real Controller and its northbound API in this process, on 127.0.0.1 with free ports (API and
// OpenFlow) and a temp state directory, plus a small fetch helper. Intent operations need no switch;
// tests that want one connect an EmulatedSwitch to ctl.openflowAddress().port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Controller } from '../../src/controller/controller.js';
import { loadOrCreateToken, startApi } from '../../src/controller/api.js';
import type { ApiServer } from '../../src/controller/api.js';
import type { StateStore } from '../../src/controller/store.js';

export interface TestController {
  ctl: Controller;
  api: ApiServer;
  url: string;
  token: string;
  dir: string;
  tokenFile: string;
  /** fetch relative to the API with the token; the answer's status, parsed JSON body and headers. */
  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestController(opts: { sseKeepaliveMs?: number; bodyLimitBytes?: number; store?: (stateDir: string) => StateStore } = {}): Promise<TestController> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ctl-'));
  const log = pino({ level: 'silent' });
  const { store, ...apiOpts } = opts;
  const ctl = await Controller.start({ stateDir: join(dir, 'state'), log, openflow: 'ptcp:0:127.0.0.1', reconcileIntervalMs: 0, ...(store ? { store: store(join(dir, 'state')) } : {}) });
  const tok = loadOrCreateToken(join(dir, 'state'));
  const api = await startApi({ controller: ctl, token: tok.token, log, listen: '127.0.0.1:0', ...apiOpts });
  const t: TestController = {
    ctl, api, url: api.url, token: tok.token, dir, tokenFile: tok.file,
    async req(method, path, body, headers = {}) {
      const h: Record<string, string> = { authorization: `Bearer ${tok.token}`, ...headers };
      const init: RequestInit = { method, headers: h };
      if (body !== undefined) { init.body = typeof body === 'string' ? body : JSON.stringify(body); h['content-type'] ??= 'application/json'; }
      const res = await fetch(api.url + path, init);
      const text = await res.text();
      let parsed: unknown;
      try { parsed = JSON.parse(text); } catch { parsed = undefined; }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async stop() {
      await api.close();
      await ctl.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}
