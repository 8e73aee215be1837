// 802.1Q port modes (access, trunk, native-tagged, native-untagged) as configured on a bridge port,
// with their validation and the cold-path questions NORMAL asks when it precomputes its tables:
// which VLANs a port carries, and which one (if any) leaves it untagged. Nothing here runs per frame.

export type VlanMode = 'access' | 'trunk' | 'native-tagged' | 'native-untagged';

/**
 * A port's `vlan:` config. `vid` is the access VLAN (access) or the native VLAN (native-*); `vids`
 * is the set of VLANs a trunk carries (omitted = all of 1-4094). A native VLAN is always carried,
 * whether or not it is listed in `vids` (as Open vSwitch does).
 */
export interface VlanPortConfig { mode: VlanMode; vid?: number; vids?: number[] }

/** Lowest and highest usable VLAN id (0 means "priority tag only", 4095 is reserved). */
export const MIN_VID = 1;
export const MAX_VID = 4094;
/** Number of 12-bit VID values; tables indexed by VID have this length. */
export const VID_COUNT = 4096;

export const VLAN_MODES: readonly VlanMode[] = ['access', 'trunk', 'native-tagged', 'native-untagged'];

/** A port that carries every VLAN and no native one: the default for a port with no `vlan:` key. */
export const TRUNK_ALL: VlanPortConfig = Object.freeze({ mode: 'trunk' }) as VlanPortConfig;

function checkVid(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new RangeError(`${what} ${String(v)} is not an integer VLAN id`);
  if (v < MIN_VID || v > MAX_VID) throw new RangeError(`VLAN id ${v} is out of range ${MIN_VID}-${MAX_VID}`);
}

/**
 * Check a port's VLAN config before the switch uses it; throws TypeError/RangeError with a message
 * naming the problem (callers prefix the port: `Cannot add port "tap9": ...`).
 */
export function validateVlanPortConfig(cfg: unknown): asserts cfg is VlanPortConfig {
  if (typeof cfg !== 'object' || cfg === null) throw new TypeError('VLAN config must be an object like { mode: "access", vid: 10 }');
  const c = cfg as Record<string, unknown>;
  const mode = c.mode;
  if (typeof mode !== 'string' || !(VLAN_MODES as readonly string[]).includes(mode)) {
    throw new RangeError(`unknown VLAN mode ${JSON.stringify(mode)} (expected access, trunk, native-tagged or native-untagged)`);
  }
  for (const k of Object.keys(c)) {
    if (k !== 'mode' && k !== 'vid' && k !== 'vids') throw new TypeError(`unknown VLAN config key "${k}" (expected mode, vid, vids)`);
  }
  if (mode === 'access') {
    if (c.vid === undefined) throw new RangeError('access port needs a vid');
    checkVid(c.vid, 'access vid');
    if (c.vids !== undefined) throw new RangeError('access port takes no vids (it carries only its vid)');
    return;
  }
  if (mode === 'trunk') {
    if (c.vid !== undefined) throw new RangeError('trunk port takes no vid (use native-tagged or native-untagged for a native VLAN)');
  } else {
    if (c.vid === undefined) throw new RangeError(`${mode} port needs a vid (its native VLAN)`);
    checkVid(c.vid, 'native vid');
  }
  if (c.vids !== undefined) {
    if (!Array.isArray(c.vids)) throw new TypeError('vids must be an array of VLAN ids');
    if (c.vids.length === 0) throw new RangeError('vids must not be empty (omit it to carry all VLANs)');
    for (const v of c.vids) checkVid(v, 'trunk vid');
  }
}

/** "No VLAN" in the per-port VID tables (0 is a real VLAN there: the untagged one of a trunk-all port). */
export const NO_VID = 0xffff;

/**
 * A trunk with no `vids` is what an Open vSwitch port with neither `tag` nor `trunks` is: it
 * carries every VLAN tagged and, as VLAN 0, the untagged traffic, which leaves untagged. So a
 * bridge of ports with no VLAN config is a plain learning switch.
 */
function isTrunkAll(cfg: VlanPortConfig): boolean {
  return cfg.mode === 'trunk' && cfg.vids === undefined;
}

/** Does a port with this (valid) config carry VLAN `vid` at all, tagged or untagged? */
export function portCarriesVid(cfg: VlanPortConfig, vid: number): boolean {
  if (vid === 0) return isTrunkAll(cfg);
  if (vid < MIN_VID || vid > MAX_VID) return false;
  if (cfg.mode === 'access') return cfg.vid === vid;
  if (cfg.mode !== 'trunk' && cfg.vid === vid) return true;
  return cfg.vids === undefined || cfg.vids.includes(vid);
}

/** The VLAN taken by untagged and priority-tagged (VID 0) frames arriving on the port; NO_VID = none (trunk with a VLAN list). */
export function ingressNativeVid(cfg: VlanPortConfig): number {
  if (cfg.mode === 'trunk') return isTrunkAll(cfg) ? 0 : NO_VID;
  return cfg.vid ?? NO_VID;
}

/** The one VLAN whose frames leave the port untagged (access vid, native-untagged vid); 0 = none. */
export function egressUntaggedVid(cfg: VlanPortConfig): number {
  if (cfg.mode === 'access' || cfg.mode === 'native-untagged') return cfg.vid ?? NO_VID;
  return isTrunkAll(cfg) ? 0 : NO_VID;
}
