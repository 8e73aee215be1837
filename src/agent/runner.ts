// The live loop of `sluice switch`: readiness callbacks from the ports coalesce into one
// bridge.poll() pass per event-loop turn (repeated while a port may still hold a full batch), a
// timer follows the next shaper release, and a 1 s tick drives expiry. Nothing here runs per frame.
import type { Logger } from 'pino';
import { MAX_BURST } from '../datapath/batch.js';
import { DROP_NAMES } from '../datapath/counters.js';
import type { Bridge } from '../datapath/bridge.js';
import type { PortBackend } from '../datapath/port.js';

/** Epoch milliseconds with sub-ms resolution (read once per pass). */
export function nowEpochMs(): number { return performance.timeOrigin + performance.now(); }

export const TICK_MS = 1000;
export const STATS_LOG_MS = 5000;

export interface RunnerStats { passes: number; frames: number; errors: number; timerWakeups: number }

export class Runner {
  readonly stats: RunnerStats = { passes: 0, frames: 0, errors: 0, timerWakeups: 0 };
  private scheduled = false;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAtMs = Infinity;
  private tick: NodeJS.Timeout | null = null;
  private statsTick: NodeJS.Timeout | null = null;
  private lastDrops: Float64Array;
  private errorsLogged = 0;
  /** One bound callback shared by every port (no closure per port or per wake-up). */
  readonly kick = (): void => {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(this.pass);
  };
  private readonly pass = (): void => { this.scheduled = false; if (this.running) this.runPass(); };
  private readonly onTimer = (): void => {
    this.timer = null; this.timerAtMs = Infinity;
    this.stats.timerWakeups++;
    if (this.running) this.runPass();
  };

  constructor(private readonly bridge: Bridge, private readonly log: Logger) {
    this.lastDrops = new Float64Array(bridge.drops.length);
  }

  /** Attach every current port and start the timers. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const p of this.bridge.ports()) this.attach(p.backend);
    this.tick = setInterval(this.kick, TICK_MS);
    this.statsTick = setInterval(() => this.logDrops(), STATS_LOG_MS);
    this.statsTick.unref();
    this.kick();
  }

  /** Route a backend's readiness to this loop (ports added at run time). */
  attach(backend: PortBackend): void {
    backend.onReadable = this.kick;
    this.kick();
  }

  detach(backend: PortBackend): void {
    if (backend.onReadable === this.kick) backend.onReadable = null;
  }

  stop(): void {
    this.running = false;
    for (const p of this.bridge.ports()) this.detach(p.backend);
    if (this.timer) clearTimeout(this.timer);
    if (this.tick) clearInterval(this.tick);
    if (this.statsTick) clearInterval(this.statsTick);
    this.timer = null; this.tick = null; this.statsTick = null; this.timerAtMs = Infinity;
  }

  /** One poll pass now (also used by the control side after changes that may release frames). */
  runPass(): void {
    const nowMs = nowEpochMs();
    let n = 0;
    try {
      n = this.bridge.poll(nowMs);
    } catch (err) {
      // A throw from the datapath is a bug (STYLE 4.8): log it (the first few with the stack),
      // drop what the pass held, and keep forwarding.
      this.stats.errors++;
      if (this.errorsLogged < 5) { this.errorsLogged++; this.log.error({ err, bridge: this.bridge.name }, 'datapath poll pass threw (bug); continuing'); }
    }
    this.stats.passes++;
    this.stats.frames += n;
    // A port may still hold frames when any batch came back full (n >= MAX_BURST is implied).
    if (n >= MAX_BURST) this.kick();
    this.armTimer(nowMs);
  }

  private armTimer(nowMs: number): void {
    let t: number;
    try { t = this.bridge.nextEventMs(nowMs); } catch { t = Infinity; }
    if (t === Infinity || t >= this.timerAtMs) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = t - nowMs;
    this.timerAtMs = t;
    this.timer = setTimeout(this.onTimer, delay > 0 ? Math.ceil(delay) : 0);
  }

  private logDrops(): void {
    if (!this.log.isLevelEnabled('debug')) return;
    const d = this.bridge.drops, last = this.lastDrops;
    let delta: Record<string, number> | null = null;
    for (let i = 0; i < d.length; i++) {
      if (d[i] !== last[i]) { (delta ??= {})[DROP_NAMES[i] ?? String(i)] = d[i] - last[i]; last[i] = d[i]; }
    }
    if (delta !== null) this.log.debug({ dropDeltas: delta, errors: this.stats.errors }, 'drops in the last interval');
  }
}
