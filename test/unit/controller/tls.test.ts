// `pssl:` — the controller's OpenFlow listener over mutual TLS, as Open vSwitch's ssl: works: a
// switch with a certificate from the controller's CA gets in; one signed by another CA, or with
// none, never reaches the OpenFlow handshake. Certificates are made by the test with openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithTools } from '../../helpers/privileged.js';
import { EmulatedSwitch } from '../../helpers/emulated-switch.js';
import { Lab, until } from './lab.js';


function makePki(dir: string): void {
  const ossl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
  for (const ca of ['ca', 'rogue-ca']) {
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`);
  }
  const leaf = (name: string, ca: string): void => {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > controller.ext; printf "extendedKeyUsage=clientAuth\\n" > switch.ext; cp switch.ext rogue.ext'], { cwd: dir });
  leaf('controller', 'ca');
  leaf('switch', 'ca');
  leaf('rogue', 'rogue-ca');
}

describeWithTools('controller over mutual TLS (pssl:)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-pki-'));
  let lab: Lab;
  const f = (n: string): string => path.join(dir, n);
  const open = (cert: string | null) => (): Promise<Socket> => new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1', port: lab.ofPort, ca: readFileSync(f('ca.pem')),
      ...(cert ? { cert: readFileSync(f(`${cert}.pem`)), key: readFileSync(f(`${cert}.key`)) } : {}),
    }, () => resolve(s));
    s.once('error', reject);
  });

  beforeAll(async () => {
    makePki(dir);
    lab = await Lab.create();
    await lab.startController({ openflow: `pssl:${lab.ofPort}:127.0.0.1`, tls: { cert: f('controller.pem'), key: f('controller.key'), ca: f('ca.pem') } });
  });
  afterAll(async () => { await lab.close(); rmSync(dir, { recursive: true, force: true }); });

  it('takes a switch whose certificate its CA signed', async () => {
    const sw = await EmulatedSwitch.connect(lab.ofPort, 0x5e1n, 'tls/br0', ['p1'], open('switch'));
    const info = await until('the switch', () => lab.controller!.switches().find((s) => s.connected && s.name === 'tls/br0' && s.lastReconcile));
    expect(info.dpid).toBe('00000000000005e1');
    expect(info.lastReconcile!.ok).toBe(true);
    expect(sw.flowMods).toBeGreaterThan(0);
    sw.close();
  });

  it('refuses a certificate from another CA, and a switch with none', async () => {
    for (const cert of ['rogue', null]) {
      const outcome = await EmulatedSwitch.connect(lab.ofPort, 0xbadn, 'rogue/br0', ['p1'], open(cert)).then(
        async (sw) => { await until('the connection to drop', () => sw.closed || undefined, 5000); return 'dropped'; },
        () => 'refused',
      );
      expect(['dropped', 'refused']).toContain(outcome);
    }
    expect(lab.controller!.switches().some((s) => s.name === 'rogue/br0')).toBe(false);
  });
}, { tools: ['openssl'] });
