import type { DkimKeyRow } from '../store/index.js';
import type { DomainRecord } from './domain-records.js';
import type { DomainVerification } from './domain-verification.js';

/**
 * The JSON shapes of a domain's DNS records, its verification and its DKIM keys: snake_case and ISO
 * times, one definition for the HTTP API (/v1/domains) and the CLI's --json, so a script reads either.
 */
const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export const recordJson = (r: DomainRecord) => ({
  id: r.id,
  kind: r.kind,
  type: r.type,
  name: r.name,
  value: r.value,
  why: r.why,
  required: r.required,
  action: r.action,
  ...(r.selector ? { selector: r.selector, algorithm: r.algorithm, status: r.keyStatus } : {}),
});

export const verificationJson = (v: DomainVerification) => ({
  domain: v.domain,
  checked_at: iso(v.checkedAt),
  verified: v.verified,
  records: v.records.map((r) => ({ ...recordJson(r), status: r.status, found: r.found, ...(r.detail ? { detail: r.detail } : {}) })),
});

export const dkimKeyJson = (k: DkimKeyRow) => ({
  id: k.id,
  domain: k.domain,
  selector: k.selector,
  algorithm: k.algorithm,
  purpose: k.purpose ?? 'all',
  status: k.status,
  created_at: iso(k.createdAt),
  activated_at: iso(k.activatedAt),
  verified_at: iso(k.verifiedAt),
  retired_at: iso(k.retiredAt),
});
