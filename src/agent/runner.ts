// The live loop of `sluice switch`: a port's readiness runs one bridge.poll() pass at once, inside
// its uv_poll callback (repeated while a port may still hold a full batch), a timer follows the
// next shaper release, and a 1 s tick drives expiry. Nothing here runs per frame.
//
// Latency (where a ping's microseconds went, measured: ports/README.md "Latency"):
//   - the pass runs inside the readiness callback, not one setImmediate later: the hop to the
//     check phase cost 25-75 µs per wake-up on a 2-vCPU VM;
//   - after traffic, a keep-warm tick (SLUICE_RX_WARM_US, 1 ms) runs an empty pass for up to
//     WARM_HOLD_MS: a pass that follows ~10 ms of idleness runs 5-7x slower than a warm one
//     (caches, TLBs and branch predictors of a descheduled vCPU), and a 1 kHz tick keeps the
//     path warm for ~1-2 % of a core. It stops when traffic stops: an idle switch never wakes.
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
import { epochNowMs } from '../datapath/clock.js';
import type { PortBackend } from '../datapath/port.js';

/** Epoch milliseconds with sub-ms resolution (read once per pass): the datapath's clock. */
export const nowEpochMs = epochNowMs;

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
/** Keep-warm tick period after traffic (SLUICE_RX_WARM_US; 0 = off). Node timers have 1 ms granularity. */
export const WARM_US = envNumber('SLUICE_RX_WARM_US', 1000);
/** The keep-warm tick stops this long after the last frame moved. */
export const WARM_HOLD_MS = envNumber('SLUICE_RX_WARM_HOLD_MS', 1000);

export interface RunnerStats { passes: number; frames: number; errors: number; timerWakeups: number; moderatedSleeps: number; spinHits: number; warmPasses: number; warmHits: number }

export class Runner {
  readonly stats: RunnerStats = { passes: 0, frames: 0, errors: 0, timerWakeups: 0, moderatedSleeps: 0, spinHits: 0, warmPasses: 0, warmHits: 0 };
  private scheduled = false;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAtMs = Infinity;
  private tick: NodeJS.Timeout | null = null;
  private statsTick: NodeJS.Timeout | null = null;
  private lastDrops: Float64Array;
  private errorsLogged = 0;
  private warm: NodeJS.Timeout | null = null;
  private lastFrameMs = 0;
  private inPass = false;
  /** A pass on the next turn of the event loop (start, attach, timers, a full batch left behind). */
  readonly kick = (): void => {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(this.deferredPass);
  };
  private readonly deferredPass = (): void => {
    this.scheduled = false;
    this.pass();
  };
  /**
   * Readiness of any port (one bound callback shared by all): the pass runs now, inside the
   * uv_poll callback. Several ports ready in one epoll round each run a pass; the later ones find
   * little or nothing, which costs less than the setImmediate hop it replaces.
   */
  readonly readable = (): void => {
    if (this.running && !this.inPass) this.pass();
  };
  private pass(): void {
    if (!this.running || this.inPass) return;
    this.inPass = true;
    try { this.passBody(); } finally { this.inPass = false; }
  }
  private passBody(): void {
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
  }
  /** Decaying count of frames moved (time constant DENSE_TAU_MS). */
  private density = 0;
  private densityAtMs = 0;
  private readonly sleepCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly onTimer = (): void => {
    this.timer = null; this.timerAtMs = Infinity;
    this.stats.timerWakeups++;
    if (this.running) this.runPass();
  };
  /**
   * Keep-warm tick: an (almost always empty) pass while traffic moved in the last WARM_HOLD_MS,
   * skipped when a pass ran within the last tick anyway (dense traffic keeps the path warm).
   */
  private readonly onWarm = (): void => {
    const now = nowEpochMs();
    if (!this.running || now - this.lastFrameMs > WARM_HOLD_MS) { this.stopWarm(); return; }
    if (this.inPass || now - this.lastNowMs < WARM_US / 1000) return;
    this.stats.warmPasses++;
    const n = this.pollOnce();
    if (n > 0) this.stats.warmHits++;
    this.after(n);
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
    backend.onReadable = this.readable;
    this.kick();
  }

  detach(backend: PortBackend): void {
    if (backend.onReadable === this.readable) backend.onReadable = null;
  }

  stop(): void {
    this.running = false;
    for (const p of this.bridge.ports()) this.detach(p.backend);
    if (this.timer) clearTimeout(this.timer);
    if (this.tick) clearInterval(this.tick);
    if (this.statsTick) clearInterval(this.statsTick);
    this.stopWarm();
    this.timer = null; this.tick = null; this.statsTick = null; this.timerAtMs = Infinity;
  }

  /** One poll pass now (also used by the control side after changes that may release frames). */
  runPass(): void {
    if (this.inPass) return;
    this.after(this.pollOnce());
  }

  private stopWarm(): void {
    if (this.warm) { clearInterval(this.warm); this.warm = null; }
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
    if (n > 0) {
      this.lastFrameMs = nowMs;
      if (this.warm === null && WARM_US > 0 && this.running) {
        this.warm = setInterval(this.onWarm, Math.max(1, Math.round(WARM_US / 1000)));
        this.warm.unref();
      }
    }
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
