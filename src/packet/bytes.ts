// Byte helpers shared by the header views: big-endian reads/writes by plain byte math (no
// DataView, no allocation; ~8 ns vs ~20 for readUInt16BE, see STYLE.md) and the Internet
// checksum (RFC 1071) as a running ones'-complement sum so pseudo-headers need no buffer.

/** Empty buffer that fresh views point at before their first reset(). */
export const EMPTY = Buffer.alloc(0);

export function rd16(b: Uint8Array, o: number): number { return (b[o] << 8) | b[o + 1]; }
export function rd32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
/** 48-bit big-endian value as an exact number (hi16 * 2^32 + lo32). */
export function rd48(b: Uint8Array, o: number): number {
  return ((b[o] << 8) | b[o + 1]) * 0x1_0000_0000 + rd32(b, o + 2);
}
export function wr16(b: Uint8Array, o: number, v: number): void { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; }
export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
}
export function wr48(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  wr16(b, o, hi); wr32(b, o + 2, v >>> 0);
}

/** Add `len` bytes at `o` to a ones'-complement running sum (not yet folded). */
export function sumBytes(b: Uint8Array, o: number, len: number, sum = 0): number {
  const end = o + len - 1;
  let i = o;
  for (; i < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i === end) sum += b[i] << 8;     // odd length: pad with a zero byte
  return sum;
}
/** Fold a running sum to 16 bits and complement it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}
/** RFC 1071 checksum of a byte range. */
export function internetChecksum(b: Uint8Array, o: number, len: number): number {
  return finishChecksum(sumBytes(b, o, len));
}
/** Running sum of the IPv4 pseudo-header (RFC 768/793). */
export function pseudoSumV4(src: number, dst: number, proto: number, l4Len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + l4Len;
}
/** Running sum of the IPv6 pseudo-header (RFC 8200 §8.1); addresses read from `b` at srcOff/dstOff. */
export function pseudoSumV6(b: Uint8Array, srcOff: number, dstOff: number, nextHeader: number, l4Len: number): number {
  let sum = sumBytes(b, srcOff, 16);
  sum = sumBytes(b, dstOff, 16, sum);
  return sum + Math.floor(l4Len / 0x10000) + (l4Len & 0xffff) + nextHeader;
}
