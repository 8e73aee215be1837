// An etcd cluster for tests: `etcd` (Debian etcd-server) members on loopback ports, each with its
// data in a temporary directory, started by the test and killed (SIGKILL) at its end.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdMember { name: string; client: string; peer: string; dataDir: string; proc: ChildProcess | null; log: string[] }
export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs of every member. */
  endpoints: string[];
  /** `etcd:URL,URL,...` for `--store`. */
  spec: string;
  kill(i: number): void;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (closed again at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Start `n` members and wait until the cluster answers a write. */
export async function startEtcd(n = 1): Promise<EtcdCluster> {
  const base = mkdtempSync(join(tmpdir(), 'sluice-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < n; i++) {
    members.push({ name: `m${i}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}`, dataDir: join(base, `m${i}`), proc: null, log: [] });
  }
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(',');
  for (const m of members) {
    const p = spawn('etcd', [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.client, '--advertise-client-urls', m.client,
      '--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', `sluice-${process.pid}`,
      // Loopback and tmpfs: a short heartbeat keeps leader changes inside the tests' windows.
      '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer): void => { m.log.push(b.toString()); if (m.log.length > 200) m.log.shift(); };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    m.proc = p;
  }
  const endpoints = members.map((m) => m.client);
  const cluster: EtcdCluster = {
    members, endpoints, spec: `etcd:${endpoints.join(',')}`,
    kill(i) { members[i]!.proc?.kill('SIGKILL'); members[i]!.proc = null; },
    async stop() {
      await Promise.all(members.map((m) => new Promise<void>((resolve) => {
        const p = m.proc;
        m.proc = null;
        if (!p || p.exitCode !== null) { resolve(); return; }
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      })));
      rmSync(base, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await Promise.all(endpoints.map((e) => fetch(`${e}/health`).then((r) => r.ok, () => false)));
    if (ok.every(Boolean)) break;
    if (members.some((m) => m.proc?.exitCode !== null && m.proc?.exitCode !== undefined)) {
      await cluster.stop();
      throw new Error(`etcd exited: ${members.map((m) => m.log.join('')).join('\n').slice(-2000)}`);
    }
    if (Date.now() > deadline) { await cluster.stop(); throw new Error('etcd did not become healthy within 20 s'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return cluster;
}
