import type { DkimKeyFacts } from './checks/dkim.js';
import { policyRank } from './checks/dmarc.js';
import type { RecordedQuery } from './recording-resolver.js';

/**
 * What changed between two snapshots of a domain, and which changes are risky. Pure: the monitor
 * turns the first into one `dns.changed` event and each risky change into a `dns.alert` event.
 *
 * Records compare by name and type (outcome, answers, AD bit); a name asked only in one of the two
 * runs is reported with `null` on the other side. Risk is read from the facts the checks
 * established, so "DMARC weakened" means the policy in force got weaker, not that the text changed.
 */
export interface SnapshotView {
  id: string;
  records: RecordedQuery[];
  facts: Record<string, Record<string, unknown>>;
  findings: { id: string; severity: string; subject: string }[];
}

export interface RecordState {
  outcome: string;
  answers: string[];
  authenticated: boolean;
}

export interface RecordChange {
  name: string;
  type: string;
  before: RecordState | null;
  after: RecordState | null;
}

export type AlertKind =
  | 'mx-unapproved'
  | 'dmarc-weakened'
  | 'spf-broadened'
  | 'dkim-key-removed'
  | 'mta-sts-downgraded'
  | 'mta-sts-id-changed'
  | 'tlsa-not-matching'
  | 'certificate-expiring';

export interface Alert {
  kind: AlertKind;
  severity: 'critical' | 'high' | 'medium';
  message: string;
  before: unknown;
  after: unknown;
}

const state = (q: RecordedQuery): RecordState => ({ outcome: q.outcome, answers: q.answers, authenticated: q.authenticated });
const same = (a: RecordState, b: RecordState) =>
  a.outcome === b.outcome && a.authenticated === b.authenticated && a.answers.join('\n') === b.answers.join('\n');

