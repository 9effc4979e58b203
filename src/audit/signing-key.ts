import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { masterKeyId, openSecret, sealSecret } from '../governance/index.js';
import type { AuditSigningKeyRow, Repositories } from '../store/index.js';
import { checkpointMessage } from './canonical.js';

/**
 * The Ed25519 key that signs audit checkpoints (RFC 8032). One per master key: its id is derived from
 * the master key's fingerprint, so every node sharing the master key signs with the same key, and the
 * first node to need it creates it (a racing second insert keeps the first). The private half is
 * sealed with the master key (governance/crypto.ts) and bound to its row by the AAD; the public half
 * is stored beside it, and a verifier opens the private half and checks it matches, so replacing the
 * public key in the database (to re-sign a rewritten chain) needs the master key too.
 */
export const signingKeyId = (masterKey: Buffer) => `ask_${masterKeyId(masterKey)}`;
const aad = (id: string) => `audit_signing_keys:${id}`;

export interface CheckpointSigner {
  keyId: string;
  sign(chain: string, seq: number, hash: string): string;
}

/**
 * The signer, read in the caller's transaction each time (one row): a key created by a transaction
 * that then rolled back must not be used again. `opened` caches the unsealed key per sealed value.
 */
export async function loadSigner(
  tx: Pick<Repositories, 'audit'>,
  masterKey: Buffer,
  now: number,
  opened: Map<string, KeyObject>,
): Promise<CheckpointSigner> {
  const id = signingKeyId(masterKey);
  const row = await tx.audit.signingKey(id, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return {
      id,
      publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      privateSealed: sealSecret(privateKey.export({ type: 'pkcs8', format: 'der' }), masterKey, aad(id)),
      createdAt: now,
    };
  });
  let key = opened.get(row.privateSealed);
  if (!key) {
    key = openPrivate(row, masterKey);
    opened.set(row.privateSealed, key);
  }
  const k = key;
  return {
    keyId: id,
    sign: (chain, seq, hash) => sign(null, checkpointMessage(chain, seq, hash), k).toString('base64'),
  };
}

/**
 * The same platform key for other signed evidence (compliance trace bundles): signs any bytes, and
 * gives the public half (SPKI DER, base64) a verifier needs offline.
 */
export interface EvidenceSigner {
  keyId: string;
  publicKey: string;
  sign(data: Buffer): string;
}

export async function loadEvidenceSigner(
  tx: Pick<Repositories, 'audit'>,
  masterKey: Buffer,
  now: number,
  opened: Map<string, KeyObject>,
): Promise<EvidenceSigner> {
  const signer = await loadSigner(tx, masterKey, now, opened);
  const row = await tx.audit.getSigningKey(signer.keyId);
  if (!row) throw new Error(`signing key ${signer.keyId} is not stored`);
  const key = opened.get(row.privateSealed) ?? openPrivate(row, masterKey);
  return { keyId: row.id, publicKey: row.publicKey, sign: (data) => sign(null, data, key).toString('base64') };
}

function openPrivate(row: AuditSigningKeyRow, masterKey: Buffer): KeyObject {
  return createPrivateKey({ key: openSecret(row.privateSealed, masterKey, aad(row.id)), format: 'der', type: 'pkcs8' });
}

/**
 * The public key to check signatures with, or why it cannot be trusted: it must be the public half of
 * the private key sealed under this master key.
 */
export function trustedPublicKey(row: AuditSigningKeyRow, masterKey: Buffer | undefined): { key: KeyObject } | { problem: string } {
  const stored = createPublicKey({ key: Buffer.from(row.publicKey, 'base64'), format: 'der', type: 'spki' });
  if (!masterKey) return { key: stored };
  let derived: KeyObject;
  try {
    derived = createPublicKey(openPrivate(row, masterKey));
  } catch (e) {
    return { problem: `signing key ${row.id} does not open under this master key: ${(e as Error).message}` };
  }
  const same = derived.export({ type: 'spki', format: 'der' }).equals(stored.export({ type: 'spki', format: 'der' }));
  return same ? { key: stored } : { problem: `signing key ${row.id}: the stored public key is not the half of its sealed private key` };
}

export function checkSignature(key: KeyObject, chain: string, seq: number, hash: string, signature: string): boolean {
  return verify(null, checkpointMessage(chain, seq, hash), key, Buffer.from(signature, 'base64'));
}
