// Generates the golden scenarios in pcaps/: each case states its topology, the frames entering
// each port and — written out by hand from the documented behaviour, never by running Sluice —
// the frames every port must send and the counters. Run: node --import tsx tools/make-pcaps.ts
import { mkdirSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFrame, type FrameSpec } from '../src/packet/build.js';
import { PcapWriter } from '../src/packet/capture.js';

const OUT = fileURLToPath(new URL('../pcaps/', import.meta.url));
const T0 = 1_700_000_000_000; // ms: capture clock of every case starts here

const A = '02:00:00:00:00:0a', B = '02:00:00:00:00:0b', C = '02:00:00:00:00:0c', D = '02:00:00:00:00:0d';
const X = '02:00:00:00:01:01', Y = '02:00:00:00:01:02', E = '02:00:00:00:00:0e';
const BCAST = 'ff:ff:ff:ff:ff:ff', MCAST = '01:00:5e:00:00:01';

// ---- frame helpers (independent of the datapath: plain byte surgery on built frames) ----
function arpReq(src: string, spa: string, tpa: string): Buffer {
  return buildFrame({ dst: BCAST, src, payload: { kind: 'arp', op: 1, sha: src, spa, tha: '00:00:00:00:00:00', tpa }, padTo60: true });
}
function arpReply(src: string, dst: string, spa: string, tpa: string): Buffer {
  return buildFrame({ dst, src, payload: { kind: 'arp', op: 2, sha: src, spa, tha: dst, tpa }, padTo60: true });
}
function icmp(src: string, dst: string, ipSrc: string, ipDst: string, type: number, seq: number): Buffer {
  return buildFrame({ dst, src, payload: { kind: 'ipv4', src: ipSrc, dst: ipDst, l4: { kind: 'icmp', type, code: 0, id: 7, seq, payload: Buffer.alloc(32, seq) } }, padTo60: true });
}
function udp(src: string, dst: string, sport: number, frameLen = 60): Buffer {
  const payloadLen = Math.max(0, frameLen - 14 - 20 - 8);
  const spec: FrameSpec = { dst, src, payload: { kind: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', l4: { kind: 'udp', sport, dport: 5001, payload: Buffer.alloc(payloadLen, sport & 0xff) } }, padTo60: true };
  return buildFrame(spec);
}
/** The same frame with an 802.1Q tag inserted after the MACs. */
function tag(frame: Buffer, vid: number, pcp = 0, tpid = 0x8100): Buffer {
  const t = Buffer.alloc(4);
  t.writeUInt16BE(tpid, 0);
  t.writeUInt16BE(((pcp & 7) << 13) | (vid & 0xfff), 2);
  return Buffer.concat([frame.subarray(0, 12), t, frame.subarray(12)]);
}
/** The same frame with its outermost tag removed. */
function untag(frame: Buffer): Buffer {
  return Buffer.concat([frame.subarray(0, 12), frame.subarray(16)]);
}

// ---- case description ----
interface Input { t: number; port: string; frame: Buffer }
interface Case {
  name: string;
  readme: string;
  topo: string;
  inputs: Input[];
  expect: Record<string, Buffer[]>;
  counters: Record<string, { in: number; out: number; drops: Record<string, number> }>;
}

const cases: Case[] = [];

// 1. L2 learning and flooding on plain ports (no VLAN config: every VLAN, untagged as it came).
{
  const f0 = arpReq(A, '10.0.0.1', '10.0.0.2');
  const f1 = arpReply(B, A, '10.0.0.2', '10.0.0.1');
  const f2 = icmp(A, B, '10.0.0.1', '10.0.0.2', 8, 1);
  const f3 = icmp(B, A, '10.0.0.2', '10.0.0.1', 0, 1);
  const f4 = udp(A, D, 1000);
  const f5 = udp(C, MCAST, 1001);
  const f6 = udp(A, C, 1002);
  cases.push({
    name: 'l2-learning',
    readme: 'Standalone MAC learning: broadcast, unknown unicast and multicast flood to every port but the ingress one; once a MAC is learned, frames to it go to its port only.',
    topo: `bridges:
  br0:
    ports:
      p1: { ofport: 1, type: tap }
      p2: { ofport: 2, type: tap }
      p3: { ofport: 3, type: tap }
`,
    inputs: [
      { t: 0, port: 'p1', frame: f0 }, { t: 1, port: 'p2', frame: f1 }, { t: 2, port: 'p1', frame: f2 },
      { t: 3, port: 'p2', frame: f3 }, { t: 4, port: 'p1', frame: f4 }, { t: 5, port: 'p3', frame: f5 },
      { t: 6, port: 'p1', frame: f6 },
    ],
    expect: { p1: [f1, f3, f5], p2: [f0, f2, f4, f5], p3: [f0, f4, f6] },
    counters: {
      p1: { in: 4, out: 3, drops: {} },
      p2: { in: 2, out: 4, drops: {} },
      p3: { in: 1, out: 3, drops: {} },
    },
  });
}

// 2. VLAN access/trunk isolation.
{
  const f0 = arpReq(A, '10.1.0.1', '10.1.0.9');                 // vm1 (VLAN 100) broadcast
  const f1 = arpReq(B, '10.2.0.2', '10.2.0.9');                 // vm2 (VLAN 200) broadcast
  const f2 = tag(arpReq(X, '10.1.0.7', '10.1.0.1'), 100, 5);   // uplink, VLAN 100, PCP 5
  const f3 = tag(arpReq(Y, '10.3.0.7', '10.3.0.1'), 300);      // uplink, VLAN 300: not carried
  const f4 = tag(arpReq(A, '10.1.0.1', '10.1.0.8'), 200);      // tagged frame on an access port
  const f5 = tag(icmp(X, A, '10.1.0.7', '10.1.0.1', 8, 1), 100); // to A, learned in VLAN 100
  const f6 = tag(icmp(X, B, '10.1.0.7', '10.2.0.2', 8, 2), 100); // to B: learned in VLAN 200 only
  const f7 = icmp(B, X, '10.2.0.2', '10.1.0.7', 8, 3);          // vm2 to X: X is in VLAN 100 only
  cases.push({
    name: 'vlan-isolation',
    readme: 'Access ports (VLAN 100, 200) and trunks: tags pushed toward trunks and popped toward access ports, PCP kept trunk to trunk, MACs learned per VLAN, nothing crosses from VLAN 100 to 200; a VLAN the trunk does not carry and a tagged frame on an access port are dropped and counted.',
    topo: `bridges:
  br0:
    ports:
      vm1: { ofport: 1, type: tap, vlan: { mode: access, vid: 100 } }
      vm2: { ofport: 2, type: tap, vlan: { mode: access, vid: 200 } }
      vm3: { ofport: 3, type: tap, vlan: { mode: access, vid: 100 } }
      uplink: { ofport: 4, type: system, device: eth1, vlan: { mode: trunk, vids: [100, 200] } }
      trunk2: { ofport: 5, type: system, device: eth2, vlan: { mode: trunk, vids: [100] } }
`,
    inputs: [
      { t: 0, port: 'vm1', frame: f0 }, { t: 1, port: 'vm2', frame: f1 }, { t: 2, port: 'uplink', frame: f2 },
      { t: 3, port: 'uplink', frame: f3 }, { t: 4, port: 'vm1', frame: f4 }, { t: 5, port: 'uplink', frame: f5 },
      { t: 6, port: 'uplink', frame: f6 }, { t: 7, port: 'vm2', frame: f7 },
    ],
    expect: {
      vm1: [untag(f2), untag(f5), untag(f6)],
      vm2: [],
      vm3: [f0, untag(f2), untag(f6)],
      uplink: [tag(f0, 100), tag(f1, 200), tag(f7, 200)],
      trunk2: [tag(f0, 100), f2, f6],
    },
    counters: {
      vm1: { in: 2, out: 3, drops: { 'tagged-on-access': 1 } },
      vm2: { in: 2, out: 0, drops: {} },
      vm3: { in: 0, out: 3, drops: {} },
      uplink: { in: 4, out: 3, drops: { 'vlan-not-allowed': 1 } },
      trunk2: { in: 0, out: 3, drops: {} },
    },
  });
}

// 3. Native VLAN: native-untagged and native-tagged trunks, priority tags.
{
  const f0 = arpReq(A, '10.10.0.1', '10.10.0.9');              // n1 untagged -> native VLAN 10
  const f1 = arpReq(B, '10.20.0.2', '10.20.0.9');              // a20 -> VLAN 20
  const f2 = arpReq(C, '10.10.0.3', '10.10.0.9');              // a10 -> VLAN 10
  const f3 = tag(arpReq(A, '10.10.0.1', '10.10.0.8'), 0, 3);   // n1 priority-tagged, PCP 3
  const f4 = arpReq(D, '10.10.0.4', '10.10.0.9');              // n2 untagged -> native VLAN 10
  const f5 = tag(arpReq(E, '10.20.0.5', '10.20.0.9'), 20);     // n2 tagged 20
  const f6 = tag(arpReq(A, '10.30.0.1', '10.30.0.9'), 30);     // n1 tagged 30: not carried
  cases.push({
    name: 'native-vlan',
    readme: 'Trunks with a native VLAN: native-untagged sends its native VLAN untagged, native-tagged sends it tagged; untagged and priority-tagged frames join the native VLAN (PCP kept); a VLAN outside the trunk list is dropped and counted.',
    topo: `bridges:
  br0:
    ports:
      n1: { ofport: 1, type: system, device: eth1, vlan: { mode: native-untagged, vid: 10, vids: [10, 20] } }
      n2: { ofport: 2, type: system, device: eth2, vlan: { mode: native-tagged, vid: 10, vids: [10, 20] } }
      a10: { ofport: 3, type: tap, vlan: { mode: access, vid: 10 } }
      a20: { ofport: 4, type: tap, vlan: { mode: access, vid: 20 } }
`,
    inputs: [
      { t: 0, port: 'n1', frame: f0 }, { t: 1, port: 'a20', frame: f1 }, { t: 2, port: 'a10', frame: f2 },
      { t: 3, port: 'n1', frame: f3 }, { t: 4, port: 'n2', frame: f4 }, { t: 5, port: 'n2', frame: f5 },
      { t: 6, port: 'n1', frame: f6 },
    ],
    expect: {
      n1: [tag(f1, 20), f2, f4, f5],
      n2: [tag(f0, 10), tag(f1, 20), tag(f2, 10), tag(untag(f3), 10, 3)],
      a10: [f0, untag(f3), f4],
      a20: [untag(f5)],
    },
    counters: {
      n1: { in: 3, out: 4, drops: { 'vlan-not-allowed': 1 } },
      n2: { in: 2, out: 4, drops: {} },
      a10: { in: 1, out: 3, drops: {} },
      a20: { in: 1, out: 1, drops: {} },
    },
  });
}

// 4. MAC move and aging (aging 10 s).
{
  const f0 = arpReq(A, '10.0.0.1', '10.0.0.3');
  const f1 = icmp(C, A, '10.0.0.3', '10.0.0.1', 8, 1);
  const f2 = arpReq(A, '10.0.0.1', '10.0.0.3');                // A now behind p2
  const f3 = icmp(C, A, '10.0.0.3', '10.0.0.1', 8, 2);
  const f4 = icmp(C, A, '10.0.0.3', '10.0.0.1', 8, 3);        // 18 s after A was last seen
  const f5 = icmp(B, C, '10.0.0.2', '10.0.0.3', 8, 4);
  cases.push({
    name: 'mac-aging-move',
    readme: 'A MAC that moves to another port is relearned there at once; a MAC not seen for mac-aging (10 s here) is forgotten, so frames to it flood again.',
    topo: `bridges:
  br0:
    mac-aging: 10
    ports:
      p1: { ofport: 1, type: tap, vlan: { mode: access, vid: 1 } }
      p2: { ofport: 2, type: tap, vlan: { mode: access, vid: 1 } }
      p3: { ofport: 3, type: tap, vlan: { mode: access, vid: 1 } }
`,
    inputs: [
      { t: 0, port: 'p1', frame: f0 }, { t: 1000, port: 'p3', frame: f1 }, { t: 2000, port: 'p2', frame: f2 },
      { t: 3000, port: 'p3', frame: f3 }, { t: 20000, port: 'p3', frame: f4 }, { t: 21000, port: 'p1', frame: f5 },
    ],
    expect: { p1: [f1, f2, f4], p2: [f0, f3, f4], p3: [f0, f2, f5] },
    counters: {
      p1: { in: 2, out: 3, drops: {} },
      p2: { in: 1, out: 3, drops: {} },
      p3: { in: 3, out: 3, drops: {} },
    },
  });
}

// 5. A channel policing a burst at its rate: 80 kbit/s = 10,000 bytes/s, burst 4000 bytes.
{
  const inputs: Input[] = [];
  const passed: Buffer[] = [];
  let sport = 2000;
  const send = (t: number, pass: boolean): void => {
    const f = udp(A, D, sport++, 1000);
    inputs.push({ t, port: 'vm1', frame: f });
    if (pass) passed.push(f);
  };
  // t=0: ten 1000-byte frames at once; the full bucket (4000 bytes) lets four through.
  for (let i = 0; i < 10; i++) send(0, i < 4);
  // every 101 ms one frame: 1010 bytes of tokens accrue each time, so each passes.
  for (let i = 1; i <= 5; i++) send(101 * i, true);
  // 45 ms later: only ~500 bytes of tokens, the frame is policed.
  send(550, false);
  // t=1000: 450 ms more refill the bucket to its 4000-byte burst: four of five pass.
  for (let i = 0; i < 5; i++) send(1000, i < 4);
  const dropped = inputs.length - passed.length;
  cases.push({
    name: 'channel-policing',
    readme: `A channel of 80 kbit/s with a 4000-byte burst on vm1's ingress: a burst passes up to the bucket, spaced frames pass at the rate, excess is dropped and counted (${passed.length} of ${inputs.length} pass).`,
    topo: `bridges:
  br0:
    ports:
      vm1: { ofport: 1, type: tap, vlan: { mode: access, vid: 1 }, channel: slow }
      vm2: { ofport: 2, type: tap, vlan: { mode: access, vid: 1 } }
channels:
  slow: { rate: 80kbit, burst: 4000b }
`,
    inputs,
    expect: { vm1: [], vm2: passed },
    counters: {
      vm1: { in: inputs.length, out: 0, drops: { 'ingress-policed': dropped } },
      vm2: { in: 0, out: passed.length, drops: {} },
    },
  });
}

// 5b. A shaping egress channel: 80 kbit/s = 10,000 bytes/s, burst 2000 bytes, queue of 5 frames.
{
  const inputs: Input[] = [];
  const frames: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const f = udp(A, D, 4000 + i, 1000);
    frames.push(f);
    inputs.push({ t: 0, port: 'vm1', frame: f });
  }
  // Frames arrive one by one at t=0: the full bucket lets the first two out at once, the next five
  // wait in the queue and leave every 100 ms (1000 bytes of tokens each), the last three find the
  // queue full and are tail-dropped.
  cases.push({
    name: 'channel-shaping',
    readme: 'An egress channel in shape mode on vm2 (80 kbit/s, 2000-byte burst, queue of 5): a burst of ten 1000-byte frames leaves two at once, five more one every 100 ms on the capture clock, and three are tail-dropped and counted.',
    topo: `bridges:
  br0:
    ports:
      vm1: { ofport: 1, type: tap, vlan: { mode: access, vid: 1 } }
      vm2: { ofport: 2, type: tap, vlan: { mode: access, vid: 1 }, egress-channel: slow }
channels:
  slow: { rate: 80kbit, burst: 2000b, mode: shape, queue: 5 }
`,
    inputs,
    expect: { vm1: [], vm2: frames.slice(0, 7) },
    counters: {
      vm1: { in: 10, out: 0, drops: {} },
      vm2: { in: 0, out: 7, drops: { 'shaper-queue-full': 3 } },
    },
  });
}

// 6. Malformed frames: dropped and counted, the good frames between them still forwarded.
{
  const runt = Buffer.from('ffffffffffff02000000000a08', 'hex');                   // 13 bytes
  const cutTag = Buffer.from('ffffffffffff02000000000a8100', 'hex');               // tag TPID, no TCI
  const halfTag = Buffer.from('ffffffffffff02000000000a81000064', 'hex');          // TCI, no inner type
  const good = arpReq(A, '10.0.0.1', '10.0.0.2');
  const oversized = udp(A, B, 3000, 12_000);                                       // beyond a 9216-byte jumbo buffer
  const jumbo = udp(A, B, 3001, 9_000);                                            // a jumbo frame that fits
  const badIhl = Buffer.from(udp(A, B, 3002));
  badIhl[14] = 0x44;                                                               // IPv4 IHL 4 (< 5): switched at L2, as OVS does
  cases.push({
    name: 'malformed',
    readme: 'Runts, cut-off 802.1Q tags and frames longer than a jumbo buffer are dropped and counted by reason on the ingress port; a 9000-byte jumbo frame passes. A frame whose IPv4 header is broken is still switched at L2, as Open vSwitch does: the flow key keeps what parsed and NORMAL needs only the Ethernet header.',
    topo: `bridges:
  br0:
    ports:
      p1: { ofport: 1, type: tap, vlan: { mode: access, vid: 1 } }
      p2: { ofport: 2, type: tap, vlan: { mode: access, vid: 1 } }
`,
    inputs: [
      { t: 0, port: 'p1', frame: runt }, { t: 1, port: 'p1', frame: cutTag }, { t: 2, port: 'p1', frame: halfTag },
      { t: 3, port: 'p1', frame: good }, { t: 4, port: 'p1', frame: oversized }, { t: 5, port: 'p1', frame: jumbo },
      { t: 6, port: 'p1', frame: badIhl },
    ],
    expect: { p1: [], p2: [good, jumbo, badIhl] },
    counters: {
      p1: { in: 7, out: 0, drops: { 'too-short': 1, malformed: 2, 'too-long': 1 } },
      p2: { in: 0, out: 3, drops: {} },
    },
  });
}

// 7. Channel groups: three senders share one group (mins equal, weights 1:1:2) while their demands
//    change: all busy, then c silent, then c back. Rates are small so each case stays under ~1 MB,
//    and 60-byte frames so a member's min is 60 frames per 100 ms (one frame is 1.7 % of it):
//    group 1728 kbit/s = 216,000 bytes/s = 3600 frames/s; min 288 kbit/s = 600 frames/s each.
//    The documented split (src/qos/README.md, "Channel groups"; mins first, the rest by weight):
//    all busy 1050 / 1050 / 1500 frames/s, c idle 1800 / 1800 / 0.
const GROUP = { rate: '1728kbit', fps: 3600, minFps: 600 } as const;
const GROUP_MEMBERS = `    members:
      a: { min: 288kbit, weight: 1 }
      b: { min: 288kbit, weight: 1 }
      c: { min: 288kbit, weight: 2 }
`;
/** The documented split in frames/s, for the members that want more than their min (weights 1:1:2). */
function groupShares(active: readonly boolean[]): number[] {
  const w = [1, 1, 2];
  const rest = GROUP.fps - active.filter(Boolean).length * GROUP.minFps;
  const wsum = w.reduce((s, x, i) => s + (active[i] ? x : 0), 0);
  return w.map((x, i) => (active[i] ? GROUP.minFps + (rest * x) / wsum : 0));
}
/** Frames every 1000/fps ms in [fromMs, toMs), on a microsecond grid (the pcap's resolution). */
function every(fps: number, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let k = 0; ; k++) {
    const t = Math.round((fromMs + (k * 1000) / fps) * 1000) / 1000;
    if (t >= toMs) return out;
    out.push(t);
  }
}
const GROUP_SRC = ['02:00:00:00:0a:01', '02:00:00:00:0b:01', '02:00:00:00:0c:01'];
const GROUP_DST = ['02:00:00:00:0a:02', '02:00:00:00:0b:02', '02:00:00:00:0c:02'];
const GROUP_VID = [10, 20, 30];
/**
 * Member i's n-th frame: 60 bytes (or `lenBytes`), its own MACs, UDP 5001 -> 5001, the sequence
 * number in the IPv4 identification (not in a port or the payload: a sweep of those meets
 * tshark's port-based and heuristic dissectors, which then call some frames malformed).
 */
