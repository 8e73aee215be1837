// One BFD session (RFC 5880 asynchronous mode, no Echo, no Demand, no authentication): the
// liveness check of a VXLAN tunnel, interoperable with Open vSwitch's `bfd:enable=true`. The
// tunnel port feeds it received inner frames and asks it when to send; time is always passed in
// as `nowMs` and randomness is injected, so the state machine is deterministic under test.
import {
  BFD_CONTROL_AUTH_MIN_LEN, BFD_CONTROL_LEN, BFD_DIAG, BFD_DIAG_NAMES, BFD_STATE, BFD_STATE_NAMES, BFD_VERSION,
  BfdView, type BfdState,
} from '../packet/bfd.js';
import {
  BFD_DEFAULT_DST_IP, BFD_DEFAULT_DST_MAC, BFD_DEFAULT_SRC_IP, BFD_FRAME_CONTROL_OFF, BFD_TTL, BFD_UDP_SRC_PORT_MIN,
  BfdFrameInfo, buildBfdFrame, findBfdFrame, type BfdFrameAddrs, type BfdRxFilter,
} from '../packet/bfd-frame.js';

/** Open vSwitch's defaults (bfd:min_tx, bfd:min_rx, bfd:mult). */
export const BFD_DEFAULT_MIN_TX_MS = 100;
export const BFD_DEFAULT_MIN_RX_MS = 1000;
export const BFD_DEFAULT_MULTIPLIER = 3;
/** Desired Min TX while the session is not Up: at least 1 s (RFC 5880 §6.8.3). */
export const BFD_SLOW_TX_MS = 1000;
/** Largest interval in ms whose microseconds fit the 32-bit wire fields. */
export const BFD_MAX_INTERVAL_MS = 4_294_967;

/** Counter slots (index into BfdSession.counters); names in BFD_COUNTER_NAMES. */
export const BfdCounter = {
  RxPackets: 0, TxPackets: 1,
  DropTooShort: 2, DropBadTtl: 3, DropBadVersion: 4, DropBadLength: 5, DropZeroDetectMult: 6, DropMultipoint: 7,
  DropZeroMyDiscriminator: 8, DropBadYourDiscriminator: 9, DropZeroYourDiscriminator: 10, DropAuth: 11, DropAdminDown: 12,
  PollStarted: 13, PollCompleted: 14, DetectExpired: 15, ForwardingFlaps: 16,
} as const;
export const BFD_COUNTER_NAMES = [
  'rx-packets', 'tx-packets',
  'drop-too-short', 'drop-bad-ttl', 'drop-bad-version', 'drop-bad-length', 'drop-zero-detect-mult', 'drop-multipoint',
  'drop-zero-my-discriminator', 'drop-bad-your-discriminator', 'drop-zero-your-discriminator', 'drop-auth', 'drop-admin-down',
  'poll-started', 'poll-completed', 'detect-expired', 'forwarding-flaps',
] as const;

/** The timing parameters (config keys min-tx, min-rx, multiplier). */
export interface BfdParams { minTxMs: number; minRxMs: number; multiplier: number }

export interface BfdSessionOptions extends Partial<BfdParams> {
  /** bfd.LocalDiscr: 1..2^32-1; default random (from `random`). Give each session of a host its own. */
  discriminator?: number;
  /** Uniform in [0, 1): jitter and the default discriminator. Default Math.random. */
  random?: () => number;
  /** Inner Ethernet source: the tunnel port's MAC (Open vSwitch: the interface's MAC). Default 02:00 + the discriminator. */
  srcMac?: number;
  /** Inner Ethernet destination (bfd_local_dst_mac), default 00:23:20:00:00:01. */
  dstMac?: number;
  /** Inner IPv4 source (bfd_src_ip), default 169.254.1.1; when not the default, received BFD must be sent to it. */
  srcIp?: number;
  /** Inner IPv4 destination (bfd_dst_ip), default 169.254.1.0. */
  dstIp?: number;
  /** UDP source port, 49152-65535, fixed for the session (see bfdUdpSrcPort). Default 49152. */
  udpSrcPort?: number;
  /** bfd_remote_dst_mac: take only BFD frames sent to this MAC; default 0 (any). */
  remoteDstMac?: number;
}

/** Cold-path status, in the shape of Open vSwitch's bfd_status column. */
export interface BfdStatus {
  state: string; forwarding: boolean; diagnostic: string;
  remoteState: string; remoteDiagnostic: string; flapCount: number;
}

