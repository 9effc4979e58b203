/** Row types of the reputation ledger and the tenant sending limits (migration 021). */
export interface ReputationCountsTable {
  key: string;
  /** '5m' or '1h': the bucket size. */
  res: string;
  /** Bucket start, ms since the epoch. */
  bucket: number;
  metric: string;
  n: number;
}

export interface ReputationKeysTable {
  key: string;
  tenant_id: string;
  stream: string;
  domain: string;
  selector: string;
  pool: string;
  return_path: string;
  provider: string;
  state: string;
  reason: string;
  since: number;
  delivered_total: number;
  updated_at: number;
}

export interface ReputationContextTable {
  subject: string;
  data: string;
  at: number;
}

export interface ReputationProgressTable {
  name: string;
  cursor: number;
}

export interface TenantSendingLimitsTable {
  tenant_id: string;
  /** JSON document (src/accept/sending-limits.ts validates it). */
  settings: string;
  updated_at: number;
}

export interface ReputationTables {
  reputation_counts: ReputationCountsTable;
  reputation_keys: ReputationKeysTable;
  reputation_context: ReputationContextTable;
  reputation_progress: ReputationProgressTable;
  tenant_sending_limits: TenantSendingLimitsTable;
  reputation_holds: ReputationHoldsTable;
  warmup_pools: WarmupPoolsTable;
  warmup_usage: WarmupUsageTable;
}

/** Migration 027: a ledger rule's pause of a stream at a provider, until `until`. */
export interface ReputationHoldsTable {
  key: string;
  tenant_id: string;
  stream: string;
  domain: string;
  pool: string;
  provider: string;
  rule: string;
  reason: string;
  since: number;
  until: number;
}

/** Migration 027: a warming egress pool at a provider. */
export interface WarmupPoolsTable {
  pool: string;
  provider: string;
  started_at: number;
  graduated_at: number | null;
  reason: string;
}

/** Migration 027: recipients a warming pool was admitted to send to a provider on one UTC day. */
export interface WarmupUsageTable {
  pool: string;
  provider: string;
  /** Days since the epoch (UTC). */
  day: number;
  sent: number;
}
