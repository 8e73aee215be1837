// The live dashboard at /ui: a static page (ui/index.html, ui/app.js, ui/app.css) and uPlot from
// node_modules, served by the API itself (no CDN: controllers often have no Internet). The files
// hold no data, so they need no token; the page asks for the token and sends it only as the
// Authorization header of its API calls and of its event stream (fetch, not EventSource).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** The page's own files: src/controller/ui, found from src/controller or dist/controller alike. */
export const UI_DIR = fileURLToPath(new URL('../../src/controller/ui/', import.meta.url));

/** Routes that need no token (files only, no data). */
export const UI_ROUTES = ['GET /ui', 'GET /ui/app.js', 'GET /ui/app.css', 'GET /ui/uplot.js', 'GET /ui/uplot.css'] as const;

// The page loads only what it is served from here, runs no inline script and is never framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface UiFile { type: string; body: Buffer | null; from: string }

function load(file: string): Buffer | null {
  try { return readFileSync(file); } catch { return null; }
}

/** Register GET /ui and its files on `app` (read once, kept in memory: ~60 KiB). */
export function registerUi(app: FastifyInstance, log: Logger): void {
  const require = createRequire(import.meta.url);
  let uplotDir: string | null = null;
  try { uplotDir = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js')); } catch { /* reported below */ }
  const files: Record<string, UiFile> = {
    '/ui': { type: 'text/html; charset=utf-8', body: load(path.join(UI_DIR, 'index.html')), from: path.join(UI_DIR, 'index.html') },
    '/ui/app.js': { type: 'text/javascript; charset=utf-8', body: load(path.join(UI_DIR, 'app.js')), from: path.join(UI_DIR, 'app.js') },
    '/ui/app.css': { type: 'text/css; charset=utf-8', body: load(path.join(UI_DIR, 'app.css')), from: path.join(UI_DIR, 'app.css') },
    '/ui/uplot.js': { type: 'text/javascript; charset=utf-8', body: uplotDir ? load(path.join(uplotDir, 'uPlot.iife.min.js')) : null, from: 'npm package uplot' },
    '/ui/uplot.css': { type: 'text/css; charset=utf-8', body: uplotDir ? load(path.join(uplotDir, 'uPlot.min.css')) : null, from: 'npm package uplot' },
  };
  const missing = Object.values(files).filter((f) => f.body === null).map((f) => f.from);
  if (missing.length > 0) log.warn({ missing: [...new Set(missing)] }, 'the dashboard (/ui) is incomplete: files not found');
  for (const [url, f] of Object.entries(files)) {
    app.get(url, {
      schema: {
        tags: ['ui'], summary: url === '/ui' ? 'The live dashboard (a web page; no token needed to load it, the page asks for one)' : `A file of the dashboard (${path.basename(url)})`,
        security: [],
        response: { 200: { description: f.type, content: { [f.type.split(';')[0]!]: { schema: { type: 'string' } } } }, 404: { description: 'file not installed' } },
      },
    }, async (_req, reply) => {
      if (f.body === null) return reply.code(404).send({ error: 'no-route', message: `${url} is not installed (${f.from})` });
      return reply.type(f.type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer').header('cache-control', 'no-cache').send(f.body);
    });
  }
}
