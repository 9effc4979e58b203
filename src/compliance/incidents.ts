import type { KeyObject } from 'node:crypto';
import { type Actor, type AuditInput, type AuditRecorder, auditedChange, loadEvidenceSigner, unattributed } from '../audit/index.js';
import { type Clock, isoTime, newEvent, newId, PostwardenError, validationError } from '../core/index.js';
import type { IncidentReminderRow, IncidentRow, Repositories, Store } from '../store/index.js';
import { buildTraceBundle, type TraceMessage } from './trace-bundle.js';

/**
 * Incidents and their notification clocks. An incident (kind, severity, who or which alert opened
 * it, linked messages, events, DNS changes and keys, a timeline) carries one clock per regime it
 * falls under: GDPR art. 33 (72 hours to the supervisory authority), HIPAA §164.404 (60 days), or a
 * custom one. Each clock has a deadline and reminders at configured offsets before it; every
 * reminder and the deadline are rows in `incident_reminders`, and `remindDue` (a scheduled job)
 * appends one `incident.reminded` event per row that has come due and marks it sent in the same
 * transaction, so each reminder is announced once whichever node runs the job.
 *
 *   open ──(reminder offsets)──► reminded … ──(deadline)──► deadline reached
 *     └──────────────── close: pending reminders are cancelled ─────────────┘
 *
 * Opening, a timeline note and closing are audited (`incident.*`) in the change's transaction.
 */
export interface ClockSetting {
  hours: number;
  remindBeforeHours: number[];
}

export interface IncidentClock {
  regime: string;
  hours: number;
  remind_before_hours: number[];
  deadline_at: string;
}

export interface IncidentDoc {
  kind: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  title: string;
  description: string | null;
  status: 'open' | 'closed';
  opened_by: string;
  /** `users`: people whose credentials the incident is about (credential compromise); added later, so optional in stored documents. */
  links: { messages: string[]; events: string[]; dns_changes: string[]; keys: string[]; users: string[] };
  clocks: IncidentClock[];
  timeline: { at: string; by: string; entry: string }[];
}

export interface Incident extends IncidentDoc {
  id: string;
  tenantId: string;
  openedAt: number;
  updatedAt: number;
}

export interface OpenIncident {
  kind: string;
  severity: IncidentDoc['severity'];
  title: string;
  description?: string;
  openedBy: string;
  /** Regimes by name (`gdpr`, `hipaa`) from the configured clocks, or a custom clock. */
  clocks: (string | { regime: string; hours: number; remindBeforeHours?: number[] })[];
  links?: Partial<IncidentDoc['links']>;
  /** Timeline entries written after "opened", by the opener (what a response already did). */
  timeline?: string[];
}

export type TraceQuery =
  | { message_id: string }
  | { to: string; since: number; until: number }
  | { key_id: string; since: number; until: number };

export interface IncidentsDeps {
  store: Pick<Store, 'compliance' | 'events' | 'messages' | 'recipients' | 'audit' | 'transaction'>;
  clock: Clock;
  masterKey: Buffer;
  /** The configured clocks by regime name (config compliance.clocks). */
  regimes: Record<string, ClockSetting>;
  /** Opening, notes and closing are recorded in the audit log in their transaction (docs/governance.md). */
  audit?: AuditRecorder;
}

const noLinks = (): IncidentDoc['links'] => ({ messages: [], events: [], dns_changes: [], keys: [], users: [] });

const H = 3_600_000;
const fromRow = (r: IncidentRow): Incident => ({
  ...(r.doc as unknown as IncidentDoc),
  links: { ...noLinks(), ...(r.doc as unknown as IncidentDoc).links },
  id: r.id,
  tenantId: r.tenantId,
  openedAt: r.openedAt,
  updatedAt: r.updatedAt,
});
const toRow = (i: Incident): IncidentRow => {
  const { id, tenantId, openedAt, updatedAt, ...doc } = i;
  return { id, tenantId, openedAt, updatedAt, doc: { ...doc } };
};

