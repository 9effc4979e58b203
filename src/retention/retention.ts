import { type Actor, type AuditRecorder, systemActor } from '../audit/index.js';
import { addressKey, type Clock, type FieldError, newId, PostwardenError, validationError } from '../core/index.js';
import type { ErasureCounts, HoldRow, Store } from '../store/index.js';
import {
  type ClassPolicy,
  cutoffOf,
  effectivePolicies,
  isRetentionClass,
  keepDays,
  type MessageRetentionClass,
  type PolicyConflict,
  policyConflicts,
  type RetentionClass,
  retentionClassNameProblem,
} from './policy.js';

/**
 * Retention, legal hold and erasure (docs/retention.md).
 *
 * The purge job (`purgeDue`, scheduled on one node through the job lease) works tenant by tenant
 * in bounded batches, one transaction per batch: the bodies go, each message keeps its SHA-256 and
 * says when and why its body went, and the batch's audit entry (`retention.bodies_purged`, the
 * tenant's chain) commits with it. Each run ends with `retention.purge_run` on the platform chain
 * with its counts. A run killed midway leaves its committed batches done; the next run marks it
 * `interrupted` and picks up what is still due. A message whose classification policy gave it a
 * retention class (`messages.retention_class`) is due by that class's days instead of the tenant's
 * `bodies` policy (whose minimum stays a floor); counts are kept per class. Held data (a hold on the tenant, the message, one of
 * its recipients' addresses, or the time range it was accepted in) is skipped and counted. Events go
 * by the tenant's `events` data class the same way (`retention.events_purged` per batch), but never
 * one a spine consumer has not handled yet or whose webhook delivery is still open.
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
  /** Days settled webhook deliveries and POST attempts are kept (`events.retentionDays`, the replay reach; default 30). */
  webhookRecordDays?: number;
}

/** Webhook records deleted per statement, and statements per kind per run (up to 200,000 rows). */
const WEBHOOK_BATCH = 2000;
const WEBHOOK_BATCHES = 100;

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

/** What a tenant's legal holds keep from a purge run: everything, these message ids, these address hashes. */
interface Held {
  tenant: boolean;
  ids: Set<string>;
  hashes: Set<string>;
}

/** One class's share of a tenant's purge: `cutoff` is when its bodies' clock must have started by. */
export interface PurgeTally {
  purged: number;
  held: number;
  cutoff: string;
}

export interface PurgeCounts {
  run: string;
  /** Bodies purged in this run. */
  purged: number;
  /** Bodies due but kept by a legal hold. */
  held: number;
  /**
   * Per tenant: the totals, the cutoff of its `bodies` policy, and per retention class (`bodies`:
   * messages without a class) what went and what a hold kept.
   */
  tenants: Record<string, PurgeTally & { classes: Record<string, PurgeTally> }>;
  /** Runs a crash left running, marked interrupted by this one. */
  interrupted: number;
  /**
   * Events purged by the `events` data class, and those due but kept by a hold; per tenant likewise.
   * `horizon`: the last spine cursor the run could reach, and what held it there (the consumer
   * furthest behind, or an open webhook delivery; null: nothing).
   */
  events: { purged: number; held: number; tenants: Record<string, PurgeTally>; horizon: { cursor: number; held_back_by: string | null } };
  /** Settled webhook deliveries and POST attempts made before `before`, deleted in this run. */
  webhooks: { before: string; deliveries: number; attempts: number };
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

  async function classesOf(tenantId: string): Promise<MessageRetentionClass[]> {
    return (await store.retention.classes(tenantId)).map((r) => ({
      name: r.name,
      maxDays: r.max_days === null ? null : Number(r.max_days),
      minDays: r.min_days === null ? null : Number(r.min_days),
    }));
  }

  const classEntry = (c: MessageRetentionClass) => ({ retentionClass: c.name, maxDays: c.maxDays, minDays: c.minDays });

