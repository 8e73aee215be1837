// The real OpenFlow 1.3 session in ../shared/vectors/captures/of13_ericsson.pcapng: TCP payloads
// are reassembled per direction (ordered by sequence number), fed through OfpFramer and decoded;
// the message types must match tcpdump's own decoding of the same capture.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OFPBRC, OFPET, OfpFramer, decodeMessage, encodeMessage, MESSAGE_CODES } from '../../../src/openflow/index.js';
import { parseCapture } from '../../../src/packet/capture.js';
import { VECTORS_DIR } from './vectors.js';

const PCAP = join(VECTORS_DIR, 'captures/of13_ericsson.pcapng');
const TXT = join(VECTORS_DIR, 'captures/of13_ericsson.tcpdump.txt');
const have = existsSync(PCAP) && existsSync(TXT);
if (!have) console.log(`OpenFlow capture test skipped: ${PCAP} is absent`);

/** Ethernet/IPv4/TCP payloads per direction ("src:port>dst:port"), in sequence order, deduplicated. */
function tcpStreams(frames: Buffer[]): Map<string, Buffer[]> {
  const segs = new Map<string, Map<number, Buffer>>();
  for (const f of frames) {
    if (f.length < 34 || f.readUInt16BE(12) !== 0x0800 || f[23] !== 6) continue;
    const ihl = (f[14]! & 0x0f) * 4;
    const ipLen = f.readUInt16BE(16);
    const t = 14 + ihl;
    const dataOff = (f[t + 12]! >> 4) * 4;
    const payload = f.subarray(t + dataOff, 14 + ipLen);
    if (payload.length === 0) continue;
    const key = `${f.subarray(26, 30).join('.')}:${f.readUInt16BE(t)}>${f.subarray(30, 34).join('.')}:${f.readUInt16BE(t + 2)}`;
    const m = segs.get(key) ?? new Map<number, Buffer>();
    m.set(f.readUInt32BE(t + 4), payload);
    segs.set(key, m);
  }
  const out = new Map<string, Buffer[]>();
  for (const [k, m] of segs) out.set(k, [...m.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]));
  return out;
}

describe.skipIf(!have)('of13_ericsson.pcapng session', () => {
  it('frames and decodes every OpenFlow message, matching tcpdump', () => {
    const records = parseCapture(readFileSync(PCAP), 'of13_ericsson.pcapng');
    const streams = tcpStreams(records.map((r) => r.data));
    const names: string[] = [];
    for (const chunks of streams.values()) {
      const f = new OfpFramer((b, o, l) => {
        if (b[o] !== 4 && b[o + 1] !== 0) { // an OpenFlow 1.0 peer after failed negotiation: not ours to decode
          expect(() => decodeMessage(b, o, l)).toThrow(expect.objectContaining({ type: OFPET.BAD_REQUEST, code: OFPBRC.BAD_VERSION }));
          return;
        }
        const m = decodeMessage(b, o, l);
        // a real switch may leave junk in padding, so check the decoded value survives re-encoding
        expect(decodeMessage(encodeMessage(m)), `${m.type} xid=${m.xid}`).toEqual(m);
        names.push(m.type.toUpperCase());
      });
      for (const c of chunks) f.push(c);
      expect(f.buffered).toBe(0);
    }
    const expected = [...readFileSync(TXT, 'utf8').matchAll(/version 1\.(?:3, type ([A-Z_]+)|\d, type (HELLO))/g)].map((x) => (x[1] ?? x[2])!);
    expect(names.length).toBeGreaterThan(20);
    expect(new Set(names).size).toBeGreaterThan(10);
    for (const n of names) expect(Object.keys(MESSAGE_CODES).map((k) => k.toUpperCase())).toContain(n);
    expect(names.sort()).toEqual(expected.sort());
  });
});
