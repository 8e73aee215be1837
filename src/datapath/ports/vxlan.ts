// VxlanPort: a VXLAN tunnel endpoint (RFC 7348) as a port of the bridge. Frames sent to it leave
// encapsulated to remote VTEPs; datagrams to its local address and UDP port come in decapsulated.
// Underlay I/O is batched through the shim (sluice_tunnel.cc): recvmmsg on a bound UDP socket,
// sendmmsg on a raw IP socket whose outer headers we write (hashed source port, DF, zero UDP
// checksum on IPv4), the inner frame sent from where it sits (no copy, also when replicated).
// Which VNI and which VTEPs (checked in this order):
//   - VNI: the port's `vni` (one network); with `vni: flow` the frame's tunnel_id (set_field); with
//     `networks` the VLAN tag the frame carries (the port is a trunk of those VLANs: received frames
//     get the network's tag, sent ones lose it);
//   - remotes: the frame's tun_dst when a flow set it (set_field; required with `remote: flow`);
//     else the VTEP its destination MAC was learned behind; else every VTEP of the network's flood
//     list (head-end replication).
// Received frames carry tunnel_id = VNI and tun_src/tun_dst into the match; their source MAC is
// learned behind the sending VTEP (vlan/vtep.ts). Drops are counted by reason (tunnel-*).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Batch } from '../../packet/batch.js';
import { MAX_BURST } from '../../packet/batch.js';
import { HEADROOM } from '../../packet/packet.js';
import type { Packet } from '../../packet/packet.js';
import type { PacketPool } from '../../packet/pool.js';
import { VXLAN_HEADER_LEN, VXLAN_PORT } from '../../packet/vxlan.js';
import { rd48 } from '../../packet/bytes.js';
import { formatMac } from '../../packet/flow-key.js';
import { looksPartial } from '../../packet/complete-checksum.js';
import { BFD_CONTROL_PORT } from '../../packet/bfd.js';
import { bfdUdpSrcPort } from '../../packet/bfd-frame.js';
import { BfdSession } from '../../vlan/bfd-session.js';
import type { BfdParams, BfdStatus } from '../../vlan/bfd-session.js';
import { isTagged, outerTci, popVlan, pushVlan } from '../../vlan/tag.js';
import { VtepTable } from '../../vlan/vtep.js';
import { OUTER_V4_LEN, OUTER_V6_LEN, parseTunnelAddr, vxlanSourcePort, vxlanVni, writeOuterV4, writeOuterV6 } from '../../vlan/vxlan-encap.js';
import type { TunnelAddr } from '../../vlan/vxlan-encap.js';
import { DROP } from '../counters.js';
import type { PortBackend } from '../port.js';
import { epochNowMs } from '../clock.js';
import { native } from '../native/index.js';
import type { NativeBinding, NativePoller } from '../native/index.js';
import { PortIoCounters } from './io-counters.js';
import type { PortStatusListener } from './io-counters.js';

const E = os.constants.errno;
/** Messages per tunnelSend call (the shim's kMaxBatch) and bytes of header scratch per message. */
const TX_MSGS = 256;
const HDR_STRIDE = 64;
const ADDR_SLOTS = 6;
const RCVBUF_BYTES = 32 * 1024 * 1024;
const SNDBUF_BYTES = 8 * 1024 * 1024;
const MAX_RX_AGE_MS = 10_000;
const EMPTY = Buffer.alloc(0);

/** One network a multi-VNI port carries: VNI <-> local VLAN, and its own flood list if given. */
export interface VxlanNetwork { vni: number; vid: number; remote?: string[] }

export interface VxlanPortOptions {
  /** This host's underlay address (IPv4 or IPv6); the UDP socket binds to it. */
  local: string;
  /** Remote VTEPs (the flood list of every network without its own), or 'flow' (tun_dst from flows). */
  remote: string[] | 'flow';
  /** The one VNI of this port, or 'flow' (tunnel_id from flows); ignored when `networks` is given. */
  vni?: number | 'flow';
  /** Several networks on one port (standalone): VNI <-> VLAN tag, optional flood list each. */
  networks?: VxlanNetwork[];
  /** UDP destination port (default 4789). */
  dstPort?: number;
  /** Underlay IP MTU; default: the MTU of the device holding `local`, else 1500. */
  underlayMtu?: number;
  /** MAC entries learned behind remote VTEPs, and their aging (default as the MAC table: 8192, 300 s). */
  macTableSize?: number;
  macAgingMs?: number;
  /**
   * BFD (RFC 5880) inside the tunnel to every configured remote, as Open vSwitch runs it with
   * bfd:enable=true: a VTEP whose session is not forwarding leaves the flood lists and loses its
   * MACs; the port's link is down while no session is forwarding. Absent: no BFD, VTEPs always used.
   */
  bfd?: Partial<BfdParams> | null;
}

