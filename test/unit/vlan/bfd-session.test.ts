// BFD session state machine (RFC 5880 §6.8) on a fake clock: two sessions wired through real
// inner frames (emitFrame -> receiveFrame) come Up, detect a silent peer within the detection
// time, follow AdminDown, run Poll/Final; the slow rate, the jitter bounds, and every §6.8.6
// discard rule, each counted under its own reason.
import { describe, expect, it } from 'vitest';
import { BFD_CONTROL_LEN, BFD_DIAG, BFD_STATE, BfdView, emitBfd, newBfdFields, parseBfd, type BfdFields } from '../../../src/packet/bfd.js';
import { BFD_DEFAULT_DST_IP, BFD_DEFAULT_DST_MAC, BFD_DEFAULT_SRC_IP, BFD_FRAME_CONTROL_OFF, BFD_FRAME_LEN, buildBfdFrame } from '../../../src/packet/bfd-frame.js';
import {
  BFD_COUNTER_NAMES, BFD_SLOW_TX_MS, BfdCounter, BfdSession, validateBfdParams, type BfdSessionOptions,
} from '../../../src/vlan/bfd-session.js';

/** xorshift32: a seeded uniform source in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

type Who = 'a' | 'b';
interface Sent { t: number; from: Who; f: BfdFields }
interface Change { t: number; who: Who; from: number; to: number; diag: number }

/** Two sessions joined by a zero-latency link, one direction of which can be cut; time only moves in runUntil. */
class Wire {
  now = 0;
  readonly s: Record<Who, BfdSession>;
  /** Whether frames sent by a (b) reach the other side. */
  readonly delivers: Record<Who, boolean> = { a: true, b: true };
  readonly sent: Sent[] = [];
  readonly changes: Change[] = [];
  /** Last time each side received a frame. */
  readonly lastRx: Record<Who, number> = { a: -1, b: -1 };
  private readonly buf = Buffer.alloc(BFD_FRAME_LEN + 32, 0);
  private readonly view = new BfdView();

  constructor(aOpts: BfdSessionOptions = {}, bOpts: BfdSessionOptions = {}) {
    this.s = {
      a: new BfdSession({ discriminator: 0xaaaa_0001, random: rng(11), ...aOpts }, 0),
      b: new BfdSession({ discriminator: 0xbbbb_0002, random: rng(22), ...bOpts }, 0),
    };
    for (const who of ['a', 'b'] as const) {
      this.s[who].onStateChange = (x, old) => { this.changes.push({ t: this.now, who, from: old, to: x.state, diag: x.diag }); };
    }
  }

  /** Process every deadline up to and including `untilMs`, then stop there. */
  runUntil(untilMs: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 1_000_000) throw new Error('runaway simulation');
      const next = Math.max(this.now, Math.min(this.s.a.nextDeadlineMs(), this.s.b.nextDeadlineMs()));
      if (next > untilMs) break;
      this.now = next;
      this.service('a'); this.service('b');
    }
    this.now = untilMs;
  }

  sentBy(who: Who, fromMs = 0, toMs = Infinity): Sent[] { return this.sent.filter((x) => x.from === who && x.t >= fromMs && x.t <= toMs); }
  changesOf(who: Who): Change[] { return this.changes.filter((c) => c.who === who); }

  private service(who: Who): void {
    const me = this.s[who], peer: Who = who === 'a' ? 'b' : 'a';
    for (let n = 0; me.poll(this.now); n++) {
      if (n > 10) throw new Error('a session asked to send more than 10 times in one instant');
      const len = me.emitFrame(this.buf, 0, this.now);
      expect(len).toBe(BFD_FRAME_LEN);
      this.sent.push({ t: this.now, from: who, f: parseBfd(this.view.reset(this.buf, BFD_FRAME_CONTROL_OFF, BFD_CONTROL_LEN)) });
      if (this.delivers[who]) {
        expect(this.s[peer].receiveFrame(this.buf, 0, len, this.now)).toBe(true);
        this.lastRx[peer] = this.now;
      }
    }
  }
}

