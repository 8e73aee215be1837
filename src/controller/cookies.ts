// Cookies name the owner of every flow the controller installs (Antrea's round|category|id idea):
// the top 16 bits say "Sluice controller", the next 8 the pipeline stage, the low 40 the object
// (a port number, a VLAN id). A restarted controller finds its own flows by cookie, and the diff
// never has to guess what a flow is for. Flows with any other cookie are not ours.

/** "51ce": the owner tag in the top 16 bits of every cookie we write. */
export const COOKIE_OWNER = 0x51cen;

export const Category = {
  BASE: 1,          // table-miss and LLDP entries
  ACCESS: 2,        // an access port's classification (id: port number)
  TRUNK: 3,         // a trunk's classification of one VLAN (id: port << 12 | vid)
  LEARNED_SRC: 4,   // a learned source (id: vid)
  LEARNED_DST: 5,   // a learned destination (id: vid)
  FLOOD: 6,         // a network's flood entry (id: vid)
  EGRESS: 7,        // an output port's egress entry (id: port number)
  LEARN_BAN: 8,     // a port whose learning is paused by the PACKET_IN rate limit (id: port)
  TUNNEL: 9,        // a VXLAN network's entries on the tunnel port: classify, egress, flood from the tunnel (id: vni)
} as const;
export type CategoryCode = (typeof Category)[keyof typeof Category];

export function cookie(cat: CategoryCode, id: number | bigint): bigint {
  return (COOKIE_OWNER << 48n) | (BigInt(cat) << 40n) | (BigInt(id) & 0xff_ffff_ffffn);
}

export const isOurs = (c: bigint): boolean => (c >> 48n) === COOKIE_OWNER;
export const categoryOf = (c: bigint): number => Number((c >> 40n) & 0xffn);
