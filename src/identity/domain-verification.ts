import type { Resolver } from '../dns/index.js';
import { isDmarcRecord, parseDmarcRecord } from './dmarc-record.js';
import type { DomainRecord } from './domain-records.js';
import { isSpfRecord } from './spf-record.js';

/**
 * Checks each record a domain should publish against live DNS (through the configured resolver)
 * and says, per record, whether it is there: `ok`, `missing` (nothing of the kind at that name),
 * `mismatch` (something is published there but not what is needed; `found` shows it), or `error`
 * (the lookup failed: SERVFAIL, timeout; try again). Records are compared by meaning, not byte for
 * byte: an SPF record passes when it carries the platform's terms among others, a DMARC record when
 * it is valid and reports to the platform, a DKIM record when its p= is the key's.
 */
export type RecordStatus = 'ok' | 'missing' | 'mismatch' | 'error';

export interface RecordCheck extends DomainRecord {
  status: RecordStatus;
  /** What DNS holds at the name for this type (TXT: only the relevant records); null when nothing. */
  found: string[] | null;
  /** Why it is not ok, for a human. */
  detail?: string;
}

export interface DomainVerification {
  domain: string;
  checkedAt: number;
  /** Every required record is ok. */
  verified: boolean;
  records: RecordCheck[];
}

const dot = (s: string) => s.trim().toLowerCase().replace(/\.$/, '');

/** The value of one tag of a `tag=value; …` record (DKIM RFC 6376 §3.2), whitespace removed. */
function tagValue(record: string, tag: string): string | undefined {
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === tag) return part.slice(eq + 1).replace(/\s+/g, '');
  }
  return undefined;
}

/** SPF terms of a record without the default `+` qualifier, lower-cased, for a membership test. */
function spfTerms(record: string): Set<string> {
  return new Set(
    record
      .trim()
      .split(/\s+/)
      .slice(1)
      .map((t) => t.toLowerCase().replace(/^\+/, '')),
  );
}

export async function checkRecord(resolver: Resolver, record: DomainRecord): Promise<RecordCheck> {
  const fail = (status: RecordStatus, found: string[] | null, detail?: string): RecordCheck => ({
    ...record,
    status,
    found,
    ...(detail ? { detail } : {}),
  });
  if (record.type === 'MX') {
    const r = await resolver.lookup(record.name, 'MX');
    if (r.kind === 'error') return fail('error', null, `MX lookup failed: ${r.failure}`);
    if (r.kind !== 'answer' || !r.records.length) return fail('missing', null, `no MX record at ${record.name}`);
    const found = r.records.map((m) => `${m.priority} ${m.exchange}`);
    const host = dot(record.value.split(/\s+/)[1] ?? '');
    return r.records.some((m) => dot(m.exchange) === host)
      ? fail('ok', found)
      : fail('mismatch', found, `the MX of ${record.name} does not name ${host}`);
  }
  if (record.type === 'CNAME') {
    const r = await resolver.lookup(record.name, 'CNAME');
    if (r.kind === 'error') return fail('error', null, `CNAME lookup failed: ${r.failure}`);
    if (r.kind !== 'answer' || !r.records.length) return fail('missing', null, `no CNAME at ${record.name}`);
    return r.records.some((c) => dot(c) === dot(record.value))
      ? fail('ok', r.records)
      : fail('mismatch', r.records, `${record.name} points elsewhere`);
  }
  const r = await resolver.lookup(record.name, 'TXT');
  if (r.kind === 'error') return fail('error', null, `TXT lookup failed: ${r.failure}`);
  const txt = r.kind === 'answer' ? r.records : [];
  switch (record.kind) {
    case 'dkim': {
      const keys = txt.filter((t) => tagValue(t, 'p') !== undefined);
      if (!keys.length) return fail('missing', null, `no DKIM key record at ${record.name}`);
      const want = tagValue(record.value, 'p');
      return keys.some((t) => tagValue(t, 'p') === want)
        ? fail('ok', keys)
        : fail('mismatch', keys, 'a key is published at this selector, but not this key (p= differs)');
    }
    case 'spf':
    case 'return-path-spf': {
      const spf = txt.filter(isSpfRecord);
      if (!spf.length) return fail('missing', null, `no SPF record at ${record.name}`);
      // RFC 7208 §4.5: two SPF records are a permerror for every receiver.
      if (spf.length > 1) return fail('mismatch', spf, 'more than one SPF record: receivers return permerror (RFC 7208 §4.5)');
      const have = spfTerms(spf[0]!);
      const need = [...spfTerms(record.value)].filter((t) => !t.endsWith('all'));
      const lacking = need.filter((t) => !have.has(t));
      return lacking.length ? fail('mismatch', spf, `the SPF record lacks ${lacking.join(' ')}`) : fail('ok', spf);
    }
    case 'dmarc': {
      const dmarc = txt.filter(isDmarcRecord);
      if (!dmarc.length) return fail('missing', null, `no DMARC record at ${record.name}`);
      if (dmarc.length > 1) return fail('mismatch', dmarc, 'more than one DMARC record: receivers ignore them all (RFC 7489 §6.6.3)');
      const parsed = parseDmarcRecord(dmarc[0]!);
      if (!parsed.ok) return fail('mismatch', dmarc, parsed.issues.map((i) => i.message).join('; '));
      const want = tagValue(record.value, 'rua')
        ?.replace(/^mailto:/i, '')
        .toLowerCase();
      if (want && !parsed.record.rua.some((u) => u.address?.toLowerCase() === want)) {
        return fail('mismatch', dmarc, `rua does not include mailto:${want}: the advisor gets no aggregate reports`);
      }
      return fail('ok', dmarc);
    }
    default:
      return txt.includes(record.value) ? fail('ok', txt) : fail(txt.length ? 'mismatch' : 'missing', txt.length ? txt : null);
  }
}

export async function verifyDomainRecords(
  resolver: Resolver,
  domain: string,
  records: readonly DomainRecord[],
  now: number,
): Promise<DomainVerification> {
  const checks = await Promise.all(records.filter((r) => r.action === 'publish').map((r) => checkRecord(resolver, r)));
  return { domain, checkedAt: now, verified: checks.every((c) => !c.required || c.status === 'ok'), records: checks };
}
