import type { SmtpResponse } from '../core/index.js';
import { type Classification, classify, type Ruleset } from '../feedback/index.js';
import type { OutcomeKind } from './transport.js';

/**
 * A remote answer, or a local failure to get one, becomes an outcome exactly once, here: 2xx
 * delivered, 4xx deferred, 5xx bounced, each with the versioned classifier's category and rule so
 * retry, suppression and reputation all read the same verdict.
 */
export interface Verdict {
  kind: OutcomeKind;
  classification: Classification;
}

export function verdictFor(ruleset: Ruleset, reply: SmtpResponse, provider?: string): Verdict {
  const classification = classify(ruleset, { code: reply.code, enhanced: reply.enhanced, text: reply.text, provider });
  if (reply.code < 400) return { kind: 'delivered', classification };
  if (reply.code < 500) return { kind: 'deferred', classification };
  return { kind: 'bounced', classification };
}

/** Details every outcome event carries about the verdict (snake_case, as events are). */
export function verdictDetails(v: Verdict): Record<string, unknown> {
  if (v.kind === 'delivered') return {};
  return {
    category: v.classification.category,
    hard: v.classification.hard,
    rule: v.classification.ruleId,
    ruleset_version: v.classification.rulesetVersion,
  };
}

/** A failure we synthesise when no remote reply exists (DNS, connection, TLS policy): RFC 3463 codes. */
export function localReply(kind: 'temporary' | 'permanent', enhanced: string, text: string): SmtpResponse {
  return { code: kind === 'temporary' ? 451 : 550, enhanced, text };
}