/** Send times of a session with nobody answering, for `count` packets. */
function loneSendTimes(opts: BfdSessionOptions, count: number): number[] {
  const s = new BfdSession({ discriminator: 7, ...opts }, 0);
  const buf = Buffer.alloc(BFD_FRAME_LEN);
  const times: number[] = [];
  while (times.length < count) {
    const t = s.nextDeadlineMs();
    expect(s.poll(t)).toBe(true);
    s.emitFrame(buf, 0, t);
    times.push(t);
  }
  return times;
}
const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]);

describe('BfdSession: two sessions through real frames', () => {
  it('come Up from Down within a few intervals and stay Up, forwarding, with no flap', () => {
    const w = new Wire();
    w.runUntil(3 * BFD_SLOW_TX_MS);
    for (const who of ['a', 'b'] as const) {
      expect(w.s[who].state).toBe(BFD_STATE.Up);
      expect(w.s[who].forwarding).toBe(true);
      expect(w.changesOf(who).at(-1)).toMatchObject({ to: BFD_STATE.Up });
    }
    expect(w.s.a.remoteDiscriminator).toBe(0xbbbb_0002);
    expect(w.s.b.remoteDiscriminator).toBe(0xaaaa_0001);
    const upAt = Math.max(...w.changes.map((c) => c.t));
    w.runUntil(60_000);
    expect(w.changes.filter((c) => c.t > upAt)).toEqual([]);    // a minute of jitter never expired a detection time
    expect(w.s.a.counters[BfdCounter.ForwardingFlaps]).toBe(1);
    expect(w.s.a.status()).toEqual({ state: 'up', forwarding: true, diagnostic: 'No Diagnostic', remoteState: 'up', remoteDiagnostic: 'No Diagnostic', flapCount: 1 });
    // Every received packet was valid.
    const drops = BFD_COUNTER_NAMES.map((n, i) => [n, w.s.b.counters[i]] as const).filter(([n, v]) => n.startsWith('drop-') && v !== 0);
    expect(drops).toEqual([]);
    expect(w.s.b.counters[BfdCounter.RxPackets]).toBe(w.sentBy('a').length);
  });

  it('once Up, each side sends every max(its min-tx, the peer\'s min-rx), jittered to 75-100 %', () => {
    const w = new Wire({ minTxMs: 100, minRxMs: 300 }, { minTxMs: 200, minRxMs: 150 });
    w.runUntil(10_000);
    expect(w.s.a.txIntervalMs).toBe(150);                       // max(100, 150)
    expect(w.s.b.txIntervalMs).toBe(300);                       // max(200, 300)
    const steady = (who: Who): number[] => gaps(w.sentBy(who, 5_000).map((x) => x.t));
    for (const [who, iv] of [['a', 150], ['b', 300]] as const) {
      const g = steady(who);
      expect(g.length).toBeGreaterThan(10);
      expect(Math.min(...g)).toBeGreaterThanOrEqual(0.75 * iv);
      expect(Math.max(...g)).toBeLessThanOrEqual(iv);
    }
    expect(w.sentBy('a', 5_000).every((x) => !x.f.poll && !x.f.final)).toBe(true);   // polls are over
  });

  it.each([
    // [a (the side that goes silent), b (the side that detects), b's detection time]
    ['defaults', {}, {}, 3 * 1000],
    ['mult 5, peer min-tx above local min-rx', { multiplier: 5, minTxMs: 300 }, { minRxMs: 200 }, 5 * 300],
    ['mult 1', { multiplier: 1, minTxMs: 50 }, { minRxMs: 100, minTxMs: 100 }, 1 * 100],
  ] as const)('a silent peer is detected after its Detect Mult x max(min-rx, peer min-tx): %s', (_n, aOpts, bOpts, detectMs) => {
    const w = new Wire(aOpts, bOpts);
    w.runUntil(10_000);
    expect([w.s.a.state, w.s.b.state]).toEqual([BFD_STATE.Up, BFD_STATE.Up]);
    expect(w.s.b.detectionTimeMs).toBe(detectMs);
    w.delivers.a = false;                                       // a's packets stop reaching b
    const lastHeard = w.lastRx.b;
    w.runUntil(lastHeard + detectMs - 0.001);
    expect(w.s.b.state).toBe(BFD_STATE.Up);                     // not a moment early
    w.runUntil(lastHeard + detectMs + 10 * BFD_SLOW_TX_MS);
    const down = w.changesOf('b').filter((c) => c.t > lastHeard);
    expect(down[0]).toEqual({ t: lastHeard + detectMs, who: 'b', from: BFD_STATE.Up, to: BFD_STATE.Down, diag: BFD_DIAG.ControlDetectionTimeExpired });
    expect(w.s.b.counters[BfdCounter.DetectExpired]).toBe(1);
    expect(w.s.b.remoteDiscriminator).toBe(0);                  // forgotten after a detection time (§6.8.1)
    // b still reaches a, which hears b's Down and goes Down itself with diag 3.
    expect(w.changesOf('a').find((c) => c.t > lastHeard)).toMatchObject({ to: BFD_STATE.Down, diag: BFD_DIAG.NeighborSignaledSessionDown });
    expect(w.s.b.state).not.toBe(BFD_STATE.Up);
    expect(w.s.a.forwarding || w.s.b.forwarding).toBe(false);
  });

  it('the peer\'s AdminDown takes the session Down with diag 3; enable brings both back Up', () => {
    const w = new Wire();
    w.runUntil(10_000);
    w.s.a.adminDown(w.now);
    expect([w.s.a.state, w.s.a.diag, w.s.a.forwarding]).toEqual([BFD_STATE.AdminDown, BFD_DIAG.AdministrativelyDown, false]);
    w.runUntil(20_000);
    expect(w.changesOf('b').filter((c) => c.t >= 10_000)).toEqual([
      { t: expect.any(Number), who: 'b', from: BFD_STATE.Up, to: BFD_STATE.Down, diag: BFD_DIAG.NeighborSignaledSessionDown },
    ]);
    expect(w.s.b.state).toBe(BFD_STATE.Down);                   // and it stays Down while a is AdminDown
    const adminPackets = w.sentBy('a', 10_000);
    expect(adminPackets.length).toBeGreaterThan(5);
    expect(adminPackets.every((x) => x.f.state === BFD_STATE.AdminDown && x.f.diag === BFD_DIAG.AdministrativelyDown)).toBe(true);
    expect(gaps(adminPackets.map((x) => x.t)).every((g) => g >= 750)).toBe(true);   // slow rate
    expect(w.s.a.counters[BfdCounter.DropAdminDown]).toBeGreaterThan(0);            // b's packets are discarded
    w.s.a.enable(w.now);
    expect([w.s.a.state, w.s.a.diag]).toEqual([BFD_STATE.Down, BFD_DIAG.None]);
    w.runUntil(25_000);
    expect([w.s.a.state, w.s.b.state]).toEqual([BFD_STATE.Up, BFD_STATE.Up]);
  });

  it('a peer signalling Concatenated Path Down keeps the session Up but not forwarding', () => {
    const s = new BfdSession({ discriminator: 5, random: rng(3) }, 0);
    const rx = new BfdView().reset(Buffer.alloc(24), 0, 24);
    emitBfd({ ...peerPacket(), state: BFD_STATE.Init, yourDiscriminator: 5 }, rx);
    expect(s.receive(rx, 0)).toBe(true);
    expect([s.state, s.forwarding]).toEqual([BFD_STATE.Up, true]);
    emitBfd({ ...peerPacket(), state: BFD_STATE.Up, yourDiscriminator: 5, diag: BFD_DIAG.ConcatenatedPathDown }, rx);
    expect(s.receive(rx, 10)).toBe(true);
    expect([s.state, s.forwarding, s.counters[BfdCounter.ForwardingFlaps]]).toEqual([BFD_STATE.Up, false, 2]);
  });
});

