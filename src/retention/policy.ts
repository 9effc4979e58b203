/**
 * Retention policies as data (docs/retention.md): for each data class a maximum (GDPR Art. 5(1)(e),
 * storage limitation: purge after) and a minimum (archive duties: keep at least), in days. A tenant
 * sets either per class; what it leaves unset is the default below. A maximum below the minimum is a
 * conflict: it is refused when set, and the minimum wins for anything stored before.
 */
export const retentionClasses = [
  'bodies',
  'metadata',
  'events',
  'transcripts',
  'feedback_reports',
  'dmarc_records',
  'audit_log',
  'suppressions',
] as const;
export type RetentionClass = (typeof retentionClasses)[number];

export const isRetentionClass = (s: string): s is RetentionClass => (retentionClasses as readonly string[]).includes(s);

export interface ClassPolicy {
  dataClass: RetentionClass;
  /** Purge after this many days; null: never automatically. */
  maxDays: number | null;
  /** Keep at least this many days; null: no minimum. */
  minDays: number | null;
  /** True when the tenant set this class; false: the default. */
  custom: boolean;
}

/**
 * The defaults: bodies 7 days after the last attempt, metadata 400 days, suppressions never purged
 * automatically (suppression is how "do not mail" is kept), the audit log never.
 */
export const retentionDefaults: Record<RetentionClass, { maxDays: number | null; minDays: number | null }> = {
  bodies: { maxDays: 7, minDays: null },
  metadata: { maxDays: 400, minDays: null },
  events: { maxDays: 400, minDays: null },
  transcripts: { maxDays: 30, minDays: null },
  feedback_reports: { maxDays: 90, minDays: null },
  dmarc_records: { maxDays: 400, minDays: null },
  audit_log: { maxDays: null, minDays: null },
  suppressions: { maxDays: null, minDays: null },
};

/** Which classes the purge job enforces today; the others are recorded and reported (docs/retention.md). */
export const enforcedClasses: readonly RetentionClass[] = ['bodies', 'events'];

export interface PolicyConflict {
  dataClass: RetentionClass;
  message: string;
}

/** The effective policy of every class from a tenant's rows. */
export function effectivePolicies(rows: { data_class: string; max_days: number | null; min_days: number | null }[]): ClassPolicy[] {
  const set = new Map(rows.map((r) => [r.data_class, r]));
  return retentionClasses.map((c) => {
    const r = set.get(c);
    return r
      ? {
          dataClass: c,
          maxDays: r.max_days === null ? null : Number(r.max_days),
          minDays: r.min_days === null ? null : Number(r.min_days),
          custom: true,
        }
      : { dataClass: c, ...retentionDefaults[c], custom: false };
  });
}

/** Conflicts a policy set would have: a maximum below its minimum; suppressions purged automatically. */
export function policyConflicts(policies: ClassPolicy[]): PolicyConflict[] {
  const out: PolicyConflict[] = [];
  for (const p of policies) {
    if (p.maxDays !== null && p.minDays !== null && p.maxDays < p.minDays)
      out.push({ dataClass: p.dataClass, message: `max_days ${p.maxDays} is below min_days ${p.minDays}: the minimum would be broken` });
    if (p.dataClass === 'suppressions' && p.maxDays !== null)
      out.push({
        dataClass: p.dataClass,
        message: 'suppressions are never purged automatically: a purge would let mail reach people who asked for none',
      });
  }
  return out;
}

/**
 * A retention class: named body retention that a classification policy gives a message
 * (docs/classification.md), in place of the tenant's `bodies` policy: `phi-6y` kept 2190 days,
 * `marketing` 30. The tenant's `bodies` minimum stays a floor under every class (an archive duty
 * on all bodies is not lifted by a shorter class).
 */
export interface MessageRetentionClass {
  name: string;
  maxDays: number | null;
  minDays: number | null;
}

const CLASS_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** Why a retention class name is refused, or null when it may be used. */
export function retentionClassNameProblem(name: string): string | null {
  if (!CLASS_NAME.test(name)) return 'must match [a-z][a-z0-9_-]{0,31}';
  if (isRetentionClass(name)) return 'is a data class name; a retention class needs its own name';
  return null;
}

/** The days a message of this class is kept at least before the purge may take it; null: never purged. */
export function keepDays(c: { maxDays: number | null; minDays: number | null }, bodies: ClassPolicy): number | null {
  if (c.maxDays === null) return null;
  return Math.max(c.maxDays, c.minDays ?? 0, bodies.minDays ?? 0);
}

/** The purge cutoff of a class: data whose clock started at or before it is due (minimum respected). */
export function cutoffOf(p: ClassPolicy, now: number): number | null {
  if (p.maxDays === null) return null;
  const days = Math.max(p.maxDays, p.minDays ?? 0);
  return now - days * 86_400_000;
}
