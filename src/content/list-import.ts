import { addressKey, type Clock, createCsvRecordReader, newId, PostwardenError, parseAddress } from '../core/index.js';
import type { ImportFindingRow, ListImportRow, ListMemberRow, ListRow, Store, SuppressionRow } from '../store/index.js';
import { createDisposableCheck, type Finding, type FindingKind, roleOf, trapPattern } from './list-findings.js';

/**
 * Contact lists and their CSV imports, with hygiene findings per row.
 *
 * An import streams: the body is read chunk by chunk through core's CSV reader and handled in
 * batches of `batchRows` (parse, duplicates, role accounts, disposable domains, trap-like patterns,
 * MX/Null MX through the injected resolver, suppression), and each batch is written (members, and
 * the rows with findings) before the next chunk is read. Memory is bounded by one batch, the
 * per-import DNS cache (`dnsCacheSize` domains) and the set of addresses seen (duplicates must be
 * found across the whole file: one short string per unique address).
 *
 * Rows with an error finding (malformed, duplicate, null_mx, no_mx for a domain that does not
 * exist, trap_pattern) are not added; rows with warnings (role_account, disposable_domain, no_mx with
 * an implicit MX, suppressed, dns_unchecked) are added and reported. The answer gives counts per kind
 * and the first findings; the rest page from GET /v1/lists/{id}/imports/{import_id}/findings.
 *
 * Drip-feed: during `drip.phaseHours` after a list's newest import, sends naming the list
 * (`list_id`) may carry at most `drip.batchSize` recipients per `drip.intervalMinutes`, counted in
 * the store so every node shares the budget; a send past it is refused with RATE_LIMITED and a
 * retry_after at the next window. Routing that first send through a sacrificial pool waits for the
 * reputation work (pools).
 */
export type MxVerdict =
  | { kind: 'hosts'; implicit: boolean }
  | { kind: 'null-mx' }
  | { kind: 'nxdomain' }
  | { kind: 'no-route'; reason: string }
  | { kind: 'temporary'; reason: string };

export interface ListsDeps {
  store: Pick<Store, 'lists' | 'suppressions' | 'rateWindows'>;
  clock: Clock;
  /** The MX verdict of a domain (dns's resolveMxRoute through the node resolver). */
  mxRoute: (domain: string) => Promise<MxVerdict>;
  dnsConcurrency: number;
  dnsCacheSize: number;
  batchRows: number;
  drip: { batchSize: number; intervalMinutes: number; phaseHours: number };
}

export interface ImportSummary {
  import: ListImportRow;
  counts: Partial<Record<FindingKind, number>>;
  findings: ImportFindingRow[];
  nextAfterRow: number | null;
}

/** Column names ESPs export the address under (Mailchimp `Email Address`, others `email`, `E-mail`…), compared without case, spaces, _ or -. */
const EMAIL_COLUMNS = new Set(['email', 'emailaddress', 'mail', 'mailaddress', 'emailaddr']);
const normaliseColumn = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '');
const FIRST_FINDINGS = 100;

interface Row {
  n: number;
  raw: string;
  fields: Record<string, string>;
  key?: string;
  local?: string;
  domain?: string;
  findings: Finding[];
}