describe('BfdSession: Poll and Final', () => {
  /** Send whatever `from` has due now and hand it to `to`; returns what was sent. */
  function hop(from: BfdSession, to: BfdSession, nowMs: number): BfdFields {
    const buf = Buffer.alloc(BFD_FRAME_LEN);
    expect(from.poll(nowMs)).toBe(true);
    const n = from.emitFrame(buf, 0, nowMs);
    expect(to.receiveFrame(buf, 0, n, nowMs)).toBe(true);
    return parseBfd(new BfdView().reset(buf, BFD_FRAME_CONTROL_OFF, 24));
  }

  it('setParams while Up starts a poll advertising the new values; the Final ends it and applies them', () => {
    const w = new Wire();
    w.runUntil(10_000);
    const { a, b } = w.s;
    expect([a.inPoll, b.inPoll]).toEqual([false, false]);
    expect([a.txIntervalMs, a.detectionTimeMs]).toEqual([1000, 3000]);
    const t = w.now;
    a.setParams({ minTxMs: 2000, minRxMs: 300 }, t);
    expect(a.inPoll).toBe(true);
    expect(a.counters[BfdCounter.PollStarted]).toBeGreaterThanOrEqual(2);   // one on going Up, this one
    // Until the Final: a slower tx and a faster rx are not yet in effect (§6.8.3).
    expect([a.txIntervalMs, a.detectionTimeMs]).toEqual([1000, 3000]);
    const p = hop(a, b, t);                                     // the Poll goes out at once
    expect([p.poll, p.final, p.desiredMinTxUs, p.requiredMinRxUs]).toEqual([true, false, 2_000_000, 300_000]);
    expect(b.nextDeadlineMs()).toBeLessThanOrEqual(t);          // b owes a Final now, outside its timer
    const f = hop(b, a, t);
    expect([f.poll, f.final]).toEqual([false, true]);
    expect(a.inPoll).toBe(false);
    expect(a.counters[BfdCounter.PollCompleted]).toBe(a.counters[BfdCounter.PollStarted]);
    expect([a.txIntervalMs, a.detectionTimeMs]).toEqual([2000, 900]);   // max(2000, 1000); 3 x max(300, 100)
    expect(b.txIntervalMs).toBe(300);                           // b now may send as fast as a asked
    expect(a.params).toEqual({ minTxMs: 2000, minRxMs: 300, multiplier: 3 });
    // The next packets carry neither bit.
    w.runUntil(w.now + 5000);
    expect(w.sentBy('a', t + 1).every((x) => !x.f.poll && !x.f.final)).toBe(true);
    expect(w.sentBy('a', t + 1).every((x) => x.f.desiredMinTxUs === 2_000_000 && x.f.requiredMinRxUs === 300_000)).toBe(true);
  });

  it('a faster tx and a slower rx take effect at once, before the Final', () => {
    const w = new Wire({}, { minRxMs: 10 });
    w.runUntil(10_000);
    const a = w.s.a;
    expect([a.txIntervalMs, a.detectionTimeMs]).toEqual([100, 3 * 1000]);
    a.setParams({ minTxMs: 50, minRxMs: 2000 }, w.now);
    expect(a.inPoll).toBe(true);
    expect([a.txIntervalMs, a.detectionTimeMs]).toEqual([50, 3 * 2000]);
  });

  it('a packet never carries P and F together: an owed Final goes first, the Poll on the next packet', () => {
    const w = new Wire();
    w.runUntil(10_000);
    const { a, b } = w.s;
    const t = w.now;
    a.setParams({ minRxMs: 500 }, t);
    b.setParams({ minRxMs: 400 }, t);
    const fromA = hop(a, b, t);                                 // a's Poll
    expect([fromA.poll, fromA.final]).toEqual([true, false]);
    const fromB = hop(b, a, t);                                 // b owes a Final and is polling itself
    expect([fromB.poll, fromB.final]).toEqual([false, true]);
    expect([a.inPoll, b.inPoll]).toEqual([false, true]);
    expect(b.detectionTimeMs).toBe(3 * 1000);                   // b's min-rx 1000 -> 400 waits for its own Final
    w.runUntil(t + 3000);                                       // b's next periodic packet carries its Poll
    expect([a.inPoll, b.inPoll]).toEqual([false, false]);
    expect(b.detectionTimeMs).toBe(3 * 400);                    // 3 x max(400, a's desired tx 100)
    expect(a.detectionTimeMs).toBe(3 * 500);
    expect(w.sent.every((x) => !(x.f.poll && x.f.final))).toBe(true);
  });

  it('setParams validates, and in Down applies at once without a poll', () => {
    const s = new BfdSession({ discriminator: 9, random: rng(4) }, 0);
    s.setParams({ minTxMs: 300, minRxMs: 700, multiplier: 4 }, 0);
    expect([s.inPoll, s.counters[BfdCounter.PollStarted]]).toEqual([false, 0]);
    expect(s.params).toEqual({ minTxMs: 300, minRxMs: 700, multiplier: 4 });
    expect(() => s.setParams({ minTxMs: 0 }, 0)).toThrow(new RangeError('BFD min-tx 0 ms is out of range 1-4294967'));
    expect(() => s.setParams({ multiplier: 256 }, 0)).toThrow(new RangeError('BFD multiplier 256 is out of range 1-255'));
    expect(() => validateBfdParams({ minTxMs: 100, minRxMs: 1.5, multiplier: 3 })).toThrow(/min-rx 1.5 ms/);
    expect(s.params).toEqual({ minTxMs: 300, minRxMs: 700, multiplier: 4 });   // a refused change changes nothing
    expect(() => new BfdSession({ discriminator: 0 }, 0)).toThrow(/discriminator 0 is out of range/);
    expect(() => new BfdSession({ udpSrcPort: 3784 }, 0)).toThrow(/UDP source port 3784/);
  });
});

