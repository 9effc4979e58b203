/** Row types of migration 024 (retention, legal hold, erasure; docs/retention.md). */
export interface RetentionPoliciesTable {
  tenant_id: string;
  /** A RetentionClass (src/store/repositories/retention.ts). */
  data_class: string;
  /** Purge after this many days; null: never automatically. */
  max_days: number | null;
  /** Keep at least this many days (archive duties); null: no minimum. */
  min_days: number | null;
  updated_at: number;
}

/** Row type of migration 030: a tenant's named body retention, given to messages by classification policies. */
export interface RetentionClassesTable {
  tenant_id: string;
  name: string;
  max_days: number | null;
  min_days: number | null;
  updated_at: number;
}

export interface LegalHoldsTable {
  id: string;
  tenant_id: string;
  /** 'tenant' | 'message' | 'address' | 'range' */
  kind: string;
  message_id: string | null;
  /** Keyed hash of the address (never the address). */
  address_hash: string | null;
  /** Range holds: messages accepted at or after from_at and before until_at. */
  from_at: number | null;
  until_at: number | null;
  reason: string;
  created_at: number;
  released_at: number | null;
}

export interface PurgeRunsTable {
  id: string;
  /** 'running' | 'done' | 'interrupted' */
  state: string;
  /** JSON counts: purged, held, per tenant. */
  counts: string;
  started_at: number;
  finished_at: number | null;
}

export interface ErasuresTable {
  id: string;
  tenant_id: string;
  address_hash: string;
  /** JSON receipt (what was erased and kept, per table). */
  receipt: string;
  created_at: number;
}

export interface RetentionTables {
  retention_policies: RetentionPoliciesTable;
  retention_classes: RetentionClassesTable;
  legal_holds: LegalHoldsTable;
  purge_runs: PurgeRunsTable;
  erasures: ErasuresTable;
}
