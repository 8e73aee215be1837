// The live loop of `sluice switch`: readiness callbacks from the ports coalesce into one
// bridge.poll() pass per event-loop turn (repeated while a port may still hold a full batch), a
// timer follows the next shaper release, and a 1 s tick drives expiry. Nothing here runs per frame.
//
// Wake-up moderation (readiness passes only): a wake-up costs far more than a frame (context
// switch, event-loop turn, callback into JS: ~30 µs on a 2-vCPU VM), so after a pass that moved frames
//   - while traffic is sparse, optionally (SPIN_US > 0, off by default) the loop polls again without
//     sleeping for up to SPIN_US, catching an answer without a second wake-up (measured: no gain
//     for ping, whose reply already arrives within the same pass; it costs CPU);
//   - while traffic is dense (a decaying frame count over ~1 ms above DENSE_FRAMES), it sleeps
//     MODERATION_US between passes (Atomics.wait, the loop stays inside this pass) so frames gather
//     in the ports' kernel queues/rings and each pass moves a batch instead of 3-6 frames;
// both bounded by BUDGET_MS per readiness callback, after which control returns to the event loop.
import type { Logger } from 'pino';
import { MAX_BURST } from '../packet/batch.js';
import { DROP_NAMES } from '../datapath/counters.js';
import type { Bridge } from '../datapath/bridge.js';
import type { PortBackend } from '../datapath/port.js';

/** Epoch milliseconds with sub-ms resolution (read once per pass). */
export function nowEpochMs(): number { return performance.timeOrigin + performance.now(); }

export const TICK_MS = 1000;

function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  const x = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(x) && x >= 0 ? x : dflt;
}
/** Sleep between passes while traffic is dense (SLUICE_RX_MODERATION_US; 0 = off). */
export const MODERATION_US = envNumber('SLUICE_RX_MODERATION_US', 300);
/** Poll again without sleeping for this long after sparse traffic (SLUICE_RX_SPIN_US; 0 = off). */
export const SPIN_US = envNumber('SLUICE_RX_SPIN_US', 0);
/** Decaying frame count (time constant DENSE_TAU_MS) at or above which traffic counts as dense. */
export const DENSE_FRAMES = envNumber('SLUICE_RX_DENSE_FRAMES', 16);
const DENSE_TAU_MS = 1;
/** Longest stay inside one readiness callback (moderation + spinning), then back to the loop. */
export const BUDGET_MS = envNumber('SLUICE_RX_BUDGET_MS', 2);
export const STATS_LOG_MS = 5000;

export interface RunnerStats { passes: number; frames: number; errors: number; timerWakeups: number; moderatedSleeps: number; spinHits: number }

export class Runner {
  readonly stats: RunnerStats = { passes: 0, frames: 0, errors: 0, timerWakeups: 0, moderatedSleeps: 0, spinHits: 0 };
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
  private readonly pass = (): void => {
    this.scheduled = false;
    if (!this.running) return;
    let n = this.pollOnce();
    if (n === 0) { this.after(n); return; }
    const t0 = performance.now();
    let spinFrom = t0;
    while (this.running) {
      if (n >= MAX_BURST) {
        // a port may still hold a full batch: poll again at once (sleeping here would cap the rate)
      } else if (this.density >= DENSE_FRAMES && MODERATION_US > 0) {
        Atomics.wait(this.sleepCell, 0, 0, MODERATION_US / 1000);
        this.stats.moderatedSleeps++;
      } else if (SPIN_US <= 0 || performance.now() - spinFrom >= SPIN_US / 1000) {
        break;
      }
      const dense = this.density >= DENSE_FRAMES && MODERATION_US > 0;
      n = this.pollOnce();
      const t = performance.now();
      if (n > 0) spinFrom = t;
      if (n === 0 && dense) break;             // the sleep brought nothing: traffic paused
      if (n > 0 && !dense && n < MAX_BURST) this.stats.spinHits++;
      if (t - t0 >= BUDGET_MS) break;
    }
    this.after(n);
  };
  /** Decaying count of frames moved (time constant DENSE_TAU_MS). */
  private density = 0;
  private densityAtMs = 0;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
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
    this.after(this.pollOnce());
  }

  /** Re-run soon when a port may still hold a full batch; follow the next shaper release. */
  private after(n: number): void {
    // A port may still hold frames when any batch came back full (n >= MAX_BURST is implied).
    if (n >= MAX_BURST) this.kick();
    this.armTimer(this.lastNowMs);
  }

  private lastNowMs = 0;

  /** bridge.poll() once, counted; updates the traffic density. Returns frames received. */
  private pollOnce(): number {
    const nowMs = nowEpochMs();
    this.lastNowMs = nowMs;
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
    const dt = nowMs - this.densityAtMs;
    this.densityAtMs = nowMs;
    this.density = (dt < 20 * DENSE_TAU_MS ? this.density * Math.exp(-dt / DENSE_TAU_MS) : 0) + n;
    return n;
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
