import { createHash } from 'node:crypto';
import type { AuditEntryRow } from '../store/index.js';

/**
 * The canonical encoding an audit entry's hash is taken over (docs/governance.md, "The chain").
 *
 * JSON with object keys sorted by UTF-16 code unit (JavaScript's default sort), no whitespace,
 * strings and numbers as JSON.stringify writes them, `undefined` members left out and non-finite
 * numbers as null. Every member of the hashed object is always present (null when empty), so an
 * entry has exactly one encoding and a verifier in another language can rebuild it byte for byte.
 *
 * hash = lowercase hex SHA-256 of the UTF-8 bytes of:
 *   {"action","actor":{"id","ip","key_id","kind","tenant_id","user_agent"},"after","at","before",
 *    "chain","id","prev_hash","reason","resource":{"id","type"},"seq","tenant_id","v":1}
 * The first entry of a chain has prev_hash = 64 zeros.
 */
export const GENESIS_HASH = '0'.repeat(64);
export const ENCODING_VERSION = 1;

export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function')
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return 'null';
}

/** The object that is hashed, rebuilt from a stored row (`before`/`after` parsed from their JSON). */
export function hashedForm(e: Omit<AuditEntryRow, 'hash'>): Record<string, unknown> {
  return {
    v: ENCODING_VERSION,
    id: e.id,
    chain: e.chain,
    seq: e.seq,
    prev_hash: e.prevHash,
    at: e.at,
    tenant_id: e.tenantId,
    actor: {
      kind: e.actorKind,
      id: e.actorId,
      tenant_id: e.actorTenantId,
      ip: e.actorIp,
      user_agent: e.actorUserAgent,
      key_id: e.actorKeyId,
    },
    action: e.action,
    resource: { type: e.resourceType, id: e.resourceId },
    before: e.beforeJson === null ? null : JSON.parse(e.beforeJson),
    after: e.afterJson === null ? null : JSON.parse(e.afterJson),
    reason: e.reason,
  };
}

export function entryHash(e: Omit<AuditEntryRow, 'hash'>): string {
  return createHash('sha256')
    .update(canonicalJson(hashedForm(e)), 'utf8')
    .digest('hex');
}

/** What a checkpoint signs: the chain, the seq and the hash of the entry at that seq. */
export function checkpointMessage(chain: string, seq: number, hash: string): Buffer {
  return Buffer.from(`postwarden-audit-checkpoint/v1\n${canonicalJson({ chain, seq, hash })}`, 'utf8');
}
