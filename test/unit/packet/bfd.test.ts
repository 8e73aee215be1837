// BFD Control view (RFC 5880 §4.1) and the inner BFD frame Open vSwitch sends through a tunnel:
// deconstruct against hand-built bytes, construct into a 0xa5-filled buffer, a truncation sweep,
// frame build/recognise round trips, garbage and truncated frames refused, and tshark's decoding.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BFD_CONTROL_LEN, BFD_CONTROL_PORT, BFD_DIAG, BFD_STATE, BfdView, emitBfd, newBfdFields, parseBfd, parseBfdInto, type BfdFields,
} from '../../../src/packet/bfd.js';
import {
  BFD_DEFAULT_DST_IP, BFD_DEFAULT_DST_MAC, BFD_DEFAULT_SRC_IP, BFD_FRAME_CONTROL_OFF, BFD_FRAME_LEN, BfdFrameInfo,
  bfdUdpSrcPort, buildBfdFrame, findBfdFrame, isBfdFrame, type BfdFrameAddrs,
} from '../../../src/packet/bfd-frame.js';
import { buildFrame } from '../../../src/packet/build.js';
import { PcapWriter } from '../../../src/packet/capture.js';
import { Ipv4View } from '../../../src/packet/ipv4.js';
import { itWithTools } from '../../helpers/privileged.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5880 §4.1, byte by byte:
//   0: Vers(3)=1 | Diag(5)=3 "Neighbor Signaled Session Down"  -> 001 00011 = 0x23
//   1: Sta(2)=3 Up | P=0 F=1 C=0 A=0 D=0 M=0                   -> 11 010000 = 0xd0
//   2: Detect Mult 3; 3: Length 24
//   4: My Discriminator 0x01020304; 8: Your Discriminator 0xdeadbeef
//  12: Desired Min TX 100 ms = 100000 us = 0x000186a0
//  16: Required Min RX 1 s = 1000000 us = 0x000f4240
//  20: Required Min Echo RX 0
const CONTROL = hex('23 d0 03 18  01020304  deadbeef  000186a0  000f4240  00000000');
const CONTROL_FIELDS: BfdFields = {
  version: 1, diag: 3, state: BFD_STATE.Up,
  poll: false, final: true, controlPlaneIndependent: false, authPresent: false, demand: false, multipoint: false,
  detectMult: 3, length: 24, myDiscriminator: 0x01020304, yourDiscriminator: 0xdeadbeef,
  desiredMinTxUs: 100_000, requiredMinRxUs: 1_000_000, requiredMinEchoRxUs: 0,
};
// Every flag but F, state Init, diag 31, Length 26, and values with the top bit set:
//   0: 001 11111 = 0x3f; 1: 10 | P1 F0 C1 A1 D1 M1 = 10 101111 = 0xaf
const FLAGGED = hex('3f af ff 1a  ffffffff  80000000  00000001  fffffffe  12345678');

// The whole frame Open vSwitch 3.1 puts in the tunnel (lib/bfd.c bfd_put_packet), our CONTROL inside:
const ADDRS: BfdFrameAddrs = { srcMac: 0x0200_0000_0001, dstMac: BFD_DEFAULT_DST_MAC, srcIp: BFD_DEFAULT_SRC_IP, dstIp: BFD_DEFAULT_DST_IP, srcPort: 49152 };
const FRAME = Buffer.concat([hex(
  '002320000001 020000000001 0800' +          // Ethernet: dst eth_addr_bfd, src the port's MAC, IPv4
  '45 c0 0034 0000 0000 ff 11 64fb' +         // IPv4: IHL 5, TOS 0xc0, total 52, id 0, no DF, TTL 255, UDP, checksum
  'a9fe0101 a9fe0100' +                       //   169.254.1.1 -> 169.254.1.0
  'c000 0ec8 0020 0000'),                     // UDP 49152 -> 3784, length 32, no checksum
CONTROL]);
// The IP checksum by hand: 45c0 + 0034 + ff11 + a9fe + 0101 + a9fe + 0100 = 0x29b02 -> 9b02 + 2 = 9b04 -> ~ = 64fb.

