// pcap/pcapng reading and pcap writing: byte orders, ns magic, several interfaces and sections,
// if_tsresol/if_tsoffset, skipped blocks, every error path, and tshark reading what we write.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { CaptureError, parseCapture, PcapWriter, readCaptureFile, requireEthernet, tsMsOf, writePcapFile, type CaptureRecord } from '../../../src/packet/capture.js';
import { makePcap, makePcapng } from '../../helpers/pcap.js';
import { itWithTools } from '../../helpers/privileged.js';

const A = buildFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', payload: { kind: 'arp', op: 1, sha: '02:00:00:00:00:01', spa: '10.0.0.1', tha: '00:00:00:00:00:00', tpa: '10.0.0.2' }, padTo60: true });
const B = buildFrame({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', payload: { kind: 'ipv4', src: '10.0.0.2', dst: '10.0.0.1', l4: { kind: 'udp', sport: 9, dport: 7, payload: Buffer.from('xyz') } } });

function codeOf(f: () => unknown): string {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(CaptureError); expect((e as Error).message).not.toContain('\n'); return (e as CaptureError).code; }
  throw new Error('expected a CaptureError');
}

describe('parseCapture: classic pcap', () => {
  it.each([
    ['little-endian µs', { bigEndian: false, nanos: false }],
    ['big-endian µs', { bigEndian: true, nanos: false }],
    ['little-endian ns', { bigEndian: false, nanos: true }],
    ['big-endian ns', { bigEndian: true, nanos: true }],
  ])('%s', (_n, opts) => {
    const frac = opts.nanos ? 123456789 : 123456;
    const data = makePcap([{ tsSec: 1_700_000_000, frac, data: A }, { tsSec: 1_700_000_001, frac: 0, data: B.subarray(0, 20), origLen: B.length }], opts);
    const recs = parseCapture(data, 't.pcap');
    expect(recs.length).toBe(2);
    expect(recs[0].data.equals(A)).toBe(true);
    expect([recs[0].tsSec, recs[0].tsNsec, recs[0].linkType, recs[0].ifIndex]).toEqual([1_700_000_000, opts.nanos ? 123456789 : 123456000, 1, 0]);
    expect([recs[1].data.length, recs[1].origLen]).toEqual([20, B.length]);
    expect(tsMsOf(recs[0])).toBeCloseTo(1_700_000_000_123.456789 - (opts.nanos ? 0 : 0.000789), 3);
  });
  it('a header with no records is an empty capture', () => {
    expect(parseCapture(makePcap([]), 'e.pcap')).toEqual([]);
  });
  it('keeps a non-Ethernet link type so callers can refuse it', () => {
    const recs = parseCapture(makePcap([{ tsSec: 1, frac: 0, data: A }], { linkType: 105 }), 'w.pcap');
    expect(recs[0].linkType).toBe(105);
    expect(codeOf(() => requireEthernet(recs, 'w.pcap'))).toBe('CAPTURE_LINKTYPE');
    expect(() => requireEthernet(recs, 'w.pcap')).toThrow('w.pcap: record 1 has link type 105, only Ethernet (1) is supported');
    expect(() => requireEthernet(parseCapture(makePcap([{ tsSec: 1, frac: 0, data: A }])))).not.toThrow();
  });
});

describe('parseCapture: errors', () => {
  it('bad magic', () => {
    expect(codeOf(() => parseCapture(Buffer.from('12345678000000000000000000000000', 'hex'), 'bad.pcap'))).toBe('CAPTURE_BAD_MAGIC');
    expect(() => parseCapture(Buffer.from('1234567800000000', 'hex'), 'bad.pcap')).toThrow('bad.pcap: not a pcap or pcapng file (magic 0x12345678)');
  });
  it('empty file and truncated file header', () => {
    expect(codeOf(() => parseCapture(Buffer.alloc(0), 'e.pcap'))).toBe('CAPTURE_TRUNCATED');
    expect(() => parseCapture(Buffer.alloc(0), 'e.pcap')).toThrow('e.pcap: empty file');
    const full = makePcap([]);
    for (const n of [2, 10, 23]) expect(codeOf(() => parseCapture(full.subarray(0, n), 'h.pcap'))).toBe('CAPTURE_TRUNCATED');
  });
  it('truncated record header and body, with record number and byte offset', () => {
    const data = makePcap([{ tsSec: 1, frac: 0, data: A }, { tsSec: 2, frac: 0, data: B }]);
    const second = 24 + 16 + A.length;
    expect(() => parseCapture(data.subarray(0, data.length - 5), 'x.pcap')).toThrow(`x.pcap: record 2 at byte ${second} is truncated (caplen ${B.length}, ${B.length - 5} bytes left)`);
    expect(codeOf(() => parseCapture(data.subarray(0, second + 7), 'x.pcap'))).toBe('CAPTURE_TRUNCATED');
  });
  it('no prefix of a valid capture throws anything but a CaptureError', () => {
    const files = [makePcap([{ tsSec: 1, frac: 0, data: A }, { tsSec: 2, frac: 0, data: B }], { bigEndian: true }),
      makePcapng([{ kind: 'shb' }, { kind: 'idb', iface: { linkType: 1, tsresol: 9 } }, { kind: 'epb', ifIndex: 0, ts: 5n, data: A }])];
    for (const f of files) {
      for (let n = 0; n < f.length; n++) {
        try { parseCapture(f.subarray(0, n), 'p'); } catch (e) { expect(e, `prefix ${n}`).toBeInstanceOf(CaptureError); }
      }
    }
  });
  it('missing file is a one-line CAPTURE_IO', async () => {
    await expect(readCaptureFile('/nonexistent/x.pcap')).rejects.toMatchObject({ code: 'CAPTURE_IO', message: '/nonexistent/x.pcap: cannot read capture: no such file' });
  });
});

describe('parseCapture: pcapng', () => {
  it.each([false, true])('several interfaces with their own link type and resolution (bigEndian=%s)', (bigEndian) => {
    const data = makePcapng([
      { kind: 'shb' },
      { kind: 'idb', iface: { linkType: 1 } },                                   // default µs
      { kind: 'idb', iface: { linkType: 1, tsresol: 9 } },                       // ns
      { kind: 'idb', iface: { linkType: 113, tsresol: 0x80 | 10, tsoffsetSec: 100 } }, // 2^-10 s, +100 s
      { kind: 'other', type: 4, body: Buffer.alloc(12) },                        // name resolution block: skipped
      { kind: 'epb', ifIndex: 0, ts: 1_700_000_000_123_456n, data: A },
      { kind: 'epb', ifIndex: 1, ts: 1_700_000_000_123_456_789n, data: B, origLen: 1000 },
      { kind: 'epb', ifIndex: 2, ts: (5n << 10n) | 512n, data: B.subarray(0, 3) },
      { kind: 'other', type: 5, body: Buffer.alloc(8) },                         // interface statistics: skipped
    ], { bigEndian });
    const r = parseCapture(data, 'm.pcapng');
    expect(r.map((x) => [x.ifIndex, x.linkType, x.tsSec, x.tsNsec, x.data.length, x.origLen])).toEqual([
      [0, 1, 1_700_000_000, 123_456_000, A.length, A.length],
      [1, 1, 1_700_000_000, 123_456_789, B.length, 1000],
      [2, 113, 105, 500_000_000, 3, 3],
    ]);
    expect(r[0].data.equals(A)).toBe(true);
    expect(codeOf(() => requireEthernet(r, 'm.pcapng'))).toBe('CAPTURE_LINKTYPE');
  });
  it('a new section resets the interfaces and may change byte order', () => {
    const s1 = makePcapng([{ kind: 'shb' }, { kind: 'idb', iface: { linkType: 1 } }, { kind: 'epb', ifIndex: 0, ts: 1_000_000n, data: A }]);
    const s2 = makePcapng([{ kind: 'shb' }, { kind: 'idb', iface: { linkType: 101 } }, { kind: 'epb', ifIndex: 0, ts: 2_000_000n, data: B }, { kind: 'spb', data: A }], { bigEndian: true });
    const r = parseCapture(Buffer.concat([s1, s2]), 's.pcapng');
    expect(r.map((x) => [x.linkType, x.tsSec, x.data.length])).toEqual([[1, 1, A.length], [101, 2, B.length], [101, 0, A.length]]);
    const s3 = makePcapng([{ kind: 'shb' }, { kind: 'epb', ifIndex: 0, ts: 0n, data: A }]);
    expect(() => parseCapture(Buffer.concat([s1, s3]), 's.pcapng')).toThrow(/s\.pcapng: block 5 at byte \d+: packet on interface 0, but the section describes 0/);
  });
  it('bad and truncated blocks', () => {
    const good = makePcapng([{ kind: 'shb' }, { kind: 'idb', iface: { linkType: 1 } }, { kind: 'epb', ifIndex: 0, ts: 0n, data: A }]);
    const badTrail = Buffer.from(good); badTrail.writeUInt32LE(999, badTrail.length - 4);
    expect(codeOf(() => parseCapture(badTrail, 'b.pcapng'))).toBe('CAPTURE_BAD_BLOCK');
    const badLen = Buffer.from(good); badLen.writeUInt32LE(13, 28 + 4);   // IDB length not a multiple of 4
    expect(codeOf(() => parseCapture(badLen, 'b.pcapng'))).toBe('CAPTURE_BAD_BLOCK');
    const badBom = Buffer.from(good); badBom.writeUInt32LE(0x11223344, 8);
    expect(codeOf(() => parseCapture(badBom, 'b.pcapng'))).toBe('CAPTURE_BAD_BLOCK');
    expect(codeOf(() => parseCapture(good.subarray(0, good.length - 8), 'b.pcapng'))).toBe('CAPTURE_TRUNCATED');
  });
});

describe('PcapWriter / writePcapFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pcap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips frames and µs timestamps', () => {
    const w = new PcapWriter();
    w.add(1_700_000_000_123.456, A);
    w.add(1_700_000_001_000, B, 1500);
    const r = parseCapture(w.toBuffer(), 'w.pcap');
    expect(r.map((x) => [x.tsSec, x.tsNsec, x.origLen, x.linkType])).toEqual([[1_700_000_000, 123_456_000, A.length, 1], [1_700_000_001, 0, 1500, 1]]);
    expect(r[1].data.equals(B)).toBe(true);
    const h = w.toBuffer();
    expect([h.readUInt32LE(0), h.readUInt32LE(16), h.readUInt32LE(20)]).toEqual([0xa1b2c3d4, 262144, 1]);
  });
  it('ns option and snaplen cut', () => {
    const w = new PcapWriter({ nanos: true, snapLen: 20 });
    w.addTs(5, 999_999_999, B);
    const r = parseCapture(w.toBuffer());
    expect([r[0].tsSec, r[0].tsNsec, r[0].data.length, r[0].origLen]).toEqual([5, 999_999_999, 20, B.length]);
    expect(w.toBuffer().readUInt32LE(0)).toBe(0xa1b23c4d);
  });
  it('µs rounding carries into the seconds', () => {
    const w = new PcapWriter();
    w.addTs(5, 999_999_700, A);
    expect(parseCapture(w.toBuffer()).map((x) => [x.tsSec, x.tsNsec])).toEqual([[6, 0]]);
  });
  it('writePcapFile keeps ns stamps and refuses mixed link types', async () => {
    const recs: CaptureRecord[] = [{ tsSec: 10, tsNsec: 1, data: A, origLen: A.length, ifIndex: 0, linkType: 1 }];
    const p = join(dir, 'ns.pcap');
    await writePcapFile(p, recs);
    expect((await readCaptureFile(p)).map((x) => [x.tsSec, x.tsNsec])).toEqual([[10, 1]]);
    await expect(writePcapFile(join(dir, 'mix.pcap'), [...recs, { ...recs[0], linkType: 113 }])).rejects.toMatchObject({ code: 'CAPTURE_LINKTYPE' });
    await expect(new PcapWriter().writeFile(join(dir, 'no/such/dir/x.pcap'))).rejects.toMatchObject({ code: 'CAPTURE_IO' });
  });

  itWithTools('tshark reads our pcap (µs and ns) with the same lengths and good checksums', ['tshark'], async () => {
    for (const nanos of [false, true]) {
      const w = new PcapWriter({ nanos });
      w.add(1_700_000_000_000.5, A); w.add(1_700_000_000_001, B);
      const p = join(dir, `t${nanos ? 'ns' : 'us'}.pcap`);
      await w.writeFile(p);
      const out = execFileSync('tshark', ['-r', p, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-T', 'fields', '-e', 'frame.len', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', 'frame.time_epoch'], { encoding: 'utf8', timeout: 30_000 });
      const rows = out.trim().split('\n').map((l) => l.split('\t'));
      expect(rows.map((r) => Number(r[0]))).toEqual([A.length, B.length]);
      expect(rows[1][1]).toBe('1');                // Wireshark PROTO_CHECKSUM_E_GOOD (0 bad, 2 unverified)
      expect(rows[1][2]).toBe('1');
      expect(Number(rows[0][3])).toBeCloseTo(1_700_000_000.0005, 6);
    }
  });
});