/** Throw RangeError unless the parameters are usable (checked at configure time, never per packet). */
export function validateBfdParams(p: BfdParams): void {
  const check = (key: string, v: number, max: number, unit: string): void => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`BFD ${key} ${v}${unit} is out of range 1-${max}`);
  };
  check('min-tx', p.minTxMs, BFD_MAX_INTERVAL_MS, ' ms');
  check('min-rx', p.minRxMs, BFD_MAX_INTERVAL_MS, ' ms');
  check('multiplier', p.multiplier, 255, '');
}

const SLOW_TX_US = BFD_SLOW_TX_MS * 1000;

export class BfdSession {
  /** bfd.SessionState and bfd.LocalDiag. */
  state: BfdState = BFD_STATE.Down;
  diag = 0;
  /** What the peer last told us (reset when the detection time expires). */
  remoteState: BfdState = BFD_STATE.Down;
  remoteDiag = 0;
  remoteDiscriminator = 0;
  remoteDetectMult = 0;
  /** bfd.RemoteMinRxInterval (µs): starts at 1 (RFC 5880 §6.8.1); 0 = the peer wants no periodic packets. */
  remoteMinRxUs = 1;
  /** The peer's Desired Min TX Interval (µs). */
  remoteMinTxUs = 0;
  readonly localDiscriminator: number;
  /** Float64Array indexed by BfdCounter (exact to 2^53). */
  readonly counters = new Float64Array(BFD_COUNTER_NAMES.length);
  /** Called after every change of `state` (not on a diag-only change), with the state left. */
  onStateChange: ((session: BfdSession, oldState: BfdState) => void) | null = null;

  private mult: number;
  private cfgMinTxUs: number;          // configured (what a poll sequence moves to)
  private cfgMinRxUs: number;
  private effMinTxUs: number;          // in effect for our timers
  private effMinRxUs: number;
  private polling = false;
  private pollMinTxUs = 0;             // advertised during the poll sequence, in effect once it ends
  private pollMinRxUs = 0;
  private finalPending = false;
  private finalDueMs = 0;
  private lastTxMs = Number.NEGATIVE_INFINITY;
  private nextTxMs: number;
  private detectDeadlineMs = Number.POSITIVE_INFINITY;
  private forwardingNow = false;
  private readonly random: () => number;
  private readonly addrs: BfdFrameAddrs;
  private readonly filter: BfdRxFilter;
  private readonly view = new BfdView();
  private readonly info = new BfdFrameInfo();

  constructor(opts: BfdSessionOptions, nowMs: number) {
    const p: BfdParams = {
      minTxMs: opts.minTxMs ?? BFD_DEFAULT_MIN_TX_MS,
      minRxMs: opts.minRxMs ?? BFD_DEFAULT_MIN_RX_MS,
      multiplier: opts.multiplier ?? BFD_DEFAULT_MULTIPLIER,
    };
    validateBfdParams(p);
    this.random = opts.random ?? Math.random;
    const disc = opts.discriminator ?? 1 + Math.floor(this.random() * 0xffff_fffe);
    if (!Number.isInteger(disc) || disc < 1 || disc > 0xffff_ffff) {
      throw new RangeError(`BFD discriminator ${disc} is out of range 1-4294967295`);
    }
    const port = opts.udpSrcPort ?? BFD_UDP_SRC_PORT_MIN;
    if (!Number.isInteger(port) || port < BFD_UDP_SRC_PORT_MIN || port > 0xffff) {
      throw new RangeError(`BFD UDP source port ${port} is out of range ${BFD_UDP_SRC_PORT_MIN}-65535`);
    }
    this.localDiscriminator = disc;
    this.mult = p.multiplier;
    this.cfgMinTxUs = this.effMinTxUs = p.minTxMs * 1000;
    this.cfgMinRxUs = this.effMinRxUs = p.minRxMs * 1000;
    const srcIp = opts.srcIp ?? BFD_DEFAULT_SRC_IP;
    this.addrs = {
      srcMac: opts.srcMac ?? 0x0200_0000_0000 + disc, dstMac: opts.dstMac ?? BFD_DEFAULT_DST_MAC,
      srcIp, dstIp: opts.dstIp ?? BFD_DEFAULT_DST_IP, srcPort: port,
    };
    this.filter = { remoteDstMac: opts.remoteDstMac ?? 0, localIp: srcIp };
    this.nextTxMs = nowMs;                 // the first packet goes out at once, as Open vSwitch does
  }

  /** Up, and the peer signals no path problem: the tunnel may carry traffic (Open vSwitch's bfd_status:forwarding). */
  get forwarding(): boolean { return this.forwardingNow; }
  /** A poll sequence we started is waiting for its Final. */
  get inPoll(): boolean { return this.polling; }
  get params(): BfdParams { return { minTxMs: this.cfgMinTxUs / 1000, minRxMs: this.cfgMinRxUs / 1000, multiplier: this.mult }; }

