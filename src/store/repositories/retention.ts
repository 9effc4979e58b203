import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { ContentCipher } from '../content-cipher.js';
import type { EventTail } from '../event-tail.js';
import type { LegalHoldsTable } from '../retention-schema.js';
import type { Database } from '../schema.js';
import { capturedToAt } from './captured.js';
import { eventDataAt } from './events.js';
import { feedbackRawAt, feedbackSummaryAt } from './feedback.js';
import { answerAt } from './idempotency.js';
import { bodyAt, subjectAt } from './messages.js';
import { recipientAddressAt, recipientReplyAt } from './recipients.js';
import { ERASED_ADDRESS_PREFIX } from './suppressions.js';

/**
 * The SQL of retention (docs/retention.md): policies, legal holds, the body purge one message at a
 * time, and erasure of one address across every table that holds it. Sealed columns are opened and
 * sealed again through the cipher, so erasure works whether content is encrypted or not. The
 * service (src/retention) decides what is due and held, and records every change in the audit log
 * in the same transaction.
 */
type Db = Kysely<Database>;

export type HoldRow = LegalHoldsTable;

/** What erasure writes where the address was. */
export const ERASED = '[erased]';

/** Rows changed per table by an erasure, and rows kept with the reason. */
export interface ErasureCounts {
  erased: Record<string, number>;
  kept: { table: string; rows: number; reason: string }[];
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Replaces every occurrence of the address (any case) in a text; null when it held none. */
export function redactAddress(text: string, address: string): string | null {
  const re = new RegExp(escapeRegExp(address), 'gi');
  return re.test(text) ? text.replace(re, ERASED) : null;
}

export function retentionRepository(db: Db, cipher: ContentCipher, tail?: EventTail) {
  const bump = (c: ErasureCounts, table: string, n = 1) => {
    if (n > 0) c.erased[table] = (c.erased[table] ?? 0) + n;
  };

  return {
    /** The keyed hash of an address under the tenant's index key (created when missing). */
    async addressHash(tenantId: string, address: string): Promise<string> {
      const h = await cipher.indexHash(db, tenantId, address, true);
      if (!h) throw new Error('this store was opened without encryption settings: addresses cannot be hashed');
      return h;
    },
    /** Audit entries of the tenant's chain that mention the address: kept, never rewritten. */
    async auditMentions(tenantId: string, address: string): Promise<number> {
      const like = `%${address.trim().toLowerCase()}%`;
      const r = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('chain', '=', tenantId)
        .where((eb) =>
          eb.or([
            eb(eb.fn('lower', ['before_json']), 'like', like),
            eb(eb.fn('lower', ['after_json']), 'like', like),
            eb(eb.fn('lower', ['reason']), 'like', like),
          ]),
        )
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    async policies(tenantId: string) {
      return db.selectFrom('retention_policies').selectAll().where('tenant_id', '=', tenantId).orderBy('data_class').execute();
    },
    async setPolicy(tenantId: string, dataClass: string, maxDays: number | null, minDays: number | null, now: number) {
      await db
        .insertInto('retention_policies')
        .values({ tenant_id: tenantId, data_class: dataClass, max_days: maxDays, min_days: minDays, updated_at: now })
        .onConflict((oc) => oc.columns(['tenant_id', 'data_class']).doUpdateSet({ max_days: maxDays, min_days: minDays, updated_at: now }))
        .execute();
    },
    /** The tenant's retention classes (migration 030), by name. */
    async classes(tenantId: string) {
      return db.selectFrom('retention_classes').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
    },
    async setClass(tenantId: string, name: string, maxDays: number | null, minDays: number | null, now: number) {
      await db
        .insertInto('retention_classes')
        .values({ tenant_id: tenantId, name, max_days: maxDays, min_days: minDays, updated_at: now })
        .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ max_days: maxDays, min_days: minDays, updated_at: now }))
        .execute();
    },
    /** Tenants with at least one stored body (the purge job's work list). */
    async tenantsWithBodies(): Promise<string[]> {
      const rows = await db
        .selectFrom('messages')
        .innerJoin('message_bodies', 'message_bodies.message_id', 'messages.id')
        .select('messages.tenant_id')
        .distinct()
        .orderBy('messages.tenant_id')
        .execute();
      return rows.map((r) => r.tenant_id);
    },

