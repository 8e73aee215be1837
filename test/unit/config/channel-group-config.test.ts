// The switch config's channel groups: `channels.<group>.members` parsed into ChannelConfig, every
// mistake a one-line error naming the key (mins over the rate, a member that is also a channel, a
// port attached to the group itself), and a save round trip that writes the members back.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig, toFileObject, ConfigError } from '../../../src/agent/config.js';
import { buildSwitch } from '../../../src/agent/build.js';
import { GroupMember } from '../../../src/qos/channel-group.js';
import { MemoryPort } from '../../../src/datapath/ports/memory.js';
import { configError } from '../../helpers/config-error.js';

const GROUP = `bridges:
  br0:
    ports:
      p1: { ofport: 1, type: memory, channel: a }
      p2: { ofport: 2, type: memory, channel: b }
      p3: { ofport: 3, type: memory, egress-channel: c }
channels:
  uplink:
    rate: 300mbit
    mode: shape
    queue: 200
    members:
      a: { min: 50mbit, weight: 1 }
      b: { min: 50mbit, max: 200mbit, weight: 1 }
      c: { min: 50mbit, weight: 2 }
`;

const err = (text: string): string => configError(text);

describe('channel groups in the switch config', () => {
  it('parses a group; ports attach to its members, which become channels of the running switch', () => {
    const c = parseConfig(GROUP, 'sluice.yaml');
    expect(c.channels.uplink).toEqual({
      name: 'uplink', rate: '300mbit', mode: 'shape', queue: 200,
      members: { a: { min: '50mbit', weight: 1 }, b: { min: '50mbit', max: '200mbit', weight: 1 }, c: { min: '50mbit', weight: 2 } },
    });
    const built = buildSwitch(c, 'br0', (name) => new MemoryPort(name), 0);
    expect(built.channels.get('a')).toBeInstanceOf(GroupMember);
    expect((built.channels.get('c') as GroupMember).group.name).toBe('uplink');
    expect(built.channels.get('uplink')).toBeUndefined();
  });

  it('writes the group back and reads it again the same', () => {
    const c = parseConfig(GROUP, 'sluice.yaml');
    const again = parseConfig(stringify(toFileObject(c)), 'sluice.yaml');
    expect(again.channels).toEqual(c.channels);
  });

  it.each([
    [GROUP.replace('rate: 300mbit', 'rate: 120mbit').replace('max: 200mbit', 'max: 100mbit'), /channels\.uplink\.members: channel group "uplink": the members' mins add up to 150Mbit, more than the group's rate 120mbit/i],
    [GROUP.replace('rate: 300mbit', 'rate: 160mbit'), /channels\.uplink\.members: .*member "b" max 200mbit is above the group's rate 160mbit/],
    [GROUP.replace('max: 200mbit', 'max: 20mbit'), /channels\.uplink\.members: .*member "b" max 20mbit is below its min 50mbit/],
    [GROUP.replace('weight: 2', 'weight: 0'), /channels\.uplink\.members\.c\.weight: weight must be above 0/],
    [GROUP + '  a: { rate: 1mbit }\n', /channels\.uplink\.members\.a: "a" is also a channel of its own/],
    [GROUP.replace('channel: a }', 'channel: uplink }'), /ports\.p1\.channel: "uplink" is a channel group: attach the port to one of its members \(a, b, c\)/],
    [GROUP.replace('channel: a }', 'channel: x }'), /ports\.p1\.channel: unknown channel "x" \(defined: a, b, c\)/],
    [GROUP.replace('a: { min: 50mbit, weight: 1 }', 'a: { min: 50mbit, weight: 1, ceil: 1 }'), /channels\.uplink\.members\.a/],
  ])('refuses a bad group (%#)', (text, msg) => {
    expect(err(text)).toMatch(msg);
  });
});