  /** Periodic transmit interval before jitter: max(Desired Min TX (>= 1 s unless Up), the peer's Required Min RX). */
  get txIntervalMs(): number {
    const tx = this.state === BFD_STATE.Up ? this.effMinTxUs : Math.max(this.effMinTxUs, SLOW_TX_US);
    return Math.max(tx, this.remoteMinRxUs) / 1000;
  }
  /** Detection time (§6.8.4): the peer's Detect Mult x max(our Required Min RX, the peer's Desired Min TX). */
  get detectionTimeMs(): number {
    return this.remoteDetectMult * Math.max(this.effMinRxUs, this.remoteMinTxUs) / 1000;
  }

  /**
   * Run the timers at `nowMs`: a session in Init or Up whose detection time has passed goes Down
   * with diag 1. Returns true when a Control packet is due now (periodic, or a Final owed for a
   * received Poll); the caller then sends one with emit or emitFrame.
   */
  poll(nowMs: number): boolean {
    if ((this.state === BFD_STATE.Init || this.state === BFD_STATE.Up) && nowMs >= this.detectDeadlineMs) {
      this.counters[BfdCounter.DetectExpired]++;
      this.resetRemote();
      this.setState(BFD_STATE.Down, BFD_DIAG.ControlDetectionTimeExpired, nowMs);
    }
    return this.finalPending || (this.remoteMinRxUs !== 0 && nowMs >= this.nextTxMs);
  }

  /** When poll() next has something to do (a send, or a detection-time check); a time <= now if now. */
  nextDeadlineMs(): number {
    if (this.finalPending) return this.finalDueMs;
    let t = this.remoteMinRxUs !== 0 ? this.nextTxMs : Number.POSITIVE_INFINITY;
    if (this.state === BFD_STATE.Init || this.state === BFD_STATE.Up) t = Math.min(t, this.detectDeadlineMs);
    return t;
  }

  /**
   * Write the Control packet to send now into `v` (its 24 bytes from v.off) and account for it
   * as sent at `nowMs` (the next periodic send is scheduled, an owed Final is paid). Returns false,
   * writing nothing, if the view is shorter than 24 bytes.
   */
  emit(v: BfdView, nowMs: number): boolean {
    if (!v.checkLen()) return false;
    const up = this.state === BFD_STATE.Up;
    const tx = this.polling ? this.pollMinTxUs : this.effMinTxUs;
    v.version = BFD_VERSION; v.diag = this.diag; v.state = this.state;
    v.flags = 0;                                             // C, A, D, M clear
    v.final = this.finalPending;
    v.poll = this.polling && !this.finalPending;             // never P and F together (§6.5)
    v.detectMult = this.mult; v.length = BFD_CONTROL_LEN;
    v.myDiscriminator = this.localDiscriminator; v.yourDiscriminator = this.remoteDiscriminator;
    v.desiredMinTxUs = up ? tx : Math.max(tx, SLOW_TX_US);
    v.requiredMinRxUs = this.polling ? this.pollMinRxUs : this.effMinRxUs;
    v.requiredMinEchoRxUs = 0;
    this.finalPending = false;
    this.lastTxMs = nowMs;
    this.nextTxMs = nowMs + this.jittered(this.txIntervalMs);
    this.counters[BfdCounter.TxPackets]++;
    return true;
  }

  /** buildBfdFrame with this session's addresses, then emit into it. Returns bytes written (0: no room, nothing sent). */
  emitFrame(buf: Buffer, off: number, nowMs: number): number {
    const n = buildBfdFrame(buf, off, this.addrs);
    if (n === 0) return 0;
    this.emit(this.view.reset(buf, off + BFD_FRAME_CONTROL_OFF, BFD_CONTROL_LEN), nowMs);
    return n;
  }

  /**
   * Offer a received inner frame. Returns false if it is not this session's BFD (forward it as
   * data); true if it is (consumed: processed, or discarded and counted).
   */
  receiveFrame(buf: Buffer, off: number, len: number, nowMs: number): boolean {
    if (findBfdFrame(buf, off, len, this.info, this.filter) < 0) return false;
    this.receive(this.view.reset(buf, this.info.controlOff, this.info.controlLen), nowMs, this.info.ttl);
    return true;
  }

