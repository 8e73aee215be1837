// NORMAL's split horizon for tunnel ports (datapath/normal.ts, NormalPortInfo.tunnel): a frame that
// came in over a tunnel is never flooded into another tunnel (the remote VTEPs flood for
// themselves: head-end replication, a full mesh) but does reach every local port; frames from
// local ports flood into the tunnels. Driven directly (decide on a flow key) and through a Bridge
// whose backends say `tunnel: true`, as VxlanPort does.
import { describe, it, expect } from 'vitest';
import { FlowKey, K, VID_PRESENT, macHi, macLo } from '../../../src/packet/flow-key.js';
import { Normal, NormalDecision, NormalDrop } from '../../../src/datapath/normal.js';
import type { NormalPortInfo } from '../../../src/datapath/normal.js';
import { Bridge } from '../../../src/datapath/bridge.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { PacketPool } from '../../../src/packet/pool.js';
import { udpFrame, BCAST, MAC } from '../datapath/helpers.js';

const BC = 0xffff_ffff_ffff;
const MC = 0x0100_5e00_0001;
const mac = (n: number): number => 0x0200_0000_0000 + n;

const key = new FlowKey();
function frame(inPort: number, src: number, dst: number, vid = 0): FlowKey {
  key.clear();
  key.w[K.IN_PORT] = inPort;
  key.w[K.ETH_SRC_HI] = macHi(src); key.w[K.ETH_SRC_LO] = macLo(src);
  key.w[K.ETH_DST_HI] = macHi(dst); key.w[K.ETH_DST_LO] = macLo(dst);
  if (vid) key.w[K.VLAN_VID] = VID_PRESENT | vid;
  return key;
}
const d = new NormalDecision();
function send(b: Normal, inPort: number, src: number, dst: number, vid = 0): number[] {
  b.decide(inPort, frame(inPort, src, dst, vid), 0, d);
  return Array.from(d.ports.subarray(0, d.count)).sort((x, y) => x - y);
}

/** Ports 1, 2: local (trunks); 3, 4, 5: tunnels (trunks). */
function bridge(extra: Partial<NormalPortInfo> = {}): Normal {
  const b = new Normal({ macTableSize: 1024, agingMs: 300_000 });
  for (let i = 1; i <= 5; i++) b.setPort({ ofport: i, vlan: { mode: 'trunk' }, canFlood: true, canForward: true, tunnel: i >= 3, ...extra });
  return b;
}

