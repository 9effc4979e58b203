import type { Kysely } from 'kysely';
import { type EventType, isoTime } from '../../core/index.js';
import type { ContentCipher } from '../content-cipher.js';
import type { Database } from '../schema.js';
import { openEventData } from './events.js';

export interface ExperimentRow {
  id: string;
  tenantId: string;
  name: string;
  /** 'running' | 'stopped' */
  status: string;
  /** JSON-ready variant definitions (src/content owns their shape). */
  variants: unknown[];
  metrics: string[];
  /** Set when stopped or rolled back: the variant later sends get, outside the sample. */
  serveVariant: string | null;
  createdAt: number;
}

export interface AssignmentRow {
  messageId: string;
  experimentId: string;
  recipient: string;
  variant: string;
  inSample: boolean;
  createdAt: number;
}

/** An event of a message in an experiment, with the variant that message got. */
export interface ExperimentEvent {
  cursor: number;
  type: EventType;
  messageId: string;
  recipientId: string | null;
  at: string;
  data: Record<string, unknown>;
  variant: string;
  recipient: string;
}

const toExperiment = (r: Database['experiments']): ExperimentRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  status: r.status,
  variants: JSON.parse(r.variants) as unknown[],
  metrics: JSON.parse(r.metrics) as string[],
  serveVariant: r.serve_variant,
  createdAt: Number(r.created_at),
});

export function experimentsRepository(db: Kysely<Database>, cipher: ContentCipher) {
  return {
    async insert(e: ExperimentRow): Promise<void> {
      await db
        .insertInto('experiments')
        .values({
          id: e.id,
          tenant_id: e.tenantId,
          name: e.name,
          status: e.status,
          variants: JSON.stringify(e.variants),
          metrics: JSON.stringify(e.metrics),
          serve_variant: e.serveVariant,
          created_at: e.createdAt,
        })
        .execute();
    },
    async get(tenantId: string, id: string): Promise<ExperimentRow | undefined> {
      const r = await db.selectFrom('experiments').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return r && toExperiment(r);
    },
    async list(tenantId?: string, status?: string): Promise<ExperimentRow[]> {
      let q = db.selectFrom('experiments').selectAll();
      if (tenantId) q = q.where('tenant_id', '=', tenantId);
      if (status) q = q.where('status', '=', status);
      return (await q.orderBy('id').limit(1000).execute()).map(toExperiment);
    },
    async setStatus(id: string, status: string, serveVariant: string | null): Promise<void> {
      await db.updateTable('experiments').set({ status, serve_variant: serveVariant }).where('id', '=', id).execute();
    },
    async assignmentFor(experimentId: string, recipient: string): Promise<AssignmentRow | undefined> {
      const r = await db
        .selectFrom('experiment_assignments')
        .selectAll()
        .where('experiment_id', '=', experimentId)
        .where('recipient', '=', recipient)
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst();
      return (
        r && {
          messageId: r.message_id,
          experimentId: r.experiment_id,
          recipient: r.recipient,
          variant: r.variant,
          inSample: r.in_sample === 1,
          createdAt: Number(r.created_at),
        }
      );
    },
    /** Distinct recipients in the sample, per variant. */
    async sampleCounts(experimentId: string): Promise<Map<string, number>> {
      // Only messages that committed: a send refused after its assignment holds no place in the sample.
      const rows = await db
        .selectFrom('experiment_assignments as a')
        .innerJoin('messages', 'messages.id', 'a.message_id')
        .select(['a.variant', (eb) => eb.fn.count<number>('a.recipient').distinct().as('n')])
        .where('a.experiment_id', '=', experimentId)
        .where('a.in_sample', '=', 1)
        .groupBy('a.variant')
        .execute();
      return new Map(rows.map((r) => [r.variant, Number(r.n)]));
    },
    async assign(a: AssignmentRow): Promise<void> {
      await db
        .insertInto('experiment_assignments')
        .values({
          message_id: a.messageId,
          experiment_id: a.experimentId,
          recipient: a.recipient,
          variant: a.variant,
          in_sample: a.inSample ? 1 : 0,
          created_at: a.createdAt,
        })
        .execute();
    },
    /**
     * One page of the spine's events for the experiment's in-sample messages, in cursor order. A
     * message that never committed has no events, so an assignment left by a refused send counts
     * for nothing.
     */
    async events(experimentId: string, types: EventType[], after: number, limit: number): Promise<ExperimentEvent[]> {
      const rows = await db
        .selectFrom('events')
        .innerJoin('experiment_assignments as a', 'a.message_id', 'events.message_id')
        .select([
          'events.cursor',
          'events.id',
          'events.type',
          'events.message_id',
          'events.recipient_id',
          'events.at',
          'events.data',
          'a.variant',
          'a.recipient',
        ])
        .where('a.experiment_id', '=', experimentId)
        .where('a.in_sample', '=', 1)
        .where('events.type', 'in', types)
        .where('events.cursor', '>', after)
        .orderBy('events.cursor')
        .limit(limit)
        .execute();
      return Promise.all(
        rows.map(async (r) => ({
          cursor: Number(r.cursor),
          type: r.type as EventType,
          messageId: r.message_id!,
          recipientId: r.recipient_id,
          at: isoTime(Number(r.at)),
          data: await openEventData(db, cipher, r.id, r.data),
          variant: r.variant,
          recipient: r.recipient,
        })),
      );
    },
    /** True the first time `key` is flagged: a regression is announced once. */
    async flag(key: string, experimentId: string, now: number): Promise<boolean> {
      const r = await db
        .insertInto('experiment_flags')
        .values({ key, experiment_id: experimentId, at: now })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    },
  };
}