  /**
   * Process a received Control packet (`v.len` = the UDP payload bytes) per RFC 5880 §6.8.6.
   * `ttl` is the inner IP TTL (RFC 5881 §5: anything but 255 is discarded). Returns true if the
   * packet was valid and acted on; otherwise it is counted under its drop reason.
   */
  receive(v: BfdView, nowMs: number, ttl: number = BFD_TTL): boolean {
    const c = this.counters;
    c[BfdCounter.RxPackets]++;
    if (ttl !== BFD_TTL) { c[BfdCounter.DropBadTtl]++; return false; }
    if (!v.checkLen()) { c[BfdCounter.DropTooShort]++; return false; }
    if (v.version !== BFD_VERSION) { c[BfdCounter.DropBadVersion]++; return false; }
    const auth = v.authPresent, length = v.length;
    if (length < (auth ? BFD_CONTROL_AUTH_MIN_LEN : BFD_CONTROL_LEN) || length > v.len) { c[BfdCounter.DropBadLength]++; return false; }
    if (v.detectMult === 0) { c[BfdCounter.DropZeroDetectMult]++; return false; }
    if (v.multipoint) { c[BfdCounter.DropMultipoint]++; return false; }
    const myDisc = v.myDiscriminator;
    if (myDisc === 0) { c[BfdCounter.DropZeroMyDiscriminator]++; return false; }
    const yourDisc = v.yourDiscriminator, rState = v.state as BfdState;
    if (yourDisc !== 0) {
      if (yourDisc !== this.localDiscriminator) { c[BfdCounter.DropBadYourDiscriminator]++; return false; }
    } else if (rState !== BFD_STATE.Down && rState !== BFD_STATE.AdminDown) {
      c[BfdCounter.DropZeroYourDiscriminator]++; return false;
    }
    if (auth) { c[BfdCounter.DropAuth]++; return false; }     // no authentication configured here

    this.remoteDiscriminator = myDisc;
    this.remoteState = rState;
    this.remoteDiag = v.diag;
    this.remoteDetectMult = v.detectMult;
    this.remoteMinTxUs = v.desiredMinTxUs;
    const minRx = v.requiredMinRxUs;
    const minRxChanged = minRx !== this.remoteMinRxUs;
    this.remoteMinRxUs = minRx;
    if (v.final && this.polling) this.endPoll(nowMs);
    if (minRxChanged) this.reschedule();
    this.detectDeadlineMs = nowMs + this.detectionTimeMs;

    if (this.state === BFD_STATE.AdminDown) { c[BfdCounter.DropAdminDown]++; this.updateForwarding(); return false; }
    if (rState === BFD_STATE.AdminDown) {
      if (this.state !== BFD_STATE.Down) this.setState(BFD_STATE.Down, BFD_DIAG.NeighborSignaledSessionDown, nowMs);
    } else if (this.state === BFD_STATE.Down) {
      if (rState === BFD_STATE.Down) this.setState(BFD_STATE.Init, this.diag, nowMs);
      else if (rState === BFD_STATE.Init) this.setState(BFD_STATE.Up, this.diag, nowMs);
    } else if (this.state === BFD_STATE.Init) {
      if (rState === BFD_STATE.Init || rState === BFD_STATE.Up) this.setState(BFD_STATE.Up, this.diag, nowMs);
    } else if (rState === BFD_STATE.Down) {                  // Up
      this.setState(BFD_STATE.Down, BFD_DIAG.NeighborSignaledSessionDown, nowMs);
    }
    if (v.poll) { this.finalPending = true; this.finalDueMs = nowMs; }   // answer at once, outside the timer (§6.8.7)
    this.updateForwarding();
    return true;
  }

  /**
   * Change the timing parameters (validated; RangeError). In Init or Up this starts a poll sequence
   * (§6.5) advertising the new intervals; a slower transmit or a faster receive interval takes
   * effect only when the Final arrives (§6.8.3), the other directions at once. Not Up: at once.
   */
  setParams(p: Partial<BfdParams>, nowMs: number): void {
    const cur = this.params;
    const next: BfdParams = { minTxMs: p.minTxMs ?? cur.minTxMs, minRxMs: p.minRxMs ?? cur.minRxMs, multiplier: p.multiplier ?? cur.multiplier };
    validateBfdParams(next);
    this.mult = next.multiplier;
    const tx = next.minTxMs * 1000, rx = next.minRxMs * 1000;
    if (tx === this.cfgMinTxUs && rx === this.cfgMinRxUs) return;
    this.cfgMinTxUs = tx; this.cfgMinRxUs = rx;
    if (this.state !== BFD_STATE.Up) {
      this.effMinTxUs = tx; this.effMinRxUs = rx;
    } else {
      if (tx < this.effMinTxUs) this.effMinTxUs = tx;
      if (rx > this.effMinRxUs) this.effMinRxUs = rx;
    }
    this.reschedule();
    this.startPoll(nowMs);
  }

