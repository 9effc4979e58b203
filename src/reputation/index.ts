export { contributionOf, type Identity, keyOf, type LedgerKeyParts } from './event-contribution.js';
export { createLedger, LEDGER_NAME, type Ledger, type LedgerDeps } from './ledger.js';
export { createLedgerReader, type LedgerReader, type ReputationEntry } from './ledger-read.js';
export type { LedgerMetric, LedgerRule } from './ledger-rules.js';
export { type Assessment, assess, REPUTATION_STATES, type ReputationState, type Thresholds } from './state.js';
export { type Counts, type Rates, WINDOW_NAMES, type WindowName } from './windows.js';
export { ReputationJson, reputationJson } from './wire.js';
