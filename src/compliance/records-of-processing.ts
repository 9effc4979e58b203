import { type Clock, isoTime, PostwardenError } from '../core/index.js';
import type { Store, TlsEvidence } from '../store/index.js';
import type { Register, ThirdParty } from './register.js';

/**
 * Records of processing (GDPR Art. 30(1) style) of one tenant over a period (docs/compliance.md,
 * "Records of processing"): which categories of data (the message classifications of
 * src/classification) flowed through which streams, how many messages of each went out and under
 * which TLS evidence, which third parties process the data (the register, with their data categories,
 * DPA and certifications), how long each class of data is kept (src/retention), and which
 * classifications keep their message bodies by a retention class instead (with the policy rule).
 *
 * The counts are SQL aggregations (store `processingRecords`), never a walk over rows:
 * - *accepted*: messages the tenant handed over in the period (by acceptance time), sandbox included;
 * - *delivered*: recipients whose delivering attempt falls in the period, each counted under the TLS
 *   evidence of that attempt (`tls_attempts`, what the delivery recorded on the wire): `dane` (the MX
 *   authenticated by DANE, RFC 7672), `verified` (a PKIX-valid certificate for the MX name), `opportunistic`
 *   (TLS, peer not authenticated, RFC 3207) or `plaintext`. Sandbox captures never leave, so they
 *   have no TLS evidence and are not deliveries.
 * A message counts under its decision's highest-ranked classification (the one dashboards show), so
 * the classifications partition the messages and every total is a plain sum; `null` is a message no
 * rule or sender classified.
 */
export const tlsEvidenceLevels: readonly TlsEvidence[] = ['dane', 'verified', 'opportunistic', 'plaintext'];
export type TlsCounts = Record<TlsEvidence, number>;

/** The period of a records document when none is given: the 30 days before `to` (the evidence report's too). */
export const DEFAULT_PERIOD_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ProcessingCounts {
  /** Messages accepted in the period. */
  accepted: number;
  /** Of them, captured by the sandbox instead of sent. */
  sandbox: number;
  /** Distinct messages with a recipient delivered in the period. */
  delivered_messages: number;
  /** Recipients delivered in the period, split by TLS evidence in `tls`. */
  delivered_recipients: number;
  tls: TlsCounts;
}

export interface ProcessingFlow extends ProcessingCounts {
  stream: string;
  /** null: not classified. */
  classification: string | null;
}

export interface ClassificationRecord extends ProcessingCounts {
  classification: string | null;
  /** The streams it flowed through in the period. */
  streams: string[];
}

export interface ThirdPartyRecord {
  id: string;
  name: string;
  status: ThirdParty['status'];
  owner: string | null;
  purpose: string | null;
  data_categories: string[];
  dpa: ThirdParty['dpa'];
  certifications: { name: string; issuer: string; expires_at: string; current: boolean }[];
  review_due_at: string | null;
  review_overdue: boolean;
}

/** A data class's retention as the tenant's policy has it (src/retention: null days = not automatically). */
export interface RetentionRecord {
  data_class: string;
  max_days: number | null;
  min_days: number | null;
  custom: boolean;
}

/**
 * A retention class of the tenant and the classification policies that give it to messages
 * (docs/retention.md): "phi bodies are kept 2190 days, by rule phi-records".
 */
export interface RetentionClassRecord {
  name: string;
  max_days: number | null;
  min_days: number | null;
  /** The classification policies naming it, in the rules document's order. */
  policies: { rule: string; classification: string }[];
}

export interface RecordsOfProcessing {
  kind: 'postwarden.records-of-processing';
  version: 1;
  tenant_id: string;
  /** [from, to): ISO times. */
  period: { from: string; to: string };
  generated_at: string;
  /** Per stream × classification, sorted by stream then classification (unclassified last). */
  flows: ProcessingFlow[];
  /** Per classification over every stream, highest count of recipients delivered first. */
  classifications: ClassificationRecord[];
  totals: ProcessingCounts;
  third_parties: ThirdPartyRecord[];
  retention: RetentionRecord[];
  /** Retention classes: body retention that replaces the `bodies` row above for the classifications named. */
  retention_classes: RetentionClassRecord[];
}

export interface RecordsOfProcessingDeps {
  store: Pick<Store, 'processingRecords' | 'tenants'>;
  clock: Clock;
  register: Pick<Register, 'list'>;
  /** The tenant's retention per data class (src/retention's `policies`; platform.ts wires it). Absent: none listed. */
  retentionPolicies?: (
    tenantId: string,
  ) => Promise<{ dataClass: string; maxDays: number | null; minDays: number | null; custom: boolean }[]>;
  /** The tenant's retention classes (src/retention's `classes`). Absent: none listed. */
  retentionClasses?: (tenantId: string) => Promise<{ name: string; maxDays: number | null; minDays: number | null }[]>;
  /** The tenant's classification policies (src/classification's rules), to say which name each class. */
  classificationPolicies?: (tenantId: string) => Promise<{ id: string; classification: string; retention_class?: string }[]>;
}

