import type { KeyObject } from 'node:crypto';
import { type Clock, newId } from '../core/index.js';
import type { AuditEntryRow, Repositories } from '../store/index.js';
import type { Actor } from './actor.js';
import { canonicalJson, entryHash, GENESIS_HASH } from './canonical.js';
import { redactSecrets } from './redact.js';
import { loadSigner } from './signing-key.js';

/**
 * The append side of the audit log: `audit.append(tx, { actor, action, resource, before, after, reason })`.
 *
 * `tx` is the transaction that makes the change being recorded (`store.transaction(async (tx) => …)`),
 * so the entry commits with the change or not at all: an append that fails throws, the caller's
 * transaction rolls back, and no change goes unrecorded.
 *
 * Entries form one hash chain per tenant (the chain `platform` holds actions on no tenant). An append
 * first bumps its chain's head row (store/repositories/audit.ts `claimNext`): on PostgreSQL that row
 * lock makes a second node's append to the same chain wait for this transaction, then continue
 * from its seq and hash, so the chain never forks; SQLite has one writer. Every `checkpointEvery`
 * entries, the same transaction stores an Ed25519 signature over (chain, seq, hash).
 */
export const PLATFORM_CHAIN = 'platform';

export interface AuditInput {
  actor: Actor;
  /** `noun.verb-past`, e.g. `api_key.created` (docs/governance.md lists them all). */
  action: string;
  resource: { type: string; id?: string | null };
  /** Whose chain the entry goes to; default the actor's tenant; null: the platform chain. */
  tenantId?: string | null;
  /** Settings before and after the change; never secrets (members named like one are redacted). */
  before?: unknown;
  after?: unknown;
  /** Why, when the API takes a reason. */
  reason?: string | null;
}

export interface AuditLogDeps {
  clock: Clock;
  /** Seals the checkpoint signing key; without it no checkpoints are signed (tests of the chain alone). */
  masterKey?: Buffer;
  /** A signed checkpoint every this many entries of a chain (audit.checkpointEvery). */
  checkpointEvery?: number;
}

export type AuditTx = Pick<Repositories, 'audit'>;

export interface AuditLog {
  append(tx: AuditTx, input: AuditInput): Promise<AuditEntryRow>;
}

export const chainOf = (tenantId: string | null | undefined) => tenantId ?? PLATFORM_CHAIN;

const jsonOrNull = (v: unknown) => (v === undefined || v === null ? null : canonicalJson(redactSecrets(v)));

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const every = deps.checkpointEvery ?? 100;
  const opened = new Map<string, KeyObject>();
  return {
    async append(tx, input) {
      if (!input.action || !input.resource?.type) throw new TypeError('an audit entry needs an action and a resource type');
      const now = deps.clock.now();
      const tenantId = input.tenantId === undefined ? input.actor.tenantId : input.tenantId;
      const chain = chainOf(tenantId);
      const { seq, prevHash } = await tx.audit.claimNext(chain, GENESIS_HASH, now);
      const a = input.actor;
      const unhashed: Omit<AuditEntryRow, 'hash'> = {
        id: newId('adt', now),
        chain,
        seq,
        tenantId: tenantId ?? null,
        at: now,
        actorKind: a.kind,
        actorId: a.id,
        actorTenantId: a.tenantId ?? null,
        actorIp: a.ip ?? null,
        actorUserAgent: a.userAgent ?? null,
        actorKeyId: a.keyId ?? null,
        action: input.action,
        resourceType: input.resource.type,
        resourceId: input.resource.id ?? null,
        beforeJson: jsonOrNull(input.before),
        afterJson: jsonOrNull(input.after),
        reason: input.reason ?? null,
        prevHash,
      };
      const entry: AuditEntryRow = { ...unhashed, hash: entryHash(unhashed) };
      await tx.audit.insertEntry(entry);
      await tx.audit.setHeadHash(chain, entry.hash);
      if (deps.masterKey && seq % every === 0) {
        const signer = await loadSigner(tx, deps.masterKey, now, opened);
        await tx.audit.insertCheckpoint({
          chain,
          seq,
          hash: entry.hash,
          keyId: signer.keyId,
          signature: signer.sign(chain, seq, entry.hash),
          at: now,
        });
      }
      return entry;
    },
  };
}