/** One BFD session of a tunnel port: to which VTEP, and its state machine. */
interface TunnelBfd { vtep: number; session: BfdSession }

/** Extra counters of a tunnel port (beside the I/O counters), for `sluice stats` and tests. */
export class TunnelCounters extends PortIoCounters {
  /** Datagrams sent (a replicated frame counts once per VTEP). */
  txDatagrams = 0;
  /** Frames that went to more than one VTEP (head-end replication). */
  floods = 0;
  override reset(): void { super.reset(); this.txDatagrams = 0; this.floods = 0; }
  override snapshot(): Record<string, number> { return { ...super.snapshot(), 'tx-datagrams': this.txDatagrams, 'tx-floods': this.floods }; }
}

/** What `sluice port list` / `sluice stats` show of a tunnel port (cold path). */
export interface TunnelInfo {
  local: string; dstPort: number; mtu: number;
  vni: number | 'flow' | null;
  networks: Array<{ vni: number; vid: number }> | null;
  remote: string[] | 'flow';
  /** Remote VTEPs known (configured or learned) and whether each may be used (BFD). */
  endpoints: Array<{ vtep: string; up: boolean }>;
  /** BFD sessions (bfd enabled), in the shape of Open vSwitch's bfd_status. */
  bfd?: Array<{ vtep: string } & BfdStatus & { counters: Record<string, number> }>;
  /** MACs learned behind remote VTEPs. */
  vteps: Array<{ vni: number; mac: string; vtep: string; ageS: number }>;
}

export class VxlanPort implements PortBackend {
  readonly name: string;
  readonly counters = new TunnelCounters();
  readonly tunnel = true;
  readonly vteps: VtepTable;
  onStatus: PortStatusListener | null = null;
  countDrop: ((code: number, n: number) => void) | null = null;
  lastSendTooBig = 0;
  lastSendCounted = 0;
  /** BFD sessions by VTEP index (null: BFD off), and a timer for their next deadline. */
  private readonly bfd: TunnelBfd[] | null;
  private readonly bfdByVtep = new Map<number, TunnelBfd>();
  private bfdTimer: NodeJS.Timeout | null = null;
  private readonly bfdFrame = Buffer.alloc(128);
  private bfdLive = false;

  readonly local: TunnelAddr;
  readonly dstPort: number;
  readonly remoteFlow: boolean;
  readonly vniFlow: boolean;
  /** The fixed VNI (single network), or -1. */
  readonly vni: number;
  /** networks: VLAN -> VNI and VNI -> VLAN (-1: not carried). */
  private readonly vidToVni: Int32Array | null;
  private readonly vniToVid: Map<number, number> | null;
  mtu: number;
  private readonly mtuOption: number | undefined;
  private readonly outerLen: number;

  private nat: NativeBinding | null = null;
  private udpFd = -1;
  private rawFd = -1;
  private poller: NativePoller | null = null;
  private readableCb: (() => void) | null = null;
  // receive slots
  private readonly bufs: Buffer[] = new Array<Buffer>(MAX_BURST).fill(EMPTY);
  private readonly offs = new Int32Array(MAX_BURST);
  private readonly caps = new Int32Array(MAX_BURST);
  private readonly lens = new Int32Array(MAX_BURST);
  private readonly res = new Int32Array(4);
  private readonly addrs = new Int32Array(MAX_BURST * ADDR_SLOTS);
  private readonly ages = new Float64Array(MAX_BURST);
  private readonly spare: Packet[] = [];
  private spareCount = 0;
  private sparePool: PacketPool | null = null;
  // transmit messages
  private readonly hdrs = Buffer.alloc(TX_MSGS * HDR_STRIDE);
  private readonly hdrLens = new Int32Array(TX_MSGS);
  private readonly txBufs: Buffer[] = new Array<Buffer>(TX_MSGS).fill(EMPTY);
  private readonly txOffs = new Int32Array(TX_MSGS);
  private readonly txLens = new Int32Array(TX_MSGS);
  /** Batch index of the frame each message carries; per frame, messages not sent. */
  private readonly txOwner = new Int32Array(TX_MSGS);
  private readonly unsent = new Int32Array(MAX_BURST * 4);
  private readonly refused: Packet[] = [];
  private readonly reason = new Uint8Array(MAX_BURST * 4);

