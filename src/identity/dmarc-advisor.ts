import { type DmarcPolicy, type DmarcRecord, formatDmarcRecord } from './dmarc-record.js';
import { finding, type IdentityFinding } from './finding.js';

/**
 * Staged DMARC policy advisor. It reads measured data (daily aggregate-report rows per source, and
 * the platform's own sends with their alignment) and recommends the next stage, or holding, with
 * the reasons and the numbers behind them. Stages ramp with DMARCbis `t=y` rather than `pct`:
 *
 *   none → quarantine; t=y → quarantine → reject; t=y → reject
 *
 * The rule: advance only when no authorized (legitimate) source has failed DMARC for `cleanDays`
 * days, the platform's own mail is aligned, there is enough volume and history, and the current
 * stage has been in place for `cleanDays`. Sources not marked authorized are listed, not blocking:
 * they are what enforcement exists for, but a regular one deserves a look before it is rejected.
 * Pure: dates are `YYYY-MM-DD` strings and `asOf` is given or taken from the data.
 */
export type DmarcStage = 'none' | 'quarantine-testing' | 'quarantine' | 'reject-testing' | 'reject';

export interface DailyAggregate {
  date: string;
  source: { ip: string; name?: string; authorized: boolean };
  count: number;
  /** Messages with aligned, passing SPF (a boolean means all or none of `count`). */
  spfAligned: boolean | number;
  dkimAligned: boolean | number;
}

export interface PlatformDailySends {
  date: string;
  count: number;
  /** Messages whose expected alignment (alignment.ts) would pass DMARC. */
  aligned: number;
}

export interface CurrentDmarcPolicy {
  p: DmarcPolicy;
  testing?: boolean;
  /** Date the current stage was published. */
  since?: string;
  /** The published record, so the proposal keeps its other tags. */
  record?: DmarcRecord;
}

export interface AdvisorOptions {
  cleanDays?: number;
  /** Messages from authorized sources needed within the window. */
  minMessages?: number;
  /** Per source per day, the share of failing messages tolerated (default 0: any failure counts). */
  maxAuthorizedFailureRate?: number;
  asOf?: string;
}

export interface SourceSummary {
  ip: string;
  name?: string;
  authorized: boolean;
  messages: number;
  passing: number;
  failing: number;
  days: number;
  lastFailure?: string;
}

export interface DmarcAdvice {
  action: 'advance' | 'hold';
  current: DmarcStage;
  next: DmarcStage;
  /** Tags of the next stage, and the full record when the current one was given. */
  proposed?: { p: DmarcPolicy; t?: 'y'; record?: string };
  reasons: IdentityFinding[];
  window: { from: string; to: string; days: number };
  totals: {
    messages: number;
    authorizedMessages: number;
    authorizedFailing: number;
    unknownMessages: number;
    unknownFailing: number;
    platformMessages: number;
    platformMisaligned: number;
  };
  failingAuthorizedSources: SourceSummary[];
  unknownSources: SourceSummary[];
}

const STAGES: DmarcStage[] = ['none', 'quarantine-testing', 'quarantine', 'reject-testing', 'reject'];
const STAGE_TAGS: Record<DmarcStage, { p: DmarcPolicy; t?: 'y' }> = {
  none: { p: 'none' },
  'quarantine-testing': { p: 'quarantine', t: 'y' },
  quarantine: { p: 'quarantine' },
  'reject-testing': { p: 'reject', t: 'y' },
  reject: { p: 'reject' },
};

export function stageOf(policy: Pick<CurrentDmarcPolicy, 'p' | 'testing'>): DmarcStage {
  if (policy.p === 'none') return 'none';
  if (policy.p === 'quarantine') return policy.testing ? 'quarantine-testing' : 'quarantine';
  return policy.testing ? 'reject-testing' : 'reject';
}

const DAY_MS = 86_400_000;
const dayNumber = (date: string): number => Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
const dayString = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

