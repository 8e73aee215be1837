// A free list of preallocated packets. Nothing on the forwarding path allocates: ports take
// packets from the pool, and whoever drops or finishes transmitting a packet gives it back.
// Two tiers: `alloc()` gives ordinary packets (DEFAULT_PACKET_SIZE, jumbo frames fit); the large
// tier (LARGE_PACKET_SIZE, a 64 KiB GSO super-frame fits) exists only once a port with vnet
// headers reserves it, so a switch without such ports pays nothing for it. Large packets are
// allocated by reserveLarge() (at a port's first receive), never per frame.
import { Packet, DEFAULT_PACKET_SIZE, HEADROOM, LARGE_PACKET_SIZE } from './packet.js';

/** Cap of the large tier for the whole pool: 4096 x 66 KiB = 264 MiB of address space at most. */
export const MAX_LARGE_PACKETS = 4096;

export class PacketPool {
  private readonly free: Packet[];
  private top: number;
  readonly size: number;
  /** Times alloc() found the pool empty (a counted drop for the caller). */
  exhausted = 0;
  /** Large tier: free list, how many exist, and times allocLarge() found it empty. */
  private readonly freeLarge: Packet[] = [];
  private largeMade = 0;
  readonly largeSize: number;
  exhaustedLarge = 0;

  constructor(count: number = 4096, packetSize: number = DEFAULT_PACKET_SIZE, largeSize: number = LARGE_PACKET_SIZE) {
    this.size = packetSize;
    this.largeSize = largeSize > packetSize ? largeSize : packetSize + 1;
    this.free = new Array<Packet>(count);
    for (let i = 0; i < count; i++) this.free[i] = new Packet(packetSize);
    this.top = count;
  }

  /** A reset packet, or null when every packet is in flight. */
  alloc(): Packet | null {
    if (this.top === 0) { this.exhausted++; return null; }
    const p = this.free[--this.top];
    p.reset();
    return p;
  }

  /** A reset large packet (room for a 64 KiB super-frame), or null when none is free. */
  allocLarge(): Packet | null {
    const fl = this.freeLarge;
    if (fl.length === 0) { this.exhaustedLarge++; return null; }
    const p = fl.pop() as Packet;
    p.reset();
    return p;
  }

  /** A packet whose buffer holds a `len`-byte frame after the headroom: ordinary if it fits, else large. */
  allocFor(len: number): Packet | null {
    return len <= this.size - HEADROOM ? this.alloc() : this.allocLarge();
  }

  /**
   * Make `n` more large packets exist (up to MAX_LARGE_PACKETS in all); returns how many were
   * added. Cold path: a vnet port calls it once per pool. The buffers are allocated uninitialised,
   * so pages are only touched (resident) once a frame that long has been received into them.
   */
  reserveLarge(n: number): number {
    let added = 0;
    while (added < n && this.largeMade < MAX_LARGE_PACKETS) {
      this.freeLarge.push(new Packet(this.largeSize));
      this.largeMade++; added++;
    }
    return added;
  }

  /** Return a packet. Packets of another size (foreign pools) are not accepted back. */
  release(p: Packet): void {
    const n = p.buf.length;
    if (n === this.size) {
      if (this.top < this.free.length) this.free[this.top++] = p;
    } else if (n === this.largeSize && this.freeLarge.length < this.largeMade) {
      this.freeLarge.push(p);
    }
  }

  get available(): number { return this.top; }
  get capacity(): number { return this.free.length; }
  /** Large tier: free now / made so far. */
  get largeAvailable(): number { return this.freeLarge.length; }
  get largeCapacity(): number { return this.largeMade; }
}