  constructor(name: string, opts: VxlanPortOptions) {
    this.name = name;
    this.local = parseTunnelAddr(opts.local);
    this.dstPort = opts.dstPort ?? VXLAN_PORT;
    this.remoteFlow = opts.remote === 'flow';
    this.vteps = new VtepTable(opts.macTableSize, opts.macAgingMs);
    this.outerLen = this.local.family === 4 ? OUTER_V4_LEN : OUTER_V6_LEN;
    this.mtuOption = opts.underlayMtu;
    this.mtu = opts.underlayMtu ?? 1500;
    // a VTEP listed twice (or spelt two ways) is one VTEP: never replicate a frame to it twice
    const remotes = opts.remote === 'flow' ? [] : [...new Set(opts.remote.map((r) => this.internRemote(r)))];
    this.vteps.setFlood(-1, remotes);
    if (opts.networks !== undefined && opts.networks.length > 0) {
      this.vniFlow = false; this.vni = -1;
      this.vidToVni = new Int32Array(4096).fill(-1);
      this.vniToVid = new Map();
      for (const n of opts.networks) {
        this.vidToVni[n.vid] = n.vni;
        this.vniToVid.set(n.vni, n.vid);
        if (n.remote !== undefined) this.vteps.setFlood(n.vni, [...new Set(n.remote.map((r) => this.internRemote(r)))]);
      }
    } else {
      this.vidToVni = null; this.vniToVid = null;
      this.vniFlow = opts.vni === 'flow';
      this.vni = typeof opts.vni === 'number' ? opts.vni : -1;
      if (!this.vniFlow && this.vni < 0) throw new RangeError(`vxlan port "${name}" needs vni (a number or flow) or networks`);
    }
    if (opts.bfd !== undefined && opts.bfd !== null) {
      const nowMs = epochNowMs();
      const remotesAll = new Set<number>(remotes);
      for (const n of opts.networks ?? []) for (const r of n.remote ?? []) remotesAll.add(this.vteps.intern(parseTunnelAddr(r)));
      this.bfd = [...remotesAll].map((vtep, k) => {
        // a locally administered MAC of our own as the inner source, as Open vSwitch uses the tunnel port's random MAC
        const srcMac = 0x0200_0000_0000 + Math.floor(Math.random() * 0xffff_ffff);
        const session = new BfdSession({ ...opts.bfd, srcMac, udpSrcPort: bfdUdpSrcPort(k) }, nowMs);
        const t: TunnelBfd = { vtep, session };
        this.bfdByVtep.set(vtep, t);
        this.vteps.setAlive(vtep, false);   // unused until its session is up (Open vSwitch: may_enable)
        return t;
      });
    } else {
      this.bfd = null;
    }
  }

  private internRemote(text: string): number {
    const a = parseTunnelAddr(text);
    if (a.family !== this.local.family) throw new RangeError(`vxlan port "${this.name}": remote ${text} is not of the local address's family (IPv${this.local.family})`);
    return this.vteps.intern(a);
  }


  get onReadable(): (() => void) | null { return this.readableCb; }
  set onReadable(cb: (() => void) | null) {
    this.readableCb = cb ?? null;
    if (this.poller) { if (this.readableCb && this.udpFd >= 0) this.poller.start(); else this.poller.stop(); }
  }

