import type { Kysely, Selectable } from 'kysely';
import type { Database, UserSessionsTable } from '../schema.js';

/** A signed-in browser (src/access/sessions.ts); the token itself is never stored, only its hash. */
export interface SessionRow {
  tokenHash: string;
  userId: string;
  tenantId: string;
  csrfHash: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  ip: string | null;
  userAgent: string | null;
}

const toSession = (r: Selectable<UserSessionsTable>): SessionRow => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  tenantId: r.tenant_id,
  csrfHash: r.csrf_hash,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  ip: r.ip,
  userAgent: r.user_agent,
});

export function sessionsRepository(db: Kysely<Database>) {
  return {
    async insert(s: SessionRow): Promise<void> {
      await db
        .insertInto('user_sessions')
        .values({
          token_hash: s.tokenHash,
          user_id: s.userId,
          tenant_id: s.tenantId,
          csrf_hash: s.csrfHash,
          created_at: s.createdAt,
          expires_at: s.expiresAt,
          revoked_at: s.revokedAt,
          ip: s.ip,
          user_agent: s.userAgent,
        })
        .execute();
    },
    async get(tokenHash: string): Promise<SessionRow | undefined> {
      const r = await db.selectFrom('user_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return r && toSession(r);
    },
    /** Ends a session; true when it was still open (false: unknown or already ended). */
    async revoke(tokenHash: string, at: number): Promise<boolean> {
      const r = await db
        .updateTable('user_sessions')
        .set({ revoked_at: at })
        .where('token_hash', '=', tokenHash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    /** Every open session of a user (disabling the user, changing their role or password). */
    async revokeForUser(userId: string, at: number): Promise<number> {
      const r = await db
        .updateTable('user_sessions')
        .set({ revoked_at: at })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
    async purgeExpired(now: number): Promise<number> {
      const r = await db.deleteFrom('user_sessions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
