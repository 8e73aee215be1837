// Readiness for systemd `Type=notify` units: READY=1 to $NOTIFY_SOCKET once the daemon serves.
// Node has no unix datagram sockets, so the message goes through `systemd-notify --ready`.
//
// Why systemd-notify and not a sendto() in the N-API shim: the shim is build-optional (a switch
// without it still runs replay/memory ports, and the controller never loads it), and readiness
// must not depend on it. The known weakness of systemd-notify is PID attribution: the datagram
// comes from a short-lived child, not the main PID, so the unit needs NotifyAccess=all, and a
// systemd that reads the message after the child exited cannot map it to the unit's cgroup and
// drops it. Since systemd 246 (Debian 12 has 252) systemd-notify waits by default for a
// BARRIER=1 round trip, i.e. until the manager has processed the message, while the child is
// still alive: the race is closed. NotifyAccess=all only widens who in the unit's own cgroup may
// send; nothing else runs there.
import { spawn } from 'node:child_process';
import type { Logger } from './log.js';

/** Tell the service manager we are ready (no-op without NOTIFY_SOCKET). Never throws. */
export async function notifyReady(log: Logger, status: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return;
  const args = ['--ready', `--status=${status}`];
  const result = await new Promise<string | null>((resolve) => {
    let stderr = '';
    const child = spawn('systemd-notify', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e) => resolve(`cannot run systemd-notify: ${e.message}`));
    child.on('exit', (code) => resolve(code === 0 ? null : `systemd-notify exited with ${code}: ${stderr.trim()}`));
  });
  if (result === null) log.debug({ notifySocket: env.NOTIFY_SOCKET }, 'READY=1 sent to the service manager');
  else log.warn({ notifySocket: env.NOTIFY_SOCKET }, `readiness not sent: ${result}`);
}
