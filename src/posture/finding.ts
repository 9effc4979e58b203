/**
 * A posture finding: what an audit saw in public DNS (and on the HTTPS hosts DNS points at), as a
 * value with a stable id. Severity, the RFC section it rests on, why it matters and the controls it
 * evidences come from the catalogue (catalogue.ts), so every finding of one id reads the same; the
 * check supplies what it found, the exact record that fixes it, and the evidence.
 */
export type PostureSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export const severityRank: Record<PostureSeverity, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

/** `third-party`: findings from the tenant's third-party register (only in audits with a tenant). */
export type PostureArea = 'mx' | 'spf' | 'dkim' | 'dmarc' | 'mta-sts' | 'tls-rpt' | 'dnssec' | 'dane' | 'bimi' | 'third-party';

export const postureAreas: readonly PostureArea[] = [
  'mx',
  'spf',
  'dkim',
  'dmarc',
  'mta-sts',
  'tls-rpt',
  'dnssec',
  'dane',
  'bimi',
  'third-party',
];

export interface PostureFinding {
  /** Stable dotted id (`spf.lookup-limit`); the first part is the area. */
  id: string;
  area: PostureArea;
  severity: PostureSeverity;
  /** The RFC (or specification) section the finding rests on. */
  rfc: string;
  title: string;
  /** The name the finding is about (the domain, an MX host, a selector's name). */
  subject: string;
  /** What was found, as a sentence. */
  found: string;
  why: string;
  /** The exact record (or change) that fixes it; absent for purely informational findings. */
  fix?: string;
  /** Control ids this finding evidences (see controls.ts). */
  controls: string[];
  evidence: Record<string, unknown>;
}

/** What a check reports; the catalogue fills in the rest. */
export interface RawFinding {
  id: string;
  subject: string;
  found: string;
  fix?: string;
  evidence?: Record<string, unknown>;
}

export function raw(id: string, subject: string, found: string, fix?: string, evidence: Record<string, unknown> = {}): RawFinding {
  return { id, subject, found, ...(fix !== undefined ? { fix } : {}), evidence };
}
