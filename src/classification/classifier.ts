import { PostwardenError } from '../core/index.js';
import { builtInClassifications, type ClassificationPolicy, type ClassificationRules, type RequiredTls } from './classification-rules.js';
import { countCardNumbers, countIbans, countNhsNumbers, countPattern, countUsSsns } from './content-detectors.js';

/**
 * The classification decision of one message at accept time. Pure: the rules, what the sender said
 * (the send API's `classification`, the SMTP header, tags) and the message's text in; the decision
 * out, or a refusal. Classifications are raised by any source and all of them count: every policy
 * of every raised classification applies, the strictest TLS level wins, the allowed domains of each
 * policy must all admit every recipient, and the retention class kept longest wins (see
 * `longestRetention`). The decision names rule ids only; the text is not kept.
 */
export interface ClassifyInput {
  /** Given on the send API or in the SMTP header; path is where it came from (for errors). */
  given?: { value: string; path: string; source: 'request' | 'header' };
  tags: string[];
  /** Subject, text and HTML (API) or the decoded text parts (SMTP). */
  text: string;
  recipientDomains: string[];
  /** JSON path of the recipients, for a refusal naming them. */
  recipientPath: string;
  /**
   * Days each of the tenant's retention classes keeps a body at least (null: never purged); needed
   * only when a policy names a retention class. A class missing here counts as never purged.
   */
  retentionDays?: Record<string, number | null>;
}

export interface RaisedBy {
  classification: string;
  rule: string;
  source: 'request' | 'header' | 'tag' | 'dlp';
}

// A type (not an interface) so it is a plain JSON record to accept and the store.
export type ClassificationDecision = {
  /** The highest-ranked classification raised (what dashboards show). */
  classification: string;
  classifications: string[];
  raised_by: RaisedBy[];
  /** Policy rules that apply, by id. */
  policies: string[];
  required_tls: RequiredTls | null;
  /** Which policy rule set the TLS level. */
  required_tls_rule: string | null;
  /** The egress pool the message leaves from (delivery honours it when the pool is configured). */
  pool: string | null;
  /** Which policy rule named the pool (the first that applies and names one). */
  pool_rule: string | null;
  /** The retention class its body is kept under (docs/retention.md); null: the tenant's `bodies` policy. */
  retention_class: string | null;
  /** Which policy rule set the retention class (the one keeping the body longest). */
  retention_class_rule: string | null;
};

// Built-ins in rising order; tenant-defined ones rank between confidential and pii.
const RANK: Record<string, number> = { public: 0, internal: 1, confidential: 2, pii: 4, phi: 5, pci: 6 };
const rankOf = (c: string) => RANK[c] ?? 3;
const TLS_RANK: Record<RequiredTls, number> = { verified: 1, dane: 2 };

/** At most this much text is scanned: patterns stay linear in a bounded input. */
const MAX_SCAN = 2_000_000;

