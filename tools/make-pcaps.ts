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