const zeroTls = (): TlsCounts => ({ dane: 0, verified: 0, opportunistic: 0, plaintext: 0 });
const zeroCounts = (): ProcessingCounts => ({ accepted: 0, sandbox: 0, delivered_messages: 0, delivered_recipients: 0, tls: zeroTls() });

function add(into: ProcessingCounts, c: ProcessingCounts): void {
  into.accepted += c.accepted;
  into.sandbox += c.sandbox;
  into.delivered_messages += c.delivered_messages;
  into.delivered_recipients += c.delivered_recipients;
  for (const e of tlsEvidenceLevels) into.tls[e] += c.tls[e];
}

/** null (unclassified) sorts after every name. */
const byClassification = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);

function thirdPartyRecord(e: ThirdParty, now: number): ThirdPartyRecord {
  return {
    id: e.id,
    name: e.name,
    status: e.status,
    owner: e.owner,
    purpose: e.purpose,
    data_categories: [...e.data_categories],
    dpa: e.dpa ? { signed_at: e.dpa.signed_at, reference: e.dpa.reference } : null,
    certifications: e.certifications.map((c) => ({
      name: c.name,
      issuer: c.issuer,
      expires_at: c.expires_at,
      current: Date.parse(c.expires_at) > now,
    })),
    review_due_at: e.review_due_at,
    review_overdue: e.review_due_at !== null && Date.parse(e.review_due_at) <= now,
  };
}

export function createRecordsOfProcessing(deps: RecordsOfProcessingDeps) {
  const { store, clock } = deps;

  /** The flows of the period: the three aggregations folded into one row per stream × classification. */
  async function flowsOf(q: { tenantId: string; from: number; to: number }): Promise<ProcessingFlow[]> {
    const [accepted, delivered, deliveredMessages] = await Promise.all([
      store.processingRecords.accepted(q),
      store.processingRecords.delivered(q),
      store.processingRecords.deliveredMessages(q),
    ]);
    const flows = new Map<string, ProcessingFlow>();
    const flow = (stream: string, classification: string | null) => {
      const key = JSON.stringify([stream, classification]);
      let f = flows.get(key);
      if (!f) flows.set(key, (f = { stream, classification, ...zeroCounts() }));
      return f;
    };
    for (const a of accepted) {
      const f = flow(a.stream, a.classification);
      f.accepted += a.messages;
      f.sandbox += a.sandbox;
    }
    for (const d of delivered) {
      const f = flow(d.stream, d.classification);
      f.delivered_recipients += d.recipients;
      f.tls[d.evidence] += d.recipients;
    }
    for (const m of deliveredMessages) flow(m.stream, m.classification).delivered_messages += m.messages;
    return [...flows.values()].sort((a, b) =>
      a.stream === b.stream ? byClassification(a.classification, b.classification) : a.stream < b.stream ? -1 : 1,
    );
  }

  return {
    /**
     * The records of one tenant over [from, to) (ms). Throws NOT_FOUND for an unknown tenant and
     * VALIDATION_FAILED when the period is empty or reversed.
     */
    async compute(q: { tenantId: string; from: number; to: number }): Promise<RecordsOfProcessing> {
      if (!(q.from < q.to)) {
        throw new PostwardenError('VALIDATION_FAILED', 'the period must start before it ends', {
          errors: [{ path: '/query/from', message: 'must be before to' }],
        });
      }
      if (!(await store.tenants.get(q.tenantId)))
        throw new PostwardenError('NOT_FOUND', `tenant ${q.tenantId} does not exist`, { id: q.tenantId });
      const now = clock.now();
      const [flows, entries, retention, classes, policies] = await Promise.all([
        flowsOf(q),
        deps.register.list(q.tenantId),
        deps.retentionPolicies ? deps.retentionPolicies(q.tenantId) : Promise.resolve([]),
        deps.retentionClasses ? deps.retentionClasses(q.tenantId) : Promise.resolve([]),
        deps.classificationPolicies ? deps.classificationPolicies(q.tenantId) : Promise.resolve([]),
      ]);
      const perClass = new Map<string | null, ClassificationRecord>();
      const totals = zeroCounts();
      for (const f of flows) {
        let c = perClass.get(f.classification);
        if (!c) perClass.set(f.classification, (c = { classification: f.classification, streams: [], ...zeroCounts() }));
        const { stream, classification: _c, ...counts } = f;
        add(c, counts);
        c.streams.push(stream);
        add(totals, counts);
      }
      const classifications = [...perClass.values()].sort(
        (a, b) =>
          b.delivered_recipients - a.delivered_recipients ||
          b.accepted - a.accepted ||
          byClassification(a.classification, b.classification),
      );
      return {
        kind: 'postwarden.records-of-processing',
        version: 1,
        tenant_id: q.tenantId,
        period: { from: isoTime(q.from), to: isoTime(q.to) },
        generated_at: isoTime(now),
        flows,
        classifications,
        totals,
        third_parties: entries.map((e) => thirdPartyRecord(e, now)),
        retention: retention.map((r) => ({ data_class: r.dataClass, max_days: r.maxDays, min_days: r.minDays, custom: r.custom })),
        retention_classes: classes.map((c) => ({
          name: c.name,
          max_days: c.maxDays,
          min_days: c.minDays,
          policies: policies.filter((p) => p.retention_class === c.name).map((p) => ({ rule: p.id, classification: p.classification })),
        })),
      };
    },
  };
}