describe('BfdView', () => {
  it('deconstructs the RFC layout', () => {
    const v = new BfdView().reset(CONTROL, 0, CONTROL.length);
    expect(v.checkLen()).toBe(true);
    expect([v.version, v.diag, v.state, v.flags, v.detectMult, v.length]).toEqual([1, BFD_DIAG.NeighborSignaledSessionDown, BFD_STATE.Up, 0x10, 3, 24]);
    expect([v.poll, v.final, v.controlPlaneIndependent, v.authPresent, v.demand, v.multipoint]).toEqual([false, true, false, false, false, false]);
    expect([v.myDiscriminator, v.yourDiscriminator]).toEqual([0x01020304, 0xdeadbeef]);
    expect([v.desiredMinTxUs, v.requiredMinRxUs, v.requiredMinEchoRxUs]).toEqual([100_000, 1_000_000, 0]);
    expect(parseBfd(v)).toEqual(CONTROL_FIELDS);
  });
  it('deconstructs every flag, the A bit, and 32-bit values with the top bit set', () => {
    const v = new BfdView().reset(FLAGGED, 0, FLAGGED.length);
    expect(parseBfd(v)).toEqual({
      version: 1, diag: 31, state: BFD_STATE.Init,
      poll: true, final: false, controlPlaneIndependent: true, authPresent: true, demand: true, multipoint: true,
      detectMult: 255, length: 26, myDiscriminator: 0xffff_ffff, yourDiscriminator: 0x8000_0000,
      desiredMinTxUs: 1, requiredMinRxUs: 0xffff_fffe, requiredMinEchoRxUs: 0x1234_5678,
    });
  });
  it('constructs at an offset, byte for byte, touching nothing else', () => {
    const buf = Buffer.alloc(CONTROL.length + 6, 0xa5);
    emitBfd(CONTROL_FIELDS, new BfdView().reset(buf, 3, BFD_CONTROL_LEN));
    expect(buf.subarray(3, 3 + 24)).toEqual(CONTROL);
    expect([...buf.subarray(0, 3), ...buf.subarray(27)]).toEqual([0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5]);
    const flagged = Buffer.alloc(24, 0xa5);
    emitBfd(parseBfd(new BfdView().reset(FLAGGED, 0, 24)), new BfdView().reset(flagged, 0, 24));
    expect(flagged).toEqual(FLAGGED);
  });
  it('setters change only their bits', () => {
    const buf = Buffer.from(CONTROL);
    const v = new BfdView().reset(buf, 0, 24);
    v.diag = BFD_DIAG.AdministrativelyDown;
    expect([v.version, v.diag]).toEqual([1, 7]);
    v.state = BFD_STATE.AdminDown;
    expect([v.state, v.final, v.flags]).toEqual([0, true, 0x10]);
    v.poll = true; v.final = false; v.multipoint = true;
    expect([v.state, v.flags, buf[1]]).toEqual([0, 0x21, 0x21]);
    v.version = 2;
    expect([v.version, v.diag]).toEqual([2, 7]);
  });
  it('parseBfdInto refills one value without allocating a new one', () => {
    const f = newBfdFields();
    expect(parseBfdInto(new BfdView().reset(CONTROL, 0, 24), f)).toBe(f);
    expect(f).toEqual(CONTROL_FIELDS);
  });
  it('truncation sweep: checkLen is false below 24 bytes, and from 24 on every accessor works', () => {
    for (const fixture of [CONTROL, FLAGGED]) {
      for (let n = 0; n <= fixture.length; n++) {
        const big = Buffer.alloc(64, 0xee);                   // a view that ignored len would still "work"
        fixture.copy(big, 5, 0, n);
        const v = new BfdView().reset(big, 5, n);
        expect(v.checkLen()).toBe(n >= BFD_CONTROL_LEN);
        if (v.checkLen()) expect(parseBfd(v)).toEqual(parseBfd(new BfdView().reset(fixture, 0, 24)));
      }
    }
  });
});

