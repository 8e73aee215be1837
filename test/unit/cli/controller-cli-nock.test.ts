// The CLI's handling of answers a real controller cannot be made to give on cue, from nock (which
// intercepts Node's fetch): 5xx, non-JSON, cut-off and truncated bodies, no answer in time, a
// connection reset, an event stream that is not one. Each ends in one line and the documented code.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import nock from 'nock';
import { cliInproc, oneLineError } from '../../helpers/cli-inproc.js';

const URL_ = 'http://controller.test:6680';
const A = ['--controller', URL_];
const env = { SLUICE_TOKEN: 'tok-tok-tok-tok-tok' };

beforeAll(() => { nock.disableNetConnect(); });
afterEach(() => { nock.cleanAll(); });
afterAll(() => { nock.enableNetConnect(); nock.restore(); });

const api = () => nock(URL_).matchHeader('authorization', 'Bearer tok-tok-tok-tok-tok');

describe('CLI against answers on cue (nock)', () => {
  it('nock intercepts the CLI\'s fetch: a normal answer prints the table', async () => {
    api().get('/v1/networks').reply(200, { networks: [{ name: 'blue', vid: 100 }] }).get('/v1/attachments').reply(200, { attachments: [] });
    const r = await cliInproc(['net', 'list', ...A], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/│ blue\s+│ 100 │ -\s+│ -/);
  });

  it('a 500 with our error shape: exit 1, "the controller failed" and its message', async () => {
    api().post('/v1/networks').reply(500, { error: 'internal', message: 'EIO: i/o error, write' });
    oneLineError(await cliInproc(['net', 'create', 'x', '--vid', '7', ...A], env), 1, /^sluice: the controller failed \(HTTP 500\): EIO: i\/o error, write$/m);
  });

  it('a 502 from a proxy with HTML: exit 1, the status and the start of the body on one line', async () => {
    api().get('/v1/switches').reply(502, '<html>\n<body>Bad Gateway</body>\n</html>', { 'content-type': 'text/html' });
    oneLineError(await cliInproc(['switches', ...A], env), 1, /the controller failed \(HTTP 502\): HTTP 502: <html> <body>Bad Gateway/);
  });

  it('a 200 that is not JSON, or not an object: exit 1', async () => {
    api().get('/v1/switches').reply(200, 'OK\n', { 'content-type': 'text/plain' });
    oneLineError(await cliInproc(['switches', ...A], env), 1, /answered HTTP 200 with something that is not JSON: "OK\\n"/);
    api().get('/v1/topology').reply(200, 'null');
    oneLineError(await cliInproc(['topology', ...A], env), 1, /without the JSON object expected/);
  });

  it('a truncated JSON body (the stream ended early): exit 1', async () => {
    api().get('/v1/switches').reply(200, '{"switches":[{"name":"h', { 'content-type': 'application/json' });
    oneLineError(await cliInproc(['switches', ...A], env), 1, /not JSON: "\{\\"switches\\":\[\{\\"name\\":\\"h"/);
  });

  it('a body cut off by a broken connection: exit 1, "cut off"', async () => {
    api().get('/v1/switches').reply(200, () => {
      const s = new Readable({ read() {} });
      s.push('{"switches":[');
      setTimeout(() => s.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 20);
      return s;
    }, { 'content-type': 'application/json' });
    oneLineError(await cliInproc(['switches', ...A], env), 1, /answer \(HTTP 200\) was cut off/);
  });

  it('no answer within --timeout: exit 3, and a write says it may or may not have happened', async () => {
    api().post('/v1/reconcile').delay(10_000).reply(200, { reconciled: [] });
    oneLineError(await cliInproc(['reconcile', '--timeout', '0.5', ...A], env), 3, /did not answer within 0\.5 s \(the change may or may not have been made\)/);
  });

  it('a connection reset before any answer: exit 3', async () => {
    // (an Error object: nock 14 turns a plain-object error into an internal TypeError under fetch)
    api().get('/v1/networks').replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    api().get('/v1/attachments').reply(200, { attachments: [] });
    oneLineError(await cliInproc(['net', 'list', ...A], env), 3, /cannot reach the controller at http:\/\/controller\.test:6680 \(ECONNRESET\)/);
  });

  it('401 without a body, 404 from something that is not the controller: exit 1, one line', async () => {
    api().get('/v1/switches').reply(401, '');
    oneLineError(await cliInproc(['switches', ...A], env), 1, /refused the token from \$SLUICE_TOKEN: HTTP 401/);
    api().get('/v1/topology').reply(404, 'Not Found');
    oneLineError(await cliInproc(['topology', ...A], env), 1, /^sluice: HTTP 404: Not Found$/m);
  });

  it('GET /events answered with JSON, not a stream: exit 1', async () => {
    api().get('/events').reply(200, { hello: 'world' });
    oneLineError(await cliInproc(['events', ...A], env), 1, /answered GET \/events with application\/json, not an event stream/);
  });
});
