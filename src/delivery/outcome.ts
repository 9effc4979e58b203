import type { SmtpResponse } from '../core/index.js';
import { type Classification, classify, type Ruleset } from '../feedback/index.js';
import type { OutcomeKind } from './transport.js';

/**
 * A remote answer, or a local failure to get one, becomes an outcome exactly once, here: 2xx
 * delivered, 4xx deferred, 5xx bounced, each with the versioned classifier's category and rule so
 * retry, suppression and reputation all read the same verdict.
 */
export type Verdict = { kind: 'delivered' } | { kind: Exclude<OutcomeKind, 'delivered'>; classification: Classification };

/** A 2xx needs no classifying: the ruleset describes failures, and it is the hot path. */
export function verdictFor(ruleset: Ruleset, reply: SmtpResponse, provider?: string): Verdict {
  if (reply.code < 400) return { kind: 'delivered' };
  const classification = classify(ruleset, { code: reply.code, enhanced: reply.enhanced, text: reply.text, provider });
  return { kind: reply.code < 500 ? 'deferred' : 'bounced', classification };
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
