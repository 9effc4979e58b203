import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export function jobLeasesRepository(db: Kysely<Database>) {
  return {
    /**
     * Takes or renews the lease on a job: true when `owner` holds it until `now + leaseMs`. One
     * statement (an upsert whose update only applies when the lease is ours or has lapsed), so two
     * nodes claiming at once never both win.
     */
    async claim(name: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
      const row = await db
        .insertInto('job_leases')
        .values({ name, owner, expires_at: now + leaseMs })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({ owner, expires_at: now + leaseMs })
            .where((eb) => eb.or([eb('job_leases.owner', '=', owner), eb('job_leases.expires_at', '<=', now)])),
        )
        .returning('owner')
        .executeTakeFirst();
      return row?.owner === owner;
    },
    /** Gives the lease up (a clean stop), so another node takes the job at its next tick. */
    async release(name: string, owner: string): Promise<void> {
      await db.updateTable('job_leases').set({ expires_at: 0 }).where('name', '=', name).where('owner', '=', owner).execute();
    },
    /** Who holds a job's lease now, if anyone. */
    async holder(name: string, now: number): Promise<string | undefined> {
      const row = await db
        .selectFrom('job_leases')
        .select('owner')
        .where('name', '=', name)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row?.owner;
    },
  };
}