describe('BFD inner frame', () => {
  it('builds the Open vSwitch frame into a caller buffer at an offset, byte for byte', () => {
    const buf = Buffer.alloc(BFD_FRAME_LEN + 10, 0xa5);
    expect(buildBfdFrame(buf, 4, ADDRS, CONTROL_FIELDS)).toBe(BFD_FRAME_LEN);
    expect(buf.subarray(4, 4 + BFD_FRAME_LEN)).toEqual(FRAME);
    expect([...buf.subarray(0, 4), ...buf.subarray(4 + BFD_FRAME_LEN)]).toEqual(Array(10).fill(0xa5));
    expect(new Ipv4View().reset(buf, 4 + 14, 20).verifyChecksum()).toBe(true);
  });
  it('without control bytes writes only the headers, leaving the Control packet to the caller', () => {
    const buf = Buffer.alloc(BFD_FRAME_LEN, 0xa5);
    expect(buildBfdFrame(buf, 0, ADDRS)).toBe(BFD_FRAME_LEN);
    expect(buf.subarray(0, BFD_FRAME_CONTROL_OFF)).toEqual(FRAME.subarray(0, BFD_FRAME_CONTROL_OFF));
    expect(buf.subarray(BFD_FRAME_CONTROL_OFF).every((b) => b === 0xa5)).toBe(true);
  });
  it('refuses, writing nothing, when the frame does not fit', () => {
    const buf = Buffer.alloc(BFD_FRAME_LEN + 2, 0xa5);
    expect(buildBfdFrame(buf, 3, ADDRS, CONTROL_FIELDS)).toBe(0);
    expect(buildBfdFrame(buf, -1, ADDRS, CONTROL_FIELDS)).toBe(0);
    expect(buf.every((b) => b === 0xa5)).toBe(true);
  });
  it('source ports stay in 49152-65535 and differ between neighbouring sessions', () => {
    expect([bfdUdpSrcPort(0), bfdUdpSrcPort(1), bfdUdpSrcPort(16383), bfdUdpSrcPort(16384)]).toEqual([49152, 49153, 65535, 49152]);
  });

  it('round trip: findBfdFrame finds the Control packet and the fields a session checks', () => {
    const buf = Buffer.alloc(BFD_FRAME_LEN + 8, 0);
    buildBfdFrame(buf, 8, ADDRS, CONTROL_FIELDS);
    const info = new BfdFrameInfo();
    expect(findBfdFrame(buf, 8, BFD_FRAME_LEN, info)).toBe(8 + BFD_FRAME_CONTROL_OFF);
    expect(info).toMatchObject({ controlOff: 50, controlLen: 24, ttl: 255, srcIp: BFD_DEFAULT_SRC_IP, dstIp: BFD_DEFAULT_DST_IP, srcPort: 49152 });
    expect(parseBfd(new BfdView().reset(buf, info.controlOff, info.controlLen))).toEqual(CONTROL_FIELDS);
    expect(isBfdFrame(buf, 8, BFD_FRAME_LEN)).toBe(true);
  });
  it('takes BFD behind VLAN tags, with IPv4 options, and ignores Ethernet padding', () => {
    const tagged = buildFrame({ dst: '00:23:20:00:00:01', src: '02:00:00:00:00:01', vlans: [{ vid: 10 }], payload: { kind: 'ipv4', src: '169.254.1.1', dst: '169.254.1.0', ttl: 255, l4: { kind: 'udp', sport: 49152, dport: 3784, payload: CONTROL, checksum: false } } });
    const info = new BfdFrameInfo();
    expect(findBfdFrame(tagged, 0, tagged.length, info)).toBe(18 + 20 + 8);
    expect(info.controlLen).toBe(24);
    const withOptions = Buffer.concat([FRAME.subarray(0, 34), hex('01010101'), FRAME.subarray(34)]);
    withOptions[14] = 0x46; withOptions.writeUInt16BE(56, 16);   // IHL 6, total length 56
    expect(findBfdFrame(withOptions, 0, withOptions.length, info)).toBe(14 + 24 + 8);
    const padded = Buffer.concat([FRAME, Buffer.alloc(20, 0xff)]);
    expect(findBfdFrame(padded, 0, padded.length, info)).toBe(BFD_FRAME_CONTROL_OFF);
    expect(info.controlLen).toBe(24);
  });
  it('a UDP or IP length shorter than 24 payload bytes is still BFD, with the short length (the session drops it)', () => {
    const short = Buffer.from(FRAME);
    short.writeUInt16BE(8 + 10, 38);                             // UDP length: 10 payload bytes
    const info = new BfdFrameInfo();
    expect(findBfdFrame(short, 0, short.length, info)).toBe(BFD_FRAME_CONTROL_OFF);
    expect(info.controlLen).toBe(10);
    short.writeUInt16BE(3, 38);                                  // UDP length below its own header
    expect(findBfdFrame(short, 0, short.length, info)).toBe(BFD_FRAME_CONTROL_OFF);
    expect(info.controlLen).toBe(0);
  });
  it('applies the receive filter as Open vSwitch does (bfd_remote_dst_mac, a non-default bfd_src_ip)', () => {
    expect(isBfdFrame(FRAME, 0, FRAME.length, { remoteDstMac: BFD_DEFAULT_DST_MAC, localIp: BFD_DEFAULT_SRC_IP })).toBe(true);
    expect(isBfdFrame(FRAME, 0, FRAME.length, { remoteDstMac: 0x0200_0000_0099, localIp: BFD_DEFAULT_SRC_IP })).toBe(false);
    // With the default bfd_src_ip any destination IP is taken; with another, only frames sent to it.
    expect(isBfdFrame(FRAME, 0, FRAME.length, { remoteDstMac: 0, localIp: 0x0a00_0001 })).toBe(false);
    expect(isBfdFrame(FRAME, 0, FRAME.length, { remoteDstMac: 0, localIp: BFD_DEFAULT_DST_IP })).toBe(true);
    const otherDst = Buffer.from(FRAME);
    otherDst.writeUInt32BE(0x0a00_0002, 30);
    expect(isBfdFrame(otherDst, 0, otherDst.length)).toBe(true);
  });
  it.each([
    ['ARP', buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', payload: { kind: 'arp', op: 1, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' } })],
    ['UDP to another port', buildFrame({ dst: '00:23:20:00:00:01', src: '02:00:00:00:00:01', payload: { kind: 'ipv4', src: '169.254.1.1', dst: '169.254.1.0', ttl: 255, l4: { kind: 'udp', sport: 49152, dport: 3785, payload: CONTROL } } })],
    ['TCP to 3784', buildFrame({ dst: '00:23:20:00:00:01', src: '02:00:00:00:00:01', payload: { kind: 'ipv4', src: '169.254.1.1', dst: '169.254.1.0', ttl: 255, l4: { kind: 'tcp', sport: 49152, dport: BFD_CONTROL_PORT, payload: CONTROL } } })],
    ['UDP 3784 over IPv6 (Open vSwitch takes IPv4 only)', buildFrame({ dst: '00:23:20:00:00:01', src: '02:00:00:00:00:01', payload: { kind: 'ipv6', src: 'fe80::1', dst: 'fe80::2', hopLimit: 255, l4: { kind: 'udp', sport: 49152, dport: BFD_CONTROL_PORT, payload: CONTROL } } })],
    ['a later IPv4 fragment', buildFrame({ dst: '00:23:20:00:00:01', src: '02:00:00:00:00:01', payload: { kind: 'ipv4', src: '169.254.1.1', dst: '169.254.1.0', ttl: 255, fragOffset: 2, l4: { kind: 'udp', sport: 49152, dport: BFD_CONTROL_PORT, payload: CONTROL } } })],
    ['an IPv4 header of version 5', Buffer.concat([FRAME.subarray(0, 14), Buffer.from([0x55]), FRAME.subarray(15)])],
  ])('is not BFD: %s', (_name, frame) => {
    const info = new BfdFrameInfo();
    expect(findBfdFrame(frame, 0, frame.length, info)).toBe(-1);
    expect(info.controlOff).toBe(-1);
  });
  it('every truncation of the frame is refused (the IP packet is cut), and nothing throws', () => {
    const info = new BfdFrameInfo();
    for (let n = 0; n < FRAME.length; n++) {
      const big = Buffer.alloc(FRAME.length + 16, 0);
      FRAME.copy(big, 3);                                         // the rest is there, beyond len
      expect(findBfdFrame(big, 3, n, info)).toBe(-1);
    }
    expect(findBfdFrame(FRAME, 0, FRAME.length, info)).toBe(BFD_FRAME_CONTROL_OFF);
  });
  it('random garbage, with and without a plausible IPv4/UDP 3784 prefix, never throws and stays in bounds', () => {
    let seed = 0x9e3779b9;
    const rnd = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 2 ** 32; };
    const info = new BfdFrameInfo();
    let found = 0;
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rnd() * 90);
      const buf = Buffer.alloc(len + 8);
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
      if (i % 2 === 0) FRAME.copy(buf, 0, 0, Math.min(len, 14 + Math.floor(rnd() * 42)));   // a real prefix, garbage after
      const at = findBfdFrame(buf, 0, len, info);
      if (at >= 0) {
        found++;
        expect(at + info.controlLen).toBeLessThanOrEqual(len);
        expect(info.controlLen).toBeGreaterThanOrEqual(0);
      } else {
        expect(info.controlOff).toBe(-1);
      }
    }
    expect(found).toBeGreaterThan(0);                             // some prefixes were real enough to be taken
  });
});