export function createLists(deps: ListsDeps) {
  const { store, clock } = deps;
  const isDisposable = createDisposableCheck();

  async function get(tenantId: string, id: string): Promise<ListRow> {
    const l = await store.lists.get(tenantId, id);
    if (!l) throw new PostwardenError('NOT_FOUND', `No list ${id}.`);
    return l;
  }

  /** Runs `fn` over `items` with at most `limit` at a time. */
  async function pooled<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  }

  function mxFindings(v: MxVerdict, domain: string): Finding[] {
    switch (v.kind) {
      case 'hosts':
        return v.implicit
          ? [
              {
                kind: 'no_mx',
                severity: 'warning',
                message: `${domain} has no MX record; mail would go to its A/AAAA address (RFC 5321 §5.1)`,
              },
            ]
          : [];
      case 'null-mx':
        return [{ kind: 'null_mx', severity: 'error', message: `${domain} publishes a Null MX: it accepts no mail (RFC 7505)` }];
      case 'nxdomain':
        return [{ kind: 'no_mx', severity: 'error', message: `${domain} does not exist (NXDOMAIN)`, detail: { dns: 'nxdomain' } }];
      case 'no-route':
        return [{ kind: 'no_mx', severity: 'error', message: `${domain} has no mail route: ${v.reason}`, detail: { dns: 'no-route' } }];
      case 'temporary':
        return [{ kind: 'dns_unchecked', severity: 'warning', message: `MX lookup for ${domain} failed: ${v.reason}` }];
    }
  }

  function suppressedFinding(rows: SuppressionRow[]): Finding {
    const first = rows[0]!;
    return {
      kind: 'suppressed',
      severity: 'warning',
      message: `suppressed (${first.scope}) since ${new Date(first.createdAt).toISOString()}: ${first.reason}`,
      detail: {
        entries: rows.map((r) => ({
          reason: r.reason,
          scope: r.scope,
          domain: r.domain,
          stream: r.stream,
          source: r.source,
          since: new Date(r.createdAt).toISOString(),
        })),
      },
    };
  }

  return {
    get,
    list: (tenantId: string) => store.lists.list(tenantId),
    countMembers: (listId: string) => store.lists.countMembers(listId),
    async create(tenantId: string, name: string): Promise<ListRow> {
      const row: ListRow = { id: newId('lst', clock.now()), tenantId, name, createdAt: clock.now() };
      await store.lists.insert(row);
      return row;
    },

    async importCsv(tenantId: string, listId: string, body: AsyncIterable<Buffer | string>): Promise<ImportSummary> {
      await get(tenantId, listId);
      const reader = createCsvRecordReader();
      const decoder = new TextDecoder('utf-8');
      const dns = new Map<string, Promise<MxVerdict>>();
      const seen = new Set<string>();
      const counts: Partial<Record<FindingKind, number>> = {};
      let header: string[] | undefined;
      let emailAt = -1;
      let imp: ListImportRow | undefined;
      let rowNo = 0;
      let added = 0;
      let batch: Row[] = [];

      const lookup = (domain: string) => {
        let p = dns.get(domain);
        if (!p) {
          // Bounded cache: the oldest domain goes first (Map keeps insertion order).
          if (dns.size >= deps.dnsCacheSize) dns.delete(dns.keys().next().value!);
          p = deps.mxRoute(domain).catch((e: Error) => ({ kind: 'temporary', reason: e.message }) as MxVerdict);
          dns.set(domain, p);
        }
        return p;
      };

      const flush = async () => {
        if (!batch.length || !imp) return;
        const rows = batch;
        batch = [];
        const keys = rows.flatMap((r) => (r.key ? [r.key] : []));
        const onList = await store.lists.existing(listId, [...new Set(keys)]);
        const suppressed = new Map<string, SuppressionRow[]>();
        for (const s of await store.suppressions.findForAddresses(tenantId, [...new Set(keys)])) {
          suppressed.set(s.address, [...(suppressed.get(s.address) ?? []), s]);
        }
        const checked = (r: Row) => !!r.key && !r.findings.some((f) => f.severity === 'error');
        const domains = [...new Set(rows.flatMap((r) => (checked(r) ? [r.domain!] : [])))];
        const verdicts = new Map<string, MxVerdict>();
        await pooled(domains, deps.dnsConcurrency, async (d) => {
          verdicts.set(d, await lookup(d));
        });
        const members: ListMemberRow[] = [];
        const found: ImportFindingRow[] = [];
        for (const r of rows) {
          if (checked(r)) {
            if (onList.has(r.key!)) r.findings.push({ kind: 'duplicate', severity: 'error', message: 'already on the list' });
            const v = verdicts.get(r.domain!);
            if (v) r.findings.push(...mxFindings(v, r.domain!));
            const sup = suppressed.get(r.key!);
            if (sup?.length) r.findings.push(suppressedFinding(sup));
          }
          for (const f of r.findings) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
          if (r.findings.length) found.push({ importId: imp.id, row: r.n, address: r.raw, findings: r.findings });
          if (r.key && !r.findings.some((f) => f.severity === 'error')) {
            members.push({ listId, address: r.key, fields: r.fields, importId: imp.id, createdAt: clock.now() });
          }
        }
        added += await store.lists.addMembers(members);
        await store.lists.addFindings(found);
      };

      const take = async (records: string[][]) => {
        for (const rec of records) {
          if (!header) {
            header = rec.map((h) => h.trim());
            emailAt = header.findIndex((h) => EMAIL_COLUMNS.has(normaliseColumn(h)));
            if (emailAt < 0) {
              throw new PostwardenError('VALIDATION_FAILED', 'The CSV has no email column.', {
                errors: [
                  { path: '/rows/0', message: `no column named email, Email Address, E-mail… (found: ${header.join(', ').slice(0, 200)})` },
                ],
              });
            }
            imp = { id: newId('imp', clock.now()), listId, tenantId, createdAt: clock.now(), rows: 0, added: 0, summary: {} };
            await store.lists.insertImport(imp);
            continue;
          }
          rowNo++;
          const raw = (rec[emailAt] ?? '').trim();
          const fields: Record<string, string> = {};
          header.forEach((h, i) => {
            if (i !== emailAt && h && i < 50) fields[h] = (rec[i] ?? '').slice(0, 1000);
          });
          const row: Row = { n: rowNo, raw, fields, findings: [] };
          const parsed = parseAddress(raw);
          if (!parsed.ok) row.findings.push({ kind: 'malformed', severity: 'error', message: `not an email address (${parsed.problem})` });
          else {
            const key = addressKey(parsed.mailbox.address);
            const at = key.lastIndexOf('@');
            row.key = key;
            row.local = key.slice(0, at);
            row.domain = key.slice(at + 1);
            if (seen.has(key)) row.findings.push({ kind: 'duplicate', severity: 'error', message: 'repeats an earlier row of this file' });
            else seen.add(key);
            const trap = trapPattern(row.local, row.domain);
            if (trap) row.findings.push({ kind: 'trap_pattern', severity: 'error', message: trap });
            const role = roleOf(row.local);
            if (role) row.findings.push({ kind: 'role_account', severity: 'warning', message: `${role}@ is a role account, not a person` });
            if (isDisposable(row.domain))
              row.findings.push({
                kind: 'disposable_domain',
                severity: 'warning',
                message: `${row.domain} hands out disposable addresses`,
              });
          }
          batch.push(row);
          if (batch.length >= deps.batchRows) await flush();
        }
      };

      for await (const chunk of body) {
        await take(reader.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })));
      }
      await take(reader.push(decoder.decode()));
      const last = reader.end();
      if (last.error) throw new PostwardenError('MALFORMED_REQUEST', `The CSV is not valid: ${last.error}.`);
      await take(last.records);
      if (!imp) {
        throw new PostwardenError('VALIDATION_FAILED', 'The CSV is empty.', {
          errors: [{ path: '/rows/0', message: 'the first line must name the columns' }],
        });
      }
      await flush();
      const summary = { counts };
      await store.lists.finishImport(imp.id, rowNo, added, summary);
      const done: ListImportRow = { ...imp, rows: rowNo, added, summary };
      const findings = await store.lists.findings(imp.id, 0, FIRST_FINDINGS + 1);
      return {
        import: done,
        counts,
        findings: findings.slice(0, FIRST_FINDINGS),
        nextAfterRow: findings.length > FIRST_FINDINGS ? findings[FIRST_FINDINGS - 1]!.row : null,
      };
    },

    async getImport(tenantId: string, importId: string): Promise<ListImportRow> {
      const i = await store.lists.getImport(tenantId, importId);
      if (!i) throw new PostwardenError('NOT_FOUND', `No import ${importId}.`);
      return i;
    },

    async findings(tenantId: string, importId: string, afterRow: number, limit: number) {
      await this.getImport(tenantId, importId);
      const rows = await store.lists.findings(importId, afterRow, limit + 1);
      return { data: rows.slice(0, limit), nextAfterRow: rows.length > limit ? rows[limit - 1]!.row : null };
    },

    /**
     * The drip-feed of a new import: throws RATE_LIMITED when this send would pass the list's budget
     * for the current window. Sends outside the drip phase, or naming a list without imports, pass.
     */
    async admitSend(tenantId: string, listId: string, recipients: number): Promise<void> {
      await get(tenantId, listId);
      const latest = await store.lists.latestImport(listId);
      const now = clock.now();
      if (!latest || now - latest.createdAt > deps.drip.phaseHours * 3_600_000) return;
      const windowMs = deps.drip.intervalMinutes * 60_000;
      const start = Math.floor(now / windowMs) * windowMs;
      const key = `list-drip:${listId}`;
      if ((await store.rateWindows.take(key, start, recipients, deps.drip.batchSize, start + windowMs)) !== null) return;
      const retryAfter = Math.ceil((start + windowMs - now) / 1000);
      throw new PostwardenError(
        'RATE_LIMITED',
        `list ${listId} was imported recently, so its sends are drip-fed: at most ${deps.drip.batchSize} recipients per ${deps.drip.intervalMinutes} minutes until ${new Date(latest.createdAt + deps.drip.phaseHours * 3_600_000).toISOString()}`,
        { retryAfter, limit: deps.drip.batchSize, list_id: listId },
      );
    },
  };
}

export type Lists = ReturnType<typeof createLists>;
