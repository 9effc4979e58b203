import { createHmac } from 'node:crypto';

/**
 * A searchable stand-in for an address: HMAC-SHA256 under a tenant's index key of the address as
 * lookups normalise it (lower-cased). Equal addresses give equal hashes within one tenant, and
 * nothing across tenants or without the key (a plain SHA-256 of an address is reversible by
 * guessing; a keyed one is not).
 */
export function addressHash(indexKey: Buffer, address: string): string {
  return createHmac('sha256', indexKey).update(address.trim().toLowerCase(), 'utf8').digest('base64url');
}
