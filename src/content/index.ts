export { type ContentRules, loadContentRules, loadDefaultContentRules } from './content-rules.js';
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
