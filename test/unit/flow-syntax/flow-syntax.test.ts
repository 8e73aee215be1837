import { describe, it, expect } from 'vitest';
import { parseFlow, parseFlowFilter, formatFlow, formatMatch, formatActions, parseGroup, formatGroup, FlowSyntaxError, parseIpv6, formatIpv6, DEFAULT_PRIORITY } from '../../../src/flow/syntax.js';
import { OFPP, FlowFlags, GroupType, OFPG_ANY } from '../../../src/flow/types.js';

describe('parseFlow', () => {
  it('reads a simple NORMAL flow with defaults', () => {
    expect(parseFlow('table=0,priority=100,dl_type=0x0806,actions=NORMAL')).toEqual({
      tableId: 0, priority: 100, match: [{ field: 'eth_type', value: 0x806n }],
      instructions: { applyActions: [{ type: 'output', port: OFPP.NORMAL }] },
      cookie: 0n, idleTimeoutS: 0, hardTimeoutS: 0, flags: 0,
    });
    const f = parseFlow('actions=drop', { defaultTable: 3 });
    expect(f.priority).toBe(DEFAULT_PRIORITY);
    expect(f.tableId).toBe(3);
    expect(f.instructions).toEqual({});
  });

  it('reads header fields, flags and timeouts', () => {
    const f = parseFlow('table=2 priority=7 cookie=0xdeadbeefcafe idle_timeout=10 hard_timeout=20 send_flow_rem check_overlap,reset_counts,no_packet_counts,no_byte_counts actions=drop');
    expect(f.tableId).toBe(2);
    expect(f.cookie).toBe(0xdeadbeefcafen);
    expect(f.idleTimeoutS).toBe(10);
    expect(f.hardTimeoutS).toBe(20);
    expect(f.flags).toBe(FlowFlags.SEND_FLOW_REM | FlowFlags.CHECK_OVERLAP | FlowFlags.RESET_COUNTS | FlowFlags.NO_PKT_COUNTS | FlowFlags.NO_BYT_COUNTS);
  });

  it('maps ovs-ofctl names to OXM fields with prerequisites', () => {
    const f = parseFlow('tcp,in_port=vm1,dl_src=00:11:22:33:44:55/ff:ff:ff:00:00:00,nw_src=10.0.0.0/8,nw_dst=10.1.2.3,tp_dst=80,nw_tos=184,actions=output:2', { portNames: { vm1: 7 } });
    expect(f.match).toEqual([
      { field: 'in_port', value: 7n },
      { field: 'eth_src', value: 0x001122000000n, mask: 0xffffff000000n },
      { field: 'eth_type', value: 0x800n },
      { field: 'ip_dscp', value: 46n },
      { field: 'ip_proto', value: 6n },
      { field: 'ipv4_src', value: 0x0a000000n, mask: 0xff000000n },
      { field: 'ipv4_dst', value: 0x0a010203n },
      { field: 'tcp_dst', value: 80n },
    ]);
  });

  it('resolves protocol-dependent names', () => {
    expect(parseFlow('udp6,tp_src=53,actions=drop').match).toContainEqual({ field: 'udp_src', value: 53n });
    expect(parseFlow('icmp,icmp_type=8,icmp_code=0,actions=drop').match).toContainEqual({ field: 'icmpv4_type', value: 8n });
    expect(parseFlow('icmp6,icmp_type=135,actions=drop').match).toContainEqual({ field: 'icmpv6_type', value: 135n });
    const arp = parseFlow('arp,nw_src=10.0.0.1,nw_proto=1,arp_sha=aa:bb:cc:dd:ee:ff,actions=drop').match;
    expect(arp).toContainEqual({ field: 'arp_spa', value: 0x0a000001n });
    expect(arp).toContainEqual({ field: 'arp_op', value: 1n });
    expect(parseFlow('ipv6,ipv6_src=2001:db8::/32,ipv6_label=0x12345,actions=drop').match).toEqual([
      { field: 'eth_type', value: 0x86ddn },
      { field: 'ipv6_src', value: 0x20010db8n << 96n, mask: 0xffffffffn << 96n },
      { field: 'ipv6_flabel', value: 0x12345n },
    ]);
  });

  it('handles VLAN forms', () => {
    expect(parseFlow('dl_vlan=100,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0x1064n }]);
    expect(parseFlow('dl_vlan=0xffff,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0n }]);
    expect(parseFlow('vlan_vid=0x1000/0x1000,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0x1000n, mask: 0x1000n }]);
    expect(parseFlow('vlan_vid=100,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0x1064n }]);
    expect(parseFlow('dl_vlan_pcp=5,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0x1000n, mask: 0x1000n }, { field: 'vlan_pcp', value: 5n }]);
    expect(parseFlow('vlan_tci=0xb064/0xffff,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0x64n | 0x1000n }, { field: 'vlan_pcp', value: 5n }]);
    expect(parseFlow('vlan_tci=0/0x1000,actions=drop').match).toEqual([{ field: 'vlan_vid', value: 0n, mask: 0x1000n }]);
  });

  it('reads tunnel, metadata and masks', () => {
    expect(parseFlow('tun_id=0x1389,tun_dst=192.168.1.2,metadata=0x5/0xff,actions=drop').match).toEqual([
      { field: 'metadata', value: 5n, mask: 0xffn },
      { field: 'tunnel_id', value: 5001n },
      { field: 'tun_ipv4_dst', value: 0xc0a80102n },
    ]);
    expect(parseFlow('ip,nw_src=10.0.0.0/255.255.0.0,actions=drop').match).toContainEqual({ field: 'ipv4_src', value: 0x0a000000n, mask: 0xffff0000n });
    expect(parseFlow('ip,nw_src=1.2.3.4/0,actions=drop').match).toEqual([{ field: 'eth_type', value: 0x800n }]);
  });

  it('reads actions and instructions', () => {
    const f = parseFlow('actions=meter:3,strip_vlan,push_vlan:0x8100,mod_vlan_vid:20,mod_vlan_pcp:3,mod_dl_src:00:00:00:00:00:01,set_field:10.0.0.9->ip_dst,set_queue:2,group:9,dec_ttl,set_tunnel:5001,5,CONTROLLER:128,controller(max_len=64),controller,IN_PORT,LOCAL,FLOOD,ALL,output:vm2,clear_actions,write_actions(output:3,pop_vlan),write_metadata:0x10/0xf0,goto_table:4', { portNames: new Map([['vm2', 2]]) });
    expect(f.instructions).toEqual({
      meter: 3,
      applyActions: [
        { type: 'pop_vlan' },
        { type: 'push_vlan', ethertype: 0x8100 },
        { type: 'set_field', field: 'vlan_vid', value: 0x1014n },
        { type: 'set_field', field: 'vlan_pcp', value: 3n },
        { type: 'set_field', field: 'eth_src', value: 1n },
        { type: 'set_field', field: 'ipv4_dst', value: 0x0a000009n },
        { type: 'set_queue', queueId: 2 },
        { type: 'group', groupId: 9 },
        { type: 'dec_nw_ttl' },
        { type: 'set_field', field: 'tunnel_id', value: 5001n },
        { type: 'output', port: 5 },
        { type: 'output', port: OFPP.CONTROLLER, maxLen: 128 },
        { type: 'output', port: OFPP.CONTROLLER, maxLen: 64 },
        { type: 'output', port: OFPP.CONTROLLER, maxLen: 0xffff },
        { type: 'output', port: OFPP.IN_PORT },
        { type: 'output', port: OFPP.LOCAL },
        { type: 'output', port: OFPP.FLOOD },
        { type: 'output', port: OFPP.ALL },
        { type: 'output', port: 2 },
      ],
      clearActions: true,
      writeActions: [{ type: 'output', port: 3 }, { type: 'pop_vlan' }],
      writeMetadata: { value: 0x10n, mask: 0xf0n },
      gotoTable: 4,
    });
  });

  it.each([
    ['table=0,prio=5,actions=drop', 'bad flow "table=0,prio=5,actions=drop": unknown field "prio" (did you mean "priority"?)'],
    ['priority=5', 'bad flow "priority=5": no actions (end with actions=..., e.g. actions=drop)'],
    ['actions=resubmit(,1)', '"resubmit" is an Open vSwitch extension that Sluice does not support'],
    ['actions=learn(table=1)', '"learn" is an Open vSwitch extension'],
    ['actions=outptu:1', 'unknown action "outptu" (did you mean "output"?)'],
    ['nw_src=10.0.0.1,actions=drop', 'ipv4_src needs ip (dl_type=0x0800) in the match'],
    ['tp_dst=80,actions=drop', 'tp_dst needs tcp, udp or sctp in the match first'],
    ['ip,tcp_dst=80,actions=drop', 'tcp_dst needs tcp or tcp6'],
    ['ip,arp,actions=drop', 'arp conflicts with an earlier eth_type (0x800)'],
    ['dl_vlan=5000,actions=drop', 'dl_vlan=5000: VLAN id must be 0-4095'],
    ['table=300,actions=drop', 'table=300: out of range 0-254'],
    ['in_port=vm9,actions=drop', 'in_port=vm9: unknown port "vm9"'],
    ['ct_state=+trk,actions=drop', 'field "ct_state" is not supported by Sluice'],
    ['dl_src=00:11:22,actions=drop', 'dl_src=00:11:22: "00:11:22" is not a MAC address'],
    ['actions=drop,output:1', '"drop" must be the only action'],
    ['actions=goto_table:1,goto_table:2', '"goto_table" given twice'],
    ['actions=write_actions(goto_table:1)', 'cannot appear inside write_actions'],
    ['actions=output:1)', 'unbalanced ")"'],
    ['tcp_dst=80/0xff,tcp,actions=drop', 'tcp_dst cannot be masked'],
    ['cookie=1/1,actions=drop', 'cookie=V/MASK is only for filters'],
  ])('refuses %s', (text, msg) => {
    expect(() => parseFlow(text)).toThrow(FlowSyntaxError);
    expect(() => parseFlow(text)).toThrow(msg);
  });

  it('errors are one line with a stable code', () => {
    try { parseFlow('x=1,actions=drop'); } catch (e) {
      expect((e as FlowSyntaxError).code).toBe('FLOW_SYNTAX');
      expect((e as Error).message).not.toContain('\n');
      return;
    }
    throw new Error('did not throw');
  });
});

const ROUND_TRIP = [
  'table=0,priority=100,dl_type=0x0806,actions=NORMAL',
  'priority=100,arp,actions=NORMAL',
  'actions=drop',
  'table=3,cookie=0x123456789abcdef0,idle_timeout=30,hard_timeout=60,send_flow_rem,priority=1,in_port=1,actions=output:2',
  'in_port=LOCAL,actions=CONTROLLER:65535',
  'tcp,nw_src=10.0.0.0/8,nw_dst=10.1.0.0/255.255.0.255,tp_src=1024,tp_dst=80,actions=mod_dl_dst:00:00:5e:00:53:01,output:3',
  'udp6,ipv6_src=2001:db8::1,ipv6_dst=fe80::/10,udp_dst=53,actions=FLOOD',
  'icmp6,icmp_type=135,icmp_code=0,actions=IN_PORT',
  'icmp,icmp_type=8,nw_tos=184,ip_ecn=1,actions=ALL',
  'sctp,tp_dst=9,actions=LOCAL',
  'arp,arp_op=2,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/24,arp_sha=aa:bb:cc:dd:ee:ff,arp_tha=00:00:00:00:00:00/ff:00:00:00:00:00,actions=drop',
  'dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_vlan=10,dl_vlan_pcp=3,actions=strip_vlan,output:4',
  'dl_vlan=0xffff,actions=push_vlan:0x8100,mod_vlan_vid:100,output:1',
  'dl_vlan_pcp=7,actions=mod_vlan_pcp:1,NORMAL',
  'vlan_vid=0x1000/0x1000,actions=drop',
  'vlan_tci=0x0000/0x1fff,actions=drop',
  'tun_id=0x1389/0xffff,tun_src=192.0.2.1,tun_dst=192.0.2.0/24,metadata=0xff00/0xff00,actions=set_tunnel:5002,set_field:192.0.2.7->tun_dst,output:9',
  'ipv6,ipv6_label=0x1/0xf,actions=set_field:2001:db8::7->ipv6_dst,dec_ttl,set_queue:1,group:3',
  'rarp,actions=drop',
  'dl_type=0x88cc,actions=CONTROLLER:0',
  'actions=meter:1,output:1,clear_actions,write_actions(set_field:5->vlan_pcp,output:2),write_metadata:0x1,goto_table:2',
  'actions=write_metadata:0x1/0x3,goto_table:1',
  'actions=output(port=3,max_len=128)',
  'table=1,check_overlap,reset_counts,no_packet_counts,no_byte_counts,actions=goto_table:2',
  'ip,ip_proto=47,actions=mod_nw_ttl:9,copy_ttl_out,copy_ttl_in,set_mpls_ttl:3,dec_mpls_ttl',
];

describe('formatFlow round trip', () => {
  it.each(ROUND_TRIP)('%s', (text) => {
    const spec = parseFlow(text);
    const shown = formatFlow(spec);
    expect(parseFlow(shown)).toEqual(spec);
    const withStats = formatFlow(spec, { durationS: 1.2345, packets: 10, bytes: 1000, idleAgeS: 3.7 });
    expect(parseFlow(withStats)).toEqual(spec);
  });

  it('prints dump-flows style', () => {
    expect(formatFlow(parseFlow('table=0,priority=100,dl_type=0x0806,actions=NORMAL'), { durationS: 1.234, packets: 0, bytes: 0 }))
      .toBe(' cookie=0x0, duration=1.234s, table=0, n_packets=0, n_bytes=0, priority=100,arp actions=NORMAL');
    expect(formatFlow(parseFlow('actions=drop'))).toBe(' cookie=0x0, table=0, actions=drop');
    expect(formatFlow(parseFlow('idle_timeout=5,in_port=1,actions=output:2'), { durationS: 2, packets: 3, bytes: 4, idleAgeS: 1 }))
      .toBe(' cookie=0x0, duration=2.000s, table=0, n_packets=3, n_bytes=4, idle_timeout=5, idle_age=1, in_port=1 actions=output:2');
  });

  it('formatMatch and formatActions pick the ovs-ofctl words', () => {
    expect(formatMatch(parseFlow('tcp,tp_dst=22,actions=drop').match)).toBe('tcp,tp_dst=22');
    expect(formatMatch([])).toBe('');
    expect(formatActions({})).toBe('drop');
    expect(formatActions(parseFlow('actions=mod_vlan_vid:7,output:1').instructions)).toBe('mod_vlan_vid:7,output:1');
  });
});

describe('parseFlowFilter', () => {
  it('reads filter keys', () => {
    expect(parseFlowFilter('table=1,cookie=0x5/0xff,out_port=2,out_group=7,priority=9,ip')).toEqual({
      match: [{ field: 'eth_type', value: 0x800n }], tableId: 1, cookie: 5n, cookieMask: 0xffn, outPort: 2, outGroup: 7, priority: 9,
    });
    expect(parseFlowFilter('')).toEqual({ match: [] });
    expect(parseFlowFilter('cookie=0x7')).toEqual({ match: [], cookie: 7n, cookieMask: 0xffffffffffffffffn });
    expect(parseFlowFilter('out_port=vm1', { portNames: { vm1: 4 } }).outPort).toBe(4);
  });
  it('refuses actions and add-only keys', () => {
    expect(() => parseFlowFilter('ip,actions=drop')).toThrow('bad flow filter "ip,actions=drop": a filter has no actions');
    expect(() => parseFlowFilter('idle_timeout=5')).toThrow('not allowed in a filter');
  });
});

describe('groups', () => {
  it('parses and formats add-group text', () => {
    const g = parseGroup('group_id=1,type=all,bucket=output:1,bucket=output:2');
    expect(g).toEqual({
      groupId: 1, type: GroupType.ALL, buckets: [
        { weight: 0, watchPort: OFPP.ANY, watchGroup: OFPG_ANY, actions: [{ type: 'output', port: 1 }] },
        { weight: 0, watchPort: OFPP.ANY, watchGroup: OFPG_ANY, actions: [{ type: 'output', port: 2 }] },
      ],
    });
    expect(formatGroup(g)).toBe('group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2');
  });
  it.each([
    'group_id=2,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=mod_vlan_vid:5,output:2',
    'group_id=3,type=ff,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,watch_group:9,actions=output:2',
    'group_id=4,type=indirect,bucket=actions=pop_vlan,output:4',
  ])('round trips %s', (text) => {
    const g = parseGroup(text);
    expect(parseGroup(formatGroup(g))).toEqual(g);
  });
  it('refuses bad groups', () => {
    expect(() => parseGroup('type=all,bucket=output:1')).toThrow('bad group "type=all,bucket=output:1": group_id is required');
    expect(() => parseGroup('group_id=1,type=any')).toThrow('type=any: use all, select, indirect or ff');
    expect(() => parseGroup('group_id=1,type=indirect,bucket=output:1,bucket=output:2')).toThrow('exactly one bucket');
    expect(() => parseGroup('group_id=1,type=all,bucket=resubmit:3')).toThrow('Open vSwitch extension');
  });
});

describe('IPv6 text', () => {
  it.each([
    ['::', '::'], ['::1', '::1'], ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['fe80::1:2', 'fe80::1:2'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1:0:0:4:5:0:0:0', '1:0:0:4:5::'],
  ])('%s -> %s', (inp, out) => {
    expect(formatIpv6(parseIpv6(inp))).toBe(out);
  });
  it('rejects junk', () => {
    expect(() => parseIpv6('1::2::3')).toThrow(TypeError);
    expect(() => parseIpv6('12345::')).toThrow(TypeError);
    expect(() => parseIpv6('1:2:3')).toThrow(TypeError);
  });
});

describe('order independence and random round trips', () => {
  it('resolves tp_dst before nw_proto', () => {
    expect(parseFlow('tp_dst=80,ip,nw_proto=6,actions=drop')).toEqual(parseFlow('tcp,tp_dst=80,actions=drop'));
  });

  it('parse(format(parse(s))) equals parse(s) for random combinations', async () => {
    const fc = (await import('fast-check')).default;
    const proto = fc.constantFrom('', 'ip', 'arp', 'tcp', 'udp6', 'icmp', 'ipv6');
    const extra: Record<string, string[]> = {
      '': ['dl_src=00:00:5e:00:53:01', 'dl_dst=01:00:00:00:00:00/01:00:00:00:00:00', 'dl_vlan=7', 'in_port=3', 'metadata=0x12/0xff', 'tun_id=5001'],
      ip: ['nw_src=192.0.2.0/24', 'nw_dst=198.51.100.7', 'ip_dscp=10', 'nw_proto=17'],
      arp: ['arp_op=1', 'arp_tpa=10.0.0.1', 'arp_sha=aa:bb:cc:dd:ee:ff'],
      tcp: ['tp_src=1234', 'tcp_dst=443', 'nw_src=10.0.0.1'],
      udp6: ['tp_dst=53', 'ipv6_src=2001:db8::/48'],
      icmp: ['icmp_type=3', 'icmp_code=1'],
      ipv6: ['ipv6_label=0x5', 'ipv6_dst=::1'],
    };
    const actions = fc.subarray(['output:1', 'mod_vlan_vid:9', 'pop_vlan', 'set_queue:3', 'CONTROLLER:100', 'group:2', 'dec_ttl', 'NORMAL'], { minLength: 0 });
    const flow = proto.chain((p) => fc.tuple(
      fc.constant(p),
      fc.subarray([...extra[''], ...(extra[p] ?? [])]),
      actions,
      fc.integer({ min: 0, max: 65535 }),
      fc.integer({ min: 0, max: 254 }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    ));
    fc.assert(fc.property(flow, ([p, fields, acts, prio, table, cookie]) => {
      const text = [`table=${table}`, `priority=${prio}`, `cookie=0x${cookie.toString(16)}`, p, ...fields].filter(Boolean).join(',') + `,actions=${acts.length ? acts.join(',') : 'drop'}`;
      const spec = parseFlow(text);
      expect(parseFlow(formatFlow(spec))).toEqual(spec);
    }), { numRuns: 300 });
  });
});

describe('pasted ovs-ofctl dump-flows lines', () => {
  it('reads a dump line with stats and quoted port names', () => {
    const f = parseFlow(' cookie=0x5, duration=5.178s, table=0, n_packets=3, n_bytes=180, idle_age=5, hard_age=9, priority=0,in_port="vm1" actions=output:"vm2"', { portNames: { vm1: 1, vm2: 2 } });
    expect(f).toMatchObject({ cookie: 5n, tableId: 0, priority: 0, match: [{ field: 'in_port', value: 1n }], instructions: { applyActions: [{ type: 'output', port: 2 }] } });
  });
});
