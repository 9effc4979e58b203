/**
 * A finding is the result of looking at published DNS or measured data: a value with a stable id,
 * a severity, a sentence for people and the evidence it rests on (the record, the count, the name
 * queried). Analysers return lists of these; nothing here throws for what it finds.
 */
export type FindingSeverity = 'info' | 'warning' | 'error';

export interface IdentityFinding {
  /** Stable, dotted id (`spf.lookup-limit`), safe to match on in UIs and tests. */
  id: string;
  severity: FindingSeverity;
  message: string;
  evidence: Record<string, unknown>;
}

export function finding(id: string, severity: FindingSeverity, message: string, evidence: Record<string, unknown> = {}): IdentityFinding {
  return { id, severity, message, evidence };
}
