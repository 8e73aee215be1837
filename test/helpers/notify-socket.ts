// A stand-in for systemd's notify socket: a Python child binds a unix datagram socket, and for each
// datagram runs `probe` (a Python expression over the daemon's state: is the TAP there, does the
// port answer?) BEFORE closing any passed fds (systemd-notify's BARRIER=1 waits for that close, so
// the daemon is held where it was when it sent). Prints one JSON line per datagram.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './netns.js';

export interface NotifyMessage { text: string; fds: number; probe: unknown }

const RECEIVER = `
import socket, sys, json, os, array
path, probe_src = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print(json.dumps({"bound": True}), flush=True)
def probe():
    try:
        return eval(probe_src)
    except Exception as e:
        return "probe error: %s" % e
import os.path
def tcp_open(port):
    c = socket.socket(); c.settimeout(1)
    try:
        c.connect(("127.0.0.1", port)); return True
    except Exception:
        return False
    finally:
        c.close()
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    fds = []
    for level, typ, d in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            a = array.array("i"); a.frombytes(d[: len(d) - (len(d) % a.itemsize)]); fds.extend(a)
    text = data.decode("utf8", "replace")
    p = probe() if "READY=1" in text.split("\\n") else None
    print(json.dumps({"text": text, "fds": len(fds), "probe": p}), flush=True)
    for fd in fds:
        os.close(fd)
`;

export class NotifyReceiver {
  readonly messages: NotifyMessage[] = [];
  private out = '';
  private constructor(readonly path: string, private readonly child: ChildProcess) {}

  /** Bind `dir`/notify.sock; `probe` is evaluated by Python (helpers: os.path, tcp_open(port)). */
  static async start(dir: string, probe: string): Promise<NotifyReceiver> {
    const path = join(dir, 'notify.sock');
    const child = spawn('python3', ['-c', RECEIVER, path, probe], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = new NotifyReceiver(path, child);
    let bound = false;
    child.stdout!.on('data', (d: Buffer) => {
      r.out += d.toString();
      let nl: number;
      while ((nl = r.out.indexOf('\n')) >= 0) {
        const line = r.out.slice(0, nl); r.out = r.out.slice(nl + 1);
        const j = JSON.parse(line) as NotifyMessage & { bound?: boolean };
        if (j.bound) bound = true; else r.messages.push(j);
      }
    });
    await waitFor(() => bound, 10_000, 'the notify receiver to bind');
    return r;
  }

  /** Messages that carry READY=1. */
  ready(): NotifyMessage[] { return this.messages.filter((m) => m.text.split('\n').includes('READY=1')); }

  close(): void { this.child.kill('SIGTERM'); }
}
