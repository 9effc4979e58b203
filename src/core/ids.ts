import { randomBytes } from 'node:crypto';

/**
 * Prefixed, sortable ids (`msg_01J…`): 10 chars of Crockford base32 time (ms) + 16 chars of
 * randomness, the ULID layout. Sorting ids as strings sorts them by creation time, which keeps
 * B-tree inserts append-mostly and lets lists page by id.
 */
export type IdPrefix = 'msg' | 'rcp' | 'evt' | 'ten' | 'key' | 'dom' | 'dk' | 'sup' | 'att' | 'cap' | 'wh' | 'aud' | 'fb' | 'rpt' | 'snp';

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

function encodeRandom(len: number): string {
  const bytes = randomBytes(len);
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[bytes[i]! & 31];
  return out;
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeTime(nowMs)}${encodeRandom(16)}`;
}

export function hasPrefix(id: string, prefix: IdPrefix): boolean {
  return id.startsWith(`${prefix}_`) && /^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/.test(id);
}
