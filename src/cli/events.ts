// `sluice events`: follow the controller's event stream (GET /events, server-sent events), one line
// per event (`--json`: the event as the controller sent it). A lost stream is reopened after the
// last event seen, so nothing the controller still holds is missed.
import type { Argv, CommandModule } from 'yargs';
import type { ChannelRateSample, StampedEvent } from '../controller/events.js';
import type { IntentDiff } from '../controller/intent.js';
import { ControllerError, controllerClient, withControllerOptions } from './controller-client.js';
import type { ControllerArgs } from './controller-client.js';
import { UsageError } from './errors.js';
import { out } from './switch-client.js';

interface EventsArgs extends ControllerArgs { since?: number; count?: number; rates?: boolean }

/** 4980000 bit -> "4.98 Mbit/s"; packets as pps. */
function rateText(v: number, unit: 'bit' | 'pkt'): string {
  const u = unit === 'pkt' ? 'pps' : 'bit/s';
  const a = Math.abs(v);
  return a >= 1e9 ? `${(v / 1e9).toFixed(2)} G${u}` : a >= 1e6 ? `${(v / 1e6).toFixed(2)} M${u}` : a >= 1e3 ? `${(v / 1e3).toFixed(1)} k${u}` : `${v.toFixed(0)} ${u}`;
}

/** A channel-rate sample as one line (samples have no seq). */
export function sampleLine(s: ChannelRateSample): string {
  const parts = (s.parts ?? []).length > 1 ? `: ${s.parts.map((p) => `${p.switch} ${rateText(p.rate, s.unit)} of ${rateText(p.limit, s.unit)}`).join(', ')}` : '';
  return `${s.at} channel-rate ${s.channel}: ${rateText(s.rate, s.unit)} passing of ${rateText(s.limit, s.unit)}, ${rateText(s.offered, s.unit)} offered (${s.switches} switch${s.switches === 1 ? '' : 'es'}${parts})`;
}

function diffText(d: IntentDiff): string {
  const parts: string[] = [];
  for (const kind of ['networks', 'channels', 'attachments'] as const) {
    const x = d[kind];
    const items = [...x.added.map((n) => `+${n}`), ...x.changed.map((n) => `~${n}`), ...x.removed.map((n) => `-${n}`)];
    if (items.length) parts.push(`${kind} ${items.join(' ')}`);
  }
  return parts.join('; ') || 'no change';
}

/** One event as one line: time, seq, type, what. */
export function eventLine(e: StampedEvent | { type: 'events-missed'; after: number; next: number }): string {
  if (e.type === 'events-missed') return `(events after #${e.after} up to #${e.next - 1} are no longer held by the controller: missed)`;
  const what = ((): string => {
    switch (e.type) {
      case 'switch-up': return `${e.switch} (dpid ${e.dpid})`;
      case 'switch-down': return `${e.switch} (dpid ${e.dpid}): ${e.reason}`;
      case 'port-status': return `${e.switch}:${e.port} (port ${e.portNo}) ${e.reason}, link ${e.up ? 'up' : 'down'}`;
      case 'mac-learned': return `${e.mac} on ${e.switch}:${e.port} (network ${e.network})`;
      case 'mac-moved': return `${e.mac} on ${e.switch} from ${e.from} to ${e.port} (network ${e.network})`;
      case 'mac-aged': return `${e.mac} on ${e.switch}:${e.port} (network ${e.network})`;
      case 'link-up': case 'link-down': return `${e.a} <-> ${e.b}`;
      case 'channel-changed': return `${e.channel}: rate ${e.rate}${e.burst ? `, burst ${e.burst}` : ''}`;
      case 'intent-changed': return diffText(e.diff);
      case 'leader-elected': return `this controller leads (OpenFlow MASTER, generation ${e.generation})`;
      case 'leader-lost': return `this controller follows (SLAVE; leader generation ${e.leader ?? 'unknown'})`;
      case 'reconcile-done': return `${e.switch}: ${e.flowMods} flow, ${e.groupMods} group, ${e.meterMods} meter change(s), ${e.errors} error(s), ${Math.round(e.ms)} ms`;
      default: {
        const { type: _t, seq: _s, at: _a, ...rest } = e as Record<string, unknown>;
        return JSON.stringify(rest);
      }
    }
  })();
  return `${e.at} #${e.seq} ${e.type} ${what}`;
}

export const eventsCommand: CommandModule<object, EventsArgs> = {
  command: 'events',
  describe: 'Follow the controller\'s events (switches, ports, MACs, links, intent, reconciles)',
  builder: (y) => withControllerOptions(y)
    .option('since', { type: 'number', describe: 'first replay the events the controller still holds after this seq (0: all)' })
    .option('count', { type: 'number', describe: 'stop after this many events' })
    .option('rates', { type: 'boolean', describe: 'also each channel\'s measured rate every sampling period (channel-rate samples: no seq, not counted by --count)' })
    .example('$0 events --since 0', 'what happened lately, then follow') as Argv<EventsArgs>,
  handler: async (a) => {
    if (a.since !== undefined && (!Number.isInteger(a.since) || a.since < 0)) throw new UsageError(`--since ${a.since}: give an event seq (0 or more)`);
    if (a.count !== undefined && (!Number.isInteger(a.count) || a.count < 1)) throw new UsageError(`--count ${a.count}: give 1 or more`);
    const c = controllerClient(a);
    let last = a.since === undefined ? undefined : String(a.since);
    let seen = 0, connectedOnce = false, backoffMs = 500;
    for (;;) {
      try {
        for await (const m of c.events(last, () => { connectedOnce = true; backoffMs = 500; }, { rates: a.rates === true })) {
          if (m.id !== undefined) last = m.id;
          if (a.json) out(m.data);
          else {
            let e: unknown;
            try { e = JSON.parse(m.data); } catch { e = undefined; }
            const type = e && typeof e === 'object' ? (e as { type?: unknown }).type : undefined;
            out(type === 'channel-rate' ? sampleLine(e as ChannelRateSample) : typeof type === 'string' ? eventLine(e as StampedEvent) : m.data);
          }
          if (m.id !== undefined && a.count !== undefined && ++seen >= a.count) return;
        }
      } catch (err) {
        // The first connection must work; a stream lost later (controller restarted) is reopened.
        if (!connectedOnce || !(err instanceof ControllerError) || err.code !== 'CTL_ERR_UNREACHABLE') throw err;
      }
      process.stderr.write(`sluice: the event stream ended; reopening${last !== undefined ? ` after #${last}` : ''}\n`);
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 5000);
    }
  },
};