export function classify(rules: ClassificationRules, input: ClassifyInput): ClassificationDecision | undefined {
  const raised: RaisedBy[] = [];
  const names = new Set<string>([...builtInClassifications, ...rules.classifications]);
  if (input.given) {
    if (!names.has(input.given.value)) {
      throw new PostwardenError('VALIDATION_FAILED', `unknown classification ${input.given.value}`, {
        errors: [{ path: input.given.path, message: `must be one of ${[...names].join(', ')}` }],
      });
    }
    raised.push({ classification: input.given.value, rule: input.given.source, source: input.given.source });
  }
  for (const tag of input.tags) {
    const c = rules.tags[tag];
    if (c) raised.push({ classification: c, rule: `tag:${tag}`, source: 'tag' });
  }
  const text = input.text.length > MAX_SCAN ? input.text.slice(0, MAX_SCAN) : input.text;
  const d = rules.detectors;
  if (d.card_number && countCardNumbers(text) > 0) raised.push({ classification: d.card_number, rule: 'dlp:card_number', source: 'dlp' });
  if (d.iban && countIbans(text) > 0) raised.push({ classification: d.iban, rule: 'dlp:iban', source: 'dlp' });
  if (d.us_ssn && countUsSsns(text) > 0) raised.push({ classification: d.us_ssn, rule: 'dlp:us_ssn', source: 'dlp' });
  for (const h of rules.health_identifiers) {
    const hit = h.scheme === 'nhs' ? countNhsNumbers(text) > 0 : countPattern(new RegExp(h.pattern ?? '', 'u'), text) > 0;
    if (hit) raised.push({ classification: h.classification, rule: `health:${h.id}`, source: 'dlp' });
  }
  for (const p of rules.patterns) {
    if (countPattern(new RegExp(p.pattern, 'u'), text) > 0)
      raised.push({ classification: p.classification, rule: `pattern:${p.id}`, source: 'dlp' });
  }
  if (!raised.length) return undefined;

  const classifications = [...new Set(raised.map((r) => r.classification))].sort((a, b) => rankOf(b) - rankOf(a));
  const applying = rules.policies.filter((p) => classifications.includes(p.classification));
  refuseIfAny(applying, input);
  let required: RequiredTls | null = null;
  let requiredRule: string | null = null;
  for (const p of applying) {
    if (p.require_tls && (!required || TLS_RANK[p.require_tls] > TLS_RANK[required])) {
      required = p.require_tls;
      requiredRule = p.id;
    }
  }
  const pooled = applying.find((p) => p.pool);
  const retained = longestRetention(applying, input.retentionDays ?? {});
  return {
    classification: classifications[0]!,
    classifications,
    raised_by: raised,
    policies: applying.map((p) => p.id),
    required_tls: required,
    required_tls_rule: requiredRule,
    pool: pooled?.pool ?? null,
    pool_rule: pooled?.id ?? null,
    retention_class: retained?.retention_class ?? null,
    retention_class_rule: retained?.id ?? null,
  };
}

/**
 * Of the policies naming a retention class, the one whose class keeps the body longest (never
 * purged beats any number of days; a tie goes to the first in the document). Longest, because a
 * retention period is a duty to keep as much as a limit: a message that is both `phi` (kept six
 * years, HIPAA 45 CFR 164.316(b)(2)) and `marketing` (30 days) is a record the six-year duty
 * covers, and purging it early breaks that duty beyond repair, while keeping it longer is what the
 * longer purpose requires (GDPR Art. 5(1)(e) limits storage to what the purposes need, and one of
 * them needs six years). An auditor checks the longest duty that applies was met.
 */
function longestRetention(applying: ClassificationPolicy[], days: Record<string, number | null>): ClassificationPolicy | undefined {
  const keep = (p: ClassificationPolicy) => {
    const d = days[p.retention_class!];
    return d === undefined || d === null ? Number.POSITIVE_INFINITY : d;
  };
  let best: ClassificationPolicy | undefined;
  for (const p of applying) if (p.retention_class && (!best || keep(p) > keep(best))) best = p;
  return best;
}

function refuseIfAny(applying: ClassificationPolicy[], input: ClassifyInput): void {
  const refusing = applying.find((p) => p.refuse);
  if (refusing) {
    throw new PostwardenError('CLASSIFICATION_REFUSED', `classification policy ${refusing.id} refuses ${refusing.classification} mail`, {
      rule: refusing.id,
      classification: refusing.classification,
    });
  }
  for (const p of applying) {
    if (!p.allowed_domains) continue;
    const outside = [...new Set(input.recipientDomains.map((d) => d.toLowerCase()))].filter(
      (d) => !p.allowed_domains!.some((a) => d === a || d.endsWith(`.${a}`)),
    );
    if (outside.length) {
      throw new PostwardenError(
        'CLASSIFICATION_REFUSED',
        `classification policy ${p.id} allows ${p.classification} mail only to ${p.allowed_domains.join(', ')}`,
        {
          errors: [{ path: input.recipientPath, message: `${outside.join(', ')} not allowed by rule ${p.id}` }],
          rule: p.id,
          classification: p.classification,
          domains: outside,
        },
      );
    }
  }
}
