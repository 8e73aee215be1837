// Builds a running Bridge from a validated config: channels first, then ports (with their VLAN
// modes and channels), then static flows (fail-mode secure: nothing else; standalone: also the
// default NORMAL entry). The backend of each port is the caller's choice, so the same code builds
// the live switch and the memory-port switch of replay and trace.
import type { CounterArena } from '../datapath/counters.js';
import { Bridge } from '../datapath/bridge.js';
import type { PortBackend } from '../datapath/port.js';
import { FlowModResult, FLOW_MOD_RESULT_NAMES } from '../datapath/results.js';
import { ChannelRegistry } from '../qos/channel.js';
import { setChannelGroup } from '../qos/channel-group.js';
import { createHash } from 'node:crypto';
import { ConfigError, type BridgeConfig, type PortConfig, type SluiceConfig } from './config.js';

export interface BuiltSwitch {
  name: string;
  config: BridgeConfig;
  bridge: Bridge;
  channels: ChannelRegistry;
}

/** The bridge to run: the one named, or the only one. */
export function pickBridge(config: SluiceConfig, name?: string): string {
  const names = Object.keys(config.bridges);
  if (name !== undefined) {
    if (!config.bridges[name]) throw new ConfigError(`no bridge "${name}" in the config (bridges: ${names.join(', ') || 'none'})`);
    return name;
  }
  if (names.length === 0) throw new ConfigError('the config defines no bridge');
  if (names.length > 1) throw new ConfigError(`the config defines ${names.length} bridges (${names.join(', ')}); name one with --bridge`);
  return names[0];
}

export function buildSwitch(
  config: SluiceConfig,
  bridgeName: string,
  makeBackend: (portName: string, port: PortConfig) => PortBackend,
  nowMs: number,
  /** Keep the bridge's counters in this shared arena (worker datapath). */
  counterArena?: CounterArena,
): BuiltSwitch {
  const bc = config.bridges[bridgeName];
  if (!bc) throw new ConfigError(`no bridge "${bridgeName}" in the config`);
  const channels = new ChannelRegistry();
  for (const ch of Object.values(config.channels)) {
    if (ch.members !== undefined) setChannelGroup(channels, ch.name, { rate: ch.rate, burst: ch.burst, mode: ch.mode, queue: ch.queue, members: ch.members }, nowMs);
    else channels.set(ch.name, { rate: ch.rate, burst: ch.burst, mode: ch.mode, queue: ch.queue }, nowMs);
  }
  const bridge = new Bridge({
    name: bridgeName,
    macTableSize: bc.macTableSize,
    macAgingS: bc.macAging,
    datapathId: bc.datapathId !== undefined ? BigInt(`0x${bc.datapathId}`) : derivedDatapathId(bridgeName),
    startMs: nowMs,
    // Secure starts empty, as Open vSwitch: only the config's flows (below) or a controller's move frames.
    defaultNormal: bc.failMode === 'standalone',
    counterArena,
  });
  const ports = Object.values(bc.ports).sort((a, b) => a.ofport - b.ofport);
  for (const p of ports) {
    bridge.addPort({
      ofport: p.ofport,
      name: p.name,
      backend: makeBackend(p.name, p),
      vlan: p.vlan,
      ingress: p.channel !== undefined ? channels.get(p.channel) ?? null : null,
      egress: p.egressChannel !== undefined ? channels.get(p.egressChannel) ?? null : null,
    });
  }
  bc.flowSpecs.forEach((spec, i) => {
    const r = bridge.addFlow(spec, nowMs);
    if (r !== FlowModResult.Ok) {
      throw new ConfigError(`bridges.${bridgeName}.flows[${i}]: "${bc.flows[i]}" was refused by the pipeline (${FLOW_MOD_RESULT_NAMES[r]})`);
    }
  });
  return { name: bridgeName, config: bc, bridge, channels };
}

/**
 * A stable datapath id when the config names none: like Open vSwitch, the low 48 bits are the
 * bridge's MAC — here a locally administered MAC derived from the bridge name, so the id survives
 * restarts and differs between bridges.
 */
export function derivedDatapathId(bridgeName: string): bigint {
  const h = createHash('sha256').update(`sluice-bridge:${bridgeName}`).digest();
  h[0] = (h[0] & 0xfe) | 0x02;   // unicast, locally administered
  return BigInt(`0x${h.subarray(0, 6).toString('hex')}`);
}