export function createIncidents(deps: IncidentsDeps) {
  const { store, clock } = deps;
  const opened = new Map<string, KeyObject>();
  const changed = <T>(fn: (tx: Repositories) => Promise<T>, entry: (result: T) => AuditInput): Promise<T> =>
    auditedChange(deps.audit, store, fn, entry);

  function clockOf(c: OpenIncident['clocks'][number], now: number, index = 0): IncidentClock {
    const setting =
      typeof c === 'string'
        ? deps.regimes[c]
        : { hours: c.hours, remindBeforeHours: c.remindBeforeHours ?? deps.regimes[c.regime]?.remindBeforeHours ?? [] };
    const regime = typeof c === 'string' ? c : c.regime;
    if (!setting || !(setting.hours > 0)) {
      throw new PostwardenError('VALIDATION_FAILED', `no notification clock "${regime}" is configured`, {
        errors: [
          {
            path: `/clocks/${index}`,
            message: `"${regime}" is not a configured regime (${Object.keys(deps.regimes).join(', ')}); give hours for a custom clock`,
          },
        ],
      });
    }
    const before = [...new Set(setting.remindBeforeHours.filter((h) => h > 0 && h < setting.hours))].sort((a, b) => b - a);
    return { regime, hours: setting.hours, remind_before_hours: before, deadline_at: isoTime(now + setting.hours * H) };
  }

  /** Linked messages must be the tenant's: a mistyped id is refused with its path. */
  async function checkLinks(tenantId: string, links: Partial<IncidentDoc['links']>): Promise<void> {
    const errors: { path: string; message: string }[] = [];
    for (const [i, id] of (links.messages ?? []).entries()) {
      if (!(await store.messages.get(id, tenantId))) errors.push({ path: `/links/messages/${i}`, message: `message ${id} does not exist` });
    }
    if (errors.length) throw validationError(errors);
  }

  async function open(tenantId: string, o: OpenIncident, actor: Actor = unattributed): Promise<Incident> {
    const now = clock.now();
    const clocks = o.clocks.map((c, i) => clockOf(c, now, i));
    await checkLinks(tenantId, o.links ?? {});
    const incident: Incident = {
      id: newId('inc', now),
      tenantId,
      openedAt: now,
      updatedAt: now,
      kind: o.kind,
      severity: o.severity,
      title: o.title,
      description: o.description ?? null,
      status: 'open',
      opened_by: o.openedBy,
      links: { ...noLinks(), ...o.links },
      clocks,
      timeline: [
        { at: isoTime(now), by: o.openedBy, entry: `opened (${o.kind}, ${o.severity})` },
        ...(o.timeline ?? []).map((entry) => ({ at: isoTime(now), by: o.openedBy, entry })),
      ],
    };
    const reminders: IncidentReminderRow[] = clocks.flatMap((c) => {
      const deadline = Date.parse(c.deadline_at);
      const row = (kind: 'reminder' | 'deadline', offsetMs: number): IncidentReminderRow => ({
        id: newId('irm', now),
        incidentId: incident.id,
        tenantId,
        regime: c.regime,
        kind,
        offsetMs,
        deadlineAt: deadline,
        dueAt: deadline - offsetMs,
        sentAt: null,
      });
      return [...c.remind_before_hours.map((h) => row('reminder', h * H)), row('deadline', 0)];
    });
    await changed(
      async (tx) => {
        await tx.compliance.insertIncident(toRow(incident), reminders);
        await tx.events.append(
          [
            newEvent(
              'incident.opened',
              { tenantId },
              {
                incident_id: incident.id,
                kind: incident.kind,
                severity: incident.severity,
                title: incident.title,
                opened_by: incident.opened_by,
                clocks: clocks.map((c) => ({ regime: c.regime, deadline_at: c.deadline_at })),
              },
            ),
          ],
          now,
        );
      },
      () => ({
        actor,
        tenantId,
        action: 'incident.opened',
        resource: { type: 'incident', id: incident.id },
        after: {
          kind: incident.kind,
          severity: incident.severity,
          title: incident.title,
          opened_by: incident.opened_by,
          clocks: clocks.map((c) => ({ regime: c.regime, deadline_at: c.deadline_at })),
          links: incident.links,
        },
      }),
    );
    return incident;
  }

  async function get(tenantId: string, id: string): Promise<Incident> {
    const row = await store.compliance.incident(tenantId, id);
    if (!row) throw new PostwardenError('NOT_FOUND', `incident ${id} does not exist`, { id });
    return fromRow(row);
  }

  async function note(tenantId: string, id: string, by: string, entry: string, actor: Actor = unattributed): Promise<Incident> {
    const i = await get(tenantId, id);
    const now = clock.now();
    const next = { ...i, updatedAt: now, timeline: [...i.timeline, { at: isoTime(now), by, entry }] };
    await changed(
      (tx) => tx.compliance.updateIncident(toRow(next)),
      () => ({ actor, tenantId, action: 'incident.noted', resource: { type: 'incident', id }, after: { entry } }),
    );
    return next;
  }

  async function close(tenantId: string, id: string, by: string, reason: string, actor: Actor = unattributed): Promise<Incident> {
    const i = await get(tenantId, id);
    if (i.status === 'closed') throw new PostwardenError('CONFLICT', `incident ${id} is already closed`, { id });
    const now = clock.now();
    const next: Incident = {
      ...i,
      status: 'closed',
      updatedAt: now,
      timeline: [...i.timeline, { at: isoTime(now), by, entry: `closed: ${reason}` }],
    };
    await changed(
      async (tx) => {
        await tx.compliance.updateIncident(toRow(next));
        await tx.compliance.cancelReminders(id, now);
      },
      () => ({
        actor,
        tenantId,
        action: 'incident.closed',
        resource: { type: 'incident', id },
        before: { status: i.status },
        after: { status: 'closed' },
        reason,
      }),
    );
    return next;
  }

  /** A page of incidents, newest first; `next` is the cursor (`before`) of the following page. */
  async function page(
    tenantId: string,
    p: { before?: string | undefined; limit: number },
  ): Promise<{ data: Incident[]; next: string | null }> {
    const rows = (await store.compliance.incidentPage(tenantId, { before: p.before, limit: p.limit + 1 })).map(fromRow);
    const data = rows.slice(0, p.limit);
    return { data, next: rows.length > p.limit ? data[data.length - 1]!.id : null };
  }

  /** Announces every reminder that has come due (bounded per run); answers how many. */
  async function remindDue(limit = 100): Promise<number> {
    const now = clock.now();
    let sent = 0;
    for (const r of await store.compliance.dueReminders(now, limit)) {
      const incident = await store.compliance.incident(r.tenantId, r.incidentId);
      await store.transaction(async (tx) => {
        if (!(await tx.compliance.markReminderSent(r.id, now))) return;
        await tx.events.append(
          [
            newEvent(
              'incident.reminded',
              { tenantId: r.tenantId },
              {
                incident_id: r.incidentId,
                regime: r.regime,
                kind: r.kind,
                deadline_at: isoTime(r.deadlineAt),
                remaining_seconds: Math.round(r.offsetMs / 1000),
                title: String(incident?.doc.title ?? ''),
              },
            ),
          ],
          now,
        );
        sent++;
      });
    }
    return sent;
  }

  /** The messages a trace query names, each with its recipients and events (at most 100 messages). */
  async function traces(tenantId: string, q: TraceQuery): Promise<TraceMessage[]> {
    let ids: string[];
    if ('message_id' in q) ids = [q.message_id];
    else {
      const found = await store.messages.search(tenantId, {
        ...('to' in q ? { to: q.to } : {}),
        since: q.since,
        until: q.until,
        limit: 100,
      });
      ids = found.map((m) => m.id);
    }
    const out: TraceMessage[] = [];
    for (const id of ids) {
      const message = await store.messages.get(id, tenantId);
      if (!message) {
        if ('message_id' in q) throw new PostwardenError('NOT_FOUND', `message ${id} does not exist`, { id });
        continue;
      }
      const events = await store.events.forMessage(id);
      if ('key_id' in q && !events.some((e) => e.type === 'message.accepted' && e.data.api_key === q.key_id)) continue;
      out.push({ message, recipients: await store.recipients.listByMessages([id]), events });
    }
    return out;
  }

  /** A signed evidence bundle of the trace (trace-bundle.ts); answers the file's text. */
  async function traceBundle(tenantId: string, q: TraceQuery): Promise<string> {
    const found = await traces(tenantId, q);
    const now = clock.now();
    const signer = await store.transaction((tx) => loadEvidenceSigner(tx, deps.masterKey, now, opened));
    const query = Object.fromEntries(Object.entries(q).map(([k, v]) => [k, k === 'since' || k === 'until' ? isoTime(v as number) : v]));
    return buildTraceBundle({ tenantId, query, traces: found, now, signer });
  }

  return {
    open,
    get,
    list: async (tenantId: string) => (await store.compliance.incidents(tenantId)).map(fromRow),
    page,
    /** Throws what `open` would for these clocks (a caller checks before doing anything else). */
    checkClocks: (clocks: OpenIncident['clocks']): void => {
      for (const [i, c] of clocks.entries()) clockOf(c, 0, i);
    },
    reminders: (id: string) => store.compliance.remindersOf(id),
    note,
    close,
    remindDue,
    traceBundle,
  };
}

export type Incidents = ReturnType<typeof createIncidents>;