export function diffRecords(before: RecordedQuery[], after: RecordedQuery[]): RecordChange[] {
  const key = (q: RecordedQuery) => `${q.name} ${q.type}`;
  const old = new Map(before.map((q) => [key(q), q]));
  const now = new Map(after.map((q) => [key(q), q]));
  const keys = [...new Set([...old.keys(), ...now.keys()])].sort();
  const out: RecordChange[] = [];
  for (const k of keys) {
    const b = old.get(k);
    const a = now.get(k);
    if (b && a && same(state(b), state(a))) continue;
    // A name asked in one run only (a new include, a dropped selector) with nothing there is no change.
    if (!b && a && a.outcome !== 'answer') continue;
    if (b && !a && b.outcome !== 'answer') continue;
    const q = (a ?? b)!;
    out.push({ name: q.name, type: q.type, before: b ? state(b) : null, after: a ? state(a) : null });
  }
  return out;
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const fact = (s: SnapshotView, area: string, name: string): unknown => s.facts[area]?.[name];

function mxHosts(s: SnapshotView): string[] {
  const hosts = (fact(s, 'mx', 'hosts') as string[] | undefined) ?? [];
  return hosts.map((h) =>
    h
      .slice(h.indexOf(' ') + 1)
      .toLowerCase()
      .replace(/\.$/, ''),
  );
}

/** How much an SPF "all" lets through: -all 0, ~all 1, ?all or none 2, +all 3 (RFC 7208 §4.7, §8). */
function spfOpenness(record: string | undefined): number {
  if (record === undefined) return 3;
  const all = /(?:^|\s)([+\-~?]?)all\b/i.exec(record);
  if (!all) return 2;
  return { '-': 0, '~': 1, '?': 2, '+': 3, '': 3 }[all[1] as '-' | '~' | '?' | '+' | ''];
}

function spfTerms(record: string | undefined): Set<string> {
  return new Set(
    (record ?? '')
      .split(/\s+/)
      .slice(1)
      .map((t) => t.replace(/^[+]/, '').toLowerCase())
      .filter((t) => t && !/^[-~?]/.test(t) && !/^all$/.test(t)),
  );
}

const modeRank: Record<string, number> = { enforce: 2, testing: 1, none: 0 };

export function riskyChanges(
  before: SnapshotView,
  after: SnapshotView,
  opts: { approvedMx?: string[]; matches: (pattern: string, host: string) => boolean },
): Alert[] {
  const alerts: Alert[] = [];
  // MX: a host not seen before and not approved. Without a tenant list the previous MX set is the baseline.
  const oldMx = mxHosts(before);
  const newMx = mxHosts(after);
  const approved = opts.approvedMx;
  const moved = newMx.filter((h) => !oldMx.includes(h) && !(approved ?? oldMx).some((p) => opts.matches(p, h) || p === h));
  if (moved.length > 0) {
    alerts.push({
      kind: 'mx-unapproved',
      severity: 'critical',
      message: `MX moved to ${moved.join(', ')}, which ${approved ? 'is not on the approved list' : 'was not an MX before'}.`,
      before: oldMx,
      after: newMx,
    });
  }
  // DMARC: the policy in force, sp/np, testing and pct.
  const d = (s: SnapshotView) => s.facts.dmarc ?? {};
  const db = d(before);
  const da = d(after);
  if (str(db.applied)) {
    const rank = (v: unknown) => (typeof v === 'string' && v in policyRank ? policyRank[v as 'none'] : -1);
    const weaker =
      rank(da.applied) < rank(db.applied) ||
      rank(da.sp) < rank(db.sp) ||
      rank(da.np) < rank(db.np) ||
      (da.testing === true && db.testing !== true) ||
      (typeof da.pct === 'number' && typeof db.pct === 'number' && da.pct < db.pct);
    if (weaker) {
      alerts.push({
        kind: 'dmarc-weakened',
        severity: 'high',
        message: `DMARC weakened: ${str(db.record) ?? 'none'} → ${str(da.record) ?? 'no record'}.`,
        before: db.record ?? null,
        after: da.record ?? null,
      });
    }
  }
  // SPF: a more permissive "all", a removed record, or new authorizing terms.
  const sb = str(fact(before, 'spf', 'record'));
  const sa = str(fact(after, 'spf', 'record'));
  if (sb !== undefined) {
    const added = [...spfTerms(sa)].filter((t) => !spfTerms(sb).has(t));
    if (spfOpenness(sa) > spfOpenness(sb) || added.length > 0) {
      alerts.push({
        kind: 'spf-broadened',
        severity: 'high',
        message: `SPF authorizes more: ${added.length ? `added ${added.join(', ')}` : 'a weaker "all" or no record'}.`,
        before: sb,
        after: sa ?? null,
      });
    }
  }
  // DKIM: a key that was published is gone, revoked or unreadable.
  const keys = (s: SnapshotView) => (fact(s, 'dkim', 'keys') as DkimKeyFacts[] | undefined) ?? [];
  for (const k of keys(before)) {
    if (k.state !== 'present') continue;
    const now = keys(after).find((x) => x.selector === k.selector);
    if (now && now.state !== 'present' && now.state !== 'error') {
      alerts.push({
        kind: 'dkim-key-removed',
        severity: 'high',
        message: `DKIM key at selector ${k.selector} is ${now.state}.`,
        before: k,
        after: now,
      });
    }
  }
  // MTA-STS: mode downgraded (or withdrawn), policy id changed.
  const mb = str(fact(before, 'mta-sts', 'mode'));
  const ma = str(fact(after, 'mta-sts', 'mode'));
  if (mb !== undefined && (modeRank[ma ?? ''] ?? -1) < (modeRank[mb] ?? -1)) {
    alerts.push({
      kind: 'mta-sts-downgraded',
      severity: 'high',
      message: `MTA-STS mode ${mb} → ${ma ?? 'no policy'}.`,
      before: mb,
      after: ma ?? null,
    });
  }
  const ib = str(fact(before, 'mta-sts', 'id'));
  const ia = str(fact(after, 'mta-sts', 'id'));
  if (ib !== undefined && ia !== ib) {
    alerts.push({
      kind: 'mta-sts-id-changed',
      severity: 'medium',
      message: `MTA-STS policy id ${ib} → ${ia ?? 'none'}: senders refetch the policy.`,
      before: ib,
      after: ia ?? null,
    });
  }
  // TLSA: none of the associations published before remains (or it lost DNSSEC), so a server
  // certificate that matched before no longer does (RFC 7672 §2.2: senders then refuse delivery).
  type Hosts = Record<string, { secure: boolean; tlsa: string[]; tlsaSecure: boolean }>;
  const hb = (fact(before, 'dnssec-dane', 'hosts') as Hosts | undefined) ?? {};
  const ha = (fact(after, 'dnssec-dane', 'hosts') as Hosts | undefined) ?? {};
  for (const [host, b] of Object.entries(hb)) {
    if (b.tlsa.length === 0 || !b.tlsaSecure) continue;
    const a = ha[host];
    if (!a) continue;
    if (!a.tlsaSecure || !b.tlsa.some((r) => a.tlsa.includes(r))) {
      alerts.push({
        kind: 'tlsa-not-matching',
        severity: 'high',
        message: `TLSA for ${host} no longer carries any association published before${a.tlsaSecure ? '' : ', or is no longer DNSSEC-secure'}.`,
        before: b.tlsa,
        after: a.tlsa,
      });
    }
  }
  // Certificates: the expiring finding is new in this run.
  const expiring = (s: SnapshotView) => s.findings.filter((f) => f.id === 'mta-sts.certificate-expiring').map((f) => f.subject);
  for (const subject of expiring(after).filter((x) => !expiring(before).includes(x))) {
    alerts.push({
      kind: 'certificate-expiring',
      severity: 'high',
      message: `The certificate of ${subject} expires soon.`,
      before: fact(before, 'mta-sts', 'certificateValidTo') ?? null,
      after: fact(after, 'mta-sts', 'certificateValidTo') ?? null,
    });
  }
  return alerts;
}
