import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';

export interface ThrottleRow {
  subject: string;
  failures: number;
  firstFailureAt: number;
  blockedUntil: number;
}

export function accessThrottleRepository(db: Kysely<Database>) {
  return {
    async get(subject: string): Promise<ThrottleRow | undefined> {
      const r = await db.selectFrom('access_throttle').selectAll().where('subject', '=', subject).executeTakeFirst();
      return (
        r && {
          subject: r.subject,
          failures: Number(r.failures),
          firstFailureAt: Number(r.first_failure_at),
          blockedUntil: Number(r.blocked_until),
        }
      );
    },
    /**
     * Counts one failure and returns the running total in one statement (the upsert takes the row lock
     * on PostgreSQL, so two nodes never both see the same count). Failures older than `windowStart`
     * are forgotten: the count starts again at 1.
     */
    async recordFailure(subject: string, now: number, windowStart: number): Promise<number> {
      const r = await db
        .insertInto('access_throttle')
        .values({ subject, failures: 1, first_failure_at: now, blocked_until: 0 })
        .onConflict((oc) =>
          oc.column('subject').doUpdateSet({
            failures: sql`case when access_throttle.first_failure_at < ${windowStart} then 1 else access_throttle.failures + 1 end`,
            first_failure_at: sql`case when access_throttle.first_failure_at < ${windowStart} then ${now} else access_throttle.first_failure_at end`,
          }),
        )
        .returning('failures')
        .executeTakeFirstOrThrow();
      return Number(r.failures);
    },
    async block(subject: string, until: number): Promise<void> {
      await db.updateTable('access_throttle').set({ blocked_until: until }).where('subject', '=', subject).execute();
    },
    async clear(subject: string): Promise<void> {
      await db.deleteFrom('access_throttle').where('subject', '=', subject).execute();
    },
    /** Rows whose block is over and whose failures are older than `before`. */
    async purge(now: number, before: number): Promise<number> {
      const r = await db
        .deleteFrom('access_throttle')
        .where('blocked_until', '<=', now)
        .where('first_failure_at', '<', before)
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