function counts(row: DailyAggregate): { passing: number; failing: number } {
  const share = (v: boolean | number) => (typeof v === 'boolean' ? (v ? row.count : 0) : Math.min(v, row.count));
  // With counts alone the overlap of SPF and DKIM passes is unknown; assume full overlap (fewest passes).
  const passing = Math.max(share(row.spfAligned), share(row.dkimAligned));
  return { passing, failing: row.count - passing };
}

function proposedRecord(record: DmarcRecord, tags: { p: DmarcPolicy; t?: 'y' }): string {
  const kept: Record<string, string | undefined> = {};
  for (const t of record.tags) if (!['v', 'p', 't', 'pct'].includes(t.name)) kept[t.name] = t.value;
  return formatDmarcRecord({ ...kept, p: tags.p, t: tags.t });
}

export function adviseDmarcPolicy(
  aggregates: readonly DailyAggregate[],
  platformSends: readonly PlatformDailySends[],
  current: CurrentDmarcPolicy,
  options: AdvisorOptions = {},
): DmarcAdvice {
  const cleanDays = options.cleanDays ?? 14;
  const minMessages = options.minMessages ?? 1000;
  const tolerance = options.maxAuthorizedFailureRate ?? 0;
  // ISO dates sort as strings.
  const dates = [...aggregates.map((a) => a.date), ...platformSends.map((p) => p.date)].sort();
  const asOf = options.asOf ?? dates.at(-1) ?? '1970-01-01';
  const end = dayNumber(asOf);
  const start = end - cleanDays + 1;
  const inWindow = (d: string) => dayNumber(d) >= start && dayNumber(d) <= end;
  const stage = stageOf(current);
  const reasons: IdentityFinding[] = [];
  const hold = (id: string, message: string, evidence: Record<string, unknown>) => reasons.push(finding(id, 'error', message, evidence));

  const sources = new Map<string, SourceSummary & { dates: Set<string> }>();
  let lastAuthorizedFailure: string | undefined;
  for (const row of aggregates) {
    if (dayNumber(row.date) > end) continue;
    const { passing, failing } = counts(row);
    const failingDay = row.source.authorized && failing > tolerance * row.count;
    if (failingDay && (!lastAuthorizedFailure || row.date > lastAuthorizedFailure)) lastAuthorizedFailure = row.date;
    if (!inWindow(row.date)) continue;
    const key = `${row.source.authorized ? 'a' : 'u'}|${row.source.ip}`;
    const s = sources.get(key) ?? {
      ip: row.source.ip,
      ...(row.source.name ? { name: row.source.name } : {}),
      authorized: row.source.authorized,
      messages: 0,
      passing: 0,
      failing: 0,
      days: 0,
      dates: new Set<string>(),
    };
    s.messages += row.count;
    s.passing += passing;
    s.failing += failing;
    s.dates.add(row.date);
    if (failingDay && (!s.lastFailure || row.date > s.lastFailure)) s.lastFailure = row.date;
    sources.set(key, s);
  }
  const summaries = [...sources.values()].map(({ dates: d, ...s }) => ({ ...s, days: d.size }));
  const authorized = summaries.filter((s) => s.authorized);
  const unknown = summaries.filter((s) => !s.authorized).sort((a, b) => b.messages - a.messages);
  const failingAuthorized = authorized.filter((s) => s.lastFailure).sort((a, b) => b.failing - a.failing);
  const platform = platformSends.filter((p) => inWindow(p.date));
  const platformMessages = platform.reduce((n, p) => n + p.count, 0);
  const platformMisaligned = platform.reduce((n, p) => n + (p.count - p.aligned), 0);
  const sum = (list: SourceSummary[], f: (s: SourceSummary) => number) => list.reduce((n, s) => n + f(s), 0);
  const totals = {
    messages: sum(summaries, (s) => s.messages),
    authorizedMessages: sum(authorized, (s) => s.messages),
    authorizedFailing: sum(authorized, (s) => s.failing),
    unknownMessages: sum(unknown, (s) => s.messages),
    unknownFailing: sum(unknown, (s) => s.failing),
    platformMessages,
    platformMisaligned,
  };

  if (stage === 'reject') {
    reasons.push(finding('dmarc-advisor.at-reject', 'info', 'The domain is already at p=reject; there is no further stage.', {}));
  }
  const firstDay = dates[0];
  if (!firstDay || dayNumber(firstDay) > start) {
    hold(
      'dmarc-advisor.short-history',
      `Only ${firstDay ? end - dayNumber(firstDay) + 1 : 0} day(s) of data; ${cleanDays} are needed before changing the policy.`,
      { firstDay, needed: cleanDays },
    );
  }
  if (current.since && dayNumber(current.since) > start) {
    hold(
      'dmarc-advisor.recent-change',
      `The current stage was published on ${current.since}; keep it for ${cleanDays} days before the next.`,
      { since: current.since, cleanDays },
    );
  }
  if (lastAuthorizedFailure && end - dayNumber(lastAuthorizedFailure) < cleanDays) {
    const clean = end - dayNumber(lastAuthorizedFailure);
    hold(
      'dmarc-advisor.authorized-failing',
      `Authorized sources failed DMARC as recently as ${lastAuthorizedFailure} (${clean} clean day(s) of ${cleanDays} needed): ${failingAuthorized.map((s) => `${s.name ?? s.ip} (${s.failing} failing)`).join(', ')}.`,
      {
        lastFailure: lastAuthorizedFailure,
        cleanDays: clean,
        sources: failingAuthorized.map((s) => ({ ip: s.ip, name: s.name, failing: s.failing, lastFailure: s.lastFailure })),
      },
    );
  }
  if (platformMisaligned > 0) {
    hold(
      'dmarc-advisor.platform-misaligned',
      `${platformMisaligned} of the platform's own ${platformMessages} messages in the window were not aligned; fix the DKIM or return-path domain first.`,
      { platformMessages, platformMisaligned },
    );
  }
  if (totals.authorizedMessages < minMessages) {
    hold(
      'dmarc-advisor.low-volume',
      `Only ${totals.authorizedMessages} messages from authorized sources in ${cleanDays} days; at least ${minMessages} are needed to judge.`,
      { authorizedMessages: totals.authorizedMessages, minMessages },
    );
  }
  if (unknown.length > 0) {
    reasons.push(
      finding(
        'dmarc-advisor.unknown-sources',
        'info',
        `${unknown.length} source(s) not marked authorized sent ${totals.unknownMessages} messages (${totals.unknownFailing} failing); enforcement will act on the failing ones.`,
        { sources: unknown.slice(0, 20).map((s) => ({ ip: s.ip, name: s.name, messages: s.messages, failing: s.failing, days: s.days })) },
      ),
    );
    for (const s of unknown.filter((u) => u.failing > 0 && u.days >= Math.ceil(cleanDays / 2))) {
      reasons.push(
        finding(
          'dmarc-advisor.regular-unknown-source',
          'warning',
          `${s.name ?? s.ip} is not authorized but sent failing mail on ${s.days} of ${cleanDays} days; if it is yours, authorize and align it before enforcing.`,
          { ...s },
        ),
      );
    }
  }
  const blocked = stage === 'reject' || reasons.some((r) => r.severity === 'error');
  const base = {
    current: stage,
    window: { from: dayString(start), to: asOf, days: cleanDays },
    totals,
    failingAuthorizedSources: failingAuthorized,
    unknownSources: unknown,
  };
  if (blocked) return { action: 'hold', next: stage, reasons, ...base };
  const next = STAGES[STAGES.indexOf(stage) + 1]!;
  const tags = STAGE_TAGS[next];
  reasons.unshift(
    finding(
      'dmarc-advisor.ready',
      'info',
      `No authorized source failed DMARC for ${cleanDays} days over ${totals.authorizedMessages} messages; move from ${stage} to ${next}.`,
      { authorizedMessages: totals.authorizedMessages, cleanDays },
    ),
  );
  return {
    action: 'advance',
    next,
    proposed: { ...tags, ...(current.record ? { record: proposedRecord(current.record, tags) } : {}) },
    reasons,
    ...base,
  };
}
