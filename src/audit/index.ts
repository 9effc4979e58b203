export { type Actor, type ActorKind, actorKinds, operatorActor, operatorName, systemActor } from './actor.js';
export { type AuditInput, type AuditLog, type AuditLogDeps, type AuditTx, chainOf, createAuditLog, PLATFORM_CHAIN } from './audit-log.js';
export {
  type AuditReadFilter,
  type AuditRecorder,
  type AuditService,
  auditedChange,
  createAuditService,
  unattributed,
} from './audit-service.js';
export { canonicalJson, entryHash, GENESIS_HASH } from './canonical.js';
export { type AuditForwarder, createAuditForwarder, forwarderCursor } from './forwarder.js';
export { REDACTED, redactSecrets } from './redact.js';
export { type EvidenceSigner, loadEvidenceSigner } from './signing-key.js';
export { createSyslogSender, formatSyslog, octetCounted, type SyslogTarget } from './syslog.js';
export { createThrottledRecord } from './throttled.js';
export { type ChainProblem, type ChainReport, type VerifyReport, verifyAudit } from './verify.js';
export { AuditEntryJson, auditEntryJson } from './wire.js';