export type RecordsOfProcessingService = ReturnType<typeof createRecordsOfProcessing>;

/** The period a caller asked for, with the defaults filled in: `to` now, `from` DEFAULT_PERIOD_DAYS before `to`. */
export function periodWithDefaults(q: { from?: number | undefined; to?: number | undefined }, now: number): { from: number; to: number } {
  const to = q.to ?? now;
  return { from: q.from ?? to - DEFAULT_PERIOD_DAYS * DAY_MS, to };
}

const pct = (part: number, whole: number) => (whole ? `${((part / whole) * 100).toFixed(1)}%` : '-');
const label = (c: string | null) => c ?? 'unclassified';
const days = (d: number | null) => (d === null ? 'never' : `${d} d`);

/** The records as lines of text (the CLI's readable form; the evidence report renders its own Markdown and HTML). */
export function recordsText(r: RecordsOfProcessing): string[] {
  const tls = (c: ProcessingCounts) =>
    `${tlsEvidenceLevels.map((e) => `${e} ${c.tls[e]}`).join(', ')} (verified or DANE ${pct(c.tls.dane + c.tls.verified, c.delivered_recipients)})`;
  const lines = [
    `Records of processing: tenant ${r.tenant_id}, ${r.period.from} to ${r.period.to}`,
    `Accepted ${r.totals.accepted} message(s) (${r.totals.sandbox} sandbox); delivered ${r.totals.delivered_messages} message(s) to ${r.totals.delivered_recipients} recipient(s): ${tls(r.totals)}`,
    '',
    'Per classification:',
    ...(r.classifications.length
      ? r.classifications.map(
          (c) =>
            `  ${label(c.classification).padEnd(14)} streams ${c.streams.join(',')}; accepted ${c.accepted}, delivered ${c.delivered_messages} message(s) / ${c.delivered_recipients} recipient(s): ${tls(c)}`,
        )
      : ['  no messages in the period']),
    '',
    'Per stream and classification:',
    ...r.flows.map(
      (f) =>
        `  ${f.stream.padEnd(14)} ${label(f.classification).padEnd(14)} accepted ${f.accepted}, delivered ${f.delivered_recipients}: dane ${f.tls.dane}, verified ${f.tls.verified}, opportunistic ${f.tls.opportunistic}, plaintext ${f.tls.plaintext}`,
    ),
    '',
    'Third parties:',
    ...(r.third_parties.length
      ? r.third_parties.map(
          (t) =>
            `  ${t.name} (${t.status}): ${t.purpose ?? 'purpose not recorded'}; data ${t.data_categories.join(', ') || 'not recorded'}; DPA ${t.dpa ? `${t.dpa.reference} signed ${t.dpa.signed_at.slice(0, 10)}` : 'none'}; ${
              t.certifications.map((c) => `${c.name} until ${c.expires_at.slice(0, 10)}${c.current ? '' : ' (lapsed)'}`).join(', ') ||
              'no certifications'
            }`,
        )
      : ['  none in the register']),
    '',
    'Retention:',
    ...r.retention.map(
      (p) =>
        `  ${p.data_class.padEnd(17)} max ${days(p.max_days)}, min ${p.min_days === null ? 'none' : `${p.min_days} d`}${p.custom ? ' (tenant policy)' : ''}`,
    ),
    ...r.retention_classes.map(
      (c) =>
        `  class ${c.name.padEnd(11)} max ${days(c.max_days)}, min ${c.min_days === null ? 'none' : `${c.min_days} d`}: bodies of ${
          c.policies.map((p) => `${p.classification} (rule ${p.rule})`).join(', ') || 'no classification yet'
        }`,
    ),
  ];
  return lines;
}
