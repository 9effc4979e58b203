/** Row types of migration 023 (envelope encryption; docs/encryption.md). */
export interface DataKeysTable {
  id: string;
  tenant_id: string;
  /** 'content' (rotates) | 'index' (keys address hashes; never rotates) */
  purpose: string;
  version: number;
  /** 'active' | 'retired' | 'destroyed' */
  state: string;
  /** 'local' | 'external' */
  provider: string;
  key_ref: string | null;
  kek_id: string;
  /** Null once destroyed (crypto-shredding). */
  wrapped: string | null;
  created_at: number;
  rewrapped_at: number | null;
  destroyed_at: number | null;
}

export interface TenantKmsTable {
  tenant_id: string;
  key_ref: string;
  updated_at: number;
}

export interface EncryptionJobsTable {
  id: string;
  /** 'reencrypt' | 'rewrap' */
  kind: string;
  tenant_id: string | null;
  /** reencrypt: the data key id everything moves to; rewrap: the KEK id. */
  target: string;
  /** The table being worked through (reencrypt), or 'data_keys'. */
  stage: string;
  /** The last id done in `stage`. */
  position: string;
  /** 'running' | 'done' */
  state: string;
  done: number;
  started_at: number;
  updated_at: number;
}

export interface EncryptionTables {
  data_keys: DataKeysTable;
  tenant_kms: TenantKmsTable;
  encryption_jobs: EncryptionJobsTable;
}
