/**
 * Content: what a message says and how its engagement is measured. Tracking (opens and clicks,
 * optional, signed), A/B experiments with results from the spine, and contact lists with import
 * hygiene. Exports are additive: templates and preflight live beside these.
 */
export { type ContentInput, type ContentOutput, createAcceptContent } from './accept-content.js';
export { type ContentRules, loadContentRules, loadDefaultContentRules } from './content-rules.js';
export { createEngagement, type Engagement, type EngagementDeps } from './engagement.js';
export type { ArmResult, ComparisonResult, ExperimentResults, MetricResult, Regression } from './experiment-results.js';
export { type Experiment, type ExperimentInput, type OutcomeMetric, outcomeMetrics, type Variant } from './experiments.js';
export { createDisposableCheck, type Finding, type FindingKind, roleOf } from './list-findings.js';
export type { ImportSummary, Lists, MxVerdict } from './list-import.js';
export { createPreflight, type Preflight, type PreflightMessage } from './preflight.js';
export { coachOnlyCodes, type PreflightCode, type PreflightWarning, preflightCodes } from './preflight-checks.js';
export {
  type LocaleContent,
  parseTemplateInput,
  parseTemplateRef,
  type TemplateContent,
  type TemplateRef,
  templateContentJson,
} from './template-content.js';
export { localeChain, type Rendered, renderTemplate, textFromHtml } from './template-render.js';
export {
  createTemplates,
  type RenderedForSend,
  type Templates,
  type TemplateView,
  templateJson,
  templateSummaryJson,
} from './templates.js';
export type { HitContext, Tracking, TrackingChoice, TrackingSettings } from './tracking.js';
export { classifyUserAgent, type UserAgentClass } from './user-agent-class.js';
