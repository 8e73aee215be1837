// controller.yaml and the daemon's options: one-line errors naming the key, relative paths from the
// file's directory, listen syntaxes (fetch's blocked ports refused), the default state directory,
// the API token file (made once, 0600, atomic; a broken one refused), and `sluice controller`'s
// argument errors (exit 2, one line).
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOpenflowListen, defaultStateDir, parseControllerConfig, parseListen } from '../../../src/controller/config.js';
import { loadOrCreateToken } from '../../../src/controller/api.js';
import { cliInproc, oneLineError } from '../../helpers/cli-inproc.js';

const tmp = mkdtempSync(join(tmpdir(), 'sluice-ctlcfg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('controller.yaml', () => {
  it('reads every key; relative paths are from the file\'s directory', () => {
    const c = parseControllerConfig(
      'openflow: pssl:6653:0.0.0.0\napi: "[::1]:6680"\nstate: ./state\nreconcile-interval: 30\nlldp-interval: 2\nmac-aging: 300\ntls: { cert: c.pem, key: k.pem, ca: /etc/ca.pem }\n',
      '/etc/sluice/controller.yaml');
    expect(c).toEqual({
      openflow: 'pssl:6653:0.0.0.0', api: '[::1]:6680', state: '/etc/sluice/state', reconcileIntervalS: 30, lldpIntervalS: 2, macAgingS: 300,
      tls: { cert: '/etc/sluice/c.pem', key: '/etc/sluice/k.pem', ca: '/etc/ca.pem' },
    });
    expect(parseControllerConfig('', 'empty.yaml')).toEqual({});
    expect(parseControllerConfig('store: etcd:http://127.0.0.1:2379,http://[::1]:22379\n', 'c.yaml')).toEqual({ store: 'etcd:http://127.0.0.1:2379,http://[::1]:22379' });
  });

  it.each([
    ['apii: 1.2.3.4:5\n', /c\.yaml: Unrecognized key: "apii"/],
    ['api: localhost\n', /c\.yaml: api "localhost": write HOST:PORT/],
    ['api: 127.0.0.1:70000\n', /out of range/],
    ['openflow: tcp:6653\n', /openflow "tcp:6653": write ptcp:PORT\[:IP\] or pssl:PORT\[:IP\]/],
    ['mac-aging: soon\n', /c\.yaml: mac-aging: mac-aging is a number of seconds/],
    ['reconcile-interval: -1\n', /reconcile-interval/],
    ['tls: { cert: a }\n', /tls\.key/],
    ['api: [1\n', /c\.yaml: not YAML/],
    ['- 1\n- 2\n', /c\.yaml: /],
    ['store: etcd\n', /c\.yaml: store "etcd": write file or etcd:URL/],
    ['store: etcd:127.0.0.1:2379\n', /store etcd:127\.0\.0\.1:2379: "127\.0\.0\.1:2379" is not an etcd client URL/],
  ])('%j is refused in one line', (text, re) => {
    expect(() => parseControllerConfig(text, 'c.yaml')).toThrow(re);
    try { parseControllerConfig(text, 'c.yaml'); } catch (e) { expect((e as Error).message).not.toMatch(/\n/); expect((e as { code: string }).code).toBe('CONFIG_CONTROLLER'); }
  });

  it('listen addresses', () => {
    expect(parseListen('127.0.0.1:6680')).toEqual({ host: '127.0.0.1', port: 6680 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('localhost:8080')).toEqual({ host: 'localhost', port: 8080 });
    expect(() => parseListen('6680')).toThrow(/HOST:PORT/);
    expect(() => parseListen('127.0.0.1:6666')).toThrow(/fetch clients .* refuse/);
    expect(checkOpenflowListen('ptcp:6653')).toBe('ptcp:6653');
    expect(checkOpenflowListen('ptcp:0:127.0.0.1')).toBe('ptcp:0:127.0.0.1');
    expect(() => checkOpenflowListen('ptcp:99999')).toThrow(/out of range/);
  });

  it('default state directory: /var/lib as root, else XDG_STATE_HOME or ~/.local/state', () => {
    expect(defaultStateDir({}, 0)).toBe('/var/lib/sluice/controller');
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state', HOME: '/home/a' }, 1000)).toBe('/x/state/sluice/controller');
    expect(defaultStateDir({ XDG_STATE_HOME: 'relative', HOME: '/home/a' }, 1000)).toBe('/home/a/.local/state/sluice/controller');
    expect(defaultStateDir({ HOME: '/home/a' }, 1000)).toBe('/home/a/.local/state/sluice/controller');
  });
});

describe('the API token', () => {
  it('is made once (0600, 64 hex digits), then read back', () => {
    const d = join(tmp, 'tok1');
    const a = loadOrCreateToken(d);
    expect(a.created).toBe(true);
    expect(a.token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    const b = loadOrCreateToken(d);
    expect(b).toMatchObject({ created: false, token: a.token, looseMode: false });
  });

  it('an operator\'s own token is kept; a broken one is refused in one line', () => {
    const d = join(tmp, 'tok2');
    loadOrCreateToken(d);
    writeFileSync(join(d, 'api-token'), 'my-own-token-of-20-chars\n');
    chmodSync(join(d, 'api-token'), 0o644);
    expect(loadOrCreateToken(d)).toMatchObject({ token: 'my-own-token-of-20-chars', looseMode: true });
    writeFileSync(join(d, 'api-token'), '');
    expect(() => loadOrCreateToken(d)).toThrow(/does not hold a usable API token .*delete it/);
    expect(readFileSync(join(d, 'api-token'), 'utf8')).toBe('');
  });
});

describe('sluice controller: argument errors (exit 2, one line)', () => {
  it.each([
    [['--cert', 'a.pem'], /--cert, --key and --ca go together/],
    [['--openflow', 'pssl:6653'], /pssl:6653 needs --cert, --key and --ca/],
    [['--openflow', 'tcp:1.2.3.4:6653'], /--openflow "tcp:1\.2\.3\.4:6653": write ptcp/],
    [['--api', '127.0.0.1'], /--api "127\.0\.0\.1": write HOST:PORT/],
    [['-c', join(tmp, 'missing.yaml')], /cannot read .*missing\.yaml: ENOENT/],
    [['--reconcile-interval', '-5'], /--reconcile-interval -5/],
    [['--store', 'etcd'], /--store "etcd": write file or etcd:URL/],
    [['--lease-ttl', '0.5'], /--lease-ttl 0\.5: give a whole number of seconds/],
    // No etcd there: which store, and why, on one line.
    [['--store', 'etcd:http://127.0.0.1:9', '--api', '127.0.0.1:0', '--openflow', 'ptcp:0'], /cannot start the controller: etcd http:\/\/127\.0\.0\.1:9 \/sluice\/controller\/state: .*UNAVAILABLE/],
  ])('%j', async (args, re) => {
    oneLineError(await cliInproc(['controller', '--state', join(tmp, 'unused'), ...args]), 2, re);
  });
});
