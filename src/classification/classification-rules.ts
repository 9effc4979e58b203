import type { FieldError } from '../core/index.js';

/**
 * A tenant's classification rules, as data (docs/classification.md): which classifications exist
 * beyond the built-in ones, how tags map to them, which DLP detectors raise which classification,
 * the tenant's own patterns and national health identifiers, and the policy of each classification
 * (required TLS level, allowed recipient domains, egress pool, retention class, refusal). Every rule has an id; a
 * decision records ids, never what matched.
 */
export const builtInClassifications = ['public', 'internal', 'confidential', 'pii', 'phi', 'pci'] as const;

/** verified: TLS 1.2+ with a PKIX-valid certificate (or DANE); dane: only DANE-authenticated TLS. Never opportunistic. */
export const requiredTlsLevels = ['verified', 'dane'] as const;
export type RequiredTls = (typeof requiredTlsLevels)[number];

export const builtInDetectors = ['card_number', 'iban', 'us_ssn'] as const;
export type BuiltInDetector = (typeof builtInDetectors)[number];

export interface PatternRule {
  id: string;
  /** ECMAScript regular expression source, compiled with the `u` flag. */
  pattern: string;
  classification: string;
}

export interface HealthIdentifierRule {
  id: string;
  /** `nhs`: UK NHS number with its modulus-11 check; `pattern`: the tenant's own expression. */
  scheme: 'nhs' | 'pattern';
  pattern?: string;
  classification: string;
}

export interface ClassificationPolicy {
  id: string;
  classification: string;
  require_tls?: RequiredTls;
  /** Recipient domains (and their subdomains) this classification may go to; absent: any. */
  allowed_domains?: string[];
  /** Egress pool the message must leave from. */
  pool?: string;
  /** Refuse the send outright. */
  refuse?: boolean;
  /** A retention class of the tenant (docs/retention.md): how long the message's body is kept. */
  retention_class?: string;
}

export interface ClassificationRules {
  /** Tenant-defined classification names, beyond the built-in ones. */
  classifications: string[];
  /** Tag → classification. */
  tags: Record<string, string>;
  /** Built-in detector → classification it raises; absent detectors are off. */
  detectors: Partial<Record<BuiltInDetector, string>>;
  patterns: PatternRule[];
  health_identifiers: HealthIdentifierRule[];
  policies: ClassificationPolicy[];
}

/** Without a stored document: no detector runs and no policy applies; only an explicit classification is recorded. */
export const emptyRules: ClassificationRules = {
  classifications: [],
  tags: {},
  detectors: {},
  patterns: [],
  health_identifiers: [],
  policies: [],
};

/** The detectors' defaults a document gets when it names none: each raises its natural classification. */
export const defaultDetectors: Record<BuiltInDetector, string> = { card_number: 'pci', iban: 'pii', us_ssn: 'pii' };

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a rules document; every bad field is reported with its JSON path. `retentionClasses`:
 * the tenant's retention classes, checked on write; absent (re-reading a stored document), any
 * well-formed name passes, since retention classes are never removed.
 */
