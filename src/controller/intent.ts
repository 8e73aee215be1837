// The controller's intent: networks, channels and attachments as one document, validated whole
// (zod, one-line errors naming the field) and kept in a canonical order so that the same intent
// always compiles to the same objects. Every change is a pure function old intent -> new intent
// that either returns a valid document or throws IntentError; nothing is ever half-applied.
import { z } from 'zod';
import { parseRate, parseSize } from '../qos/units.js';
import type { Rate, Size } from '../qos/units.js';

export interface Network { name: string; vid: number; vni?: number }
/**
 * A channel: one rate for all its attachments. Spread over several switches it is split among them
 * by measured demand (`split: demand`, the default; each switch keeps at least `min`) or evenly.
 */
export interface Channel { name: string; rate: string; burst?: string; min?: string; split?: 'demand' | 'even' }
export interface Attachment { switch: string; port: string; network: string; channel?: string }
export interface Intent { networks: Network[]; channels: Channel[]; attachments: Attachment[] }

/** Why an intent change was refused: HTTP status, stable code, one line naming the field. */
export class IntentError extends Error {
  constructor(readonly status: 400 | 404 | 409, readonly code: string, message: string) {
    super(message);
    this.name = 'IntentError';
  }
}

export const EMPTY_INTENT: Intent = Object.freeze({ networks: [], channels: [], attachments: [] }) as Intent;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameSchema = z.string().regex(NAME, 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit');
const rateSchema = z.string().superRefine((s, ctx) => {
  try { parseRate(s); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); }
});
const sizeSchema = z.string().superRefine((s, ctx) => {
  try { parseSize(s); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); }
});

export const networkSchema = z.strictObject({
  name: nameSchema,
  vid: z.number().int().min(1).max(4094),
  vni: z.number().int().min(1).max(0xffffff).optional(),
});
const splitSchema = z.enum(['demand', 'even'], { error: 'split is "demand" (follow measured demand, the default) or "even"' });
export const channelSchema = z.strictObject({ name: nameSchema, rate: rateSchema, burst: sizeSchema.optional(), min: rateSchema.optional(), split: splitSchema.optional() });
export const attachmentSchema = z.strictObject({
  switch: z.string().min(1).max(255),
  port: z.string().min(1).max(15),   // OpenFlow port names are at most 15 characters
  network: nameSchema,
  channel: nameSchema.optional(),
});
export const intentSchema = z.strictObject({
  networks: z.array(networkSchema).default([]),
  channels: z.array(channelSchema).default([]),
  attachments: z.array(attachmentSchema).default([]),
});

/** One line for the first problem zod found: `networks[1].vid: Too big: expected number to be <=4094`. */
export function zodLine(err: z.ZodError, prefix = ''): string {
  const issue = err.issues[0]!;
  const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
  const where = prefix + path;
  return where ? `${where}: ${issue.message}` : issue.message;
}