  /** Purges the due bodies of one class of one tenant (null: messages without a class, by `bodies`). */
  async function purgeClass(
    job: { runId: string; tenantId: string; now: number; held: Held },
    lane: { name: string | null; maxDays: number | null; cutoff: number },
    tally: PurgeTally,
  ): Promise<void> {
    const { runId, tenantId, held } = job;
    let after = '';
    for (let b = 0; b < maxBatches; b++) {
      const due = await store.retention.bodyCandidates({
        tenantId,
        retentionClass: lane.name,
        cutoff: lane.cutoff,
        after,
        limit: batchSize,
      });
      if (!due.length) break;
      after = due.at(-1)!.id;
      const hashes = held.hashes.size
        ? await store.retention.recipientHashes(
            tenantId,
            due.map((m) => m.id),
          )
        : new Map<string, string[]>();
      const go: string[] = [];
      for (const m of due) {
        if (held.tenant || held.ids.has(m.id) || (hashes.get(m.id) ?? []).some((h) => held.hashes.has(h))) tally.held++;
        else go.push(m.id);
      }
      if (go.length) {
        const n = await audit.change(
          async (tx) => {
            let purged = 0;
            for (const id of go) if (await tx.retention.purgeBody(id, 'retention', job.now)) purged++;
            return purged;
          },
          (purged) => ({
            actor: systemActor('retention-purge', tenantId),
            tenantId,
            action: 'retention.bodies_purged',
            resource: { type: 'purge_run', id: runId },
            after: { purged, cutoff: tally.cutoff, max_days: lane.maxDays, retention_class: lane.name, message_ids: go },
          }),
        );
        tally.purged += n;
      }
      if (due.length < batchSize) break;
    }
  }

  async function purgeTenant(runId: string, tenantId: string, now: number, counts: PurgeCounts): Promise<void> {
    const bodies = (await policiesOf(tenantId)).find((p) => p.dataClass === 'bodies')!;
    const cutoffOfDays = (days: number | null) => (days === null ? null : now - days * 86_400_000);
    // Messages without a class go by the tenant's `bodies` policy; each class by its own days.
    const lanes: { name: string | null; key: string; maxDays: number | null; cutoff: number | null }[] = [
      { name: null, key: 'bodies', maxDays: bodies.maxDays, cutoff: cutoffOf(bodies, now) },
      ...(await classesOf(tenantId)).map((c) => ({
        name: c.name,
        key: c.name,
        maxDays: c.maxDays,
        cutoff: cutoffOfDays(keepDays(c, bodies)),
      })),
    ];
    if (lanes.every((l) => l.cutoff === null)) return;
    const holds = await store.retention.holds(tenantId);
    const held: Held = {
      tenant: holds.some((h) => h.kind === 'tenant'),
      ids: await heldMessageIds(tenantId, holds),
      hashes: new Set(holds.filter((h) => h.kind === 'address' && h.address_hash).map((h) => h.address_hash!)),
    };
    const iso = (c: number | null) => (c === null ? 'never' : new Date(c).toISOString());
    const tenantTally = { purged: 0, held: 0, cutoff: iso(lanes[0]!.cutoff), classes: {} as Record<string, PurgeTally> };
    for (const lane of lanes) {
      if (lane.cutoff === null) continue;
      const tally: PurgeTally = { purged: 0, held: 0, cutoff: iso(lane.cutoff) };
      await purgeClass({ runId, tenantId, now, held }, { name: lane.name, maxDays: lane.maxDays, cutoff: lane.cutoff }, tally);
      if (tally.purged || tally.held) {
        tenantTally.classes[lane.key] = tally;
        tenantTally.purged += tally.purged;
        tenantTally.held += tally.held;
      }
    }
    if (tenantTally.purged || tenantTally.held) {
      counts.tenants[tenantId] = tenantTally;
      counts.purged += tenantTally.purged;
      counts.held += tenantTally.held;
    }
  }

