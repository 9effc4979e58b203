import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The MTA-STS policy cache on disk (RFC 8461 §5.1): one row per recipient domain, replaced when a new
 * policy id is fetched. Stored as the policy text so the parser stays the one in transport-policy.
 */
export interface MtaStsPolicyRow {
  domain: string;
  policyId: string;
  policyText: string;
  fetchedAt: number;
  expiresAt: number;
}

export function mtaStsPoliciesRepository(db: Kysely<Database>) {
  return {
    async get(domain: string): Promise<MtaStsPolicyRow | undefined> {
      const r = await db.selectFrom('mta_sts_policies').selectAll().where('domain', '=', domain).executeTakeFirst();
      return r && { domain: r.domain, policyId: r.policy_id, policyText: r.policy_text, fetchedAt: r.fetched_at, expiresAt: r.expires_at };
    },
    async put(row: MtaStsPolicyRow): Promise<void> {
      const values = {
        domain: row.domain,
        policy_id: row.policyId,
        policy_text: row.policyText,
        fetched_at: row.fetchedAt,
        expires_at: row.expiresAt,
      };
      const set = {
        policy_id: values.policy_id,
        policy_text: values.policy_text,
        fetched_at: values.fetched_at,
        expires_at: values.expires_at,
      };
      // Both dialects speak ON CONFLICT … DO UPDATE (SQLite since 3.24).
      await db
        .insertInto('mta_sts_policies')
        .values(values)
        .onConflict((oc) => oc.column('domain').doUpdateSet(set))
        .execute();
    },
    async delete(domain: string): Promise<void> {
      await db.deleteFrom('mta_sts_policies').where('domain', '=', domain).execute();
    },
  };
}
