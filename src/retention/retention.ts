import { type Actor, type AuditRecorder, systemActor } from '../audit/index.js';
import { addressKey, type Clock, type FieldError, newId, PostwardenError, validationError } from '../core/index.js';
import type { ErasureCounts, HoldRow, Store } from '../store/index.js';
import {
  type ClassPolicy,
  cutoffOf,
  effectivePolicies,
  isRetentionClass,
  type PolicyConflict,
  policyConflicts,
  type RetentionClass,
} from './policy.js';

/**
 * Retention, legal hold and erasure (docs/retention.md).
 *
 * The purge job (`purgeDue`, scheduled on one node through the job lease) works tenant by tenant
 * in bounded batches, one transaction per batch: the bodies go, each message keeps its SHA-256 and
 * says when and why its body went, and the batch's audit entry (`retention.bodies_purged`, the
 * tenant's chain) commits with it. Each run ends with `retention.purge_run` on the platform chain
 * with its counts. A run killed midway leaves its committed batches done; the next run marks it
 * `interrupted` and picks up what is still due. Held data (a hold on the tenant, the message, one of
 * its recipients' addresses, or the time range it was accepted in) is skipped and counted.
 *
 * Erasure (`erase`, GDPR Art. 17) removes or redacts one address across the tenant's stored data in
 * one transaction with its audit entry, keeps a suppression keyed by the address's keyed hash (so
 * "do not mail" survives), and answers a receipt: per table what was erased, and what was kept and
 * why (holds, the audit log, the operator's global list).
 */
export interface RetentionDeps {
  store: Store;
  clock: Clock;
  audit: AuditRecorder;
  /** Messages per purge transaction. */
  batchSize?: number;
  /** Batches per tenant per run at most (the rest waits for the next run). */
  maxBatches?: number;
}

export type HoldKind = 'tenant' | 'message' | 'address' | 'range';
export const holdKinds: readonly HoldKind[] = ['tenant', 'message', 'address', 'range'];

export interface HoldInput {
  kind: HoldKind;
  messageId?: string;
  address?: string;
  from?: number;
  until?: number;
  reason: string;
}

export interface PurgeCounts {
  run: string;
  /** Bodies purged in this run. */
  purged: number;
  /** Bodies due but kept by a legal hold. */
  held: number;
  tenants: Record<string, { purged: number; held: number; cutoff: string }>;
  /** Runs a crash left running, marked interrupted by this one. */
  interrupted: number;
}

export interface ErasureReceipt {
  id: string;
  object: 'erasure';
  /** The keyed hash the address lives on as (suppression, recipients.address_hash). */
  address_hash: string;
  state: 'completed' | 'held';
  at: string;
  erased: { table: string; rows: number }[];
  kept: { table: string; rows: number; reason: string }[];
  suppression: { suppressed: boolean; created: boolean };
}

