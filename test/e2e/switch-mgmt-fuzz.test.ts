// e2e: the management socket of a real `sluice switch` process under random and mutated raw HTTP
// (test/helpers/http-fuzz.ts), while two namespaces talk through it: no 5xx, JSON 4xx, and after
// every batch the switch answers, reloads its config, and still forwards ping; the process never dies.
import { expect, it } from 'vitest';
import net from 'node:net';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MgmtClient } from '../../src/agent/mgmt-client.js';
import { MAX_HEADER_BYTES } from '../../src/agent/mgmt-server.js';
import { describePrivileged } from '../helpers/privileged.js';
import { fuzzHttp } from '../helpers/http-fuzz.js';
import { mgmtBodies, mgmtRoutes } from '../helpers/mgmt-requests.js';
import { addHost, ping, switchTestKit } from './switch-harness.js';

const { lab, start } = switchTestKit();

describePrivileged('sluice switch: management socket under fuzzed requests', () => {
  it('keeps answering and forwarding ping between namespaces through 10 batches of random requests', async () => {
    const l = lab();
    const a = addHost(l, 'a', '10.93.0.1'), b = addHost(l, 'b', '10.93.0.2');
    const yaml = `bridges:\n  br0:\n    ports:\n      pa: { ofport: 1, type: system, device: ${a.root} }\n      pb: { ofport: 2, type: system, device: ${b.root} }\nchannels:\n  gold: { rate: 20mbit }\n`;
    const sw = await start(yaml);
    const c = new MgmtClient(sw.socket);
    expect((await ping(l, a, b.ip, 2)).code).toBe(0);
    const savePaths = ['/etc/passwd', `${sw.dir}/canary.yaml`, sw.dir];
    const report = await fuzzHttp({
      connect: () => net.connect(sw.socket),
      routes: mgmtRoutes(savePaths),
      names: ['pa', 'pb', 'm3', 'gold', 'fz', 'nope'],
      bodies: mgmtBodies(savePaths),
      queries: ['filter=in_port=1', 'filter=%zz', 'filter=table=999', 'filter=', 'filter=in_port=pa'],
      serverOptions: { maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false },
      batches: Number(process.env.FUZZ_BATCHES ?? 10),
      batchSize: 12,
      seed: process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 0xe2e,
      // Nothing that could open a real device (a TAP, a packet socket on a host NIC, a QEMU socket):
      // the fuzzer adds memory ports only.
      exclude: (raw) => /tap|system|qemu/i.test(raw.toString('latin1')),
      afterBatch: async () => {
        expect(sw.exited).toBeNull();
        expect((await c.get<{ ports: unknown[] }>('/ports')).ports.length).toBeGreaterThan(0);
        writeFileSync(sw.configPath, yaml);
        await c.post('/config/reload');
        await c.delete('/flows', {});
        await c.post('/flows', { flow: 'priority=0,actions=NORMAL' });
        const p = await ping(l, a, b.ip, 2);
        expect(p.code, p.stdout + p.stderr).toBe(0);
      },
    });
    console.log(`[mgmt fuzz e2e] ${report.cases} requests (${report.skipped} skipped), answers ${JSON.stringify(report.byStatus)}`);
    expect(sw.exited).toBeNull();
    expect(sw.stderr).not.toMatch(/management request failed|Unhandled|TypeError|"level":50/);
    // Saves went to the config file only, and left no temp files.
    expect(readdirSync(dirname(sw.configPath)).sort()).toEqual(['sluice.yaml', 'sw.sock']);
  }, 240_000);
});
