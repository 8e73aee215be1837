// `sluice demo`: the live-host tour (root): blue/red namespace VMs on an in-process switch, ping,
// isolation, and a channel raised mid-iperf3 with per-second rate bars. Plain-ANSI progress on a
// TTY, plain lines otherwise; cleans up on success, failure, SIGINT and SIGTERM. No root: exit 2.
import type { Argv, CommandModule } from 'yargs';
import { DemoLab, missingRequirements, requirementsMessage, runDemo, systemProbes } from '../demo/lab.js';
import type { DemoUi, RateSample, StepHandle } from '../demo/lab.js';
import type { PortView } from '../agent/daemon.js';
import { UsageError } from './errors.js';
import { checkLogLevel, createLogger } from './log.js';
import { dropsText, table } from './switch-client.js';
import { fmtBytes, fmtCount } from './format.js';

interface DemoArgs { duration: number; offered: number; 'log-level'?: string }

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 40;

/** Progress display: spinner/check/cross per step and rate bars; plain lines when not a TTY. */
export class Progress implements DemoUi {
  private timer: NodeJS.Timeout | null = null;
  private current: { label: string; text: string; t0: number } | null = null;
  private frame = 0;
  constructor(private readonly out: NodeJS.WriteStream = process.stdout, private readonly scaleMbit = 120,
    readonly tty: boolean = out.isTTY === true) {}

  private c(code: string, s: string): string { return this.tty ? `\x1b[${code}m${s}\x1b[0m` : s; }
  private write(s: string): void { this.out.write(s); }
  private clearLine(): void { if (this.tty) this.write('\r\x1b[2K'); }
  private draw(): void {
    if (!this.tty || !this.current) return;
    this.clearLine();
    const el = ((performance.now() - this.current.t0) / 1000).toFixed(1);
    this.write(`${this.c('36', SPIN[this.frame++ % SPIN.length])} ${this.current.label}${this.current.text ? this.c('2', `  ${this.current.text}`) : ''} ${this.c('2', `${el}s`)}`);
  }

  /** A permanent line, keeping the spinner line below it. */
  private line(s: string): void { this.clearLine(); this.write(`${s}\n`); this.draw(); }

  step(label: string): StepHandle {
    this.current = { label, text: '', t0: performance.now() };
    if (this.tty) { this.timer ??= setInterval(() => this.draw(), 80); this.draw(); } else this.write(`... ${label}\n`);
    const end = (mark: string, detail: string): void => {
      this.current = null;
      if (this.timer) { clearInterval(this.timer); this.timer = null; }
      this.clearLine();
      this.write(`${mark} ${label}\n    ${detail}\n`);
    };
    return {
      update: (text) => { if (this.current) this.current.text = text; this.draw(); },
      ok: (detail) => end(this.c('32', this.tty ? '✔' : '[ok]'), detail),
      fail: (detail) => end(this.c('31', this.tty ? '✘' : '[FAIL]'), this.c('31', detail)),
    };
  }

  rate(s: RateSample): void {
    const n = Math.max(0, Math.min(BAR_WIDTH, Math.round((s.mbit / this.scaleMbit) * BAR_WIDTH)));
    const bar = this.tty ? this.c(s.raised ? '32' : '33', '█'.repeat(n)) + this.c('2', '░'.repeat(BAR_WIDTH - n)) : '#'.repeat(n) + '.'.repeat(BAR_WIDTH - n);
    this.line(`    t=${String(s.second).padStart(2)}s ${s.mbit.toFixed(1).padStart(6)} Mbit/s |${bar}| channel ${s.channel}`);
  }

  note(text: string): void { this.line(`    ${this.c('1;35', '>>')} ${text}`); }

  stop(): void { if (this.timer) { clearInterval(this.timer); this.timer = null; } if (this.current) { this.clearLine(); this.current = null; } }
}

function summary(ports: PortView[]): string {
  return table(['port', 'vlan', 'channel', 'rx pkts', 'rx bytes', 'tx pkts', 'tx bytes', 'drops'],
    ports.map((p) => [p.name, p.vlan?.vid ?? '-', p.channel ?? '-', fmtCount(p.rxPackets), fmtBytes(p.rxBytes), fmtCount(p.txPackets), fmtBytes(p.txBytes), dropsText(p.drops)]));
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Live tour (root): VLAN-isolated namespace VMs on a Sluice switch, a channel changed mid-iperf3',
  builder: (y) => y
    .option('duration', { type: 'number', default: 15, describe: 'approximate total run time in seconds (min 7)' })
    .option('offered', { type: 'number', default: 150, describe: 'UDP rate iperf3 offers, Mbit/s (above the raised channel)' })
    .option('log-level', { type: 'string', coerce: (v: string) => checkLogLevel(v), describe: 'switch log level (default warn)' })
    .example('sudo $0 demo', '')
    .example('$0 replay --case pcaps/vlan-isolation', 'the same isolation offline, without root') as Argv<DemoArgs>,
  handler: async (a) => {
    if (!Number.isFinite(a.duration) || a.duration < 7 || a.duration > 600) throw new UsageError(`--duration ${a.duration}: give 7-600 seconds`);
    if (!Number.isFinite(a.offered) || a.offered <= 0 || a.offered > 10_000) throw new UsageError(`--offered ${a.offered}: give a rate in Mbit/s, 1-10000`);
    const missing = missingRequirements(systemProbes());
    if (missing.length) {
      process.stderr.write(`${requirementsMessage(missing)}\n`);
      process.exitCode = 2;
      return;
    }
    const ui = new Progress();
    const lab = new DemoLab();
    let interrupted: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (interrupted) return;
      interrupted = sig;
      ui.stop();
      process.stdout.write(`\n${sig}: cleaning up (namespaces ${lab.id}*, TAPs, ${lab.dir})...\n`);
      void lab.cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let ports: PortView[] = [];
    let ok = false;
    try {
      process.stdout.write(`Sluice demo ${lab.id}: blue (VLAN 100) and red (VLAN 200) namespace VMs on TAP ports of an in-process switch\n`);
      const r = await runDemo(lab, {
        durationS: a.duration, offeredMbit: a.offered, fromMbit: 20, toMbit: 100,
        log: createLogger({ level: a['log-level'] ?? 'warn' }), ui,
      });
      ports = (await lab.daemon?.listPorts()) ?? r.ports;
      ok = r.ok;
      if (r.beforeMbit !== undefined) process.stdout.write(`\nrate before change: ${r.beforeMbit.toFixed(1)} Mbit/s (channel 20mbit)\nrate after change: ${r.afterMbit!.toFixed(1)} Mbit/s (channel 100mbit)\n`);
    } catch (e) {
      ui.stop();
      process.stdout.write(`demo failed: ${(e as Error).message}\n`);
    } finally {
      ui.stop();
      if (!interrupted) {
        const c = ui.step('Cleaning up namespaces, TAPs, temp files');
        await lab.cleanup();
        c.ok(`removed ${lab.id}* and ${lab.dir}`);
      }
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (ports.length) process.stdout.write(`\nPort counters (from the switch):\n${summary(ports)}\n`);
    process.stdout.write(ok ? '\nDemo OK.\n' : '\nDemo FAILED (see above).\n');
    if (!ok) process.exitCode = 1;
  },
};
