// `sluice trace`: explain one frame's path through a bridge built from a config, like Open
// vSwitch's ofproto/trace — key, tables and entries, actions, meter verdicts, output ports.
import type { CommandModule } from 'yargs';
import { loadConfig } from '../agent/config.js';
import { buildSwitch, pickBridge } from '../agent/build.js';
import { MemoryPort } from '../datapath/ports/memory.js';
import { readCaptureFile } from '../packet/capture.js';
import { formatTrace } from '../datapath/trace.js';
import { UsageError } from './errors.js';

interface TraceArgs { config: string; 'in-port': string; frame?: string; pcap?: string; index: number; bridge?: string; json: boolean }

export const traceCommand: CommandModule<object, TraceArgs> = {
  command: 'trace',
  describe: "Explain a frame's path through the pipeline (like ofproto/trace)",
  builder: (y) => y
    .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'switch config (YAML)' })
    .option('in-port', { type: 'string', demandOption: true, describe: 'port the frame enters (name or ofport)' })
    .option('frame', { type: 'string', describe: 'the frame as hex (spaces and colons allowed)' })
    .option('pcap', { type: 'string', describe: 'take the frame from this capture' })
    .option('index', { type: 'number', default: 1, describe: 'frame number in --pcap (1-based)' })
    .option('bridge', { alias: 'b', type: 'string' })
    .option('json', { type: 'boolean', default: false })
    .example('$0 trace -c topo.yaml --in-port vm1 --pcap in.vm1.pcap --index 2', ''),
  handler: async (args) => {
    if ((args.frame === undefined) === (args.pcap === undefined)) throw new UsageError('trace needs exactly one of --frame HEX or --pcap FILE');
    const frame = args.frame !== undefined ? parseHex(args.frame) : await frameFromPcap(args.pcap!, args.index);
    const config = await loadConfig(args.config);
    const built = buildSwitch(config, pickBridge(config, args.bridge), (name) => new MemoryPort(name), 0);
    const bridge = built.bridge;
    const ofport = /^\d+$/.test(args['in-port']) ? Number(args['in-port']) : bridge.portByName(args['in-port']);
    if (ofport === undefined || !bridge.ports().some((p) => p.ofport === ofport)) {
      throw new UsageError(`--in-port ${args['in-port']}: no such port (ports: ${bridge.ports().map((p) => p.name).join(', ')})`);
    }
    const result = bridge.trace(frame, ofport, 0);
    process.stdout.write(args.json ? JSON.stringify(result, jsonSafe, 2) + '\n' : formatTrace(result) + '\n');
  },
};

function parseHex(text: string): Buffer {
  const clean = text.replace(/0x/gi, '').replace(/[\s:.-]/g, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) {
    throw new UsageError('--frame: expected an even number of hex digits (e.g. ffffffffffff0200000000010806...)');
  }
  return Buffer.from(clean, 'hex');
}

async function frameFromPcap(file: string, index: number): Promise<Buffer> {
  const recs = await readCaptureFile(file);
  if (!Number.isInteger(index) || index < 1 || index > recs.length) {
    throw new UsageError(`--index ${index}: ${file} has ${recs.length} frame(s) (numbered from 1)`);
  }
  return recs[index - 1].data;
}

function jsonSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}
