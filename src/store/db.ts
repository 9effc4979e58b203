import { join } from 'node:path';
import { Kysely, Migrator, sql } from 'kysely';
import { isPostwardenError, PostwardenError } from '../core/index.js';
import type { CheckpointMode } from './checkpoints.js';
import { guardDialect } from './connection-guard.js';
import { type ContentCipher, createContentCipher, type EncryptionOptions } from './content-cipher.js';
import {
  type DialectCapabilities,
  type DialectName,
  type Durability,
  type DurabilityReport,
  postgresDialect,
  readDurability,
  sqliteDialect,
} from './dialect.js';
import { type EncryptionAdmin, encryptionAdmin } from './encryption-admin.js';
import { createEventTail, type EventTail } from './event-tail.js';
import { migrationProvider } from './migrations/index.js';
import { accessThrottleRepository } from './repositories/access-throttle.js';
import { apiKeysRepository } from './repositories/api-keys.js';
import { auditRepository } from './repositories/audit.js';
import { capturedRepository } from './repositories/captured.js';
import { classificationRepository, selfAssessmentsRepository } from './repositories/classification.js';
import { complianceRepository } from './repositories/compliance.js';
import { consumerCursorsRepository } from './repositories/consumer-cursors.js';
import { dkimKeysRepository } from './repositories/dkim-keys.js';
import { domainsRepository } from './repositories/domains.js';
import { eventsRepository } from './repositories/events.js';
import { experimentsRepository } from './repositories/experiments.js';
import { feedbackRepository } from './repositories/feedback.js';
import { idempotencyRepository } from './repositories/idempotency.js';
import { jobLeasesRepository } from './repositories/job-leases.js';
import { listsRepository } from './repositories/lists.js';
import { messagesRepository } from './repositories/messages.js';
import { mtaStsPoliciesRepository } from './repositories/mta-sts-policies.js';
import { outcomesRepository } from './repositories/outcomes.js';
import { postureRepository } from './repositories/posture.js';
import { processingRecordsRepository } from './repositories/processing-records.js';
import { rateWindowsRepository } from './repositories/rate-windows.js';
import { recipientsRepository } from './repositories/recipients.js';
import { reputationRepository } from './repositories/reputation.js';
import { retentionRepository } from './repositories/retention.js';
import { sessionsRepository } from './repositories/sessions.js';
import { ssoRepository } from './repositories/sso.js';
import { suppressionsRepository } from './repositories/suppressions.js';
import { templatesRepository } from './repositories/templates.js';
import { tenantsRepository } from './repositories/tenants.js';
import { tlsAttemptsRepository } from './repositories/tls-attempts.js';
import { trackingRepository } from './repositories/tracking.js';
import { usersRepository } from './repositories/users.js';
import { warmupRepository } from './repositories/warmup.js';
import { webhookDeliveriesRepository } from './repositories/webhook-deliveries.js';
import { webhookEndpointsRepository } from './repositories/webhook-endpoints.js';
import type { Database } from './schema.js';
import type { SqliteDriverName, SqliteDriverSetting } from './sqlite-driver.js';

export interface StoreOptions {
  /** postgres://… for PostgreSQL; empty for SQLite. */
  url?: string;
  /** SQLite file (default dataDir/postwarden.db); ':memory:' for throwaway stores. */
  sqliteFile?: string;
  dataDir?: string;
  poolSize?: number;
  /** SQLite: fsync every commit (`power-loss-safe`, the default) or not (`process-crash-safe`). */
  durability?: Durability;
  /** SQLite: which driver opens the file (`store.sqliteDriver`; default auto). */
  sqliteDriver?: SqliteDriverSetting;
  /** SQLite: where WAL checkpoints run (checkpoints.ts; default `inline`, the server's `thread`). */
  sqliteCheckpoints?: CheckpointMode;
  /** Warnings the store has no caller to throw to (the checkpoint thread's). */
  log?: { warn(obj: object, msg: string): void };
  /** PostgreSQL: longest a query waits for a connection (default 5 s), so an unreachable server fails fast. */
  connectTimeoutMs?: number;
  /** Told when the database connection is lost (PostgreSQL); the store itself recovers on its own. */
  onConnectionLost?: (e: unknown) => void;
  /** Envelope encryption of content at rest (docs/encryption.md); absent: nothing new is sealed. */
  encryption?: EncryptionOptions;
}

/** Longest a health check waits for the database before calling it unreachable. */
const PING_TIMEOUT_MS = 2000;

function repositories(
  db: Kysely<Database>,
  dialect: DialectName,
  inTransaction: boolean,
  cipher: ContentCipher,
  tail: EventTail,
  onCommit?: (fn: () => void) => void,
) {
  return {
    tenants: tenantsRepository(db),
    apiKeys: apiKeysRepository(db),
    domains: domainsRepository(db),
    messages: messagesRepository(db, dialect, cipher),
    recipients: recipientsRepository(db, dialect, cipher),
    events: eventsRepository(db, dialect, inTransaction, cipher, tail, onCommit),
    suppressions: suppressionsRepository(db, cipher),
    idempotency: idempotencyRepository(db, cipher),
    captured: capturedRepository(db, cipher),
    dkimKeys: dkimKeysRepository(db),
    rateWindows: rateWindowsRepository(db),
    jobLeases: jobLeasesRepository(db),
    consumerCursors: consumerCursorsRepository(db),
    webhookEndpoints: webhookEndpointsRepository(db),
    webhookDeliveries: webhookDeliveriesRepository(db, dialect, cipher),
    posture: postureRepository(db),
    feedback: feedbackRepository(db, cipher),
    mtaStsPolicies: mtaStsPoliciesRepository(db),
    tlsAttempts: tlsAttemptsRepository(db, dialect),
    templates: templatesRepository(db),
    tracking: trackingRepository(db),
    experiments: experimentsRepository(db, cipher),
    lists: listsRepository(db),
    outcomes: outcomesRepository(db, cipher),
    reputation: reputationRepository(db),
    users: usersRepository(db),
    sessions: sessionsRepository(db),
    accessThrottle: accessThrottleRepository(db),
    audit: auditRepository(db),
    sso: ssoRepository(db),
    warmup: warmupRepository(db),
    compliance: complianceRepository(db),
    retention: retentionRepository(db, cipher, tail),
    classification: classificationRepository(db),
    selfAssessments: selfAssessmentsRepository(db),
    processingRecords: processingRecordsRepository(db, dialect),
  };
}