function groupFrame(i: number, n: number, lenBytes = 60): Buffer {
  const payload = Buffer.alloc(lenBytes - 14 - 20 - 8, 0xa0 + i);
  return buildFrame({ dst: GROUP_DST[i]!, src: GROUP_SRC[i]!, payload: { kind: 'ipv4', src: `10.0.${i}.1`, dst: `10.0.${i}.2`, id: n, l4: { kind: 'udp', sport: 5001, dport: 5001, payload } }, padTo60: true });
}

// 7a. Policing. Which of a member's excess frames a policer passes depends on the phase of the
//     re-split and on the demand smoothing: writing that down would mean re-implementing the
//     scheduler. So the case is built for its outcome to follow from the documented guarantees:
//     - each member's ordinary frames come at 99 % of the share the documented split gives it at
//       that time (its min while its demand cannot have shown yet), so every one of them passes
//       if and only if the group gives every member at least that share at that time;
//     - frames of 3100 bytes, bigger than any member's bucket (the group's burst is the 2 x 1514-
//       byte floor, 3028 bytes, and a member's bucket is the group's burst time at its rate, at
//       least that floor), make a member want more than it is given ("bytes offered" are its
//       demand); they can never pass a policer and are counted as ingress-policed.
//     Times: the group re-splits every 10 ms; a member's demand shows after one 10 ms sample; a
//     member silent for 100 ms wants nothing. So a and b may send their larger share 110 ms after
//     c's last frame; c, back at 800 ms, sends its min at once and its share from 825 ms (its
//     sample, then a re-split, plus 5 ms); a and b fall back to theirs at 800 ms, when c returns.
{
  const inputs: Input[] = [];
  const ports = ['sa', 'sb', 'sc'];
  const seq = [0, 0, 0];
  let jumbos = 0;
  const small = (i: number, times: number[]): void => {
    for (const t of times) {
      inputs.push({ t, port: ports[i]!, frame: groupFrame(i, seq[i]!++) });
    }
  };
  const big = (i: number, fromMs: number, toMs: number): void => {
    for (let t = fromMs; t < toMs; t += 10) { inputs.push({ t, port: ports[i]!, frame: groupFrame(i, seq[i]!++, 3100) }); jumbos++; }
  };
  const busy = groupShares([true, true, true]).map((x) => x * 0.99);
  const cIdle = groupShares([true, true, false]).map((x) => x * 0.99);
  const atMin = GROUP.minFps * 0.99;
  // 0-400 ms: all busy. Their demand shows after a sample and a re-split (by 20 ms): min until 25 ms.
  for (let i = 0; i < 3; i++) { small(i, every(atMin, 0, 25)); small(i, every(busy[i]!, 25, 400)); big(i, 5, 50); }
  const cLast = Math.max(...inputs.filter((x) => x.port === 'sc').map((x) => x.t));
  // c silent from 400 to 800 ms: a and b want more all along, and may have 1800/s each once c is idle.
  const lend = cLast + 100 + 10;
  for (let i = 0; i < 2; i++) { small(i, every(busy[i]!, 400, lend)); small(i, every(cIdle[i]!, lend, 800)); big(i, 405, 800); }
  // 800-1200 ms: c back; a and b at once at their all-busy share again.
  for (let i = 0; i < 2; i++) small(i, every(busy[i]!, 800, 1200));
  small(2, every(atMin, 800, 825)); small(2, every(busy[2]!, 825, 1200)); big(2, 805, 850);
  inputs.sort((x, y) => x.t - y.t || ports.indexOf(x.port) - ports.indexOf(y.port));
  // The trunk sends in arrival order: every frame that passes a member leaves at once.
  const order = inputs.filter((x) => x.frame.length === 60).map((x) => tag(x.frame, GROUP_VID[ports.indexOf(x.port)]!));
  const perPort = ports.map((p) => inputs.filter((x) => x.port === p));
  cases.push({
    name: 'channel-group-police',
    readme: `A channel group in police mode (${GROUP.rate}, default burst: 3028 bytes) shared by three senders on access ports, members a, b and c (min 288 kbit/s each = 600 frames/s of 60 bytes, weights 1:1:2), toward one trunk.

Phases: 0-400 ms all busy (documented split 1050 / 1050 / 1500 frames/s); c silent from 400 ms, so 100 ms later it wants nothing and a and b may use 1800/s each; c back at 800 ms (min at once, its share after one demand sample), until 1200 ms.

Which of a member's *excess* frames a policer passes depends on the phase of the 10 ms re-split and on the demand smoothing: writing that out by hand would mean re-implementing the scheduler. So the case is built for its outcome to follow from documented guarantees alone. Each member's 60-byte frames come at 99 % of the share the documented split gives it at that moment (its min where its demand cannot have shown yet; a and b's larger share only from 110 ms after c's last frame, the 100 ms that make c idle plus one re-split): every one of them (${order.length}) must pass, which fails if the group ever gives a member less than the documented split. Frames of 3100 bytes (${jumbos}), bigger than any member's bucket (the group's burst time at its rate, at least 3028 bytes), make the members *want* more than their share (offered bytes are demand) and can never pass a policer: counted as ingress-policed.

test/pcap/golden.test.ts measures the documented properties on the capture clock as well (min per 100 ms window, pick-up after the idle detection, weighted Jain index, the group's rate plus the members' buckets over every window). Here they hold by construction once every 60-byte frame has passed (the output is the input minus the oversize frames); the timing is measured with teeth in channel-group-shape, where the scheduler decides when frames leave.

Run: \`npx sluice replay --case pcaps/channel-group-police\`. Generated by tools/make-pcaps.ts.`,
    topo: `bridges:
  br0:
    ports:
      sa: { ofport: 1, type: tap, vlan: { mode: access, vid: 10 }, channel: a }
      sb: { ofport: 2, type: tap, vlan: { mode: access, vid: 20 }, channel: b }
      sc: { ofport: 3, type: tap, vlan: { mode: access, vid: 30 }, channel: c }
      trunk: { ofport: 4, type: system, device: eth1, vlan: { mode: trunk, vids: [10, 20, 30] } }
channels:
  uplink:
    rate: ${GROUP.rate}
    mode: police
${GROUP_MEMBERS}`,
    inputs,
    expect: { sa: [], sb: [], sc: [], trunk: order },
    counters: {
      ...Object.fromEntries(ports.map((p, i) => [p, { in: perPort[i]!.length, out: 0, drops: { 'ingress-policed': perPort[i]!.filter((x) => x.frame.length > 60).length } }])),
      trunk: { in: 0, out: order.length, drops: {} },
    },
  });
}

