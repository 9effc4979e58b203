import { randomFillSync } from 'node:crypto';

/**
 * Prefixed, sortable ids (`msg_01J…`): 10 chars of Crockford base32 time (ms) + 16 chars of
 * randomness, the ULID layout. Sorting ids as strings sorts them by creation time, which keeps
 * B-tree inserts append-mostly and lets lists page by id.
 */
export type IdPrefix =
  | 'msg'
  | 'usr'
  | 'dek'
  | 'ejb'
  | 'rcp'
  | 'evt'
  | 'ten'
  | 'key'
  | 'dom'
  | 'dk'
  | 'sup'
  | 'att'
  | 'cap'
  | 'wh'
  | 'aud'
  | 'fb'
  | 'rpt'
  | 'snp'
  | 'whd'
  | 'wha'
  | 'tpl'
  // content: experiments, lists, list imports
  | 'exp'
  | 'lst'
  | 'imp'
  // audit log entries (src/audit)
  | 'adt'
  // compliance (src/compliance): third parties, incidents, incident reminders
  | 'tp'
  | 'inc'
  | 'irm'
  // retention: legal holds, purge runs, erasures (src/retention)
  | 'hld'
  | 'prg'
  | 'era'
  // self-assessment runs (src/self-assessment)
  | 'sa';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/**
 * Random bytes drawn 4 KB at a time: one CSPRNG call per 256 ids instead of one per id, which
 * showed in delivery profiles (every event, attempt and recipient gets an id).
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function encodeRandom(len: number): string {
  if (poolAt + len > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[pool[poolAt + i]! & 31];
  poolAt += len;
  return out;
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeTime(nowMs)}${encodeRandom(16)}`;
}

/**
 * Sorts below every id of `prefix` made at or after `ms` and above every one made before it (ids
 * begin with their time): `id < idFloor(p, t)` is "made before t", answered by the primary key.
 */
export function idFloor(prefix: IdPrefix, ms: number): string {
  return `${prefix}_${encodeTime(ms)}`;
}

export function hasPrefix(id: string, prefix: IdPrefix): boolean {
  return id.startsWith(`${prefix}_`) && /^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/.test(id);
}
