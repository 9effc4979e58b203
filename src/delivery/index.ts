export { type Breaker, createBreaker } from './breaker.js';
export { createDeliverer, type Deliverer, type DelivererDeps } from './deliverer.js';
export { createDeliveryMetrics, createQueueMetrics, type DeliveryMetrics } from './metrics.js';
export { createRouter, type Router } from './router.js';
export { createShaper, type ShapingRules, type SharedCounter } from './shaper.js';
export { type ClosableCounter, chooseSharedCounter, createRedisCounter, createStoreCounter } from './shared-counters.js';
export { createSmtpTransport, type Signer, type SmtpTransportDeps } from './smtp-transport.js';
export { type DeliveryJob, type DeliveryOutcome, type OutcomeKind, sandboxTransport, type Transport } from './transport.js';
