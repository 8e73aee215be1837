// Links between switches, found with LLDP: the controller sends a probe naming (datapath id, port)
// out of every port and hears it back as a PACKET_IN on the far side. Links unheard for a few
// probe periods go away. Flooding follows a spanning tree over the links (Kruskal over links in
// a fixed order, so every controller computes the same tree); the other links are blocked.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ChassisSubtype, LldpTlv, PortSubtype, buildLldp, parseLldp } from '../packet/lldp.js';
import type { LinkRecord } from './store.js';

export interface Endpoint { dpid: string; port: number }
export interface Link { a: Endpoint; b: Endpoint; seenAt: number }

const CHASSIS_PREFIX = 'sluice:';
const epKey = (e: Endpoint): string => `${e.dpid}:${e.port}`;

const SIGNATURE_PREFIX = 'sluice-probe ';
const signature = (key: Buffer, dpid: string, port: number): Buffer => createHmac('sha256', key).update(`${dpid}:${port}`).digest().subarray(0, 16);

/**
 * The probe a switch sends out of `port`: chassis "sluice:<dpid>", port id the port number, and a
 * System Description "sluice-probe <hmac>" keyed by this controller's secret, so that a device on
 * a port cannot forge a probe that makes its port look like a trunk.
 */
export function lldpProbe(dpid: string, port: number, srcMac: string, key: Buffer): Buffer {
  return buildLldp(srcMac, {
    chassisSubtype: ChassisSubtype.LOCAL, chassisId: Buffer.from(CHASSIS_PREFIX + dpid),
    portSubtype: PortSubtype.LOCAL, portId: Buffer.from(String(port)),
    ttlS: 120,
    extra: [{ type: LldpTlv.SYSTEM_DESC, value: Buffer.from(SIGNATURE_PREFIX + signature(key, dpid, port).toString('hex')) }],
  });
}

/** The (dpid, port) a probe came from, or null if the frame is not a probe signed with `key`. */
export function probeOrigin(frame: Buffer, key: Buffer): Endpoint | null {
  const f = parseLldp(frame, 0, frame.length);
  if (!f || f.chassisSubtype !== ChassisSubtype.LOCAL || f.portSubtype !== PortSubtype.LOCAL) return null;
  const chassis = f.chassisId.toString('latin1');
  if (!chassis.startsWith(CHASSIS_PREFIX)) return null;
  const dpid = chassis.slice(CHASSIS_PREFIX.length);
  const port = Number(f.portId.toString('latin1'));
  if (!/^[0-9a-f]{16}$/.test(dpid) || !Number.isInteger(port) || port < 1 || port > 0xffffff00) return null;
  const sig = f.extra.find((t) => t.type === LldpTlv.SYSTEM_DESC)?.value.toString('latin1') ?? '';
  if (!sig.startsWith(SIGNATURE_PREFIX)) return null;
  const got = Buffer.from(sig.slice(SIGNATURE_PREFIX.length), 'hex');
  const want = signature(key, dpid, port);
  return got.length === want.length && timingSafeEqual(got, want) ? { dpid, port } : null;
}

export class Topology {
  private readonly links = new Map<string, Link>();

  constructor(saved: readonly LinkRecord[] = [], nowMs = Date.now()) {
    // Links from before a restart count as just seen: they stay until probes prove them gone.
    for (const l of saved) this.links.set(linkKey(l.a, l.b), { a: l.a, b: l.b, seenAt: nowMs });
  }

  /** A probe from `from` arrived at `at`. Returns true when this is a new link. */
  heard(from: Endpoint, at: Endpoint, nowMs: number): boolean {
    if (from.dpid === at.dpid && from.port === at.port) return false;
    const k = linkKey(from, at);
    const cur = this.links.get(k);
    if (cur) { cur.seenAt = nowMs; return false; }
    // A port belongs to one link: a new neighbour replaces the old one (a re-cabled trunk).
    for (const [lk, l] of this.links) {
      if ([l.a, l.b].some((e) => epKey(e) === epKey(from) || epKey(e) === epKey(at))) this.links.delete(lk);
    }
    const [a, b] = order(from, at);
    this.links.set(k, { a, b, seenAt: nowMs });
    return true;
  }

  /** Drop links unheard since `beforeMs` whose both switches are `live` (probing). Returns them. */
  expire(beforeMs: number, live: (dpid: string) => boolean): Link[] {
    const gone: Link[] = [];
    for (const [k, l] of this.links) {
      if (l.seenAt < beforeMs && live(l.a.dpid) && live(l.b.dpid)) { this.links.delete(k); gone.push(l); }
    }
    return gone;
  }

  /** Forget every link at a port (the port went away). */
  dropPort(e: Endpoint): Link[] {
    const gone: Link[] = [];
    for (const [k, l] of this.links) if (epKey(l.a) === epKey(e) || epKey(l.b) === epKey(e)) { this.links.delete(k); gone.push(l); }
    return gone;
  }

  list(): Link[] {
    return [...this.links.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([, l]) => l);
  }

  records(): LinkRecord[] {
    return this.list().map((l) => ({ a: { ...l.a }, b: { ...l.b }, seenAt: l.seenAt }));
  }

  /** Links off the spanning tree (Kruskal over links sorted by key; ties broken the same everywhere). */
  blocked(): Set<string> {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
      parent.set(x, r);
      return r;
    };
    const out = new Set<string>();
    for (const l of this.list()) {
      const ra = find(l.a.dpid), rb = find(l.b.dpid);
      if (ra === rb) { out.add(linkKey(l.a, l.b)); continue; }
      parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
    }
    return out;
  }

  /** The trunk ports of one switch, each with whether it is blocked. */
  trunksOf(dpid: string): { port: number; blocked: boolean; peer: Endpoint }[] {
    const blocked = this.blocked();
    const out: { port: number; blocked: boolean; peer: Endpoint }[] = [];
    for (const l of this.list()) {
      const k = linkKey(l.a, l.b);
      if (l.a.dpid === dpid) out.push({ port: l.a.port, blocked: blocked.has(k), peer: l.b });
      if (l.b.dpid === dpid) out.push({ port: l.b.port, blocked: blocked.has(k), peer: l.a });
    }
    return out.sort((x, y) => x.port - y.port);
  }
}

function order(x: Endpoint, y: Endpoint): [Endpoint, Endpoint] {
  return epKey(x) < epKey(y) ? [x, y] : [y, x];
}
export function linkKey(x: Endpoint, y: Endpoint): string {
  const [a, b] = order(x, y);
  return `${epKey(a)}-${epKey(b)}`;
}
