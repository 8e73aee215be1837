// `sluice capture DEVICE [-f FILTER] -w FILE [-c COUNT] [--duration S]`: mirror a device's traffic
// (both directions) into a classic pcap, filtered in the kernel with libpcap's filter language
// (pcap-filter(7)). Needs no running switch, only root (or CAP_NET_RAW) and the optional `cap`
// package. Frames are stamped when they reach JS (µs resolution, not the kernel's timestamp) and
// held in memory until the capture ends: bound long captures with -c or --duration.
import type { Argv, CommandModule } from 'yargs';
import yargs from 'yargs';
import { LinkType, PcapWriter } from '../packet/capture.js';
import { openCapHandle, PCAP_SNAPLEN } from '../datapath/ports/pcap-live.js';
import { isInputError, oneLine, UsageError } from './errors.js';

interface CaptureArgs {
  device?: string;
  filter?: string;
  write?: string;
  count?: number;
  duration?: number;
}

export interface CaptureOptions {
  device: string;
  filter?: string;
  file: string;
  /** Stop after this many frames. */
  count?: number;
  /** Stop after this many seconds. */
  durationS?: number;
  /** Kernel ring for libpcap (pcap_set_buffer_size). */
  bufferBytes?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Stops the capture early (the CLI wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
}

export interface CaptureSummary { device: string; filter: string; file: string; frames: number; truncated: number; linkType: number; seconds: number }

/** cap's link type names -> pcap LINKTYPE_ values. */
const LINK_TYPES: Record<string, number> = {
  ETHERNET: LinkType.ETHERNET, LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL, RAW: LinkType.RAW, NULL: 0, IEEE802_11_RADIO: 127,
};
const CAPTURE_BUFFER_BYTES = 8 * 1024 * 1024;

/** Validate everything that can be checked before touching the device (STYLE 4.8). */
export function checkCaptureOptions(o: CaptureOptions): void {
  if (typeof o.device !== 'string' || o.device.length === 0 || Buffer.byteLength(o.device) > 15) {
    throw new UsageError(`capture: device "${o.device ?? ''}" is not an interface name (1-15 bytes)`);
  }
  if (typeof o.file !== 'string' || o.file.length === 0) throw new UsageError('capture needs -w FILE');
  if (o.count !== undefined && (!Number.isInteger(o.count) || o.count <= 0)) {
    throw new UsageError(`capture: -c ${o.count}: the frame count must be a positive integer`);
  }
  if (o.durationS !== undefined && (!Number.isFinite(o.durationS) || o.durationS <= 0)) {
    throw new UsageError(`capture: --duration ${o.durationS}: seconds must be a positive number`);
  }
}

/** Capture until count, duration or abort; then write the pcap. */
export async function capture(o: CaptureOptions): Promise<CaptureSummary> {
  checkCaptureOptions(o);
  const filter = o.filter?.trim() ?? '';
  const buf = Buffer.allocUnsafeSlow(PCAP_SNAPLEN);
  const { cap, linkType: linkName } = openCapHandle(o.device, filter, o.bufferBytes ?? CAPTURE_BUFFER_BYTES, buf);
  const linkType = LINK_TYPES[linkName];
  if (linkType === undefined) {
    cap.close();
    throw new UsageError(`capture: ${o.device}: unsupported link type (${linkName})`);
  }
  const writer = new PcapWriter({ linkType, snapLen: PCAP_SNAPLEN });
  const t0 = performance.now();
  let truncated = 0;
  await new Promise<void>((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | null = null;
    const stop = (): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', stop);
      cap.removeAllListeners('packet');
      cap.close();   // safe inside the 'packet' callback: cap defers pcap_close until its loop ends
      resolve();
    };
    cap.on('packet', (nbytes, trunc) => {
      if (done) return;
      if (trunc) truncated++;
      writer.add(performance.timeOrigin + performance.now(), buf.subarray(0, nbytes), nbytes);
      if (o.count !== undefined && writer.count >= o.count) stop();
    });
    if (o.durationS !== undefined) timer = setTimeout(stop, o.durationS * 1000);
    if (o.signal) {
      if (o.signal.aborted) stop();
      else o.signal.addEventListener('abort', stop);
    }
    o.log?.(`capturing on ${o.device}${filter ? ` (filter "${filter}")` : ''} into ${o.file}` +
      `${o.count !== undefined ? `, ${o.count} frames` : ''}${o.durationS !== undefined ? `, ${o.durationS} s` : ''}; Ctrl-C stops`);
  });
  await writer.writeFile(o.file);
  const summary: CaptureSummary = {
    device: o.device, filter, file: o.file, frames: writer.count, truncated, linkType, seconds: (performance.now() - t0) / 1000,
  };
  o.log?.(`captured ${summary.frames} frames on ${o.device} in ${summary.seconds.toFixed(1)} s, wrote ${o.file}`);
  return summary;
}

export const captureCommand: CommandModule<object, CaptureArgs> = {
  command: 'capture <device>',
  describe: "Mirror a device's traffic into a pcap, filtered with libpcap's filter language (root; optional `cap` package)",
  builder: (y) => (y as Argv<CaptureArgs>)
    .positional('device', { type: 'string', describe: 'interface to capture on (a veth, a VM\'s TAP, a NIC, or "any")' })
    .option('filter', { alias: 'f', type: 'string', describe: 'pcap-filter(7) expression, e.g. "arp" or "vlan 100 and icmp"' })
    .option('write', { alias: 'w', type: 'string', describe: 'pcap file to write' })
    .option('count', { alias: 'c', type: 'number', describe: 'stop after COUNT frames' })
    .option('duration', { type: 'number', describe: 'stop after S seconds' })
    .example('$0 capture tap-vm1 -f arp -w arp.pcap -c 10', '')
    .example('$0 capture eth1 -f "udp port 4789" -w vxlan.pcap --duration 5', ''),
  handler: async (args) => {
    if (!args.write) throw new UsageError('capture needs -w FILE');
    const ac = new AbortController();
    const onSignal = (): void => ac.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await capture({
        device: args.device ?? '', filter: args.filter, file: args.write, count: args.count, durationS: args.duration,
        signal: ac.signal, log: (l) => process.stderr.write(`${l}\n`),
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

/**
 * `sluice capture …` on its own (for tests and until main.ts registers the command): same error
 * handling as main() — bad input is one line on stderr and exit code 2.
 */
export async function captureCli(argv: string[]): Promise<number> {
  try {
    await yargs(argv).scriptName('sluice').command(captureCommand).demandCommand(1).strict().help(false).version(false)
      .fail((msg, err) => { if (err) throw err; throw new UsageError(msg); })
      .parseAsync();
    return 0;
  } catch (err) {
    if (isInputError(err)) {
      process.stderr.write(`sluice: ${oneLine(err.message)}\n`);
      return 2;
    }
    throw err;
  }
}
