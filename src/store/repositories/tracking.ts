import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface TrackingSettingsRow {
  tenantId: string;
  domain: string;
  opensStreams: string[];
  clicksStreams: string[];
  updatedAt: number;
}

export function trackingRepository(db: Kysely<Database>) {
  return {
    async settings(tenantId: string): Promise<TrackingSettingsRow | undefined> {
      const r = await db.selectFrom('tracking_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
      return (
        r && {
          tenantId: r.tenant_id,
          domain: r.domain,
          opensStreams: JSON.parse(r.opens_streams) as string[],
          clicksStreams: JSON.parse(r.clicks_streams) as string[],
          updatedAt: Number(r.updated_at),
        }
      );
    },
    async setSettings(s: TrackingSettingsRow): Promise<void> {
      const values = {
        domain: s.domain,
        opens_streams: JSON.stringify(s.opensStreams),
        clicks_streams: JSON.stringify(s.clicksStreams),
        updated_at: s.updatedAt,
      };
      await db
        .insertInto('tracking_settings')
        .values({ tenant_id: s.tenantId, ...values })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values))
        .execute();
    },
    /**
     * True when a hit on `key` opens a new window (it counts); false inside a running window. Both
     * statements are atomic on their own, so two nodes racing on one key count it once.
     */
    async mark(key: string, now: number, windowMs: number): Promise<boolean> {
      const inserted = await db
        .insertInto('tracking_marks')
        .values({ key, until_at: now + windowMs })
        .onConflict((oc) => oc.column('key').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
      const updated = await db
        .updateTable('tracking_marks')
        .set({ until_at: now + windowMs })
        .where('key', '=', key)
        .where('until_at', '<=', now)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) > 0;
    },
    /** Drops marks whose window ended before `before` (they can no longer hold a hit back). */
    async purgeMarks(before: number): Promise<number> {
      const r = await db.deleteFrom('tracking_marks').where('until_at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
