// The golden captures checked by an outside reader: tshark must read every pcaps/ file, see the
// same frames as our reader, report no malformed packets, and see the VLAN tags the case expects.
import { it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCapture } from '../../src/packet/capture.js';
import { describeWithTools } from '../helpers/privileged.js';

const PCAPS = fileURLToPath(new URL('../../pcaps/', import.meta.url));

const files = existsSync(PCAPS)
  ? readdirSync(PCAPS, { withFileTypes: true }).filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(PCAPS, d.name)).filter((f) => f.endsWith('.pcap')).map((f) => join(d.name, f)))
  : [];

interface TsharkFrame { len: number; vlans: number[]; malformed: boolean }

function tshark(file: string): TsharkFrame[] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.len', '-e', 'vlan.id', '-e', '_ws.malformed', '-e', '_ws.expert.severity'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.length > 0).map((l) => {
    const [len, vlans, malformed] = l.split('|');
    return { len: Number(len), vlans: vlans ? vlans.split(',').map(Number) : [], malformed: malformed !== '' };
  });
}

describeWithTools('golden captures read by tshark', () => {
  it('there are captures to check', () => expect(files.length).toBeGreaterThan(10));

  it.each(files)('%s: tshark sees the same frames as our reader', (rel) => {
    const file = join(PCAPS, rel);
    const ours = parseCapture(readFileSync(file), rel);
    const theirs = tshark(file);
    expect(theirs.map((f) => f.len)).toEqual(ours.map((r) => r.data.length));
    for (let i = 0; i < ours.length; i++) {
      const d = ours[i].data;
      const tagged = d.length >= 16 && d.readUInt16BE(12) === 0x8100;
      expect(theirs[i].vlans, `${rel} frame ${i + 1}`).toEqual(tagged ? [d.readUInt16BE(14) & 0xfff] : []);
    }
    // Only the malformed case carries deliberately broken frames.
    if (!rel.startsWith('malformed')) expect(theirs.filter((f) => f.malformed)).toEqual([]);
  });

  it('vlan-isolation: tshark sees VLAN 100 and 200 tags on the uplink and no tags on access ports', () => {
    const uplink = tshark(join(PCAPS, 'vlan-isolation', 'expect.uplink.pcap'));
    expect(uplink.map((f) => f.vlans)).toEqual([[100], [200], [200]]);
    for (const p of ['vm1', 'vm3']) {
      expect(tshark(join(PCAPS, 'vlan-isolation', `expect.${p}.pcap`)).every((f) => f.vlans.length === 0)).toBe(true);
    }
    expect(tshark(join(PCAPS, 'vlan-isolation', 'expect.vm2.pcap'))).toEqual([]);
  });
}, { tools: ['tshark'] });