/** Parse an untrusted value as a whole intent document (400 on anything wrong). */
export function parseIntent(doc: unknown): Intent {
  const r = intentSchema.safeParse(doc ?? {});
  if (!r.success) throw new IntentError(400, 'bad-intent', zodLine(r.error));
  return checkIntent(r.data as Intent);
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new IntentError(400, 'bad-request', zodLine(r.error, `${what}.`).replace(/\.:/, ':'));
  return r.data;
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const attKey = (a: { switch: string; port: string }): string => `${a.switch}\u0000${a.port}`;
const byAtt = (a: Attachment, b: Attachment): number => (attKey(a) < attKey(b) ? -1 : attKey(a) > attKey(b) ? 1 : 0);

/**
 * Cross-field rules (unique names, vids, vnis and attachments; references exist) and the
 * canonical order. Returns a fresh, sorted copy; throws IntentError(409 or 400).
 */
export function checkIntent(i: Intent): Intent {
  const out: Intent = {
    networks: i.networks.map((n) => (n.vni === undefined ? { name: n.name, vid: n.vid } : { name: n.name, vid: n.vid, vni: n.vni })).sort(byName),
    channels: i.channels.map(canonChannel).sort(byName),
    attachments: i.attachments.map((a) => {
      const x: Attachment = { switch: a.switch, port: a.port, network: a.network };
      if (a.channel !== undefined) x.channel = a.channel;
      return x;
    }).sort(byAtt),
  };
  const names = new Set<string>(), vids = new Map<number, string>(), vnis = new Map<number, string>();
  for (const n of out.networks) {
    if (names.has(n.name)) throw new IntentError(409, 'duplicate-network', `network "${n.name}" is defined twice`);
    names.add(n.name);
    const v = vids.get(n.vid);
    if (v !== undefined) throw new IntentError(409, 'duplicate-vid', `vid ${n.vid} of network "${n.name}" is already used by network "${v}"`);
    vids.set(n.vid, n.name);
    if (n.vni !== undefined) {
      const o = vnis.get(n.vni);
      if (o !== undefined) throw new IntentError(409, 'duplicate-vni', `vni ${n.vni} of network "${n.name}" is already used by network "${o}"`);
      vnis.set(n.vni, n.name);
    }
  }
  const chans = new Set<string>();
  for (const c of out.channels) {
    if (chans.has(c.name)) throw new IntentError(409, 'duplicate-channel', `channel "${c.name}" is defined twice`);
    chans.add(c.name);
    const rate = parseRate(c.rate);
    if (c.burst !== undefined && (parseSize(c.burst).unit === 'pkt') !== (rate.unit === 'pkt')) {
      throw new IntentError(400, 'bad-burst', `channel "${c.name}": burst ${c.burst} and rate ${c.rate} must both count packets or both bytes`);
    }
    if (c.min !== undefined) {
      const min = parseRate(c.min);
      if (min.unit !== rate.unit) throw new IntentError(400, 'bad-min', `channel "${c.name}": min ${c.min} and rate ${c.rate} must both count packets or both bits`);
      if (min.perSec > rate.perSec) throw new IntentError(400, 'bad-min', `channel "${c.name}": min ${c.min} (each switch's guaranteed part) is above the channel's rate ${c.rate}`);
    }
  }
  let prev = '';
  for (const a of out.attachments) {
    const k = attKey(a);
    if (k === prev) throw new IntentError(409, 'port-attached', `port ${a.switch}:${a.port} is attached twice`);
    prev = k;
    if (!names.has(a.network)) throw new IntentError(404, 'unknown-network', `attachment ${a.switch}:${a.port}: network "${a.network}" does not exist`);
    if (a.channel !== undefined && !chans.has(a.channel)) throw new IntentError(404, 'unknown-channel', `attachment ${a.switch}:${a.port}: channel "${a.channel}" does not exist`);
  }
  return out;
}

/** A channel with only the keys it has, in one order (unchanged intent compares equal). */
function canonChannel(c: Channel): Channel {
  const out: Channel = { name: c.name, rate: c.rate };
  if (c.burst !== undefined) out.burst = c.burst;
  if (c.min !== undefined) out.min = c.min;
  if (c.split !== undefined) out.split = c.split;
  return out;
}

/** The parsed rate and burst of a channel (burst defaults as the switch's channels do). */
export function channelRate(c: Channel): { rate: Rate; burst?: Size } {
  return c.burst === undefined ? { rate: parseRate(c.rate) } : { rate: parseRate(c.rate), burst: parseSize(c.burst) };
}

// ---------------------------------------------------------------------------------------------
// Changes: each takes the current intent and returns the next (validated, canonical).

export function createNetwork(i: Intent, body: unknown): Intent {
  const n = parseWith(networkSchema, body, 'network');
  if (i.networks.some((x) => x.name === n.name)) throw new IntentError(409, 'network-exists', `network "${n.name}" already exists`);
  return checkIntent({ ...i, networks: [...i.networks, n] });
}

export function deleteNetwork(i: Intent, name: string): Intent {
  if (!i.networks.some((x) => x.name === name)) throw new IntentError(404, 'unknown-network', `network "${name}" does not exist`);
  const used = i.attachments.filter((a) => a.network === name);
  if (used.length > 0) {
    throw new IntentError(409, 'network-in-use', `network "${name}" still has ${used.length} attachment(s), e.g. ${used[0]!.switch}:${used[0]!.port}: detach them first`);
  }
  return checkIntent({ ...i, networks: i.networks.filter((x) => x.name !== name) });
}

export const attachBody = z.strictObject({ network: nameSchema, channel: nameSchema.optional() });

/** PUT semantics: creates the attachment or replaces its network/channel. */
export function putAttachment(i: Intent, sw: string, port: string, body: unknown): Intent {
  const b = parseWith(attachBody, body, 'attachment');
  const a = parseWith(attachmentSchema, { switch: sw, port, ...b }, 'attachment');
  const rest = i.attachments.filter((x) => !(x.switch === sw && x.port === port));
  return checkIntent({ ...i, attachments: [...rest, a] });
}

/** Attach a port that must not be attached yet (the CLI's `attach`): 409 when it is. */
export function addAttachment(i: Intent, sw: string, port: string, body: unknown): Intent {
  const cur = i.attachments.find((x) => x.switch === sw && x.port === port);
  if (cur) throw new IntentError(409, 'port-attached', `port ${sw}:${port} is already attached to network "${cur.network}"`);
  return putAttachment(i, sw, port, body);
}

export function deleteAttachment(i: Intent, sw: string, port: string): Intent {
  if (!i.attachments.some((x) => x.switch === sw && x.port === port)) throw new IntentError(404, 'unknown-attachment', `port ${sw}:${port} is not attached`);
  return checkIntent({ ...i, attachments: i.attachments.filter((x) => !(x.switch === sw && x.port === port)) });
}

/** Move an attachment to a channel (or off any channel with `channel: null`). */
export function assignChannel(i: Intent, sw: string, port: string, channel: string | null): Intent {
  const cur = i.attachments.find((x) => x.switch === sw && x.port === port);
  if (!cur) throw new IntentError(404, 'unknown-attachment', `port ${sw}:${port} is not attached`);
  const next: Attachment = { switch: sw, port, network: cur.network };
  if (channel !== null) next.channel = channel;
  return checkIntent({ ...i, attachments: [...i.attachments.filter((x) => x !== cur), next] });
}

export function createChannel(i: Intent, body: unknown): Intent {
  const c = parseWith(channelSchema, body, 'channel');
  if (i.channels.some((x) => x.name === c.name)) throw new IntentError(409, 'channel-exists', `channel "${c.name}" already exists`);
  return checkIntent({ ...i, channels: [...i.channels, c] });
}

export const patchBody = z.strictObject({ rate: rateSchema.optional(), burst: sizeSchema.optional(), min: rateSchema.optional(), split: splitSchema.optional() });

export function patchChannel(i: Intent, name: string, body: unknown): Intent {
  const p = parseWith(patchBody, body, 'channel');
  const cur = i.channels.find((x) => x.name === name);
  if (!cur) throw new IntentError(404, 'unknown-channel', `channel "${name}" does not exist (known: ${i.channels.map((c) => c.name).join(', ') || 'none'})`);
  if (p.rate === undefined && p.burst === undefined && p.min === undefined && p.split === undefined) throw new IntentError(400, 'bad-request', 'channel: give rate, burst, min or split');
  const next: Channel = { ...cur, ...p, name };
  return checkIntent({ ...i, channels: i.channels.map((x) => (x.name === name ? next : x)) });
}

export function deleteChannel(i: Intent, name: string): Intent {
  if (!i.channels.some((x) => x.name === name)) throw new IntentError(404, 'unknown-channel', `channel "${name}" does not exist`);
  const used = i.attachments.filter((a) => a.channel === name);
  if (used.length > 0) {
    throw new IntentError(409, 'channel-in-use', `channel "${name}" is assigned to ${used.length} attachment(s), e.g. ${used[0]!.switch}:${used[0]!.port}`);
  }
  return checkIntent({ ...i, channels: i.channels.filter((x) => x.name !== name) });
}

/** What a change does, object by object (for `apply --dry-run` and the event stream). */
export interface IntentDiff {
  networks: { added: string[]; removed: string[]; changed: string[] };
  channels: { added: string[]; removed: string[]; changed: string[] };
  attachments: { added: string[]; removed: string[]; changed: string[] };
}

function diffList<T>(a: T[], b: T[], key: (x: T) => string): { added: string[]; removed: string[]; changed: string[] } {
  const am = new Map(a.map((x) => [key(x), JSON.stringify(x)]));
  const bm = new Map(b.map((x) => [key(x), JSON.stringify(x)]));
  const added = [...bm.keys()].filter((k) => !am.has(k));
  const removed = [...am.keys()].filter((k) => !bm.has(k));
  const changed = [...bm.keys()].filter((k) => am.has(k) && am.get(k) !== bm.get(k));
  return { added, removed, changed };
}

export function diffIntent(from: Intent, to: Intent): IntentDiff {
  return {
    networks: diffList(from.networks, to.networks, (n) => n.name),
    channels: diffList(from.channels, to.channels, (c) => c.name),
    attachments: diffList(from.attachments, to.attachments, (a) => `${a.switch}:${a.port}`),
  };
}

export function isEmptyDiff(d: IntentDiff): boolean {
  return [d.networks, d.channels, d.attachments].every((x) => x.added.length + x.removed.length + x.changed.length === 0);
}