export function createRetention(deps: RetentionDeps) {
  const { store, clock, audit } = deps;
  const batchSize = Math.max(1, deps.batchSize ?? 100);
  const maxBatches = Math.max(1, deps.maxBatches ?? 50);

  async function policiesOf(tenantId: string): Promise<ClassPolicy[]> {
    return effectivePolicies(await store.retention.policies(tenantId));
  }

  /** The message ids held by message and range holds (address and tenant holds are checked apart). */
  async function heldMessageIds(tenantId: string, holds: HoldRow[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const h of holds) {
      if (h.kind === 'message' && h.message_id) out.add(h.message_id);
      if (h.kind === 'range') {
        for (const id of await store.retention.messagesInRange(
          tenantId,
          h.from_at === null ? null : Number(h.from_at),
          h.until_at === null ? null : Number(h.until_at),
        ))
          out.add(id);
      }
    }
    return out;
  }

  async function purgeTenant(runId: string, tenantId: string, now: number, counts: PurgeCounts): Promise<void> {
    const bodies = (await policiesOf(tenantId)).find((p) => p.dataClass === 'bodies')!;
    const cutoff = cutoffOf(bodies, now);
    if (cutoff === null) return;
    const tally = { purged: 0, held: 0, cutoff: new Date(cutoff).toISOString() };
    const holds = await store.retention.holds(tenantId);
    const tenantHeld = holds.some((h) => h.kind === 'tenant');
    const heldIds = await heldMessageIds(tenantId, holds);
    const heldHashes = new Set(holds.filter((h) => h.kind === 'address' && h.address_hash).map((h) => h.address_hash!));
    let after = '';
    for (let b = 0; b < maxBatches; b++) {
      const due = await store.retention.bodyCandidates(tenantId, cutoff, after, batchSize);
      if (!due.length) break;
      after = due.at(-1)!.id;
      const hashes = heldHashes.size
        ? await store.retention.recipientHashes(
            tenantId,
            due.map((m) => m.id),
          )
        : new Map<string, string[]>();
      const go: string[] = [];
      for (const m of due) {
        if (tenantHeld || heldIds.has(m.id) || (hashes.get(m.id) ?? []).some((h) => heldHashes.has(h))) tally.held++;
        else go.push(m.id);
      }
      if (go.length) {
        const n = await audit.change(
          async (tx) => {
            let purged = 0;
            for (const id of go) if (await tx.retention.purgeBody(id, 'retention', now)) purged++;
            return purged;
          },
          (purged) => ({
            actor: systemActor('retention-purge', tenantId),
            tenantId,
            action: 'retention.bodies_purged',
            resource: { type: 'purge_run', id: runId },
            after: { purged, cutoff: tally.cutoff, max_days: bodies.maxDays, message_ids: go },
          }),
        );
        tally.purged += n;
      }
      if (due.length < batchSize) break;
    }
    if (tally.purged || tally.held) {
      counts.tenants[tenantId] = tally;
      counts.purged += tally.purged;
      counts.held += tally.held;
    }
  }

  function checkAddress(address: unknown, path: string): string {
    if (typeof address !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(address.trim()))
      throw validationError([{ path, message: 'must be an email address' }]);
    return addressKey(address.trim()).toLowerCase();
  }

  return {
    /** The tenant's effective policy per class, and any conflicts among them. */
    async policies(tenantId: string): Promise<{ policies: ClassPolicy[]; conflicts: PolicyConflict[] }> {
      const policies = await policiesOf(tenantId);
      return { policies, conflicts: policyConflicts(policies) };
    },

    /** Sets classes (others keep theirs); refuses a set with conflicts, naming each. */
    async setPolicies(who: Actor, tenantId: string, input: { dataClass: string; maxDays: number | null; minDays: number | null }[]) {
      const errors: FieldError[] = [];
      input.forEach((p, i) => {
        if (!isRetentionClass(p.dataClass)) errors.push({ path: `/body/policies/${i}/data_class`, message: 'is not a data class' });
      });
      if (errors.length) throw validationError(errors);
      const before = await policiesOf(tenantId);
      const next = before.map((p) => {
        const i = input.findIndex((x) => x.dataClass === p.dataClass);
        return i < 0 ? p : { ...p, maxDays: input[i]!.maxDays, minDays: input[i]!.minDays, custom: true };
      });
      const conflicts = policyConflicts(next);
      if (conflicts.length) {
        throw validationError(
          conflicts.map((c) => ({ path: `/body/policies/${input.findIndex((x) => x.dataClass === c.dataClass)}`, message: c.message })),
          'The retention policy conflicts with itself.',
        );
      }
      const now = clock.now();
      await audit.change(
        async (tx) => {
          for (const p of input) await tx.retention.setPolicy(tenantId, p.dataClass, p.maxDays, p.minDays, now);
        },
        () => ({
          actor: who,
          tenantId,
          action: 'retention.policy_updated',
          resource: { type: 'retention_policy', id: tenantId },
          before: before.filter((p) => input.some((x) => x.dataClass === p.dataClass)),
          after: next.filter((p) => input.some((x) => x.dataClass === p.dataClass)),
        }),
      );
      return { policies: next, conflicts: [] as PolicyConflict[] };
    },

    async placeHold(who: Actor, tenantId: string, input: HoldInput): Promise<HoldRow> {
      const errors: FieldError[] = [];
      if (!input.reason?.trim()) errors.push({ path: '/body/reason', message: 'is required: say why data is held' });
      if (input.kind === 'message' && !input.messageId)
        errors.push({ path: '/body/message_id', message: 'is required for a message hold' });
      if (input.kind === 'address') checkAddress(input.address, '/body/address');
      if (input.kind === 'range' && input.from === undefined && input.until === undefined)
        errors.push({ path: '/body/from', message: 'a range hold needs from, until or both' });
      if (input.from !== undefined && input.until !== undefined && input.until <= input.from)
        errors.push({ path: '/body/until', message: 'must be after from' });
      if (errors.length) throw validationError(errors);
      if (input.kind === 'message' && !(await store.messages.get(input.messageId!))) {
        throw new PostwardenError('NOT_FOUND', `message ${input.messageId} not found`, { id: input.messageId });
      }
      const now = clock.now();
      const row: HoldRow = {
        id: newId('hld', now),
        tenant_id: tenantId,
        kind: input.kind,
        message_id: input.kind === 'message' ? input.messageId! : null,
        address_hash:
          input.kind === 'address' ? await store.retention.addressHash(tenantId, checkAddress(input.address, '/body/address')) : null,
        from_at: input.kind === 'range' ? (input.from ?? null) : null,
        until_at: input.kind === 'range' ? (input.until ?? null) : null,
        reason: input.reason.trim(),
        created_at: now,
        released_at: null,
      };
      await audit.change(
        (tx) => tx.retention.addHold(row),
        () => ({
          actor: who,
          tenantId,
          action: 'legal_hold.placed',
          resource: { type: 'legal_hold', id: row.id },
          after: row,
          reason: row.reason,
        }),
      );
      return row;
    },

    async releaseHold(who: Actor, tenantId: string, id: string): Promise<HoldRow> {
      const h = await store.retention.getHold(id);
      if (!h || h.tenant_id !== tenantId || h.released_at !== null)
        throw new PostwardenError('NOT_FOUND', `no active legal hold ${id}`, { id });
      const now = clock.now();
      await audit.change(
        (tx) => tx.retention.releaseHold(id, now),
        () => ({
          actor: who,
          tenantId,
          action: 'legal_hold.released',
          resource: { type: 'legal_hold', id },
          before: h,
          after: { released_at: now },
        }),
      );
      return { ...h, released_at: now };
    },

    holds: (tenantId: string, activeOnly = true) => store.retention.holds(tenantId, activeOnly),

    /** One run of the purge job over every tenant; answers its counts (also in the audit log). */
    async purgeDue(): Promise<PurgeCounts> {
      const now = clock.now();
      const run = newId('prg', now);
      const interrupted = await store.retention.startRun(run, now);
      const counts: PurgeCounts = { run, purged: 0, held: 0, tenants: {}, interrupted };
      for (const t of await store.retention.tenantsWithBodies()) await purgeTenant(run, t, now, counts);
      await audit.change(
        (tx) => tx.retention.finishRun(run, counts, clock.now()),
        () => ({
          actor: systemActor('retention-purge'),
          tenantId: null,
          action: 'retention.purge_run',
          resource: { type: 'purge_run', id: run },
          after: counts,
        }),
      );
      return counts;
    },

    runs: (limit = 10) => store.retention.runs(limit),

    /** Erases `address` from the tenant's data and answers the receipt (see the file comment). */
    async erase(who: Actor, tenantId: string, address: unknown): Promise<ErasureReceipt> {
      const key = checkAddress(address, '/body/address');
      const now = clock.now();
      const id = newId('era', now);
      const hash = await store.retention.addressHash(tenantId, key);
      const holds = await store.retention.holds(tenantId);
      const blocking = holds.find((h) => h.kind === 'tenant' || (h.kind === 'address' && h.address_hash === hash));
      const heldIds = await heldMessageIds(tenantId, holds);
      return audit.change(
        async (tx) => {
          let counts: ErasureCounts = { erased: {}, kept: [] };
          if (blocking)
            counts.kept.push({ table: '*', rows: 0, reason: `legal_hold ${blocking.id} (${blocking.kind}): ${blocking.reason}` });
          else counts = await tx.retention.eraseAddress(tenantId, key, hash, (m) => heldIds.has(m), now);
          let created = false;
          if (!blocking && !(await tx.retention.hashedSuppression(tenantId, hash))) {
            // Nobody had suppressed it: erasure itself is a request not to be mailed.
            const entry = {
              id: newId('sup', now),
              tenantId,
              scope: 'tenant' as const,
              domain: null,
              stream: null,
              address: `hash:${hash}`,
              reason: 'manual',
              source: `erasure:${id}`,
              createdAt: now,
            };
            created = await tx.suppressions.add(entry);
            await tx.suppressions.appendChange({
              id: newId('sup', now),
              tenantId,
              address: entry.address,
              action: 'add',
              actor: who.id,
              reason: entry.reason,
              source: entry.source,
              before: null,
              after: entry,
              at: now,
            });
          }
          const mentions = await tx.retention.auditMentions(tenantId, key);
          if (mentions)
            counts.kept.push({
              table: 'audit_entries',
              rows: mentions,
              reason: 'the tamper-evident audit log is never rewritten (docs/governance.md)',
            });
          const receipt: ErasureReceipt = {
            id,
            object: 'erasure',
            address_hash: hash,
            state: blocking ? 'held' : 'completed',
            at: new Date(now).toISOString(),
            erased: Object.entries(counts.erased)
              .map(([table, rows]) => ({ table, rows }))
              .sort((a, b) => a.table.localeCompare(b.table)),
            kept: counts.kept,
            suppression: { suppressed: !blocking, created },
          };
          await tx.retention.insertErasure(id, tenantId, hash, receipt, now);
          return receipt;
        },
        (r) => ({
          actor: who,
          tenantId,
          action: 'erasure.completed',
          resource: { type: 'erasure', id },
          after: { state: r.state, address_hash: r.address_hash, erased: r.erased, kept: r.kept, suppression: r.suppression },
        }),
      );
    },

    async erasure(tenantId: string, id: string): Promise<ErasureReceipt> {
      const r = await store.retention.getErasure(id, tenantId);
      if (!r) throw new PostwardenError('NOT_FOUND', `erasure ${id} not found`, { id });
      return r.receipt as ErasureReceipt;
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
export type { RetentionClass };
