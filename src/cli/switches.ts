// `sluice switches`, `sluice topology` and `sluice reconcile [SWITCH]`: what the controller knows of
// its switches (connected or not, ports, role, last reconcile), the links LLDP found between them,
// and a reconcile on demand.
import type { Argv, CommandModule } from 'yargs';
import type { ReconcileSummary, SwitchInfo, TopologyView } from '../controller/controller.js';
import { controllerClient, withControllerOptions } from './controller-client.js';
import type { ControllerArgs } from './controller-client.js';
import { out, outJson, table } from './switch-client.js';

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return Number.isFinite(s) ? (s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`) : iso;
}

function reconcileText(r: SwitchInfo['lastReconcile']): string {
  if (!r) return '-';
  return `${r.ok ? 'ok' : `FAILED (${r.errors[0] ?? 'error'})`}, ${r.flowMods + r.groupMods + r.meterMods} change(s), ${ago(r.at)}`;
}

function portText(p: SwitchInfo['ports'][number]): string {
  const what = p.network ?? (p.role === 'trunk' || p.role === 'blocked' ? `${p.role}${p.peer ? ` to ${p.peer}` : ''}` : p.role);
  return `${p.name}(${p.number})${p.up ? '' : ' down'} ${what}`;
}

export const switchesCommand: CommandModule<object, ControllerArgs> = {
  command: 'switches',
  describe: 'Switches of the controller: connected or not, role, ports, learned MACs, last reconcile',
  builder: (y) => withControllerOptions(y),
  handler: async (a) => {
    const r = await controllerClient(a).get<{ switches: SwitchInfo[] }>('/v1/switches');
    if (a.json) { outJson(r); return; }
    if (r.switches.length === 0) { out('no switch has connected yet'); return; }
    out(table(['switch', 'dpid', 'state', 'role', 'peer', 'ports', 'macs', 'last reconcile'], r.switches.map((s) => [
      s.name, s.dpid, s.connected ? 'connected' : 'not connected', s.role ?? '-', s.peer ?? '-',
      s.ports.map(portText).join('\n') || '-', s.learnedMacs, reconcileText(s.lastReconcile),
    ])));
  },
};

export const topologyCommand: CommandModule<object, ControllerArgs> = {
  command: 'topology',
  describe: 'Switches and the trunk links between them (LLDP); blocked links break loops',
  builder: (y) => withControllerOptions(y),
  handler: async (a) => {
    const t = await controllerClient(a).get<TopologyView>('/v1/topology');
    if (a.json) { outJson(t); return; }
    out(t.switches.length === 0 ? 'no switch has connected yet' : table(['switch', 'dpid', 'state'], t.switches.map((s) => [s.name, s.dpid, s.connected ? 'connected' : 'not connected'])));
    const end = (e: TopologyView['links'][number]['a']): string => `${e.switch}:${e.portName}`;
    out(t.links.length === 0 ? 'no links between switches seen' : table(['link', 'state'], t.links.map((l) => [`${end(l.a)} <-> ${end(l.b)}`, l.blocked ? 'blocked (loop)' : 'forwarding'])));
  },
};

export const reconcileCommand: CommandModule<object, ControllerArgs & { switch?: string }> = {
  command: 'reconcile [switch]',
  describe: 'Make one switch (or every connected one) match the intent now',
  builder: (y) => withControllerOptions(y)
    .positional('switch', { type: 'string', describe: 'switch name or dpid (default: every connected switch)' }) as Argv<ControllerArgs & { switch?: string }>,
  handler: async (a) => {
    const q = a.switch !== undefined ? `?switch=${encodeURIComponent(a.switch)}` : '';
    const r = await controllerClient(a).post<{ reconciled: ReconcileSummary[] }>(`/v1/reconcile${q}`);
    if (a.json) { outJson(r); return; }
    if (r.reconciled.length === 0) { out('no switch is connected: nothing to reconcile'); return; }
    out(table(['switch', 'dpid', 'result', 'flow mods', 'group mods', 'meter mods', 'ms'], r.reconciled.map((s) => [
      s.switch, s.dpid, s.ok ? 'ok' : `FAILED: ${s.errors.join('; ')}`, s.flowMods, s.groupMods, s.meterMods, Math.round(s.ms),
    ])));
    if (r.reconciled.some((s) => !s.ok)) process.exitCode = 1;
  },
};
