// A free list of preallocated packets. Nothing on the forwarding path allocates: ports take
// packets from the pool, and whoever drops or finishes transmitting a packet gives it back.
import { Packet, DEFAULT_PACKET_SIZE } from './packet.js';

export class PacketPool {
  private readonly free: Packet[];
  private top: number;
  readonly size: number;
  /** Times alloc() found the pool empty (a counted drop for the caller). */
  exhausted = 0;

  constructor(count: number = 4096, packetSize: number = DEFAULT_PACKET_SIZE) {
    this.size = packetSize;
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

  /** Return a packet. Packets of another size (foreign pools) are not accepted back. */
  release(p: Packet): void {
    if (p.buf.length !== this.size || this.top >= this.free.length) return;
    this.free[this.top++] = p;
  }

  get available(): number { return this.top; }
  get capacity(): number { return this.free.length; }
}
