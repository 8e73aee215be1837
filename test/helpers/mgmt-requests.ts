// The switch management API as fuzz material for test/helpers/http-fuzz.ts: its routes, and JSON
// bodies shaped like its requests with values around and beyond every limit (shared by the unit
// and the e2e fuzz tests).
import fc from 'fast-check';
import type { FuzzRoute } from './http-fuzz.js';

/** JSON bodies shaped like the API's, with values around and beyond every limit. */
export function mgmtBodies(savePaths: string[]): fc.Arbitrary<unknown> {
  return fc.oneof(...Object.values(mgmtBodyKinds(savePaths)), fc.constant({}));
}

/** The routes of the management API (src/agent/mgmt-server.ts), each with bodies of its kind. */
export function mgmtRoutes(savePaths: string[]): FuzzRoute[] {
  const k = mgmtBodyKinds(savePaths);
  return [
    { method: 'GET', path: '/ports' }, { method: 'POST', path: '/ports', body: fc.oneof(k.goodPort, k.port) }, { method: 'DELETE', path: '/ports/:name' },
    { method: 'PATCH', path: '/ports/:name', body: k.patch }, { method: 'GET', path: '/fdb' }, { method: 'GET', path: '/stats' }, { method: 'GET', path: '/channels' },
    { method: 'PUT', path: '/channels/:name', body: fc.oneof(k.goodChannel, k.channel) }, { method: 'DELETE', path: '/channels/:name' },
    { method: 'PATCH', path: '/channels/:name', body: fc.oneof(k.goodChannel, k.channel) },
    { method: 'POST', path: '/channels', body: fc.oneof(k.goodChannel, k.channel).map((b) => ({ name: 'fz', ...(b as object) })) },
    { method: 'GET', path: '/flows' }, { method: 'POST', path: '/flows', body: k.flow }, { method: 'DELETE', path: '/flows', body: k.filter },
    { method: 'POST', path: '/config/save', body: fc.oneof(k.save, fc.constant({})) }, { method: 'POST', path: '/config/reload' },
  ];
}

function mgmtBodyKinds(savePaths: string[]): Record<string, fc.Arbitrary<unknown>> {
  const anyScalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -5, max: 70_000 }), fc.double(), fc.string({ maxLength: 8 }));
  const port = fc.record({
    name: fc.oneof(fc.constantFrom('m1', 'm2', 'm3', 'fz', '', 'a b', 'x'.repeat(70)), anyScalar),
    ofport: fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.constantFrom(1, 2, 3, 65279, 65280), anyScalar),
    type: fc.oneof(fc.constantFrom('memory', 'memory', 'tap', 'system', 'qemu-stream', 'bogus'), anyScalar),
    vlan: fc.oneof(fc.record({ mode: fc.constantFrom('access', 'trunk', 'native-tagged', 'x'), vid: fc.integer({ min: -1, max: 5000 }), vids: fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 4 }) }, { requiredKeys: ['mode'] }), anyScalar),
    channel: fc.oneof(fc.constantFrom('gold', 'nope'), anyScalar),
    egressChannel: fc.oneof(fc.constantFrom('gold', 'nope'), anyScalar),
  }, { requiredKeys: [] });
  const rate = fc.oneof(fc.constantFrom('1e30gbit', '1e-300bit', '1e400bit', '50mbit', '1bit', '1tbit', '10kpps', '50mbps', 'fast', '0', '-1mbit'), anyScalar);
  const channel = fc.record({
    rate, burst: fc.oneof(fc.constantFrom('64kb', '1e30gb', '0b', '10pkt', '1.5pkt', '1mbit'), anyScalar),
    mode: fc.oneof(fc.constantFrom('police', 'shape', 'x'), anyScalar), queue: fc.oneof(fc.integer({ min: -5, max: 2_000 }), fc.constantFrom(1_000_000, 1_000_001), anyScalar),
  }, { requiredKeys: [] });
  const flowText = fc.oneof(fc.constantFrom('priority=0,actions=NORMAL', 'priority=10,in_port=1,actions=output:2', 'priority=65535,actions=drop', 'actions=fly', 'table=300,actions=drop',
    'in_port=m1,actions=controller', 'priority=99999,actions=drop', 'dl_vlan=5000,actions=drop', 'arp,actions=NORMAL'), fc.string({ maxLength: 40 }), anyScalar);
  const flow = fc.record({ flow: flowText }, { requiredKeys: [] });
  const filter = fc.record({ filter: fc.oneof(fc.constantFrom('', 'in_port=1', 'in_port=m9', 'table=999', 'priority=5', 'cookie=1/-1'), anyScalar), strict: fc.oneof(fc.boolean(), anyScalar) }, { requiredKeys: [] });
  const save = fc.record({ path: fc.oneof(fc.constantFrom(...savePaths), anyScalar) });
  // Requests that should succeed, so the fuzzer also changes the switch (memory ports only).
  const goodPort = fc.record({ name: fc.constantFrom('m3', 'fz'), ofport: fc.integer({ min: 3, max: 9 }), type: fc.constant('memory'),
    vlan: fc.option(fc.record({ mode: fc.constant('access'), vid: fc.integer({ min: 1, max: 4094 }) }), { nil: undefined }) }, { requiredKeys: ['name', 'ofport', 'type'] });
  const goodChannel = fc.record({ rate: fc.constantFrom('10mbit', '1bit', '1tbit', '100pps'), mode: fc.constantFrom('police', 'shape') });
  const patch = fc.record({ channel: fc.oneof(fc.constantFrom('gold', 'nope', null), anyScalar), egressChannel: fc.oneof(fc.constantFrom('gold', null), anyScalar),
    vlan: fc.oneof(fc.constant(null), fc.record({ mode: fc.constant('access'), vid: fc.integer({ min: 0, max: 4095 }) }), anyScalar), ofport: anyScalar }, { requiredKeys: [] });
  return { port, channel, flow, filter, save, goodPort, goodChannel, patch };
}

