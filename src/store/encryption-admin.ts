import { type Kysely, sql } from 'kysely';
import { newId } from '../core/index.js';
import { bytesKeyId, ENVELOPE_BYTES_MAGIC_HEX, ENVELOPE_TEXT_PREFIX, textKeyId } from '../protection/index.js';
import { type ContentCipher, PLATFORM_TENANT } from './content-cipher.js';
import type { Repositories } from './db.js';
import type { DialectName } from './dialect.js';
import type { EncryptionJobsTable } from './encryption-schema.js';
import { capturedToAt } from './repositories/captured.js';
import { eventDataAt } from './repositories/events.js';
import { feedbackRawAt, feedbackSummaryAt } from './repositories/feedback.js';
import { answerAt } from './repositories/idempotency.js';
import { bodyAt, subjectAt } from './repositories/messages.js';
import { recipientAddressAt, recipientReplyAt } from './repositories/recipients.js';
import type { Database } from './schema.js';

/**
 * Rotation, re-encryption and crypto-shredding (docs/encryption.md).
 *
 * Both long operations are jobs with a persisted position, worked in bounded batches, one
 * transaction per batch that also moves the position; a process killed midway (kill -9) leaves the
 * job `running` at the last committed batch, and running the jobs again finishes it. Every value is
 * readable at every moment: a value carries the id of the key that sealed it, and old keys stay
 * until the tenant is shredded.
 *
 * - `reencrypt` (one tenant): moves every sealed column of the tenant to its active data key, and
 *   seals plaintext rows written before encryption. The stages are the tables in a fixed order.
 * - `rewrap` (all tenants, or one for BYOK): wraps every data key again with the current KEK of
 *   the provider the tenant uses now. Data is not touched.
 */
type Db = Kysely<Database>;

export const REENCRYPT_STAGES = [
  'messages',
  'message_bodies',
  'recipients',
  'events',
  'feedback_documents',
  'captured_messages',
  'idempotency_keys',
] as const;
type Stage = (typeof REENCRYPT_STAGES)[number];

export interface JobRunOptions {
  batchSize?: number;
  /** Pause between batches, so an online run leaves the database to the traffic. */
  pauseMs?: number;
  /** Told after every committed batch (progress for the CLI). */
  onBatch?: (job: { id: string; kind: string; stage: string; done: number }) => void;
  /**
   * Called in the transaction of the batch that finishes a job, with the job as it ends (state
   * `done`), so what it writes (an audit entry) commits with the finish or, thrown, rolls it back.
   */
  onDone?: InChange<EncryptionJobsTable>;
}

export interface CoverageRow {
  table: string;
  column: string;
  total: number;
  sealed: number;
}

export interface EncryptionCoverage {
  columns: CoverageRow[];
  total: number;
  sealed: number;
  /** Sealed share of stored content values, 0…1 (1 when nothing is stored). */
  share: number;
}

export interface TenantKeyInfo {
  id: string;
  purpose: string;
  version: number;
  state: string;
  provider: string;
  kekId: string;
  createdAt: number;
  rewrappedAt: number | null;
  destroyedAt: number | null;
}

/**
 * Called inside the transaction of a change with its result, so what it writes (an audit entry)
 * commits with the change or, when it throws, rolls the change back.
 */
export type InChange<R> = (tx: Repositories, result: R) => Promise<unknown>;

