export { type DependencyAudit, findingsOf, regressionsOf, type SelfAssessmentFinding } from './findings.js';
export { type ProbeResult, type ProbeTarget, probeListener } from './listener-probe.js';
export {
  createSelfAssessment,
  listenerTargets,
  npmAudit,
  type OwnListeners,
  type SelfAssessment,
  type SelfAssessmentRun,
} from './self-assessment.js';