export type Repositories = ReturnType<typeof repositories>;

export interface Store extends Repositories {
  readonly dialect: DialectName;
  /** SQLite: the driver that opened the file (`store.sqliteDriver`); undefined on PostgreSQL. */
  readonly sqliteDriver?: SqliteDriverName;
  /** Key rotation, re-encryption, crypto-shredding and coverage (docs/encryption.md). */
  readonly encryption: EncryptionAdmin;
  /** Runs `fn` in one transaction: everything it does through `tx` commits together or not at all. */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** True when the database answers (readiness). */
  ping(): Promise<boolean>;
  /** What an acknowledged commit survives, as the database reports it (logged at start-up). */
  durability(): Promise<DurabilityReport>;
  close(): Promise<void>;
}

export async function createStore(opts: StoreOptions): Promise<Store> {
  const caps: DialectCapabilities = opts.url
    ? postgresDialect(opts.url, opts.poolSize ?? 10, {
        connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
        ...(opts.onConnectionLost ? { onConnectionError: opts.onConnectionLost } : {}),
      })
    : sqliteDialect(opts.sqliteFile ?? join(opts.dataDir ?? './data', 'postwarden.db'), {
        ...(opts.durability ? { durability: opts.durability } : {}),
        ...(opts.sqliteDriver ? { driver: opts.sqliteDriver } : {}),
        ...(opts.sqliteCheckpoints ? { checkpoints: opts.sqliteCheckpoints } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
  // SQLite is a file in this process: there is no connection to lose.
  const db = new Kysely<Database>({
    dialect: caps.name === 'postgres' ? guardDialect(caps.kysely, opts.onConnectionLost) : caps.kysely,
  });
  async function closeAll(): Promise<void> {
    await caps.close?.();
    await db.destroy();
  }
  // Kysely's "does the migration table exist" looks across all schemas on PostgreSQL, so another
  // schema's table (several tenants or test runs sharing a database) would hide a missing one here.
  // Pin its tables to the schema this connection writes to.
  let migrationTableSchema: string | undefined;
  try {
    migrationTableSchema =
      caps.name === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined;
  } catch (e) {
    await closeAll();
    if (!isPostwardenError(e) || e.code !== 'STORE_UNAVAILABLE') throw e;
    // At start there is no request to retry: say which server, from which setting, and why.
    const where = new URL(opts.url ?? '');
    const cause = e.cause instanceof Error ? e.cause.message : String(e.cause);
    throw new PostwardenError(
      'STORE_UNAVAILABLE',
      `cannot reach the PostgreSQL server at ${where.hostname || 'localhost'}:${where.port || 5432} (store.url): ${cause}`,
      e.details,
      { cause: e.cause },
    );
  }
  const cipher = createContentCipher(opts.encryption);
  const tail = createEventTail({ epoch: () => cipher.forgets });
  const migrator = new Migrator({ db, provider: migrationProvider(caps), ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  let { error, results } = await migrator.migrateToLatest();
  // That same look across all schemas fails with 3F000 (schema), 42P01 (relation) or 42703 (column:
  // CI saw `column "id" of relation "sso_requests" does not exist`) when another schema is dropped
  // while it reads the catalog (other stores sharing the database come and go): a race, not our failure.
  const catalogRace = (e: unknown) => ['3F000', '42P01', '42703'].includes((e as { code?: string } | undefined)?.code ?? '');
  for (let i = 0; i < 3 && catalogRace(error); i++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    await closeAll();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${(error as Error).message}`, { cause: error });
  }
  return {
    ...repositories(db, caps.name, false, cipher, tail),
    encryption: encryptionAdmin(db, caps.name, cipher, (tx) => repositories(tx, caps.name, true, cipher, tail)),
    dialect: caps.name,
    ...(caps.sqliteDriver ? { sqliteDriver: caps.sqliteDriver } : {}),
    async transaction(fn) {
      // A forget inside a transaction (an erasure, a purge) runs again once it has ended: on
      // PostgreSQL a reader on another connection between the two still reads the committed rows
      // as they were, and would keep them for other readers.
      let forgot = false;
      const inTx: EventTail = {
        ...tail,
        forget() {
          forgot = true;
          tail.forget();
        },
      };
      try {
        // On SQLite, events appended in it go to the tail as it commits (never if it rolls back).
        return await db.transaction().execute((tx) => fn(repositories(tx, caps.name, true, cipher, inTx, caps.onCommit)));
      } finally {
        if (forgot) tail.forget();
      }
    },
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
      });
      const query = db
        .selectFrom('tenants')
        .select('id')
        .limit(1)
        .execute()
        .then(
          () => true,
          () => false,
        );
      return Promise.race([query, timeout]).finally(() => clearTimeout(timer));
    },
    durability: () => readDurability(db as Kysely<unknown>, caps.name, opts.durability ?? 'power-loss-safe', caps.walSync !== undefined),
    close: closeAll,
  };
}