  /**
   * Open the underlay sockets through `nat`, the native addon by default. Bench/test seam: a fake
   * binding (udpOpen/rawOpen/udpRecv/tunnelSend/closeFd/Poller) lets bench/vxlan.bench.ts time the
   * JS work of send and recv without syscalls; the switch never passes one.
   */
  async open(nat: NativeBinding = native()): Promise<void> {
    if (this.udpFd >= 0) return;
    if (nat.udpOpen === undefined || nat.rawOpen === undefined) throw new Error(`${this.name}: the native addon predates tunnel ports (rebuild it: node scripts/build-native.mjs)`);
    const u = nat.udpOpen(this.local.text, this.dstPort, RCVBUF_BYTES);
    let raw: number;
    try { raw = nat.rawOpen(this.local.family, SNDBUF_BYTES); } catch (e) { nat.closeFd(u.fd); throw e; }
    this.nat = nat; this.udpFd = u.fd; this.rawFd = raw;
    if (this.mtuOption === undefined) this.mtu = underlayMtuOf(this.local.text) ?? 1500;
    this.poller = new nat.Poller(u.fd, (status, events) => {
      if (status < 0) return;
      this.counters.wakeups++;
      if ((events & 1) !== 0 && this.readableCb !== null) this.readableCb();
    });
    if (this.readableCb) this.poller.start();
    if (this.bfd !== null) { this.setLink(false, 'bfd: no session up yet'); this.scheduleBfd(); }
  }

  recv(into: Batch, pool: PacketPool): number {
    const nat = this.nat;
    if (nat === null || this.udpFd < 0) return 0;
    let want = into.pkts.length - into.count;
    if (want > MAX_BURST) want = MAX_BURST;
    if (want <= 0) return 0;
    if (pool !== this.sparePool) { this.releaseSpares(); this.sparePool = pool; }
    const spare = this.spare;
    let have = this.spareCount;
    while (have < want) { const p = pool.alloc(); if (p === null) break; spare[have++] = p; }
    this.spareCount = have;
    if (have === 0) { this.counters.poolStalls++; return 0; }
    const n = have < want ? have : want;
    const bufs = this.bufs, offs = this.offs, caps = this.caps, lens = this.lens, res = this.res, addrs = this.addrs, ages = this.ages;
    const at = HEADROOM - VXLAN_HEADER_LEN;
    for (let i = 0; i < n; i++) { const b = spare[i].buf; bufs[i] = b; offs[i] = at; caps[i] = b.length - at; }
    const got = nat.udpRecv!(this.udpFd, bufs, offs, caps, lens, n, res, addrs, ages);
    const c = this.counters;
    c.nativeCalls++; c.syscalls += res[1];
    let added = 0, keep = 0, bytes = 0;
    if (got > 0) {
      const nowMs = epochNowMs();
      const ipLen = this.local.family === 4 ? 28 : 48;
      for (let i = 0; i < got; i++) {
        const p = spare[i], len = lens[i];
        const drop = this.admit(p, len, ipLen, addrs, i * ADDR_SLOTS, nowMs, ages[i]);
        if (drop < 0) { into.pkts[into.count++] = p; added++; bytes += p.len; continue; }
        if (drop !== 0xff) {                       // 0xff: a BFD Control packet, consumed (not a drop)
          if (this.countDrop !== null) this.countDrop(drop, 1);
          c.rxDrops++;
        }
        spare[keep++] = p;
      }
      for (let i = got; i < have; i++) spare[keep++] = spare[i];
      this.spareCount = keep;
      c.rxFrames += added; c.rxBytes += bytes;
    }
    const err = res[0];
    if (err !== 0 && err !== E.EAGAIN) c.errors++;
    return added;
  }

