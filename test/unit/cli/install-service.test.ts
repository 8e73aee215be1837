// install-service: ExecStart quoting for systemd and the rendered unit's fields (no systemd needed;
// test/e2e/service-units.test.ts runs systemd-analyze verify on the files).
import { describe, expect, it } from 'vitest';
import { renderUnit, systemdWord } from '../../../src/cli/install-service.js';

describe('systemdWord', () => {
  it.each([
    ['/usr/bin/node', '/usr/bin/node'],
    ['/opt/my sluice/bin/sluice.js', '"/opt/my sluice/bin/sluice.js"'],
    ['50%', '50%%'],
    ['$HOME', '"$$HOME"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
  ])('%s -> %s', (w, q) => { expect(systemdWord(w)).toBe(q); });
});

describe('renderUnit', () => {
  it('switch: absolute node, bin/sluice.js and config; the config folder is writable', () => {
    const u = renderUnit({ kind: 'switch', config: '/etc/sluice/br 0.yaml', node: '/usr/bin/node', root: process.cwd() });
    expect(u).toMatch(new RegExp(`^ExecStart=/usr/bin/node ${process.cwd()}/bin/sluice.js switch -c "/etc/sluice/br 0.yaml"$`, 'm'));
    expect(u).toMatch(/^ReadWritePaths=\/run\/sluice \/var\/lib\/sluice\/switch \/etc\/sluice$/m);
    expect(u).not.toMatch(/@[A-Z_]+@/);
  });
  it('controller: state in its StateDirectory, no capabilities, --log-format passed on', () => {
    const u = renderUnit({ kind: 'controller', logFormat: 'json', node: '/usr/bin/node', root: process.cwd() });
    expect(u).toMatch(/ controller --state \/var\/lib\/sluice\/controller --log-format json$/m);
    expect(u).toMatch(/^CapabilityBoundingSet=$/m);
    expect(u).toMatch(/^StateDirectory=sluice\/controller$/m);
    expect(u).not.toMatch(/@[A-Z_]+@/);
  });
});