  /** Take the session administratively down (§6.8.16): state AdminDown, diag 7, sent at the slow rate. */
  adminDown(nowMs: number): void { this.setState(BFD_STATE.AdminDown, BFD_DIAG.AdministrativelyDown, nowMs); }

  /** Leave AdminDown: state Down, diag cleared, ready to come Up again. No effect in any other state. */
  enable(nowMs: number): void {
    if (this.state === BFD_STATE.AdminDown) this.setState(BFD_STATE.Down, BFD_DIAG.None, nowMs);
  }

  /** Counters by name (cold path: stats, logs, tests). */
  counterValues(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < BFD_COUNTER_NAMES.length; i++) out[BFD_COUNTER_NAMES[i]] = this.counters[i];
    return out;
  }

  status(): BfdStatus {
    return {
      state: BFD_STATE_NAMES[this.state], forwarding: this.forwardingNow, diagnostic: diagName(this.diag),
      remoteState: BFD_STATE_NAMES[this.remoteState], remoteDiagnostic: diagName(this.remoteDiag),
      flapCount: this.counters[BfdCounter.ForwardingFlaps],
    };
  }

  private setState(state: BfdState, diag: number, nowMs: number): void {
    const old = this.state;
    this.diag = diag;
    if (old === state) return;
    this.state = state;
    if (state !== BFD_STATE.Up) {
      // Parameters apply at once when not Up (§6.8.3), so a poll sequence has nothing left to do.
      this.polling = false;
      this.effMinTxUs = this.cfgMinTxUs; this.effMinRxUs = this.cfgMinRxUs;
    }
    this.reschedule();
    // Up leaves the slow rate: the Desired Min TX we advertise drops, which takes a poll (§6.8.3).
    if (state === BFD_STATE.Up && this.effMinTxUs < SLOW_TX_US) this.startPoll(nowMs);
    this.updateForwarding();
    this.onStateChange?.(this, old);
  }

  private startPoll(nowMs: number): void {
    if (this.polling || (this.state !== BFD_STATE.Init && this.state !== BFD_STATE.Up)) return;   // one at a time (§6.5)
    this.polling = true;
    this.pollMinTxUs = this.cfgMinTxUs; this.pollMinRxUs = this.cfgMinRxUs;
    this.counters[BfdCounter.PollStarted]++;
    if (this.nextTxMs > nowMs) this.nextTxMs = nowMs;       // the first Poll goes out now
  }

  private endPoll(nowMs: number): void {
    this.polling = false;
    this.counters[BfdCounter.PollCompleted]++;
    // What the poll advertised is now in effect, keeping any faster-tx/slower-rx change made since.
    this.effMinTxUs = Math.min(this.pollMinTxUs, this.cfgMinTxUs);
    this.effMinRxUs = Math.max(this.pollMinRxUs, this.cfgMinRxUs);
    this.reschedule();
    if (this.cfgMinTxUs !== this.pollMinTxUs || this.cfgMinRxUs !== this.pollMinRxUs) this.startPoll(nowMs);
  }

  /** The transmit interval changed: the next periodic send is one (new, jittered) interval after the last. */
  private reschedule(): void { this.nextTxMs = this.lastTxMs + this.jittered(this.txIntervalMs); }

  /** §6.8.7: 75-100 % of the interval, or 75-90 % when our Detect Mult is 1. */
  private jittered(intervalMs: number): number {
    let r = this.random();
    if (!(r >= 0 && r < 1)) r = 0;
    return intervalMs * (this.mult === 1 ? 0.75 + 0.15 * r : 0.75 + 0.25 * r);
  }

  private resetRemote(): void {
    this.remoteDiscriminator = 0; this.remoteState = BFD_STATE.Down; this.remoteDiag = 0;
    this.remoteDetectMult = 0; this.remoteMinRxUs = 1; this.remoteMinTxUs = 0;
  }

  private updateForwarding(): void {
    const d = this.remoteDiag;
    const f = this.state === BFD_STATE.Up && d !== BFD_DIAG.PathDown && d !== BFD_DIAG.ConcatenatedPathDown &&
      d !== BFD_DIAG.ReverseConcatenatedPathDown;
    if (f !== this.forwardingNow) { this.forwardingNow = f; this.counters[BfdCounter.ForwardingFlaps]++; }
  }
}

function diagName(d: number): string { return d < BFD_DIAG_NAMES.length ? BFD_DIAG_NAMES[d] : `Reserved (${d})`; }