export function parseClassificationRules(
  input: unknown,
  opts: { retentionClasses?: readonly string[] } = {},
): { ok: true; rules: ClassificationRules } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (!isObject(input)) return { ok: false, errors: [{ path: '', message: 'must be an object' }] };
  const known = new Set(['classifications', 'tags', 'detectors', 'patterns', 'health_identifiers', 'policies']);
  for (const k of Object.keys(input)) if (!known.has(k)) errors.push({ path: `/${k}`, message: 'is not a known field' });

  const own: string[] = [];
  if (input.classifications !== undefined) {
    if (!Array.isArray(input.classifications)) errors.push({ path: '/classifications', message: 'must be an array of names' });
    else
      input.classifications.forEach((c, i) => {
        if (typeof c !== 'string' || !NAME.test(c))
          errors.push({ path: `/classifications/${i}`, message: 'must match [a-z][a-z0-9_-]{0,31}' });
        else own.push(c);
      });
  }
  const names = new Set<string>([...builtInClassifications, ...own]);
  const classOf = (v: unknown, path: string): string => {
    if (typeof v !== 'string' || !names.has(v)) {
      errors.push({ path, message: `must be a classification: ${[...names].join(', ')}` });
      return '';
    }
    return v;
  };
  const idOf = (v: unknown, path: string, seen: Set<string>): string => {
    if (typeof v !== 'string' || !ID.test(v)) errors.push({ path, message: 'must be 1-64 letters, digits, _ . : -' });
    else if (seen.has(v)) errors.push({ path, message: `duplicates id ${v}` });
    else seen.add(v);
    return typeof v === 'string' ? v : '';
  };
  const regexOf = (v: unknown, path: string): string => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 200) {
      errors.push({ path, message: 'must be a regular expression of 1-200 characters' });
      return '';
    }
    try {
      new RegExp(v, 'u');
    } catch (e) {
      errors.push({ path, message: `is not a valid regular expression: ${(e as Error).message}` });
    }
    return v;
  };

  const tags: Record<string, string> = {};
  if (input.tags !== undefined) {
    if (!isObject(input.tags)) errors.push({ path: '/tags', message: 'must map tags to classifications' });
    else for (const [t, c] of Object.entries(input.tags)) tags[t] = classOf(c, `/tags/${t}`);
  }

  const detectors: ClassificationRules['detectors'] = {};
  if (input.detectors === undefined) Object.assign(detectors, defaultDetectors);
  else if (!isObject(input.detectors)) errors.push({ path: '/detectors', message: 'must map detectors to classifications' });
  else
    for (const [d, c] of Object.entries(input.detectors)) {
      if (!(builtInDetectors as readonly string[]).includes(d))
        errors.push({ path: `/detectors/${d}`, message: `must be one of ${builtInDetectors.join(', ')}` });
      // null turns a detector off (the HTTP edge may hand it over as an empty string).
      else if (c !== null && c !== false && c !== '') detectors[d as BuiltInDetector] = classOf(c, `/detectors/${d}`);
    }

  const ids = new Set<string>();
  const list = (key: string): unknown[] => {
    const v = input[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      errors.push({ path: `/${key}`, message: 'must be an array' });
      return [];
    }
    return v;
  };
  const patterns: PatternRule[] = list('patterns').map((p, i) => {
    const path = `/patterns/${i}`;
    if (!isObject(p)) return void errors.push({ path, message: 'must be an object' }) as unknown as PatternRule;
    return {
      id: idOf(p.id, `${path}/id`, ids),
      pattern: regexOf(p.pattern, `${path}/pattern`),
      classification: classOf(p.classification, `${path}/classification`),
    };
  });
  const health: HealthIdentifierRule[] = list('health_identifiers').map((h, i) => {
    const path = `/health_identifiers/${i}`;
    if (!isObject(h)) return void errors.push({ path, message: 'must be an object' }) as unknown as HealthIdentifierRule;
    const scheme = h.scheme === 'nhs' || h.scheme === 'pattern' ? h.scheme : undefined;
    if (!scheme) errors.push({ path: `${path}/scheme`, message: 'must be nhs or pattern' });
    const rule: HealthIdentifierRule = {
      id: idOf(h.id, `${path}/id`, ids),
      scheme: scheme ?? 'pattern',
      classification: h.classification === undefined ? 'phi' : classOf(h.classification, `${path}/classification`),
    };
    if (scheme === 'pattern') rule.pattern = regexOf(h.pattern, `${path}/pattern`);
    return rule;
  });
  const policies: ClassificationPolicy[] = list('policies').map((p, i) => {
    const path = `/policies/${i}`;
    if (!isObject(p)) return void errors.push({ path, message: 'must be an object' }) as unknown as ClassificationPolicy;
    const policy: ClassificationPolicy = {
      id: idOf(p.id, `${path}/id`, ids),
      classification: classOf(p.classification, `${path}/classification`),
    };
    if (p.require_tls !== undefined) {
      if ((requiredTlsLevels as readonly unknown[]).includes(p.require_tls)) policy.require_tls = p.require_tls as RequiredTls;
      else errors.push({ path: `${path}/require_tls`, message: 'must be verified or dane (opportunistic TLS is never a policy)' });
    }
    if (p.allowed_domains !== undefined) {
      if (!Array.isArray(p.allowed_domains) || p.allowed_domains.some((d) => typeof d !== 'string' || !DOMAIN.test(d.toLowerCase())))
        errors.push({ path: `${path}/allowed_domains`, message: 'must be an array of domain names' });
      else policy.allowed_domains = (p.allowed_domains as string[]).map((d) => d.toLowerCase());
    }
    if (p.pool !== undefined) {
      if (typeof p.pool !== 'string' || !NAME.test(p.pool)) errors.push({ path: `${path}/pool`, message: 'must be a pool name' });
      else policy.pool = p.pool;
    }
    if (p.retention_class !== undefined) {
      const known = opts.retentionClasses;
      if (typeof p.retention_class !== 'string' || !NAME.test(p.retention_class))
        errors.push({ path: `${path}/retention_class`, message: 'must be a retention class name' });
      else if (known && !known.includes(p.retention_class))
        errors.push({
          path: `${path}/retention_class`,
          message: `is not a retention class of this tenant (${known.length ? `known: ${known.join(', ')}` : 'none defined'}; PUT /v1/retention classes)`,
        });
      else policy.retention_class = p.retention_class;
    }
    if (p.refuse !== undefined) {
      if (typeof p.refuse !== 'boolean') errors.push({ path: `${path}/refuse`, message: 'must be true or false' });
      else if (p.refuse) policy.refuse = true;
    }
    return policy;
  });
  if (errors.length) return { ok: false, errors };
  return { ok: true, rules: { classifications: own, tags, detectors, patterns, health_identifiers: health, policies } };
}

/** The document as the API shows it. */
export function rulesJson(r: ClassificationRules): Record<string, unknown> {
  return { ...r };
}