describe('BFD frame decoded by tshark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bfd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  itWithTools('tshark decodes our inner frame as a BFD Control message with our fields and no expert errors', ['tshark'], async () => {
    const good = Buffer.alloc(BFD_FRAME_LEN);
    buildBfdFrame(good, 0, ADDRS, { ...CONTROL_FIELDS, poll: true, final: false, diag: BFD_DIAG.None });
    // A control: the same frame with the Control packet cut to 10 bytes (IP and UDP lengths still
    // claim 24), which tshark must flag, so the "no expert info" check below can fail.
    const cut = good.subarray(0, BFD_FRAME_CONTROL_OFF + 10);
    const w = new PcapWriter();
    w.add(1_700_000_000_000, good); w.add(1_700_000_000_001, cut);
    const p = join(dir, 'bfd.pcap');
    await w.writeFile(p);
    const out = execFileSync('tshark', ['-r', p, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|',
      '-e', 'frame.protocols', '-e', 'ip.checksum.status', '-e', 'ip.ttl', '-e', 'udp.dstport', '-e', 'bfd.version', '-e', 'bfd.diag',
      '-e', 'bfd.sta', '-e', 'bfd.flags.p', '-e', 'bfd.flags.f', '-e', 'bfd.flags.a', '-e', 'bfd.detect_time_multiplier',
      '-e', 'bfd.message_length', '-e', 'bfd.my_discriminator', '-e', 'bfd.your_discriminator',
      '-e', 'bfd.desired_min_tx_interval', '-e', 'bfd.required_min_rx_interval', '-e', 'bfd.required_min_echo_interval',
      '-e', '_ws.expert', '-e', '_ws.malformed'], { encoding: 'utf8', timeout: 30_000 });
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBe(2);
    expect(rows[0]).toEqual(['eth:ethertype:ip:udp:bfd', '1', '255', '3784', '1', '0x00', '0x03', '1', '0', '0', '3', '24',
      '0x01020304', '0xdeadbeef', '100000', '1000000', '0', '', '']);
    expect(rows[1].slice(-2).join('')).not.toBe('');              // the cut frame is flagged
    const verbose = execFileSync('tshark', ['-r', p, '-V', '-c', '1'], { encoding: 'utf8', timeout: 30_000 });
    expect(verbose).toContain('BFD Control message');
    expect(verbose).toContain('Session State: Up (0x3)');
    expect(verbose).not.toMatch(/Malformed|Expert Info/);
  }, 60_000);
});