    /** Every tenant's id: the events purge looks at each. */
    async tenantIds(): Promise<string[]> {
      return (await db.selectFrom('tenants').select('id').orderBy('id').execute()).map((r) => r.id);
    },
    /**
     * The highest spine cursor an events purge may reach: every durable consumer (webhooks fan-out,
     * ledger, stream, alerts) has handled it, and no webhook delivery of it or a later event is still
     * open (an endpoint that was down gets its events when it is back, however old they are).
     */
    async eventsHorizon(): Promise<{ cursor: number; heldBackBy: string | null }> {
      const consumer = await db.selectFrom('consumer_cursors').select(['name', 'position']).orderBy('position').limit(1).executeTakeFirst();
      const open = await db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.min('event_cursor').as('c'))
        .where('state', 'in', ['queued', 'retry'])
        .executeTakeFirst();
      let out: { cursor: number; heldBackBy: string | null } = { cursor: Number.MAX_SAFE_INTEGER, heldBackBy: null };
      if (consumer) out = { cursor: Number(consumer.position), heldBackBy: `consumer ${consumer.name}` };
      if (open?.c !== null && open?.c !== undefined && Number(open.c) - 1 < out.cursor)
        out = { cursor: Number(open.c) - 1, heldBackBy: 'an open webhook delivery' };
      return out;
    },
    /**
     * The highest cursor of any event at or before `at` (undefined: none): no due event lies past it,
     * so a purge scans a tenant's events only up to there (the `events_at_type` index answers it
     * over the old events alone: EXPLAIN QUERY PLAN, covering index), not its whole spine every run.
     */
    async lastCursorAtOrBefore(at: number): Promise<number | undefined> {
      // `cursor + 0`: a bare max(cursor) is the rowid on SQLite, which it answers by walking the
      // table from its newest row back to the first old one (all of it, when nothing is due).
      const r = await db
        .selectFrom('events')
        .select(sql<number | string | null>`max(cursor + 0)`.as('c'))
        .where('at', '<=', at)
        .executeTakeFirst();
      return r?.c === null || r?.c === undefined ? undefined : Number(r.c);
    },
    /**
     * A tenant's events at or before `cutoff`, cursor in (after, upTo], oldest first, leaving out
     * those that happened in any of `skip` (held time ranges: a long one must not stall the purge of
     * what follows it).
     */
    async eventCandidates(q: {
      tenantId: string;
      cutoff: number;
      after: number;
      upTo: number;
      limit: number;
      skip: readonly { from: number; until: number }[];
    }) {
      let s = db
        .selectFrom('events')
        .select(['cursor', 'message_id', 'at'])
        .where('tenant_id', '=', q.tenantId)
        .where('cursor', '>', q.after)
        .where('cursor', '<=', q.upTo)
        .where('at', '<=', q.cutoff);
      for (const r of q.skip) s = s.where((eb) => eb.or([eb('at', '<', r.from), eb('at', '>=', r.until)]));
      const rows = await s.orderBy('cursor').limit(q.limit).execute();
      return rows.map((r) => ({ cursor: Number(r.cursor), messageId: r.message_id, at: Number(r.at) }));
    },
    /** How many of a tenant's events at or before `cutoff` and cursor `upTo` happened in any of `within` (all when absent). */
    async countEvents(q: { tenantId: string; cutoff: number; upTo: number; within?: readonly { from: number; until: number }[] }) {
      let s = db
        .selectFrom('events')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('tenant_id', '=', q.tenantId)
        .where('cursor', '<=', q.upTo)
        .where('at', '<=', q.cutoff);
      const within = q.within;
      if (within) {
        if (!within.length) return 0;
        s = s.where((eb) => eb.or(within.map((r) => eb.and([eb('at', '>=', r.from), eb('at', '<', r.until)]))));
      }
      return Number((await s.executeTakeFirst())?.n ?? 0);
    },
    /** Deletes events by cursor; answers how many went. */
    async deleteEvents(cursors: readonly number[]): Promise<number> {
      let n = 0;
      for (let i = 0; i < cursors.length; i += 500) {
        const r = await db
          .deleteFrom('events')
          .where('cursor', 'in', cursors.slice(i, i + 500))
          .executeTakeFirst();
        n += Number(r.numDeletedRows);
      }
      tail?.forget();
      return n;
    },

    async addHold(h: HoldRow): Promise<void> {
      await db.insertInto('legal_holds').values(h).execute();
    },
    async getHold(id: string): Promise<HoldRow | undefined> {
      return db.selectFrom('legal_holds').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async releaseHold(id: string, now: number): Promise<boolean> {
      const r = await db
        .updateTable('legal_holds')
        .set({ released_at: now })
        .where('id', '=', id)
        .where('released_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async holds(tenantId: string, activeOnly = true): Promise<HoldRow[]> {
      let q = db.selectFrom('legal_holds').selectAll().where('tenant_id', '=', tenantId);
      if (activeOnly) q = q.where('released_at', 'is', null);
      return q.orderBy('id').execute();
    },
    async allActiveHolds(): Promise<HoldRow[]> {
      return db.selectFrom('legal_holds').selectAll().where('released_at', 'is', null).orderBy('id').execute();
    },

    /**
     * Messages of a tenant whose body may go: accepted at or before `cutoff`, body still stored, and
     * every recipient final with its last change at or before `cutoff` (bodies are kept N days after
     * the last attempt). Paged by id after `after`. Only messages of `retentionClass` (migration 030;
     * null: messages without one, which the tenant's `bodies` policy governs).
     */
    async bodyCandidates(q: { tenantId: string; retentionClass: string | null; cutoff: number; after: string; limit: number }) {
      const { tenantId, retentionClass, cutoff, after, limit } = q;
      return db
        .selectFrom('messages')
        .innerJoin('message_bodies', 'message_bodies.message_id', 'messages.id')
        .select(['messages.id', 'messages.created_at'])
        .where('messages.tenant_id', '=', tenantId)
        .where('messages.retention_class', retentionClass === null ? 'is' : '=', retentionClass)
        .where('messages.created_at', '<=', cutoff)
        .where('messages.id', '>', after)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('recipients')
                .select('recipients.id')
                .whereRef('recipients.message_id', '=', 'messages.id')
                .where((eb) =>
                  eb.or([eb('recipients.state', 'in', ['queued', 'in_flight', 'deferred']), eb('recipients.updated_at', '>', cutoff)]),
                ),
            ),
          ),
        )
        .orderBy('messages.id')
        .limit(limit)
        .execute();
    },
    /** The keyed hashes of the recipients of these messages (for address holds). */
    async recipientHashes(tenantId: string, messageIds: string[]): Promise<Map<string, string[]>> {
      const out = new Map<string, string[]>();
      if (!messageIds.length) return out;
      const rows = await db
        .selectFrom('recipients')
        .select(['id', 'message_id', 'address', 'address_hash'])
        .where('message_id', 'in', messageIds)
        .execute();
      for (const r of rows) {
        const h =
          r.address_hash ?? (await cipher.indexHash(db, tenantId, await cipher.openText(db, recipientAddressAt(r.id), r.address), true));
        if (h) out.set(r.message_id, [...(out.get(r.message_id) ?? []), h]);
      }
      return out;
    },
    /** Deletes a message's body, keeping its SHA-256 and when and why it went; false when already gone. */
    async purgeBody(messageId: string, reason: 'retention' | 'erasure', now: number): Promise<boolean> {
      const row = await db.selectFrom('message_bodies').select('raw').where('message_id', '=', messageId).executeTakeFirst();
      if (!row) return false;
      let sha: string | null = null;
      try {
        sha = createHash('sha256')
          .update(await cipher.openBytes(db, bodyAt(messageId), row.raw))
          .digest('hex');
      } catch {
        // A shredded tenant's body cannot be opened: it goes without a fingerprint.
      }
      await db.deleteFrom('message_bodies').where('message_id', '=', messageId).execute();
      await db
        .updateTable('messages')
        .set({ body_sha256: sha, body_purged_at: now, body_purge_reason: reason })
        .where('id', '=', messageId)
        .execute();
      return true;
    },
    /** Ids of the tenant's messages accepted in [from, until) (range holds). */
    async messagesInRange(tenantId: string, from: number | null, until: number | null): Promise<string[]> {
      let q = db.selectFrom('messages').select('id').where('tenant_id', '=', tenantId);
      if (from !== null) q = q.where('created_at', '>=', from);
      if (until !== null) q = q.where('created_at', '<', until);
      return (await q.execute()).map((r) => r.id);
    },
    async messageRetention(messageId: string) {
      return db
        .selectFrom('messages')
        .select(['id', 'body_sha256', 'body_purged_at', 'body_purge_reason'])
        .where('id', '=', messageId)
        .executeTakeFirst();
    },

    async startRun(id: string, now: number): Promise<number> {
      const r = await db
        .updateTable('purge_runs')
        .set({ state: 'interrupted', finished_at: now })
        .where('state', '=', 'running')
        .executeTakeFirst();
      await db.insertInto('purge_runs').values({ id, state: 'running', counts: '{}', started_at: now, finished_at: null }).execute();
      return Number(r.numUpdatedRows);
    },
    async finishRun(id: string, counts: unknown, now: number): Promise<void> {
      await db
        .updateTable('purge_runs')
        .set({ state: 'done', counts: JSON.stringify(counts), finished_at: now })
        .where('id', '=', id)
        .execute();
    },
    async runs(limit: number) {
      const rows = await db.selectFrom('purge_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
      return rows.map((r) => ({ ...r, counts: JSON.parse(r.counts) as unknown }));
    },

    async insertErasure(id: string, tenantId: string, addressHash: string, receipt: unknown, now: number): Promise<void> {
      await db
        .insertInto('erasures')
        .values({ id, tenant_id: tenantId, address_hash: addressHash, receipt: JSON.stringify(receipt), created_at: now })
        .execute();
    },
    async getErasure(id: string, tenantId: string) {
      const r = await db.selectFrom('erasures').selectAll().where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return r && { ...r, receipt: JSON.parse(r.receipt) as unknown };
    },

    /**
     * Erases `address` from the tenant's stored data (call inside a transaction). `heldMessages`
     * are kept whole. The address lives on only as `hash` (recipients.address_hash, suppressions).
     */
    async eraseAddress(
      tenantId: string,
      address: string,
      hash: string,
      heldMessages: (id: string) => boolean,
      now: number,
    ): Promise<ErasureCounts> {
      const c: ErasureCounts = { erased: {}, kept: [] };
      const key = address.trim().toLowerCase();
      const redactText = async (where: string, stored: string): Promise<string | null> => {
        const plain = await cipher.openText(db, where, stored);
        const red = redactAddress(plain, key);
        return red === null ? null : cipher.sealText(db, tenantId, where, red);
      };

      // Recipients: by the keyed hash when stored, else by the opened address (rows written before
      // encryption have no hash).
      const rcpts = await db
        .selectFrom('recipients')
        .select(['id', 'message_id', 'address', 'address_hash', 'last_reply', 'state'])
        .where('tenant_id', '=', tenantId)
        .where((eb) => eb.or([eb('address_hash', '=', hash), eb('address_hash', 'is', null)]))
        .execute();
      const messages = new Set<string>();
      let heldRecipients = 0;
      // A message still in delivery to the address is left whole: the deliverer holds its address
      // in memory and would write it back. Erase again once it is final, or cancel it first.
      const inDelivery = new Set<string>();
      const matches: typeof rcpts = [];
      for (const r of rcpts) {
        const match = r.address_hash
          ? r.address_hash === hash
          : (await cipher.openText(db, recipientAddressAt(r.id), r.address)).toLowerCase() === key;
        if (!match) continue;
        matches.push(r);
        if (['queued', 'in_flight', 'deferred'].includes(r.state)) inDelivery.add(r.message_id);
      }
      const pending = matches.filter((r) => inDelivery.has(r.message_id)).length;
      if (pending)
        c.kept.push({ table: 'recipients', rows: pending, reason: 'in delivery: erase again once final, or cancel the message first' });
      const outer = heldMessages;
      heldMessages = (id: string) => outer(id) || inDelivery.has(id);
      for (const r of matches) {
        if (inDelivery.has(r.message_id)) continue;
        if (outer(r.message_id)) {
          heldRecipients++;
          continue;
        }
        messages.add(r.message_id);
        await db
          .updateTable('recipients')
          .set({
            address: await cipher.sealText(db, tenantId, recipientAddressAt(r.id), ERASED),
            address_hash: hash,
            // The reply is JSON (MX, TLS, classification): only the address goes.
            last_reply: r.last_reply === null ? null : ((await redactText(recipientReplyAt(r.id), r.last_reply)) ?? r.last_reply),
          })
          .where('id', '=', r.id)
          .execute();
        bump(c, 'recipients');
      }
      if (heldRecipients) c.kept.push({ table: 'recipients', rows: heldRecipients, reason: 'legal_hold' });

      // The messages sent to it: body purged (fingerprint kept), the address redacted from the subject.
      for (const id of [...messages].sort()) {
        if (await this.purgeBody(id, 'erasure', now)) bump(c, 'message_bodies');
        const m = await db.selectFrom('messages').select('subject').where('id', '=', id).executeTakeFirst();
        const subject = m && (await redactText(subjectAt(id), m.subject));
        if (!subject) continue;
        await db.updateTable('messages').set({ subject }).where('id', '=', id).execute();
        bump(c, 'messages');
      }

      // Text columns that may mention the address: opened, redacted, sealed again.
      const events = await db.selectFrom('events').select(['id', 'message_id', 'data']).where('tenant_id', '=', tenantId).execute();
      let heldEvents = 0;
      for (const e of events) {
        const data = await redactText(eventDataAt(e.id), e.data);
        if (data === null) continue;
        if (e.message_id && heldMessages(e.message_id)) {
          heldEvents++;
          continue;
        }
        await db.updateTable('events').set({ data }).where('id', '=', e.id).execute();
        bump(c, 'events');
      }
      // Readers sharing recent events must read the redacted ones.
      tail?.forget();
      if (heldEvents) c.kept.push({ table: 'events', rows: heldEvents, reason: 'legal_hold' });

      const captured = await db
        .selectFrom('captured_messages')
        .select(['id', 'message_id', 'envelope_to'])
        .where('tenant_id', '=', tenantId)
        .execute();
      for (const r of captured) {
        if (heldMessages(r.message_id)) continue;
        const to = await redactText(capturedToAt(r.id), r.envelope_to);
        if (to === null) continue;
        await db.updateTable('captured_messages').set({ envelope_to: to }).where('id', '=', r.id).execute();
        bump(c, 'captured_messages');
      }

      const answers = await db.selectFrom('idempotency_keys').select(['key', 'response_body']).where('tenant_id', '=', tenantId).execute();
      for (const r of answers) {
        if (r.response_body === null) continue;
        const body = await redactText(answerAt(tenantId, r.key), r.response_body);
        if (body === null) continue;
        await db
          .updateTable('idempotency_keys')
          .set({ response_body: body })
          .where('tenant_id', '=', tenantId)
          .where('key', '=', r.key)
          .execute();
        bump(c, 'idempotency_keys');
      }

      // Feedback reports about it: the raw report goes, the summary is redacted.
      const docs = await db
        .selectFrom('feedback_documents')
        .select(['id', 'rcpt', 'message_id', 'summary', 'raw'])
        .where('tenant_id', '=', tenantId)
        .execute();
      for (const d of docs) {
        if (d.message_id && heldMessages(d.message_id)) continue;
        const summary = await redactText(feedbackSummaryAt(d.id), d.summary);
        let rawHas = false;
        if (d.raw) {
          try {
            rawHas = (await cipher.openBytes(db, feedbackRawAt(d.id), d.raw)).toString('latin1').toLowerCase().includes(key);
          } catch {
            rawHas = false;
          }
        }
        const rcptHas = (d.rcpt ?? '').toLowerCase().includes(key);
        if (summary === null && !rawHas && !rcptHas) continue;
        await db
          .updateTable('feedback_documents')
          .set({ summary: summary ?? d.summary, raw: rawHas ? null : d.raw, rcpt: rcptHas ? ERASED : d.rcpt })
          .where('id', '=', d.id)
          .execute();
        bump(c, 'feedback_documents');
      }

      // Suppression stays, keyed by the hash: "do not mail" survives erasure.
      const hashed = ERASED_ADDRESS_PREFIX + hash;
      const sups = await db
        .selectFrom('suppressions')
        .select(['id', 'tenant_id', 'scope', 'domain', 'stream'])
        .where('tenant_id', '=', tenantId)
        .where('address', '=', key)
        .execute();
      for (const s of sups) {
        const clash = await db
          .selectFrom('suppressions')
          .select('id')
          .where('tenant_id', '=', s.tenant_id)
          .where('scope', '=', s.scope)
          .where('domain', '=', s.domain)
          .where('stream', '=', s.stream)
          .where('address', '=', hashed)
          .executeTakeFirst();
        if (clash) await db.deleteFrom('suppressions').where('id', '=', s.id).execute();
        else await db.updateTable('suppressions').set({ address: hashed }).where('id', '=', s.id).execute();
        bump(c, 'suppressions');
      }
      const changes = await db
        .selectFrom('suppression_changes')
        .select(['id', 'address', 'before', 'after'])
        .where('tenant_id', '=', tenantId)
        .execute();
      for (const ch of changes) {
        const before = ch.before && redactAddress(ch.before, key);
        const after = ch.after && redactAddress(ch.after, key);
        if (ch.address.toLowerCase() !== key && !before && !after) continue;
        await db
          .updateTable('suppression_changes')
          .set({
            address: ch.address.toLowerCase() === key ? hashed : ch.address,
            before: before ? before.replaceAll(ERASED, hashed) : ch.before,
            after: after ? after.replaceAll(ERASED, hashed) : ch.after,
          })
          .where('id', '=', ch.id)
          .execute();
        bump(c, 'suppression_changes');
      }
      const global = await db.selectFrom('suppressions').select('id').where('tenant_id', '=', '').where('address', '=', key).execute();
      if (global.length)
        c.kept.push({ table: 'suppressions', rows: global.length, reason: "on the operator's global list, not the tenant's" });
      return c;
    },
    /** True when the tenant has an entry for the hashed form of an erased address. */
    async hashedSuppression(tenantId: string, hash: string): Promise<boolean> {
      const r = await db
        .selectFrom('suppressions')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('address', '=', ERASED_ADDRESS_PREFIX + hash)
        .executeTakeFirst();
      return !!r;
    },
  };
}

export type RetentionRepository = ReturnType<typeof retentionRepository>;
