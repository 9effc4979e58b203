import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';
import * as m001 from './001-spine.js';
import * as m002 from './002-dkim.js';
import * as m003 from './003-feedback.js';
import * as m004 from './004-suppressions.js';
import * as m005 from './005-identity.js';
import * as m006 from './006-transport-security.js';
import * as m007 from './007-posture.js';
import * as m008 from './008-rate-windows.js';
import * as m009 from './009-job-leases.js';
import * as m010 from './010-report-claims.js';
import * as m013 from './013-consumer-cursors.js';
import * as m014 from './014-webhooks.js';
import * as m015 from './015-event-stream.js';
import * as m016 from './016-dashboard.js';
import * as m017 from './017-templates.js';
import * as m018 from './018-engagement.js';
import * as m019 from './019-audit.js';
import * as m020 from './020-access.js';
import * as m021 from './021-reputation.js';
import * as m022 from './022-egress-pools.js';
import * as m023 from './023-encryption.js';
import * as m024 from './024-retention.js';
import * as m025 from './025-residency.js';
import * as m026 from './026-sso.js';
import * as m027 from './027-reputation-holds-warmup.js';
import * as m028 from './028-compliance.js';
import * as m029 from './029-classification.js';
import * as m030 from './030-retention-classes.js';
import * as m031 from './031-drop-recipients-address-index.js';
import * as m032 from './032-drop-recipients-address-hash-index.js';
import * as m033 from './033-webhook-leases-outside-state.js';

/** Migrations are TypeScript modules, listed here in order; each gets the dialect's capabilities. */
const all: Record<string, { up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> }> = {
  '001-spine': m001,
  '002-dkim': m002,
  '003-feedback': m003,
  '004-suppressions': m004,
  '005-identity': m005,
  '006-transport-security': m006,
  '007-posture': m007,
  '008-rate-windows': m008,
  '009-job-leases': m009,
  '010-report-claims': m010,
  '013-consumer-cursors': m013,
  '014-webhooks': m014,
  '015-event-stream': m015,
  '016-dashboard': m016,
  '017-templates': m017,
  '018-engagement': m018,
  '019-audit': m019,
  '020-access': m020,
  '021-reputation': m021,
  '022-egress-pools': m022,
  '023-encryption': m023,
  '024-retention': m024,
  '025-residency': m025,
  '026-sso': m026,
  '027-reputation-holds-warmup': m027,
  '028-compliance': m028,
  '029-classification': m029,
  '030-retention-classes': m030,
  '031-drop-recipients-address-index': m031,
  '032-drop-recipients-address-hash-index': m032,
  '033-webhook-leases-outside-state': m033,
};

export function migrationProvider(d: DialectCapabilities): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(all)) out[name] = { up: (db) => m.up(db, d) };
      return out;
    },
  };
}