describe('BfdSession: timers', () => {
  it('sends at the slow 1 s rate while not Up, advertising 1 s, whatever min-tx says', () => {
    const w = new Wire({ minTxMs: 100 }, { minRxMs: 100 });
    w.delivers.b = false;                                       // a never hears b: a stays Down, b goes Init
    w.runUntil(20_000);
    expect(w.s.a.state).toBe(BFD_STATE.Down);
    const down = w.sentBy('a');
    expect(down.length).toBeGreaterThan(15);
    expect(gaps(down.map((x) => x.t)).every((g) => g >= 750 && g <= 1000)).toBe(true);
    expect(down.every((x) => x.f.desiredMinTxUs === 1_000_000 && x.f.state === BFD_STATE.Down)).toBe(true);
    // Let b's packets through: once Up, a sends every 75-100 ms and advertises 100 ms.
    w.delivers.b = true;
    w.runUntil(40_000);
    expect(w.s.a.state).toBe(BFD_STATE.Up);
    const up = w.sentBy('a', 30_000);
    expect(gaps(up.map((x) => x.t)).every((g) => g >= 75 && g <= 100)).toBe(true);
    expect(up.every((x) => x.f.desiredMinTxUs === 100_000)).toBe(true);
  });

  it.each([
    ['Detect Mult 3: 75-100 %', 3, 0.75, 1.0],
    ['Detect Mult 1: 75-90 %', 1, 0.75, 0.9],
  ] as const)('jitter over many draws, %s of the interval, reaching both ends', (_n, multiplier, lo, hi) => {
    const g = gaps(loneSendTimes({ multiplier, random: rng(12345) }, 3000));
    const min = Math.min(...g), max = Math.max(...g);
    expect(min).toBeGreaterThanOrEqual(lo * 1000);
    expect(max).toBeLessThanOrEqual(hi * 1000);
    expect(min).toBeLessThan(lo * 1000 + 5);                    // the draws do spread over the range
    expect(max).toBeGreaterThan(hi * 1000 - 5);
    const mean = g.reduce((x, y) => x + y, 0) / g.length;
    expect(mean).toBeGreaterThan(((lo + hi) / 2) * 1000 - 10);  // uniform: mean near the middle
    expect(mean).toBeLessThan(((lo + hi) / 2) * 1000 + 10);
  });

  it('the random source sets the jitter: 0 gives 75 %, and the first packet goes out at once', () => {
    const times = loneSendTimes({ random: () => 0 }, 4);
    expect(times).toEqual([0, 750, 1500, 2250]);
  });

  it('a peer asking for no packets (Required Min RX 0) gets no periodic ones, but a Poll is still answered', () => {
    const s = new BfdSession({ discriminator: 5, random: rng(6) }, 0);
    const tx = new BfdView().reset(Buffer.alloc(24), 0, 24);
    expect(s.poll(0)).toBe(true);
    s.emit(tx, 0);
    const rx = new BfdView().reset(Buffer.alloc(24), 0, 24);
    emitBfd({ ...peerPacket(), requiredMinRxUs: 0 }, rx);
    expect(s.receive(rx, 10)).toBe(true);                      // now Init, detection time 3 s
    expect(s.nextDeadlineMs()).toBe(10 + 3000);                 // only the detection-time check is left
    expect(s.poll(2900)).toBe(false);                           // a periodic packet would have been due by 1010
    emitBfd({ ...peerPacket(), requiredMinRxUs: 0, poll: true }, rx);
    expect(s.receive(rx, 2900)).toBe(true);
    expect(s.poll(2900)).toBe(true);
    expect(s.emit(tx, 2900)).toBe(true);
    expect([tx.final, tx.poll]).toEqual([true, false]);
    expect(s.poll(2900)).toBe(false);
    expect(s.poll(2900 + 3000)).toBe(true);                     // detection time expired: Down, remote forgotten,
    expect([s.state, s.diag, s.remoteMinRxUs]).toEqual([BFD_STATE.Down, BFD_DIAG.ControlDetectionTimeExpired, 1]);   // periodic again
  });

  it('emits exactly the Control packet its state says, byte for byte, touching nothing else', () => {
    const s = new BfdSession({ discriminator: 0x01020304, random: () => 0 }, 0);
    const buf = Buffer.alloc(28, 0xa5);
    expect(s.emit(new BfdView().reset(buf, 2, 24), 0)).toBe(true);
    // 0x20: version 1, diag 0; 0x40: state Down, no flags; mult 3; Length 24; my 0x01020304; your 0;
    // Desired Min TX 1 s (the slow rate: not Up), Required Min RX 1 s, Required Min Echo RX 0.
    expect(buf.toString('hex')).toBe('a5a5' + '20400318' + '01020304' + '00000000' + '000f4240' + '000f4240' + '00000000' + 'a5a5');
  });

  it('emit refuses a view shorter than a Control packet, and emitFrame a buffer without room', () => {
    const s = new BfdSession({ discriminator: 5 }, 0);
    expect(s.emit(new BfdView().reset(Buffer.alloc(30, 0xa5), 0, 23), 0)).toBe(false);
    const small = Buffer.alloc(BFD_FRAME_LEN - 1, 0xa5);
    expect(s.emitFrame(small, 0, 0)).toBe(0);
    expect(small.every((b) => b === 0xa5)).toBe(true);
    expect(s.counters[BfdCounter.TxPackets]).toBe(0);
    expect(s.poll(0)).toBe(true);                               // still due
  });
});