  /** Check and decapsulate one datagram in place; -1 = forward it, else a DROP code (0xff: consumed). */
  private admit(p: Packet, len: number, ipLen: number, addrs: Int32Array, a: number, nowMs: number, age: number): number {
    if (len < VXLAN_HEADER_LEN + 14) return DROP.TunnelMalformed;   // also len < 0: larger than a packet buffer
    if (len + ipLen > this.mtu) return DROP.TunnelFragment;           // could only have arrived in fragments
    const b = p.buf, at = HEADROOM - VXLAN_HEADER_LEN;
    const vni = vxlanVni(b, at);
    if (vni < 0) return DROP.TunnelMalformed;
    if (this.bfd !== null && maybeBfd(b, HEADROOM, len - VXLAN_HEADER_LEN)) {
      const t = this.bfdByVtep.get(this.vteps.find(addrs[a], addrs[a + 1], addrs[a + 2], addrs[a + 3], addrs[a + 4]));
      if (t !== undefined && t.session.receiveFrame(b, HEADROOM, len - VXLAN_HEADER_LEN, nowMs)) { this.bfdChanged(t); this.scheduleBfd(); return 0xff; }
    }
    let vid = -1;
    if (this.vniToVid !== null) {
      const v = this.vniToVid.get(vni);
      if (v === undefined) return DROP.TunnelUnknownVni;
      vid = v;
    } else if (!this.vniFlow && vni !== this.vni) {
      return DROP.TunnelUnknownVni;
    }
    p.off = HEADROOM; p.len = len - VXLAN_HEADER_LEN;
    p.tsMs = age > 0 && age < MAX_RX_AGE_MS ? nowMs - age : nowMs;
    if (isTagged(p)) return DROP.TunnelInnerTag;
    // A sender on this machine (the kernel's vxlan device over a veth) may leave the inner checksum
    // to offload, and a UDP socket does not say so: a field holding exactly the pseudo-header seed
    // is taken as partial and completed on the way out (or passed on as such to an offload port).
    p.csumPartial = looksPartial(b, HEADROOM, p.len);
    const vt = this.vteps.internWords(addrs[a], addrs[a + 1], addrs[a + 2], addrs[a + 3], addrs[a + 4]);
    const src = rd48(b, HEADROOM + 6);
    // unicast sources only; behind a VTEP whose BFD session is down nothing is learned (it would be flushed)
    if ((b[HEADROOM + 6] & 1) === 0 && this.vteps.isAlive(vt)) this.vteps.learn(vni, src, vt, nowMs);
    p.tunnelId = vni;
    p.tunIpv4Src = addrs[a] === 4 ? addrs[a + 1] >>> 0 : 0;
    p.tunIpv4Dst = this.local.family === 4 ? this.local.w0 : 0;
    if (vid >= 0) pushVlan(p, 0x8100, vid);
    return -1;
  }

  send(from: Batch): number {
    this.lastSendTooBig = 0; this.lastSendCounted = 0;
    const nat = this.nat, c = this.counters;
    if (nat === null || this.rawFd < 0) { c.txDrops += from.count; return 0; }
    const pkts = from.pkts, count = from.count, nowMs = epochNowMs();
    const unsent = this.unsent, reason = this.reason;
    let m = 0;
    for (let i = 0; i < count; i++) {
      unsent[i] = 0; reason[i] = 0;
      const p = pkts[i];
      const vni = this.egressVni(p);
      if (vni < 0) { reason[i] = DROP.TunnelUnknownVni; continue; }
      if (p.len + this.outerLen > this.mtu) { reason[i] = DROP.TunnelTooBig; continue; }
      const sport = vxlanSourcePort(p.buf, p.off, p.len);
      // tun_dst set by a flow (never our own address, which a decapsulated frame carries) picks the VTEP
      const flowDst = this.local.family === 4 && p.tunIpv4Dst !== 0 && p.tunIpv4Dst !== this.local.w0;
      if (this.remoteFlow || flowDst) {
        if (!flowDst) { reason[i] = DROP.TunnelNoRemote; continue; }
        if (m === TX_MSGS) m = this.flushTx(nat, m);
        this.putV4(m++, i, p, p.tunIpv4Dst, sport, vni);
        continue;
      }
      const dst = (p.buf[p.off] & 1) === 0 ? this.vteps.lookup(vni, rd48(p.buf, p.off), nowMs) : -1;
      if (dst >= 0) {
        if (m === TX_MSGS) m = this.flushTx(nat, m);
        this.putVtep(m++, i, p, dst, sport, vni);
        continue;
      }
      const list = this.vteps.floodList(vni);
      let k = 0;
      for (let j = 0; j < list.length; j++) {
        const v = list[j];
        if (!this.vteps.isAlive(v)) continue;
        if (m === TX_MSGS) m = this.flushTx(nat, m);
        this.putVtep(m++, i, p, v, sport, vni);
        k++;
      }
      if (k === 0) reason[i] = DROP.TunnelNoRemote;
      else if (k > 1) c.floods++;
    }
    if (m > 0) this.flushTx(nat, m);
    // Frames with every message sent come first (the bridge counts a prefix as sent); the rest are
    // counted here by reason, or left to the bridge (tx-full) when the socket refused them.
    const refused = this.refused;
    let ok = 0, bad = 0, counted = 0;
    for (let i = 0; i < count; i++) {
      const p = pkts[i];
      if (reason[i] === 0 && unsent[i] === 0) { pkts[ok++] = p; continue; }
      refused[bad++] = p;
      if (reason[i] !== 0) { counted++; this.countDrop?.(reason[i], 1); }
    }
    for (let i = 0; i < bad; i++) pkts[ok + i] = refused[i];
    this.lastSendCounted = counted;
    c.txDrops += bad;
    return ok;
  }

