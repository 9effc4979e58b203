import { type Actor, type AuditRecorder, auditedChange, canonicalJson, unattributed } from '../audit/index.js';
import { type Clock, recentRead, SETTINGS_CACHE_MS, validationError } from '../core/index.js';
import type { Repositories, Store } from '../store/index.js';
import { type ClassificationRules, emptyRules, parseClassificationRules } from './classification-rules.js';
import { type ClassificationDecision, type ClassifyInput, classify } from './classifier.js';

/**
 * Classification for accept and the API: a tenant's rules document (stored per tenant, validated
 * here), and the decision for one message. The DLP detectors run only for a tenant that stored a
 * rules document; without one, an explicit classification is still recorded (and no policy
 * applies). SMTP submissions are decoded (MIME, transfer encodings) before the text is scanned.
 */
export const CLASSIFICATION_HEADER = 'X-Postwarden-Classification';

export interface ClassificationServiceDeps {
  store: Pick<Store, 'classification' | 'transaction'>;
  clock: Clock;
  /** Decodes a submitted message to its text (feedback's MIME reader; platform.ts wires it). */
  readText(raw: Buffer): Promise<string>;
  /**
   * The tenant's retention classes (src/retention; platform.ts wires it): what a policy's
   * `retention_class` may name, and how long each keeps a body. Absent: a policy naming one is refused.
   */
  retentionClasses?(tenantId: string): Promise<{ name: string; maxDays: number | null; minDays: number | null }[]>;
  /** Records rules changes in the audit log, in the change's transaction. */
  audit?: AuditRecorder;
}

export interface AcceptClassifyInput extends Omit<ClassifyInput, 'text'> {
  tenantId: string;
  /**
   * API sends: the composed fields, asked for only when the tenant has rules (most have none, and
   * joining subject, text and HTML was a copy of every message); SMTP submissions: the raw message,
   * decoded here when rules exist.
   */
  text?: () => string;
  raw?: Buffer;
}

export function createClassification(deps: ClassificationServiceDeps) {
  // Accept classifies every message: the rules come through the settings cache, parsed once.
  const acceptRules = recentRead(rulesOf, { now: () => deps.clock.now(), ttlMs: SETTINGS_CACHE_MS });
  async function rulesOf(tenantId: string): Promise<{ rules: ClassificationRules; stored: boolean }> {
    const row = await deps.store.classification.getPolicy(tenantId);
    if (!row) return { rules: emptyRules, stored: false };
    const parsed = parseClassificationRules(row.doc);
    // Stored documents were validated on write; one that no longer parses applies nothing rather than failing every send.
    return parsed.ok ? { rules: parsed.rules, stored: true } : { rules: emptyRules, stored: true };
  }

  /** Days each retention class keeps a body, read only when a policy names a class (most sends need none). */
  async function retentionDaysOf(tenantId: string, rules: ClassificationRules): Promise<{ retentionDays?: Record<string, number | null> }> {
    if (!deps.retentionClasses || !rules.policies.some((p) => p.retention_class)) return {};
    const days: Record<string, number | null> = {};
    for (const c of await deps.retentionClasses(tenantId)) days[c.name] = c.maxDays === null ? null : Math.max(c.maxDays, c.minDays ?? 0);
    return { retentionDays: days };
  }

  return {
    async getRules(tenantId: string): Promise<ClassificationRules> {
      return (await rulesOf(tenantId)).rules;
    },
    /**
     * Replaces the rules document, recorded as `classification_rules.updated` (the whole document
     * before, null when none was stored, and after) in the same transaction; the same document records nothing.
     */
    async setRules(tenantId: string, doc: unknown, actor: Actor = unattributed): Promise<ClassificationRules> {
      const retentionClasses = deps.retentionClasses ? (await deps.retentionClasses(tenantId)).map((c) => c.name) : [];
      const parsed = parseClassificationRules(doc, { retentionClasses });
      if (!parsed.ok) throw validationError(parsed.errors);
      const after = { ...parsed.rules };
      const put = async (tx: Pick<Repositories, 'classification'>) => {
        const before = (await tx.classification.getPolicy(tenantId))?.doc ?? null;
        // Compared with keys sorted: a JSON column may hand the document back in another key order.
        if (before !== null && canonicalJson(before) === canonicalJson(after)) return { before, changed: false };
        await tx.classification.putPolicy({ tenantId, doc: after, updatedAt: deps.clock.now() });
        return { before, changed: true };
      };
      await auditedChange(deps.audit, deps.store, put, (r) =>
        r.changed
          ? {
              actor,
              tenantId,
              action: 'classification_rules.updated',
              resource: { type: 'classification_rules', id: tenantId },
              before: r.before,
              after,
            }
          : undefined,
      );
      acceptRules.forget(tenantId);
      return parsed.rules;
    },
    /** The decision for one message; undefined when nothing classifies it. Throws a refusal. */
    async classify(input: AcceptClassifyInput): Promise<ClassificationDecision | undefined> {
      const { rules, stored } = await acceptRules.get(input.tenantId);
      if (!stored && !input.given) return undefined;
      const text = !stored ? '' : input.text ? input.text() : input.raw ? await deps.readText(input.raw) : '';
      return classify(rules, { ...input, text, ...(await retentionDaysOf(input.tenantId, rules)) });
    },
  };
}

export type Classification = ReturnType<typeof createClassification>;