// 7b. Shaping. Members shape on the egress of three receiving ports (an egress port carries one
//     channel, and an ingress channel always polices), each sender in its own VLAN with its
//     receiver. Every member is offered more than its share in every phase, so its queue holds a
//     backlog and it wants all it can get; the queue (2000) is longer than all the frames a member
//     is ever offered (at most 1760), so nothing can be tail-dropped: each receiver gets exactly
//     its sender's frames, in order (a shaper's queue is FIFO), and replay lets the queues drain.
//     When they leave is the scheduler's work, checked by the property tests on the capture clock.
{
  const inputs: Input[] = [];
  const ports = ['sa', 'sb', 'sc'];
  const sent: Buffer[][] = [[], [], []];
  const offer = (i: number, fps: number, fromMs: number, toMs: number): void => {
    for (const t of every(fps, fromMs, toMs)) {
      const f = groupFrame(i, sent[i]!.length);
      sent[i]!.push(f);
      inputs.push({ t, port: ports[i]!, frame: f });
    }
  };
  // 0-400 ms all busy, 14 % above the documented split; 400-800 ms c silent, a and b above 1800/s;
  // 800-1200 ms c back.
  offer(0, 1200, 0, 400); offer(1, 1200, 0, 400); offer(2, 1700, 0, 400);
  offer(0, 2000, 400, 800); offer(1, 2000, 400, 800);
  offer(0, 1200, 800, 1200); offer(1, 1200, 800, 1200); offer(2, 1700, 800, 1200);
  inputs.sort((x, y) => x.t - y.t || ports.indexOf(x.port) - ports.indexOf(y.port));
  const most = Math.max(...sent.map((s) => s.length));
  if (most > 2000) throw new Error(`channel-group-shape: a member is offered ${most} frames, more than its queue`);
  cases.push({
    name: 'channel-group-shape',
    readme: `A channel group in shape mode (${GROUP.rate}, default burst, queue 2000 per member) shared by three senders, members a, b and c (min 288 kbit/s each = 600 frames/s of 60 bytes, weights 1:1:2) on the egress of three receiving ports: an egress port carries one channel, and an ingress channel always polices, so shaping members need one egress port each. Each sender is in its own VLAN with its receiver.

Phases: 0-400 ms a, b, c offer 1200 / 1200 / 1700 frames/s (documented split 1050 / 1050 / 1500); 400-800 ms c silent, a and b offer 2000/s each (split 1800 / 1800 once c is idle, 100 ms after its last frame); 800-1200 ms as at first.

Every member is offered more than its share in every phase, so it holds a backlog and wants all it can get; its queue (2000) is longer than all it is ever offered (${most} frames at most), so nothing can be tail-dropped. The expected frames follow from that alone: each receiver gets its sender's frames, all of them, in order (a shaping queue is FIFO; replay lets the queues drain). When they leave is the scheduler's work: test/pcap/golden.test.ts measures it on the capture clock (min per 100 ms window, pick-up after the idle detection, weighted Jain index, the group's rate plus the members' buckets over every window).

Run: \`npx sluice replay --case pcaps/channel-group-shape\`. Generated by tools/make-pcaps.ts.`,
    topo: `bridges:
  br0:
    ports:
      sa: { ofport: 1, type: tap, vlan: { mode: access, vid: 10 } }
      sb: { ofport: 2, type: tap, vlan: { mode: access, vid: 20 } }
      sc: { ofport: 3, type: tap, vlan: { mode: access, vid: 30 } }
      ra: { ofport: 4, type: tap, vlan: { mode: access, vid: 10 }, egress-channel: a }
      rb: { ofport: 5, type: tap, vlan: { mode: access, vid: 20 }, egress-channel: b }
      rc: { ofport: 6, type: tap, vlan: { mode: access, vid: 30 }, egress-channel: c }
channels:
  uplink:
    rate: ${GROUP.rate}
    mode: shape
    queue: 2000
${GROUP_MEMBERS}`,
    inputs,
    expect: { sa: [], sb: [], sc: [], ra: sent[0]!, rb: sent[1]!, rc: sent[2]! },
    counters: {
      sa: { in: sent[0]!.length, out: 0, drops: {} }, sb: { in: sent[1]!.length, out: 0, drops: {} }, sc: { in: sent[2]!.length, out: 0, drops: {} },
      ra: { in: 0, out: sent[0]!.length, drops: {} }, rb: { in: 0, out: sent[1]!.length, drops: {} }, rc: { in: 0, out: sent[2]!.length, drops: {} },
    },
  });
}