  /** The VNI a frame leaves with (removing its tag: the VNI names the network), or -1. */
  private egressVni(p: Packet): number {
    if (this.vidToVni !== null) {
      if (isTagged(p)) {
        const vni = this.vidToVni[outerTci(p) & 0xfff];
        popVlan(p);
        return vni;
      }
      return this.vniToVid!.has(p.tunnelId) ? p.tunnelId : -1;
    }
    if (isTagged(p)) popVlan(p);
    if (this.vniFlow) return p.tunnelId <= 0xffffff ? p.tunnelId : -1;
    return this.vni;
  }

  private putVtep(m: number, owner: number, p: Packet, vtep: number, sport: number, vni: number): void {
    const r = this.vteps.vteps[vtep];
    if (r.family === 4) { this.putV4(m, owner, p, r.w0, sport, vni); return; }
    this.hdrLens[m] = writeOuterV6(this.hdrs, m * HDR_STRIDE, this.local, r, sport, this.dstPort, vni, p.len);
    this.txBufs[m] = p.buf; this.txOffs[m] = p.off; this.txLens[m] = p.len; this.txOwner[m] = owner;
  }

  private putV4(m: number, owner: number, p: Packet, dst: number, sport: number, vni: number): void {
    this.hdrLens[m] = writeOuterV4(this.hdrs, m * HDR_STRIDE, this.local.w0, dst, sport, this.dstPort, vni, p.len);
    this.txBufs[m] = p.buf; this.txOffs[m] = p.off; this.txLens[m] = p.len; this.txOwner[m] = owner;
  }

  /** Send messages [0, m); mark the frames of those not sent; returns 0 (the next free message). */
  private flushTx(nat: NativeBinding, m: number): number {
    const res = this.res, c = this.counters;
    const sent = nat.tunnelSend!(this.rawFd, this.hdrs, this.hdrLens, this.txBufs, this.txOffs, this.txLens, m, res);
    c.nativeCalls++; c.syscalls += res[1];
    let bytes = 0;
    for (let k = 0; k < m; k++) {
      const refusedHere = this.txLens[k] === 0 && k < sent + res[2];
      if (k >= sent + res[2] || refusedHere) {
        const o = this.txOwner[k];
        this.unsent[o]++;
        if (refusedHere && res[3] > 0 && this.reason[o] === 0) this.reason[o] = DROP.TunnelTooBig;
      } else {
        bytes += this.txLens[k];
      }
    }
    c.txDatagrams += sent; c.txFrames += sent; c.txBytes += bytes;
    if (res[2] > 0) c.errors += res[2];
    this.txBufs.fill(EMPTY, 0, m);
    return 0;
  }

  // ------------------------------------------------------------------ BFD

