export type { TlsStatsReport } from '../transport-policy/index.js';
export { type Breaker, createBreaker } from './breaker.js';
export { createDeliverer, type Deliverer, type DelivererDeps } from './deliverer.js';
export { type DeliveryHealth, DeliveryHealthJson, deliveryHealthJson } from './delivery-health.js';
export { createDeliveryPolicy, type DeliveryControl, type DeliveryPolicy } from './delivery-policy.js';
export { createEgressPools, type EgressPools } from './egress-pools.js';
export { createDeliveryMetrics, createQueueMetrics, type DeliveryMetrics } from './metrics.js';
export { createPacingController, type PacingController } from './pacing.js';
export { defaultPacingRulesPath, ledgerPauseRules, loadPacingRules, type PacingRuleset, parsePacingRules } from './pacing-rules.js';
export { createReputationHolds, type ReputationHolds } from './reputation-holds.js';
export { createResidencyHolds, type ResidencyHolds } from './residency-holds.js';
export { createRouter, type Router } from './router.js';
export { createShaper, type ShapingRules, type SharedCounter, siteOfKey } from './shaper.js';
export { type ClosableCounter, chooseSharedCounter, createRedisCounter, createStoreCounter } from './shared-counters.js';
export { createSmtpTransport, type Signer, type SmtpTransportDeps } from './smtp-transport.js';
export type { TlsAttemptInput } from './tls-attempt.js';
export { buildPlan, createTlsPlanner, type DomainTlsPlan, type TlsPlanner } from './tls-planner.js';
export { createTlsReporter, type TlsReporter, type TlsReportSent, utcDayStart } from './tls-report.js';
export { type DeliveryJob, type DeliveryOutcome, type OutcomeKind, sandboxTransport, type Transport } from './transport.js';
export {
  createTransportSecurity,
  storeBackedMtaStsStore,
  type TransportSecurity,
  type TransportSecurityOptions,
} from './transport-security.js';
export { createWarmup, loadWarmupRules, parseWarmupRules, type Warmup, type WarmupRules } from './warmup.js';