  /**
   * The `events` data class: a tenant's events older than its policy go, in batches (one transaction
   * each, with its `retention.events_purged` entry), oldest first, but never past the spine's horizon
   * (a consumer that has not handled them yet, an open webhook delivery) and never what a hold
   * keeps: the tenant, the event's message (message, range and address holds) or its time (range).
   */
  async function purgeEvents(runId: string, tenantId: string, now: number, spineHorizon: number, counts: PurgeCounts): Promise<void> {
    const policy = (await policiesOf(tenantId)).find((p) => p.dataClass === 'events')!;
    const cutoff = cutoffOf(policy, now);
    if (cutoff === null) return;
    const lastDue = await store.retention.lastCursorAtOrBefore(cutoff);
    if (lastDue === undefined) return;
    const horizon = Math.min(spineHorizon, lastDue);
    const holds = await store.retention.holds(tenantId);
    const tally: PurgeTally = { purged: 0, held: 0, cutoff: new Date(cutoff).toISOString() };
    // Held time ranges are left out in SQL and counted once: scanning past them in every run would
    // spend the run's batches on events that cannot go.
    const ranges = holds
      .filter((h) => h.kind === 'range')
      .map((h) => ({
        from: h.from_at === null ? Number.MIN_SAFE_INTEGER : Number(h.from_at),
        until: h.until_at === null ? Number.MAX_SAFE_INTEGER : Number(h.until_at),
      }));
    if (holds.some((h) => h.kind === 'tenant')) {
      tally.held = await store.retention.countEvents({ tenantId, cutoff, upTo: horizon });
    } else {
      tally.held = await store.retention.countEvents({ tenantId, cutoff, upTo: horizon, within: ranges });
      const heldIds = await heldMessageIds(tenantId, holds);
      const heldHashes = new Set(holds.filter((h) => h.kind === 'address' && h.address_hash).map((h) => h.address_hash!));
      let after = 0;
      for (let b = 0; b < maxBatches; b++) {
        const due = await store.retention.eventCandidates({ tenantId, cutoff, after, upTo: horizon, limit: batchSize, skip: ranges });
        if (!due.length) break;
        after = due.at(-1)!.cursor;
        const messageIds = [...new Set(due.flatMap((e) => (e.messageId ? [e.messageId] : [])))];
        const hashes =
          heldHashes.size && messageIds.length ? await store.retention.recipientHashes(tenantId, messageIds) : new Map<string, string[]>();
        const go: number[] = [];
        for (const e of due) {
          const held = e.messageId !== null && (heldIds.has(e.messageId) || (hashes.get(e.messageId) ?? []).some((h) => heldHashes.has(h)));
          if (held) tally.held++;
          else go.push(e.cursor);
        }
        if (go.length) {
          tally.purged += await audit.change(
            (tx) => tx.retention.deleteEvents(go),
            (purged) => ({
              actor: systemActor('retention-purge', tenantId),
              tenantId,
              action: 'retention.events_purged',
              resource: { type: 'purge_run', id: runId },
              after: { purged, cutoff: tally.cutoff, max_days: policy.maxDays, first_cursor: go[0], last_cursor: go.at(-1) },
            }),
          );
        }
        if (due.length < batchSize) break;
      }
    }
    if (tally.purged || tally.held) {
      counts.events.tenants[tenantId] = tally;
      counts.events.purged += tally.purged;
      counts.events.held += tally.held;
    }
  }

  /**
   * Webhook records are operational (which event went to which endpoint, what the receiver
   * answered): settled deliveries and attempts go once older than the replay reach, in batches of
   * single statements, oldest first. A legal hold keeps events, which a replay sends again, not
   * these; an open delivery stays however old (the events purge waits for it too).
   */
  async function purgeWebhookRecords(now: number): Promise<PurgeCounts['webhooks']> {
    const before = now - (deps.webhookRecordDays ?? 30) * 86_400_000;
    const out = { before: new Date(before).toISOString(), deliveries: 0, attempts: 0 };
    for (let b = 0; b < WEBHOOK_BATCHES; b++) {
      const n = await store.webhookDeliveries.deleteSettledBefore(before, WEBHOOK_BATCH);
      out.deliveries += n;
      if (n < WEBHOOK_BATCH) break;
    }
    for (let b = 0; b < WEBHOOK_BATCHES; b++) {
      const n = await store.webhookDeliveries.deleteAttemptsBefore(before, WEBHOOK_BATCH);
      out.attempts += n;
      if (n < WEBHOOK_BATCH) break;
    }
    return out;
  }

  function checkAddress(address: unknown, path: string): string {
    if (typeof address !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(address.trim()))
      throw validationError([{ path, message: 'must be an email address' }]);
    return addressKey(address.trim()).toLowerCase();
  }

