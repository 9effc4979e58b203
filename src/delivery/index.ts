export { createDeliverer, type Deliverer, type DelivererDeps } from './deliverer.js';
export { type DeliveryJob, type DeliveryOutcome, type OutcomeKind, sandboxTransport, type Transport } from './transport.js';
