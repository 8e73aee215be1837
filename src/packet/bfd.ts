// BFD Control packet view (RFC 5880 §4.1, the 24-byte mandatory section) and its cold-path value
// object. BFD is the liveness check of VXLAN tunnels (see bfd-frame.ts for the frame around it and
// src/vlan/bfd-session.ts for the state machine). Authentication (§4.2-4.4) is left out:
// the A bit is parsed so receivers can refuse it, and no auth section is ever read or written.
import { EMPTY, rd32, wr32 } from './bytes.js';

/** Bytes of the mandatory section; also the Length of a packet without authentication. */
export const BFD_CONTROL_LEN = 24;
/** Smallest Length of a packet with the A bit set (24 + the 2-byte auth type and length). */
export const BFD_CONTROL_AUTH_MIN_LEN = 26;
/** UDP destination port of single-hop BFD Control packets (RFC 5881 §4). */
export const BFD_CONTROL_PORT = 3784;
export const BFD_VERSION = 1;

/** Session states (RFC 5880 §4.1 "Sta"), as carried in the packet. */
export const BFD_STATE = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type BfdState = (typeof BFD_STATE)[keyof typeof BFD_STATE];
/** Index = state; the spelling of Open vSwitch's bfd_status:state. */
export const BFD_STATE_NAMES = ['admin_down', 'down', 'init', 'up'] as const;