export interface EncryptionAdmin {
  /** A new content key version for the tenant (new writes use it) and a job re-encrypting the old. */
  rotateTenantKey(
    tenantId: string,
    now: number,
    record?: InChange<{ keyId: string; jobId: string }>,
  ): Promise<{ keyId: string; jobId: string }>;
  /** A job sealing plaintext rows of every tenant that has content (rows from before encryption). */
  encryptExisting(now: number, record?: InChange<string[]>): Promise<string[]>;
  /** A job re-wrapping data keys (all, or one tenant's) with the providers' current KEKs. */
  startRewrap(now: number, opts?: { tenantId?: string; target?: string }, record?: InChange<string>): Promise<string>;
  /** Sets (or clears with null) the tenant's own key in the external KMS and re-wraps its keys. */
  setTenantKmsKey(tenantId: string, keyRef: string | null, now: number, record?: InChange<string>): Promise<string>;
  /** Works every running job to the end (or until `maxBatches`); resumes jobs a crash left. */
  runJobs(now: () => number, opts?: JobRunOptions & { maxBatches?: number }): Promise<number>;
  jobs(): Promise<EncryptionJobsTable[]>;
  /** Destroys every data key of the tenant: its sealed content becomes unreadable for good. */
  shredTenant(tenantId: string, now: number, record?: InChange<number>): Promise<number>;
  /** Sealed share of stored content values: all of them, or one tenant's. */
  coverage(tenantId?: string): Promise<EncryptionCoverage>;
  /** A tenant's data keys as metadata (never key material): version, state, provider, dates. */
  tenantKeys(tenantId: string): Promise<TenantKeyInfo[]>;
  /** Data keys per KEK id (not destroyed): what a master key rotation still has to re-wrap. */
  keksInUse(): Promise<{ kekId: string; keys: number }[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `repositoriesOf(tx)`: the store's repositories on a transaction, for `record` (db.ts). */
export function encryptionAdmin(
  db: Db,
  dialect: DialectName,
  cipher: ContentCipher,
  repositoriesOf: (tx: Db) => Repositories,
): EncryptionAdmin {
  const requireSealing = () => {
    if (!cipher.sealing) throw new Error('encryption.enabled is false: nothing can be sealed, so keys are not rotated');
  };

  async function insertJob(
    kind: string,
    tenantId: string | null,
    target: string,
    stage: string,
    now: number,
    on: Db = db,
  ): Promise<string> {
    const id = newId('ejb', now);
    await on
      .insertInto('encryption_jobs')
      .values({ id, kind, tenant_id: tenantId, target, stage, position: '', state: 'running', done: 0, started_at: now, updated_at: now })
      .execute();
    return id;
  }

  /** Re-seals one batch of one stage; answers the last id handled (undefined: the stage is done). */
  async function reencryptBatch(
    tx: Db,
    tenantId: string,
    stage: Stage,
    after: string,
    limit: number,
  ): Promise<{ last?: string; n: number }> {
    const active = await cipher.activeKeyId(tx, tenantId);
    const reseal = async (where: string, v: string) =>
      textKeyId(v) === active ? v : cipher.sealText(tx, tenantId, where, await cipher.openText(tx, where, v));
    const resealBytes = async (where: string, v: Uint8Array) =>
      bytesKeyId(v) === active ? v : cipher.sealBytes(tx, tenantId, where, await cipher.openBytes(tx, where, v));
    const tenantCol = tenantId === PLATFORM_TENANT ? null : tenantId;
    switch (stage) {
      case 'messages': {
        const rows = await tx
          .selectFrom('messages')
          .select(['id', 'subject'])
          .where('tenant_id', '=', tenantId)
          .where('id', '>', after)
          .orderBy('id')
          .limit(limit)
          .execute();
        for (const r of rows)
          await tx
            .updateTable('messages')
            .set({ subject: await reseal(subjectAt(r.id), r.subject) })
            .where('id', '=', r.id)
            .execute();
        return { last: rows.at(-1)?.id, n: rows.length };
      }
      case 'message_bodies': {
        const rows = await tx
          .selectFrom('message_bodies')
          .innerJoin('messages', 'messages.id', 'message_bodies.message_id')
          .select(['message_bodies.message_id as id', 'message_bodies.raw'])
          .where('messages.tenant_id', '=', tenantId)
          .where('message_bodies.message_id', '>', after)
          .orderBy('message_bodies.message_id')
          .limit(limit)
          .execute();
        for (const r of rows) {
          if (bytesKeyId(r.raw) === active) continue;
          const raw = await resealBytes(bodyAt(r.id), r.raw);
          await tx
            .updateTable('message_bodies')
            .set({ raw: Buffer.from(raw) })
            .where('message_id', '=', r.id)
            .execute();
        }
        return { last: rows.at(-1)?.id, n: rows.length };
      }
      case 'recipients': {
        const rows = await tx
          .selectFrom('recipients')
          .select(['id', 'address', 'address_hash', 'last_reply'])
          .where('tenant_id', '=', tenantId)
          .where('id', '>', after)
          .orderBy('id')
          .limit(limit)
          .execute();
        for (const r of rows) {
          const address = await reseal(recipientAddressAt(r.id), r.address);
          const hash =
            r.address_hash ?? (await cipher.addressHash(tx, tenantId, await cipher.openText(tx, recipientAddressAt(r.id), r.address)));
          const reply = r.last_reply && (await reseal(recipientReplyAt(r.id), r.last_reply));
          await tx.updateTable('recipients').set({ address, address_hash: hash, last_reply: reply }).where('id', '=', r.id).execute();
        }
        return { last: rows.at(-1)?.id, n: rows.length };
      }
      case 'events': {
        const rows = await tx
          .selectFrom('events')
          .select(['id', 'data'])
          .where('tenant_id', '=', tenantId)
          .where('id', '>', after)
          .orderBy('id')
          .limit(limit)
          .execute();
        for (const r of rows) {
          if (textKeyId(r.data) === active) continue;
          await tx
            .updateTable('events')
            .set({ data: await reseal(eventDataAt(r.id), r.data) })
            .where('id', '=', r.id)
            .execute();
        }
        return { last: rows.at(-1)?.id, n: rows.length };
      }
      case 'feedback_documents': {
        let q = tx.selectFrom('feedback_documents').select(['id', 'summary', 'raw']).where('id', '>', after);
        q = tenantCol === null ? q.where('tenant_id', 'is', null) : q.where('tenant_id', '=', tenantCol);
        const rows = await q.orderBy('id').limit(limit).execute();
        for (const r of rows) {
          const summary = await reseal(feedbackSummaryAt(r.id), r.summary);
          const raw = r.raw && Buffer.from(await resealBytes(feedbackRawAt(r.id), r.raw));
          await tx.updateTable('feedback_documents').set({ summary, raw }).where('id', '=', r.id).execute();
        }
        return { last: rows.at(-1)?.id, n: rows.length };
      }
      case 'captured_messages': {
        const rows = await tx
          .selectFrom('captured_messages')
          .select(['id', 'envelope_to'])
          .where('tenant_id', '=', tenantId)
          .where('id', '>', after)
          .orderBy('id')
          .limit(limit)
          .execute();
        for (const r of rows)
          await tx
            .updateTable('captured_messages')
            .set({ envelope_to: await reseal(capturedToAt(r.id), r.envelope_to) })
            .where('id', '=', r.id)
            .execute();
        return { last: rows.at(-1)?.id, n: rows.length };
      }
      case 'idempotency_keys': {
        const rows = await tx
          .selectFrom('idempotency_keys')
          .select(['key', 'response_body'])
          .where('tenant_id', '=', tenantId)
          .where('key', '>', after)
          .orderBy('key')
          .limit(limit)
          .execute();
        for (const r of rows) {
          if (r.response_body === null) continue;
          const body = await reseal(answerAt(tenantId, r.key), r.response_body);
          await tx
            .updateTable('idempotency_keys')
            .set({ response_body: body })
            .where('tenant_id', '=', tenantId)
            .where('key', '=', r.key)
            .execute();
        }
        return { last: rows.at(-1)?.key, n: rows.length };
      }
      default: {
        const never: never = stage;
        throw new Error(`unknown stage ${String(never)}`);
      }
    }
  }

  async function rewrapBatch(tx: Db, job: EncryptionJobsTable, limit: number): Promise<{ last?: string; n: number }> {
    let q = tx.selectFrom('data_keys').select('id').where('id', '>', job.position).where('state', '!=', 'destroyed');
    if (job.tenant_id) q = q.where('tenant_id', '=', job.tenant_id);
    const rows = await q.orderBy('id').limit(limit).execute();
    for (const r of rows) await cipher.rewrap(tx, r.id);
    return { last: rows.at(-1)?.id, n: rows.length };
  }

  /** One batch of a job, committed with its new position; undefined when the job was no longer running. */
  async function step(
    job: EncryptionJobsTable,
    now: number,
    limit: number,
    onDone?: InChange<EncryptionJobsTable>,
  ): Promise<EncryptionJobsTable | undefined> {
    return db.transaction().execute(async (tx) => {
      const cur = await tx
        .selectFrom('encryption_jobs')
        .selectAll()
        .where('id', '=', job.id)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (!cur) return undefined;
      let { stage, position } = cur;
      let n = 0;
      if (cur.kind === 'rewrap') {
        const r = await rewrapBatch(tx, cur, limit);
        n = r.n;
        if (r.last) position = r.last;
        else stage = 'done';
      } else {
        const r = await reencryptBatch(tx, cur.tenant_id ?? PLATFORM_TENANT, stage as Stage, position, limit);
        n = r.n;
        if (r.last) position = r.last;
        else {
          const next = REENCRYPT_STAGES[REENCRYPT_STAGES.indexOf(stage as Stage) + 1];
          stage = next ?? 'done';
          position = '';
        }
      }
      const state = stage === 'done' ? 'done' : 'running';
      const done = Number(cur.done) + n;
      await tx.updateTable('encryption_jobs').set({ stage, position, state, done, updated_at: now }).where('id', '=', cur.id).execute();
      const after = { ...cur, stage, position, state, done, updated_at: now };
      if (state === 'done') await onDone?.(repositoriesOf(tx), after);
      return after;
    });
  }

  return {
    async rotateTenantKey(tenantId, now, record) {
      requireSealing();
      const keyId = newId('dek', now);
      const jobId = await db.transaction().execute(async (tx) => {
        await cipher.activeKeyId(tx, tenantId);
        const last = await tx
          .selectFrom('data_keys')
          .select((eb) => eb.fn.max('version').as('v'))
          .where('tenant_id', '=', tenantId)
          .where('purpose', '=', 'content')
          .executeTakeFirst();
        const w = await cipher.wrapNewKey(tx, tenantId, keyId);
        await tx
          .updateTable('data_keys')
          .set({ state: 'retired' })
          .where('tenant_id', '=', tenantId)
          .where('purpose', '=', 'content')
          .where('state', '=', 'active')
          .execute();
        await tx
          .insertInto('data_keys')
          .values({
            id: keyId,
            tenant_id: tenantId,
            purpose: 'content',
            version: Number(last?.v ?? 0) + 1,
            state: 'active',
            provider: w.provider,
            key_ref: w.keyRef,
            kek_id: w.kekId,
            wrapped: w.wrapped,
            created_at: now,
            rewrapped_at: null,
            destroyed_at: null,
          })
          .execute();
        // The key and the job re-encrypting under it commit together (and with the record).
        const job = await insertJob('reencrypt', tenantId, keyId, REENCRYPT_STAGES[0], now, tx);
        await record?.(repositoriesOf(tx), { keyId, jobId: job });
        return job;
      });
      cipher.forget(tenantId);
      return { keyId, jobId };
    },
    async encryptExisting(now, record) {
      requireSealing();
      return db.transaction().execute(async (tx) => {
        const tenants = new Set<string>();
        for (const t of ['messages', 'recipients', 'events', 'captured_messages', 'idempotency_keys'] as const) {
          for (const r of await tx.selectFrom(t).select('tenant_id').distinct().execute()) tenants.add(r.tenant_id);
        }
        for (const r of await tx.selectFrom('feedback_documents').select('tenant_id').distinct().execute())
          tenants.add(r.tenant_id ?? PLATFORM_TENANT);
        const ids: string[] = [];
        for (const t of [...tenants].sort()) {
          const target = await cipher.activeKeyId(tx, t);
          ids.push(await insertJob('reencrypt', t === PLATFORM_TENANT ? null : t, target, REENCRYPT_STAGES[0], now, tx));
        }
        await record?.(repositoriesOf(tx), ids);
        return ids;
      });
    },
    startRewrap: (now, opts = {}, record) =>
      db.transaction().execute(async (tx) => {
        const id = await insertJob('rewrap', opts.tenantId ?? null, opts.target ?? 'current', 'data_keys', now, tx);
        await record?.(repositoriesOf(tx), id);
        return id;
      }),
    async setTenantKmsKey(tenantId, keyRef, now, record) {
      return db.transaction().execute(async (tx) => {
        if (keyRef === null) await tx.deleteFrom('tenant_kms').where('tenant_id', '=', tenantId).execute();
        else {
          await tx
            .insertInto('tenant_kms')
            .values({ tenant_id: tenantId, key_ref: keyRef, updated_at: now })
            .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ key_ref: keyRef, updated_at: now }))
            .execute();
        }
        const id = await insertJob('rewrap', tenantId, keyRef ? `byok:${keyRef}` : 'default', 'data_keys', now, tx);
        await record?.(repositoriesOf(tx), id);
        return id;
      });
    },
    async runJobs(now, opts = {}) {
      const limit = Math.max(1, opts.batchSize ?? 100);
      let batches = 0;
      const max = opts.maxBatches ?? Number.POSITIVE_INFINITY;
      const running = await db.selectFrom('encryption_jobs').selectAll().where('state', '=', 'running').orderBy('id').execute();
      for (let job of running) {
        while (batches < max) {
          const next = await step(job, now(), limit, opts.onDone);
          batches++;
          if (!next) break;
          opts.onBatch?.({ id: next.id, kind: next.kind, stage: next.stage, done: Number(next.done) });
          if (next.state === 'done') break;
          job = next;
          if (opts.pauseMs) await sleep(opts.pauseMs);
        }
      }
      return batches;
    },
    jobs: () => db.selectFrom('encryption_jobs').selectAll().orderBy('id').execute(),
    async shredTenant(tenantId, now, record) {
      const n = await db.transaction().execute(async (tx) => {
        const r = await tx
          .updateTable('data_keys')
          .set({ state: 'destroyed', wrapped: null, destroyed_at: now })
          .where('tenant_id', '=', tenantId)
          .where('state', '!=', 'destroyed')
          .executeTakeFirst();
        // A re-encryption of shredded content has nothing left to do.
        await tx
          .updateTable('encryption_jobs')
          .set({ state: 'done', updated_at: now })
          .where('tenant_id', '=', tenantId)
          .where('state', '=', 'running')
          .execute();
        const destroyed = Number(r.numUpdatedRows);
        await record?.(repositoriesOf(tx), destroyed);
        return destroyed;
      });
      cipher.forget(tenantId);
      return n;
    },
    async tenantKeys(tenantId) {
      const rows = await db
        .selectFrom('data_keys')
        .select(['id', 'purpose', 'version', 'state', 'provider', 'kek_id', 'created_at', 'rewrapped_at', 'destroyed_at'])
        .where('tenant_id', '=', tenantId)
        .orderBy('purpose')
        .orderBy('version')
        .execute();
      const at = (v: number | string | null) => (v === null ? null : Number(v));
      return rows.map((r) => ({
        id: r.id,
        purpose: r.purpose,
        version: Number(r.version),
        state: r.state,
        provider: r.provider,
        kekId: r.kek_id,
        createdAt: Number(r.created_at),
        rewrappedAt: at(r.rewrapped_at),
        destroyedAt: at(r.destroyed_at),
      }));
    },
    async coverage(tenantId) {
      const hex = (col: string) =>
        dialect === 'postgres'
          ? sql`encode(substring(${sql.ref(col)} from 1 for 5), 'hex')`
          : sql`lower(hex(substr(${sql.ref(col)}, 1, 5)))`;
      const text = (col: string) => sql<number>`sum(case when ${sql.ref(col)} like ${`${ENVELOPE_TEXT_PREFIX}%`} then 1 else 0 end)`;
      const bytes = (col: string) => sql<number>`sum(case when ${hex(col)} = ${ENVELOPE_BYTES_MAGIC_HEX} then 1 else 0 end)`;
      const specs: { table: keyof Database; column: string; binary: boolean }[] = [
        { table: 'messages', column: 'subject', binary: false },
        { table: 'message_bodies', column: 'raw', binary: true },
        { table: 'recipients', column: 'address', binary: false },
        { table: 'recipients', column: 'last_reply', binary: false },
        { table: 'events', column: 'data', binary: false },
        { table: 'feedback_documents', column: 'summary', binary: false },
        { table: 'feedback_documents', column: 'raw', binary: true },
        { table: 'captured_messages', column: 'envelope_to', binary: false },
        { table: 'idempotency_keys', column: 'response_body', binary: false },
      ];
      // message_bodies has no tenant column: its rows are the tenant's messages'.
      const ofTenant = (table: keyof Database) =>
        tenantId === undefined
          ? sql``
          : table === 'message_bodies'
            ? sql`where message_id in (select id from messages where tenant_id = ${tenantId})`
            : sql`where tenant_id = ${tenantId}`;
      const columns: CoverageRow[] = [];
      for (const s of specs) {
        const r = await sql<{
          total: number | string;
          sealed: number | string | null;
        }>`select count(${sql.ref(s.column)}) as total, ${s.binary ? bytes(s.column) : text(s.column)} as sealed from ${sql.table(s.table)} ${ofTenant(s.table)}`.execute(
          db,
        );
        const row = r.rows[0];
        columns.push({ table: s.table, column: s.column, total: Number(row?.total ?? 0), sealed: Number(row?.sealed ?? 0) });
      }
      const total = columns.reduce((a, c) => a + c.total, 0);
      const sealed = columns.reduce((a, c) => a + c.sealed, 0);
      return { columns, total, sealed, share: total ? sealed / total : 1 };
    },
    async keksInUse() {
      const rows = await db
        .selectFrom('data_keys')
        .select(['kek_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('state', '!=', 'destroyed')
        .groupBy('kek_id')
        .execute();
      return rows.map((r) => ({ kekId: r.kek_id, keys: Number(r.n) }));
    },
  };
}