  return {
    /** The tenant's effective policy per data class, any conflicts among them, and its retention classes. */
    async policies(tenantId: string): Promise<{ policies: ClassPolicy[]; conflicts: PolicyConflict[]; classes: MessageRetentionClass[] }> {
      const policies = await policiesOf(tenantId);
      return { policies, conflicts: policyConflicts(policies), classes: await classesOf(tenantId) };
    },

    /** The tenant's retention classes (what a classification policy may name). */
    classes: classesOf,

    /**
     * Sets data classes and retention classes (others keep theirs; a class is never removed, so a
     * message's class always resolves); refuses a set with conflicts, naming each.
     */
    async setPolicies(
      who: Actor,
      tenantId: string,
      input: {
        policies?: { dataClass: string; maxDays: number | null; minDays: number | null }[];
        classes?: MessageRetentionClass[];
      },
    ) {
      const policiesIn = input.policies ?? [];
      const classesIn = input.classes ?? [];
      const errors: FieldError[] = [];
      if (!policiesIn.length && !classesIn.length) errors.push({ path: '/body', message: 'name policies, classes or both' });
      policiesIn.forEach((p, i) => {
        if (!isRetentionClass(p.dataClass)) errors.push({ path: `/body/policies/${i}/data_class`, message: 'is not a data class' });
      });
      classesIn.forEach((c, i) => {
        const problem = retentionClassNameProblem(c.name);
        if (problem) errors.push({ path: `/body/classes/${i}/name`, message: problem });
        else if (classesIn.findIndex((x) => x.name === c.name) !== i)
          errors.push({ path: `/body/classes/${i}/name`, message: `duplicates ${c.name}` });
        if (c.maxDays !== null && c.minDays !== null && c.maxDays < c.minDays)
          errors.push({
            path: `/body/classes/${i}`,
            message: `max_days ${c.maxDays} is below min_days ${c.minDays}: the minimum would be broken`,
          });
      });
      if (errors.length) throw validationError(errors);
      const before = await policiesOf(tenantId);
      const next = before.map((p) => {
        const i = policiesIn.findIndex((x) => x.dataClass === p.dataClass);
        return i < 0 ? p : { ...p, maxDays: policiesIn[i]!.maxDays, minDays: policiesIn[i]!.minDays, custom: true };
      });
      const conflicts = policyConflicts(next);
      if (conflicts.length) {
        throw validationError(
          conflicts.map((c) => ({
            path: `/body/policies/${policiesIn.findIndex((x) => x.dataClass === c.dataClass)}`,
            message: c.message,
          })),
          'The retention policy conflicts with itself.',
        );
      }
      const classesBefore = await classesOf(tenantId);
      const now = clock.now();
      await audit.change(
        async (tx) => {
          for (const p of policiesIn) await tx.retention.setPolicy(tenantId, p.dataClass, p.maxDays, p.minDays, now);
          for (const c of classesIn) await tx.retention.setClass(tenantId, c.name, c.maxDays, c.minDays, now);
        },
        () => ({
          actor: who,
          tenantId,
          action: 'retention.policy_updated',
          resource: { type: 'retention_policy', id: tenantId },
          // One list per side, as before retention classes: data classes (`dataClass`), then retention classes (`retentionClass`).
          before: [
            ...before.filter((p) => policiesIn.some((x) => x.dataClass === p.dataClass)),
            ...classesBefore.filter((c) => classesIn.some((x) => x.name === c.name)).map(classEntry),
          ],
          after: [...next.filter((p) => policiesIn.some((x) => x.dataClass === p.dataClass)), ...classesIn.map(classEntry)],
        }),
      );
      return { policies: next, conflicts: [] as PolicyConflict[], classes: await classesOf(tenantId) };
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
      const horizon = await store.retention.eventsHorizon();
      const counts: PurgeCounts = {
        run,
        purged: 0,
        held: 0,
        tenants: {},
        interrupted,
        events: { purged: 0, held: 0, tenants: {}, horizon: { cursor: horizon.cursor, held_back_by: horizon.heldBackBy } },
        webhooks: { before: '', deliveries: 0, attempts: 0 },
      };
      for (const t of await store.retention.tenantsWithBodies()) await purgeTenant(run, t, now, counts);
      for (const t of await store.retention.tenantIds()) await purgeEvents(run, t, now, horizon.cursor, counts);
      counts.webhooks = await purgeWebhookRecords(now);
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