/** Diagnostic codes (RFC 5880 §4.1 "Diag"); 9-31 are reserved. */
export const BFD_DIAG = {
  None: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
/** Index = diag code; the RFC's wording (which Open vSwitch also shows in bfd_status:diagnostic). */
export const BFD_DIAG_NAMES = [
  'No Diagnostic', 'Control Detection Time Expired', 'Echo Function Failed', 'Neighbor Signaled Session Down',
  'Forwarding Plane Reset', 'Path Down', 'Concatenated Path Down', 'Administratively Down',
  'Reverse Concatenated Path Down',
] as const;

/** Flag bits of byte 1, below the 2-bit state. */
export const BFD_FLAG = { Poll: 0x20, Final: 0x10, ControlPlaneIndependent: 0x08, AuthPresent: 0x04, Demand: 0x02, Multipoint: 0x01 } as const;

const VERS_DIAG = 0, STA_FLAGS = 1, DETECT_MULT = 2, LENGTH = 3, MY_DISCR = 4, YOUR_DISCR = 8,
  DESIRED_MIN_TX = 12, REQUIRED_MIN_RX = 16, REQUIRED_MIN_ECHO_RX = 20;

export class BfdView {
  buf: Buffer = EMPTY; off = 0; len = 0;
  reset(buf: Buffer, off: number, len: number): this { this.buf = buf; this.off = off; this.len = len; return this; }
  /** The mandatory section is within len: every accessor below stays in bounds. Says nothing about the Length field. */
  checkLen(): boolean { return this.len >= BFD_CONTROL_LEN; }

  get version(): number { return this.buf[this.off + VERS_DIAG] >>> 5; }
  set version(v: number) { const o = this.off + VERS_DIAG; this.buf[o] = ((v & 7) << 5) | (this.buf[o] & 0x1f); }
  get diag(): number { return this.buf[this.off + VERS_DIAG] & 0x1f; }
  set diag(v: number) { const o = this.off + VERS_DIAG; this.buf[o] = (this.buf[o] & 0xe0) | (v & 0x1f); }
  get state(): number { return this.buf[this.off + STA_FLAGS] >>> 6; }
  set state(v: number) { const o = this.off + STA_FLAGS; this.buf[o] = ((v & 3) << 6) | (this.buf[o] & 0x3f); }
  /** The six flag bits (BFD_FLAG) as one number. */
  get flags(): number { return this.buf[this.off + STA_FLAGS] & 0x3f; }
  set flags(v: number) { const o = this.off + STA_FLAGS; this.buf[o] = (this.buf[o] & 0xc0) | (v & 0x3f); }
  get poll(): boolean { return (this.buf[this.off + STA_FLAGS] & BFD_FLAG.Poll) !== 0; }
  set poll(v: boolean) { this.setFlag(BFD_FLAG.Poll, v); }
  get final(): boolean { return (this.buf[this.off + STA_FLAGS] & BFD_FLAG.Final) !== 0; }
  set final(v: boolean) { this.setFlag(BFD_FLAG.Final, v); }
  get controlPlaneIndependent(): boolean { return (this.buf[this.off + STA_FLAGS] & BFD_FLAG.ControlPlaneIndependent) !== 0; }
  set controlPlaneIndependent(v: boolean) { this.setFlag(BFD_FLAG.ControlPlaneIndependent, v); }
  /** A bit: an authentication section follows the mandatory one. */
  get authPresent(): boolean { return (this.buf[this.off + STA_FLAGS] & BFD_FLAG.AuthPresent) !== 0; }
  set authPresent(v: boolean) { this.setFlag(BFD_FLAG.AuthPresent, v); }
  get demand(): boolean { return (this.buf[this.off + STA_FLAGS] & BFD_FLAG.Demand) !== 0; }
  set demand(v: boolean) { this.setFlag(BFD_FLAG.Demand, v); }
  get multipoint(): boolean { return (this.buf[this.off + STA_FLAGS] & BFD_FLAG.Multipoint) !== 0; }
  set multipoint(v: boolean) { this.setFlag(BFD_FLAG.Multipoint, v); }
  get detectMult(): number { return this.buf[this.off + DETECT_MULT]; }
  set detectMult(v: number) { this.buf[this.off + DETECT_MULT] = v; }
  /** Length field: bytes of the whole Control packet (mandatory section plus auth section). */
  get length(): number { return this.buf[this.off + LENGTH]; }
  set length(v: number) { this.buf[this.off + LENGTH] = v; }
  get myDiscriminator(): number { return rd32(this.buf, this.off + MY_DISCR); }
  set myDiscriminator(v: number) { wr32(this.buf, this.off + MY_DISCR, v); }
  get yourDiscriminator(): number { return rd32(this.buf, this.off + YOUR_DISCR); }
  set yourDiscriminator(v: number) { wr32(this.buf, this.off + YOUR_DISCR, v); }
  /** Intervals are in microseconds on the wire. */
  get desiredMinTxUs(): number { return rd32(this.buf, this.off + DESIRED_MIN_TX); }
  set desiredMinTxUs(v: number) { wr32(this.buf, this.off + DESIRED_MIN_TX, v); }
  get requiredMinRxUs(): number { return rd32(this.buf, this.off + REQUIRED_MIN_RX); }
  set requiredMinRxUs(v: number) { wr32(this.buf, this.off + REQUIRED_MIN_RX, v); }
  get requiredMinEchoRxUs(): number { return rd32(this.buf, this.off + REQUIRED_MIN_ECHO_RX); }
  set requiredMinEchoRxUs(v: number) { wr32(this.buf, this.off + REQUIRED_MIN_ECHO_RX, v); }

  private setFlag(bit: number, v: boolean): void {
    const o = this.off + STA_FLAGS;
    this.buf[o] = v ? this.buf[o] | bit : this.buf[o] & ~bit;
  }
}

/** Cold-path value of the mandatory section (tests, status, CLI); also reusable via parseBfdInto. */
export interface BfdFields {
  version: number; diag: number; state: number;
  poll: boolean; final: boolean; controlPlaneIndependent: boolean; authPresent: boolean; demand: boolean; multipoint: boolean;
  detectMult: number; length: number;
  myDiscriminator: number; yourDiscriminator: number;
  desiredMinTxUs: number; requiredMinRxUs: number; requiredMinEchoRxUs: number;
}

/** A fresh value with the defaults of a packet nobody has filled in (version 1, Length 24, state Down). */
export function newBfdFields(): BfdFields {
  return {
    version: BFD_VERSION, diag: 0, state: BFD_STATE.Down,
    poll: false, final: false, controlPlaneIndependent: false, authPresent: false, demand: false, multipoint: false,
    detectMult: 0, length: BFD_CONTROL_LEN, myDiscriminator: 0, yourDiscriminator: 0,
    desiredMinTxUs: 0, requiredMinRxUs: 0, requiredMinEchoRxUs: 0,
  };
}

/** Read the mandatory section into `f` (no allocation). The view must pass checkLen(). */
export function parseBfdInto(v: BfdView, f: BfdFields): BfdFields {
  f.version = v.version; f.diag = v.diag; f.state = v.state;
  f.poll = v.poll; f.final = v.final; f.controlPlaneIndependent = v.controlPlaneIndependent;
  f.authPresent = v.authPresent; f.demand = v.demand; f.multipoint = v.multipoint;
  f.detectMult = v.detectMult; f.length = v.length;
  f.myDiscriminator = v.myDiscriminator; f.yourDiscriminator = v.yourDiscriminator;
  f.desiredMinTxUs = v.desiredMinTxUs; f.requiredMinRxUs = v.requiredMinRxUs; f.requiredMinEchoRxUs = v.requiredMinEchoRxUs;
  return f;
}
/** The mandatory section as a new value. The view must pass checkLen(). */
export function parseBfd(v: BfdView): BfdFields { return parseBfdInto(v, newBfdFields()); }

/** Write all 24 bytes of the mandatory section (no auth section, whatever authPresent says). */
export function emitBfd(f: BfdFields, v: BfdView): void {
  const b = v.buf, o = v.off;
  b[o + VERS_DIAG] = ((f.version & 7) << 5) | (f.diag & 0x1f);
  b[o + STA_FLAGS] = ((f.state & 3) << 6) |
    (f.poll ? BFD_FLAG.Poll : 0) | (f.final ? BFD_FLAG.Final : 0) |
    (f.controlPlaneIndependent ? BFD_FLAG.ControlPlaneIndependent : 0) | (f.authPresent ? BFD_FLAG.AuthPresent : 0) |
    (f.demand ? BFD_FLAG.Demand : 0) | (f.multipoint ? BFD_FLAG.Multipoint : 0);
  b[o + DETECT_MULT] = f.detectMult; b[o + LENGTH] = f.length;
  v.myDiscriminator = f.myDiscriminator; v.yourDiscriminator = f.yourDiscriminator;
  v.desiredMinTxUs = f.desiredMinTxUs; v.requiredMinRxUs = f.requiredMinRxUs; v.requiredMinEchoRxUs = f.requiredMinEchoRxUs;
}