describe('split horizon in Normal.decide', () => {
  it.each([
    ['unknown unicast', mac(99)],
    ['broadcast', BC],
    ['multicast', MC],
  ])('%s from a tunnel floods to the local ports only', (_what, dst) => {
    const b = bridge();
    expect(send(b, 3, mac(1), dst)).toEqual([1, 2]);
    expect(send(b, 4, mac(2), dst)).toEqual([1, 2]);
    expect(send(b, 5, mac(3), dst, 100)).toEqual([1, 2]);
    expect(d.dropReason).toBe(NormalDrop.None);
  });

  it.each([
    ['unknown unicast', mac(99)],
    ['broadcast', BC],
  ])('%s from a local port floods to the other local port and every tunnel', (_what, dst) => {
    const b = bridge();
    expect(send(b, 1, mac(1), dst)).toEqual([2, 3, 4, 5]);
    expect(send(b, 2, mac(2), dst, 100)).toEqual([1, 3, 4, 5]);
  });

  it('a tunnel with no local port to flood to has nowhere to go (no-ports), not another tunnel', () => {
    const b = new Normal({ macTableSize: 64, agingMs: 1000 });
    for (let i = 1; i <= 3; i++) b.setPort({ ofport: i, vlan: { mode: 'trunk' }, canFlood: true, canForward: true, tunnel: true });
    expect(send(b, 1, mac(1), BC)).toEqual([]);
    expect(d.dropReason).toBe(NormalDrop.NoPorts);
  });

  it('still learns from tunnels, and unicasts to a MAC learned behind a tunnel', () => {
    const b = bridge();
    send(b, 3, mac(3), BC);
    expect(b.lookup(0, mac(3))).toBe(3);
    expect(send(b, 1, mac(1), mac(3))).toEqual([3]);
    expect(send(b, 3, mac(3), mac(1))).toEqual([1]);
  });

  it('ports without the flag (or with tunnel: false) are not tunnels', () => {
    const b = new Normal({ macTableSize: 64, agingMs: 1000 });
    b.setPort({ ofport: 1, vlan: { mode: 'trunk' }, canFlood: true, canForward: true });
    b.setPort({ ofport: 2, vlan: { mode: 'trunk' }, canFlood: true, canForward: true, tunnel: false });
    b.setPort({ ofport: 3, vlan: { mode: 'trunk' }, canFlood: true, canForward: true, tunnel: true });
    expect(b.port(1)?.tunnel).toBe(false);
    expect(send(b, 3, mac(1), BC)).toEqual([1, 2]);
    expect(send(b, 1, mac(2), BC)).toEqual([2, 3]);
    expect(send(b, 2, mac(3), BC)).toEqual([1, 3]);
  });

  it('reconfiguring a port as a tunnel (or back) takes effect on the next flood', () => {
    const b = bridge();
    expect(send(b, 3, mac(1), BC)).toEqual([1, 2]);
    b.setPort({ ofport: 2, vlan: { mode: 'trunk' }, canFlood: true, canForward: true, tunnel: true });
    expect(send(b, 3, mac(1), BC)).toEqual([1]);
    b.setPort({ ofport: 4, vlan: { mode: 'trunk' }, canFlood: true, canForward: true, tunnel: false });
    expect(send(b, 3, mac(1), BC)).toEqual([1, 4]);
  });

  it('VLAN membership still applies: a tunnel floods only to local ports carrying the VLAN', () => {
    const b = new Normal({ macTableSize: 64, agingMs: 1000 });
    b.setPort({ ofport: 1, vlan: { mode: 'access', vid: 100 }, canFlood: true, canForward: true });
    b.setPort({ ofport: 2, vlan: { mode: 'access', vid: 200 }, canFlood: true, canForward: true });
    b.setPort({ ofport: 3, vlan: { mode: 'trunk', vids: [100, 200] }, canFlood: true, canForward: true, tunnel: true });
    b.setPort({ ofport: 4, vlan: { mode: 'trunk', vids: [100, 200] }, canFlood: true, canForward: true, tunnel: true });
    expect(send(b, 3, mac(1), BC, 100)).toEqual([1]);
    expect(send(b, 3, mac(2), BC, 200)).toEqual([2]);
    expect(send(b, 1, mac(3), BC)).toEqual([3, 4]);
  });
});

/** A memory port that says it is a tunnel (as VxlanPort does with `readonly tunnel = true`). */
class TunnelMemoryPort extends MemoryPort { readonly tunnel = true; }

describe('split horizon through the Bridge (backend.tunnel)', () => {
  function make(): { br: Bridge; ports: MemoryPort[] } {
    const pool = new PacketPool(256, 2048);
    const br = new Bridge({ name: 'br0', pool });
    const ports: MemoryPort[] = [new MemoryPort('vm1'), new MemoryPort('vm2'), new TunnelMemoryPort('vx1'), new TunnelMemoryPort('vx2')];
    ports.forEach((p, i) => br.addPort({ ofport: i + 1, name: p.name, backend: p }));
    return { br, ports };
  }
  function inject(t: { br: Bridge; ports: MemoryPort[] }, inPort: number, f: Buffer): number[] {
    t.ports[inPort - 1].inject(f);
    t.br.poll(0);
    const got: number[] = [];
    t.ports.forEach((p, i) => { if (p.takeSent().length > 0) got.push(i + 1); });
    return got;
  }

  it('a broadcast from a tunnel reaches the local ports, not the other tunnel', () => {
    const t = make();
    expect(inject(t, 3, udpFrame(3, 0, { dstMac: BCAST }))).toEqual([1, 2]);
    expect(inject(t, 4, udpFrame(4, 0, { dstMac: BCAST }))).toEqual([1, 2]);
  });

  it('an unknown unicast from a local port reaches every tunnel', () => {
    const t = make();
    expect(inject(t, 1, udpFrame(1, 9, { dstMac: MAC(9) }))).toEqual([2, 3, 4]);
  });

  it('a reply to a MAC learned behind a tunnel goes back into that tunnel only', () => {
    const t = make();
    inject(t, 3, udpFrame(3, 0, { dstMac: BCAST }));
    expect(inject(t, 1, udpFrame(1, 3))).toEqual([3]);
  });
});
