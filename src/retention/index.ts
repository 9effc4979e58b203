export {
  type ClassPolicy,
  enforcedClasses,
  isRetentionClass,
  keepDays,
  type MessageRetentionClass,
  type PolicyConflict,
  policyConflicts,
  type RetentionClass,
  retentionClasses,
  retentionDefaults,
} from './policy.js';
export {
  createRetention,
  type ErasureReceipt,
  type HoldInput,
  type HoldKind,
  holdKinds,
  type PurgeCounts,
  type Retention,
} from './retention.js';
