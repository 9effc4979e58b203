export { createAlertConsumer } from './alert-consumer.js';
export { createAlertSyslog, formatAlertSyslog } from './alert-syslog.js';
export { type Alert, type AlertKind, raiseAlerts } from './alerts.js';
export { type AnomalyDetector, createAnomalyDetector } from './anomalies.js';
export { type AnomalyRuleset, loadAnomalyRules, parseAnomalyRules } from './anomaly-rules.js';
export { type AuthFailureTally, createAuthFailureTally } from './auth-failures.js';
export {
  type CompromiseRequest,
  type CompromiseResult,
  type CredentialCompromise,
  createCredentialCompromise,
} from './credential-compromise.js';
export { createDataProtectionEvidence, type DataProtectionEvidenceService } from './data-protection.js';
export { type ClockSetting, createIncidents, type Incident, type Incidents, type OpenIncident, type TraceQuery } from './incidents.js';
export {
  createRecordsOfProcessing,
  periodWithDefaults,
  type RecordsOfProcessing,
  type RecordsOfProcessingService,
  recordsText,
} from './records-of-processing.js';
export { createRegister, type Register, type ThirdParty, type ThirdPartyInput } from './register.js';
export { publicKeySha256, type TraceVerdict, verifyTraceBundle } from './trace-bundle.js';
export {
  CompromiseJson,
  clocksOf,
  compromiseJson,
  IncidentDetailJson,
  IncidentJson,
  incidentDetailJson,
  incidentJson,
  OpenIncidentBody,
  ThirdPartyBody,
  ThirdPartyJson,
  ThirdPartyPatch,
  TraceBundleJson,
  thirdPartyJson,
} from './wire.js';
