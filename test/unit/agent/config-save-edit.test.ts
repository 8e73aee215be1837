// `config save` keeps the user's document: a commented, flow-style config changed through the
// management API (a port added and one removed, a channel created and one changed, a flow added)
// is saved with its comments, style and untouched lines byte for byte, and no default written.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { serveSwitch, type RunningSwitch } from '../../../src/agent/serve.js';
import { MgmtClient } from '../../../src/agent/mgmt-client.js';
import { editConfigText } from '../../../src/agent/config-edit.js';
import { parseConfig, toFileObject } from '../../../src/agent/config.js';

const HAND = `# Lab switch, written by hand. Keep it short.
bridges:
  br0:
    mac-aging: 120   # VMs move often here
    ports:
      up: { ofport: 1, type: memory, channel: wan }   # the uplink
      vm1: { ofport: 2, type: memory, vlan: { mode: access, vid: 10 } }
      vm2: { ofport: 3, type: memory }   # going away
    flows:
      # no LLDP from the lab
      - priority=100,dl_type=0x88cc,actions=drop
channels:
  wan: { rate: 10mbit }   # the lab's WAN link
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f(); });

async function switchOn(text: string): Promise<{ sw: RunningSwitch; c: MgmtClient; cfg: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-save-'));
  const cfg = join(dir, 'sluice.yaml');
  writeFileSync(cfg, text);
  const sw = await serveSwitch({ configPath: cfg, socketPath: join(dir, 'sw.sock'), log: pino({ level: 'silent' }) });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => sw.stop());
  return { sw, c: new MgmtClient(join(dir, 'sw.sock')), cfg };
}

describe('config save edits the user\'s document', () => {
  it('saved with no change: the file is byte for byte what the user wrote', async () => {
    const { c, cfg } = await switchOn(HAND);
    await c.post('/config/save', {});
    expect(readFileSync(cfg, 'utf8')).toBe(HAND);
  });

  it('API changes are written into the document; comments, flow style and untouched lines stay; no defaults', async () => {
    const { sw, c, cfg } = await switchOn(HAND);
    await c.post('/ports', { name: 'vm3', ofport: 4, type: 'memory', vlan: { mode: 'access', vid: 20 } });
    await c.delete('/ports/vm2');
    await c.put('/channels/wan', { rate: '20mbit' });
    await c.put('/channels/lab', { rate: '5mbit' });
    await c.post('/flows', { flow: 'priority=50,dl_type=0x0806,actions=normal' });
    await c.post('/config/save', {});
    const saved = readFileSync(cfg, 'utf8');
    expect(saved).toBe(`# Lab switch, written by hand. Keep it short.
bridges:
  br0:
    mac-aging: 120   # VMs move often here
    ports:
      up: { ofport: 1, type: memory, channel: wan }   # the uplink
      vm1: { ofport: 2, type: memory, vlan: { mode: access, vid: 10 } }
      vm3: { ofport: 4, type: memory, vlan: { mode: access, vid: 20 } }
    flows:
      # no LLDP from the lab
      - priority=100,dl_type=0x88cc,actions=drop
      - priority=50,dl_type=0x0806,actions=normal
channels:
  wan: { rate: 20mbit } # the lab's WAN link
  lab: { rate: 5mbit }
`);   // the one line changed keeps its comment (re-spaced by the yaml emitter); every other line is the user's
    // No default crept in, and the file loads as the running config.
    for (const k of ['fail-mode', 'mac-table-size', 'mode: police', 'device:', '# Sluice switch configuration']) expect(saved).not.toContain(k);
    expect(toFileObject(parseConfig(saved, 'saved'))).toEqual(toFileObject(sw.daemon.runningConfig));
    // A second change goes into the saved document, not the original one.
    await c.delete('/channels/lab');
    await c.post('/config/save', {});
    expect(readFileSync(cfg, 'utf8')).toBe(saved.replace('  lab: { rate: 5mbit }\n', ''));
  });

  it('block style stays block style; a port added to block-style ports is block style too', () => {
    const text = `bridges:\n  br0:\n    ports:\n      a:\n        ofport: 1   # first\n        type: memory\n`;
    const running = parseConfig(`bridges:\n  br0:\n    ports:\n      a: { ofport: 1, type: memory }\n      b: { ofport: 2, type: system, device: b }\n`, 'x');
    expect(editConfigText(text, 'x', running)).toBe(`${text}      b:\n        ofport: 2\n        type: system\n`);
  });

  it('an implicit default that changes is written; one that does not stays implicit', () => {
    const text = `bridges: { br0: { ports: { a: { ofport: 1, type: memory } } } }   # all on one line\n`;
    const running = parseConfig(`bridges:\n  br0:\n    fail-mode: secure\n    ports:\n      a: { ofport: 1, type: memory }\n`, 'x');
    const out = editConfigText(text, 'x', running)!;
    expect(out).toContain('# all on one line');
    expect(out).toContain('fail-mode: secure');
    expect(out).not.toContain('mac-aging');
    expect(toFileObject(parseConfig(out, 'x'))).toEqual(toFileObject(running));
  });
});