  /** Arm the timer for the earliest session deadline (sends, detection-time expiry). */
  private scheduleBfd(): void {
    if (this.bfd === null || this.rawFd < 0) return;
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.bfd) next = Math.min(next, t.session.nextDeadlineMs());
    if (!Number.isFinite(next)) return;
    if (this.bfdTimer !== null) clearTimeout(this.bfdTimer);
    this.bfdTimer = setTimeout(this.bfdTick, Math.max(0, next - epochNowMs()));
  }

  private readonly bfdTick = (): void => {
    this.bfdTimer = null;
    if (this.bfd === null || this.rawFd < 0) return;
    const nowMs = epochNowMs();
    for (const t of this.bfd) {
      if (t.session.poll(nowMs)) this.sendBfd(t, nowMs);
      this.bfdChanged(t);
    }
    this.scheduleBfd();
  };

  /** Encapsulate and send one Control packet of session `t` (VNI: the port's own, else 0). */
  private sendBfd(t: TunnelBfd, nowMs: number): void {
    const nat = this.nat;
    if (nat === null) return;
    const len = t.session.emitFrame(this.bfdFrame, 0, nowMs);
    if (len === 0) return;
    const r = this.vteps.vteps[t.vtep], vni = this.vni >= 0 ? this.vni : 0;
    const sport = vxlanSourcePort(this.bfdFrame, 0, len);
    this.hdrLens[0] = r.family === 4
      ? writeOuterV4(this.hdrs, 0, this.local.w0, r.w0, sport, this.dstPort, vni, len)
      : writeOuterV6(this.hdrs, 0, this.local, r, sport, this.dstPort, vni, len);
    this.txBufs[0] = this.bfdFrame; this.txOffs[0] = 0; this.txLens[0] = len;
    nat.tunnelSend!(this.rawFd, this.hdrs, this.hdrLens, this.txBufs, this.txOffs, this.txLens, 1, this.res);
    this.txBufs[0] = EMPTY;
  }

  /** Follow a session's forwarding state: the VTEP's use (flood lists, MACs) and the port's link. */
  private bfdChanged(t: TunnelBfd): void {
    const fwd = t.session.forwarding;
    if (this.vteps.isAlive(t.vtep) !== fwd) this.vteps.setAlive(t.vtep, fwd);
    let any = false;
    for (const x of this.bfd!) if (x.session.forwarding) { any = true; break; }
    if (any !== this.bfdLive) {
      this.bfdLive = any;
      this.setLink(any, any ? 'bfd up' : `bfd: no session up (${this.vteps.vteps[t.vtep].text} ${t.session.status().state}, ${t.session.status().diagnostic})`);
    }
  }

  private linkUp = true;
  get up(): boolean { return this.udpFd >= 0 && this.linkUp; }
  private setLink(up: boolean, reason: string): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    this.onStatus?.({ up, gone: false, reason });
  }

  tunnelInfo(nowMs: number = epochNowMs()): TunnelInfo {
    const t = this.vteps;
    return {
      local: this.local.text, dstPort: this.dstPort, mtu: this.mtu,
      vni: this.vniToVid !== null ? null : this.vniFlow ? 'flow' : this.vni,
      networks: this.vniToVid !== null ? [...this.vniToVid].map(([vni, vid]) => ({ vni, vid })) : null,
      remote: this.remoteFlow ? 'flow' : t.floodList(-1).map((i) => t.vteps[i].text),
      endpoints: t.vteps.map((a, i) => ({ vtep: a.text, up: t.isAlive(i) })),
      vteps: t.entries(nowMs).map((e) => ({ vni: e.vni, mac: formatMac(e.mac), vtep: e.vtep, ageS: e.ageS })),
      ...(this.bfd !== null ? { bfd: this.bfd.map((b) => ({ vtep: t.vteps[b.vtep].text, ...b.session.status(), counters: b.session.counterValues() })) } : {}),
    };
  }

  private releaseSpares(): void {
    const pool = this.sparePool;
    for (let i = 0; i < this.spareCount; i++) pool?.release(this.spare[i]);
    this.spare.length = 0;
    this.spareCount = 0;
  }

  async close(): Promise<void> {
    if (this.bfdTimer !== null) { clearTimeout(this.bfdTimer); this.bfdTimer = null; }
    if (this.poller) { this.poller.close(); this.poller = null; }
    if (this.nat !== null) {
      if (this.udpFd >= 0) this.nat.closeFd(this.udpFd);
      if (this.rawFd >= 0) this.nat.closeFd(this.rawFd);
    }
    this.udpFd = -1; this.rawFd = -1;
    this.releaseSpares();
    this.sparePool = null;
    this.bufs.fill(EMPTY);
  }
}

/** Cheap pre-check before a full BFD parse: IPv4 carrying UDP to port 3784 (else it is data). */
function maybeBfd(b: Buffer, off: number, len: number): boolean {
  if (len < 14 + 20 + 8 + 24 || b[off + 12] !== 0x08 || b[off + 13] !== 0x00 || b[off + 14 + 9] !== 17) return false;
  const l4 = off + 14 + (b[off + 14] & 0x0f) * 4;
  return l4 + 4 <= off + len && ((b[l4 + 2] << 8) | b[l4 + 3]) === BFD_CONTROL_PORT;
}

/** The MTU of the device that holds `addr` in this network namespace, or null. */
export function underlayMtuOf(addr: string): number | null {
  const want = addr.toLowerCase();
  for (const [dev, list] of Object.entries(os.networkInterfaces())) {
    if (!list?.some((a) => a.address.toLowerCase() === want)) continue;
    try { return Number(readFileSync(`/sys/class/net/${dev}/mtu`, 'utf8').trim()) || null; } catch { return null; }
  }
  return null;
}