// ---- write everything ----
for (const entry of readdirSync(OUT, { withFileTypes: true })) {
  if (entry.isDirectory() && cases.some((c) => c.name === entry.name)) rmSync(join(OUT, entry.name), { recursive: true });
}
for (const c of cases) {
  const dir = join(OUT, c.name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'topo.yaml'), c.topo);
  writeFileSync(join(dir, 'README.md'), `# ${c.name}\n\n${c.readme}\n\nRun: \`npx sluice replay --case pcaps/${c.name}\`. Generated by tools/make-pcaps.ts.\n`);
  writeFileSync(join(dir, 'counters.json'), JSON.stringify(c.counters, null, 2) + '\n');
  const byPort = new Map<string, PcapWriter>();
  for (const i of c.inputs) {
    let w = byPort.get(i.port);
    if (!w) { w = new PcapWriter(); byPort.set(i.port, w); }
    w.add(T0 + i.t, i.frame);
  }
  for (const [port, w] of byPort) await w.writeFile(join(dir, `in.${port}.pcap`));
  for (const [port, frames] of Object.entries(c.expect)) {
    const w = new PcapWriter();
    // Expected timestamps are not compared (frames are); write them on the case's clock.
    frames.forEach((f, k) => w.add(T0 + k, f));
    await w.writeFile(join(dir, `expect.${port}.pcap`));
  }
  console.log(`pcaps/${c.name}: ${c.inputs.length} frames in, ${Object.values(c.expect).reduce((n, f) => n + f.length, 0)} expected out`);
}