/** A valid packet from a peer (discriminator 0x5eed) that has not heard from us: state Down, your 0. */
function peerPacket(): BfdFields {
  return { ...newBfdFields(), state: BFD_STATE.Down, detectMult: 3, myDiscriminator: 0x5eed, desiredMinTxUs: 1_000_000, requiredMinRxUs: 1_000_000 };
}

describe('BfdSession: received-packet validity (RFC 5880 §6.8.6)', () => {
  const LOCAL = 0x1234;
  type Case = [string, (f: BfdFields) => void, keyof typeof BfdCounter, { payloadLen?: number; ttl?: number; adminDown?: boolean }?];
  const cases: Case[] = [
    ['IP TTL not 255 (RFC 5881 §5)', () => {}, 'DropBadTtl', { ttl: 254 }],
    ['payload shorter than 24 bytes', () => {}, 'DropTooShort', { payloadLen: 20 }],
    ['version 0', (f) => { f.version = 0; }, 'DropBadVersion'],
    ['version 2', (f) => { f.version = 2; }, 'DropBadVersion'],
    ['Length below 24', (f) => { f.length = 23; }, 'DropBadLength'],
    ['Length beyond the payload', (f) => { f.length = 28; }, 'DropBadLength'],
    ['A bit with Length 24 (needs 26)', (f) => { f.authPresent = true; }, 'DropBadLength'],
    ['Detect Mult 0', (f) => { f.detectMult = 0; }, 'DropZeroDetectMult'],
    ['Multipoint bit', (f) => { f.multipoint = true; }, 'DropMultipoint'],
    ['My Discriminator 0', (f) => { f.myDiscriminator = 0; }, 'DropZeroMyDiscriminator'],
    ['Your Discriminator not ours', (f) => { f.yourDiscriminator = LOCAL + 1; }, 'DropBadYourDiscriminator'],
    ['Your Discriminator 0 in state Init', (f) => { f.state = BFD_STATE.Init; }, 'DropZeroYourDiscriminator'],
    ['Your Discriminator 0 in state Up', (f) => { f.state = BFD_STATE.Up; }, 'DropZeroYourDiscriminator'],
    ['A bit set (no authentication here)', (f) => { f.authPresent = true; f.length = 26; }, 'DropAuth', { payloadLen: 26 }],
    ['local session AdminDown', () => {}, 'DropAdminDown', { adminDown: true }],
  ];

  function deliver(mutate: (f: BfdFields) => void, extra: Case[3] = {}): { s: BfdSession; accepted: boolean } {
    const s = new BfdSession({ discriminator: LOCAL, random: rng(8) }, 0);
    if (extra.adminDown) s.adminDown(0);
    const f = peerPacket();
    mutate(f);
    const payloadLen = extra.payloadLen ?? 24;
    const buf = Buffer.alloc(64, 0);
    emitBfd(f, new BfdView().reset(buf, 0, 24));
    const accepted = s.receive(new BfdView().reset(buf, 0, payloadLen), 5, extra.ttl ?? 255);
    return { s, accepted };
  }

  it('the unmodified packet is valid and moves Down to Init (the cases below differ from it in one rule)', () => {
    const { s, accepted } = deliver(() => {});
    expect(accepted).toBe(true);
    expect([s.state, s.remoteDiscriminator, s.counters[BfdCounter.RxPackets]]).toEqual([BFD_STATE.Init, 0x5eed, 1]);
    for (const [name, , counter] of cases) expect(s.counters[BfdCounter[counter]], name).toBe(0);
  });

  it.each(cases)('discards and counts: %s', (_name, mutate, counter, extra) => {
    const { s, accepted } = deliver(mutate, extra);
    expect(accepted).toBe(false);
    expect(s.counters[BfdCounter.RxPackets]).toBe(1);
    const nonzero = BFD_COUNTER_NAMES.filter((n, i) => n.startsWith('drop-') && s.counters[i] !== 0);
    expect(nonzero).toEqual([BFD_COUNTER_NAMES[BfdCounter[counter]]]);
    expect(s.counters[BfdCounter[counter]]).toBe(1);
    expect(s.state).toBe(extra?.adminDown ? BFD_STATE.AdminDown : BFD_STATE.Down);   // no transition
    if (!extra?.adminDown) expect(s.remoteDiscriminator).toBe(0);                    // nothing learned
  });

  it('through frames: a frame that is not BFD is left alone; a BFD frame with a cut Control packet is consumed and counted', () => {
    const s = new BfdSession({ discriminator: LOCAL }, 0);
    const buf = Buffer.alloc(BFD_FRAME_LEN, 0);
    const addrs = { srcMac: 0x0200_0000_0002, dstMac: BFD_DEFAULT_DST_MAC, srcIp: BFD_DEFAULT_SRC_IP, dstIp: BFD_DEFAULT_DST_IP, srcPort: 49153 };
    buildBfdFrame(buf, 0, addrs, peerPacket());
    buf.writeUInt16BE(3785, 36);                                // UDP dst port: not BFD
    expect(s.receiveFrame(buf, 0, buf.length, 0)).toBe(false);
    expect(s.counters[BfdCounter.RxPackets]).toBe(0);
    buf.writeUInt16BE(3784, 36);
    buf.writeUInt16BE(8 + 12, 38);                              // UDP length: 12 payload bytes
    expect(s.receiveFrame(buf, 0, buf.length, 0)).toBe(true);
    expect(s.counters[BfdCounter.DropTooShort]).toBe(1);
    buf.writeUInt16BE(8 + 24, 38);
    buf[22] = 64;                                               // inner TTL 64
    expect(s.receiveFrame(buf, 0, buf.length, 0)).toBe(true);
    expect(s.counters[BfdCounter.DropBadTtl]).toBe(1);
    buf[22] = 255;
    expect(s.receiveFrame(buf, 0, buf.length, 0)).toBe(true);
    expect(s.state).toBe(BFD_STATE.Init);
    expect(s.counterValues()).toMatchObject({ 'rx-packets': 3, 'drop-too-short': 1, 'drop-bad-ttl': 1 });
  });
});
