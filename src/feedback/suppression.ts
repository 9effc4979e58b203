import type { Actor, AuditRecorder } from '../audit/index.js';
import {
  addressKey,
  type Clock,
  type FieldError,
  isSuppressionReason,
  isSuppressionScope,
  newId,
  normaliseDomain,
  PostwardenError,
  parseAddress,
  type Stream,
  type SuppressionReason,
  type SuppressionScope,
  streams,
  suppressionApplies,
  validationError,
} from '../core/index.js';
import type { Repositories, Store, SuppressionChangeRow, SuppressionFilter, SuppressionRow } from '../store/index.js';

/**
 * Suppression, sacred: a suppressed address is never sent to (accept enforces the list inside its
 * commit), and no entry is ever lost silently.
 *
 * - Adding is idempotent: the first entry at a place (owner, scope, domain, stream, address) stays
 *   with its reason and time; a later add is recorded in the history as `repeat`, nothing else.
 * - Every add, repeat, removal and import is written to `suppression_changes` in the same
 *   transaction as the change, with who made it (an API key id, 'cli', 'system', 'unsubscribe' or
 *   the event id behind an automatic suppression) and the entry before and after.
 * - Imports are all-or-nothing: every row is validated first, every error is reported with its
 *   row, and a dry run does the whole import in a transaction that is then rolled back.
 *
 * A list belongs to an owner: a tenant (its tenant and identity entries) or the operator (null:
 * the global entries). There is no expiry: an entry lasts until someone removes it, on the record.
 */
export type SuppressionEntry = SuppressionRow;
export type SuppressionChange = SuppressionChangeRow;

/** What the inbound-feedback path (bounces, complaints) and the unsubscribe endpoint call. */
export interface SuppressInput {
  /** The tenant whose mail produced the feedback; null with scope global. */
  tenantId: string | null;
  address: string;
  reason: SuppressionReason;
  /** The event that caused it (recipient.bounced, a complaint…); kept as the entry's source. */
  sourceEventId?: string;
  /** Free-form source when there is no event (an API key id, an import batch). */
  source?: string;
  /** Identity scope: the sending domain and/or stream. */
  domain?: string;
  stream?: Stream;
  /** Default: identity when a domain or stream is given, otherwise tenant (global when tenantId is null). */
  scope?: SuppressionScope;
  /** Who asks; default the source event id, else 'system'. */
  actor?: string;
}

export type SuppressOutcome = { suppressed: true; created: boolean; entry: SuppressionEntry } | { suppressed: false; skipped: 'policy' };

/** A row of an import or a multi-add, before validation (JSON or parsed CSV). */
export interface EntryInput {
  address?: unknown;
  scope?: unknown;
  domain?: unknown;
  stream?: unknown;
  reason?: unknown;
  source?: unknown;
  created_at?: unknown;
  id?: unknown;
}

export interface SuppressionPolicy {
  hardBounce: boolean;
  complaint: boolean;
}

type Owner = string | null;
type Deps = {
  store: Pick<Store, 'suppressions' | 'transaction'>;
  clock: Clock;
  /** Records manual adds, removals and imports (docs/governance.md), in their transaction. */
  audit?: AuditRecorder;
};

/** What the audit log keeps of an entry. */
const entryFacts = (e: SuppressionEntry) => ({
  id: e.id,
  address: e.address,
  scope: e.scope,
  domain: e.domain,
  stream: e.stream,
  reason: e.reason,
});

class RollBack extends Error {}

export function createSuppressions({ store, clock, audit }: Deps) {
  /** Validates one row into an entry of `owner`'s list; errors are pushed with `path` prefixed. */
  function entryOf(
    owner: Owner,
    input: EntryInput,
    path: string,
    defaults: { reason: SuppressionReason; source: string },
    errors: FieldError[],
  ) {
    const before = errors.length;
    const bad = (field: string, message: string) => errors.push({ path: `${path}/${field}`, message });
    let address = '';
    if (typeof input.address !== 'string' || !input.address.trim()) bad('address', 'is required');
    else {
      const parsed = parseAddress(input.address.trim());
      if (!parsed.ok) bad('address', 'is not a valid email address');
      else address = addressKey(parsed.mailbox.address);
    }
    const domainIn = input.domain === undefined || input.domain === null || input.domain === '' ? null : input.domain;
    const streamIn = input.stream === undefined || input.stream === null || input.stream === '' ? null : input.stream;
    let domain: string | null = null;
    if (domainIn !== null) {
      domain = typeof domainIn === 'string' ? normaliseDomain(domainIn) : null;
      if (!domain) bad('domain', 'is not a domain name');
    }
    let stream: Stream | null = null;
    if (streamIn !== null) {
      if (typeof streamIn === 'string' && (streams as readonly string[]).includes(streamIn)) stream = streamIn as Stream;
      else bad('stream', `must be one of ${streams.join(', ')}`);
    }
    const scopeDefault: SuppressionScope = owner === null ? 'global' : domainIn !== null || streamIn !== null ? 'identity' : 'tenant';
    let scope: SuppressionScope = scopeDefault;
    if (input.scope !== undefined && input.scope !== null && input.scope !== '') {
      if (typeof input.scope !== 'string' || !isSuppressionScope(input.scope)) bad('scope', 'must be one of global, tenant, identity');
      else scope = input.scope;
    }
    if (owner === null && scope !== 'global') bad('scope', 'the operator list holds global entries only');
    if (owner !== null && scope === 'global')
      bad('scope', 'global entries are the operator’s: add them with the CLI (postwarden suppressions add --global)');
    if (scope === 'identity' && domainIn === null && streamIn === null) bad('scope', 'identity scope needs a domain, a stream or both');
    if (scope !== 'identity' && (domainIn !== null || streamIn !== null)) bad('scope', 'only identity scope takes a domain or stream');
    let reason: SuppressionReason = defaults.reason;
    if (input.reason !== undefined && input.reason !== null && input.reason !== '') {
      if (typeof input.reason !== 'string' || !isSuppressionReason(input.reason))
        bad('reason', 'must be one of hard_bounce, complaint, unsubscribe, manual, import');
      else reason = input.reason;
    }
    let source = defaults.source;
    if (input.source !== undefined && input.source !== null && input.source !== '') {
      if (typeof input.source !== 'string' || input.source.length > 500) bad('source', 'must be a string of at most 500 characters');
      else source = input.source;
    }
    let createdAt = clock.now();
    if (input.created_at !== undefined && input.created_at !== null && input.created_at !== '') {
      const t = typeof input.created_at === 'string' ? Date.parse(input.created_at) : Number.NaN;
      if (!Number.isFinite(t)) bad('created_at', 'must be an ISO 8601 time');
      else createdAt = t;
    }
    let id = newId('sup', clock.now());
    if (input.id !== undefined && input.id !== null && input.id !== '') {
      if (typeof input.id !== 'string' || !/^sup_[0-9A-HJKMNP-TV-Z]{26}$/.test(input.id)) bad('id', 'must be a sup_ id');
      else id = input.id;
    }
    if (errors.length > before) return undefined;
    const entry: SuppressionEntry = {
      id,
      tenantId: scope === 'global' ? null : owner,
      scope,
      domain: scope === 'identity' ? domain : null,
      stream: scope === 'identity' ? stream : null,
      address,
      reason,
      source,
      createdAt,
    };
    return entry;
  }

  /** Adds one entry in `tx` with its history row; the existing entry wins when there is one. */
  async function addIn(tx: Repositories, entry: SuppressionEntry, actor: string, action: 'add' | 'import') {
    const now = clock.now();
    const change = (a: SuppressionChange['action'], before: SuppressionEntry | null, after: SuppressionEntry) =>
      tx.suppressions.appendChange({
        id: newId('aud', now),
        tenantId: entry.tenantId,
        address: entry.address,
        action: a,
        actor,
        reason: entry.reason,
        source: entry.source,
        before,
        after,
        at: now,
      });
    let existing = await tx.suppressions.findAt(entry);
    if (!existing) {
      // An id given by an import that another entry (at another place) holds: refuse, lose neither.
      if (await tx.suppressions.get(entry.id))
        throw validationError([{ path: '/id', message: `${entry.id} is already the id of another entry` }]);
      if (await tx.suppressions.add(entry)) {
        await change(action, null, entry);
        return { created: true, entry };
      }
      existing = await tx.suppressions.findAt(entry); // a concurrent add won the race
      if (!existing) throw new PostwardenError('INTERNAL', `suppression of ${entry.address} was neither added nor found`);
    }
    await change('repeat', existing, existing);
    return { created: false, entry: existing };
  }

  async function removeIn(tx: Repositories, entry: SuppressionEntry, actor: string) {
    if (!(await tx.suppressions.remove(entry.id))) return false;
    const now = clock.now();
    await tx.suppressions.appendChange({
      id: newId('aud', now),
      tenantId: entry.tenantId,
      address: entry.address,
      action: 'remove',
      actor,
      reason: entry.reason,
      source: entry.source,
      before: entry,
      after: null,
      at: now,
    });
    return true;
  }

  function checkOrThrow(errors: FieldError[]): void {
    if (errors.length) throw validationError(errors);
  }

  return {
    /**
     * Suppresses one address because of feedback. Hard bounces and complaints follow the tenant's
     * policy (both on unless the tenant turned them off); other reasons always suppress.
     */
    async suppress(input: SuppressInput, inTx?: Repositories): Promise<SuppressOutcome> {
      if (input.tenantId !== null && (input.reason === 'hard_bounce' || input.reason === 'complaint')) {
        const policy = await (inTx ?? store).suppressions.policy(input.tenantId);
        if (!policy) throw new PostwardenError('NOT_FOUND', `tenant ${input.tenantId} does not exist`, { id: input.tenantId });
        if (!(input.reason === 'hard_bounce' ? policy.hardBounce : policy.complaint)) return { suppressed: false, skipped: 'policy' };
      }
      const errors: FieldError[] = [];
      const source = input.sourceEventId ?? input.source ?? 'system';
      // A global entry belongs to the operator's list whichever tenant's feedback raised it.
      const entry = entryOf(
        input.scope === 'global' ? null : input.tenantId,
        { address: input.address, scope: input.scope, domain: input.domain, stream: input.stream, reason: input.reason, source },
        '',
        { reason: input.reason, source },
        errors,
      );
      checkOrThrow(errors);
      const actor = input.actor ?? input.sourceEventId ?? 'system';
      const r = inTx ? await addIn(inTx, entry!, actor, 'add') : await store.transaction((tx) => addIn(tx, entry!, actor, 'add'));
      return { suppressed: true, ...r };
    },

    /** Adds entries (API, CLI): all validated first, then all added in one transaction. */
    async add(owner: Owner, inputs: EntryInput[], actor: string, who?: Actor) {
      const errors: FieldError[] = [];
      const entries = inputs.map((x, i) =>
        entryOf(owner, x, inputs.length === 1 ? '' : `/${i}`, { reason: 'manual', source: actor }, errors),
      );
      checkOrThrow(errors);
      return store.transaction(async (tx) => {
        const out: { created: boolean; entry: SuppressionEntry }[] = [];
        for (const e of entries) out.push(await addIn(tx, e!, actor, 'add'));
        if (audit && who) {
          await audit.log.append(tx, {
            actor: who,
            tenantId: owner,
            action: 'suppression.added',
            resource: { type: 'suppression', id: out.length === 1 ? out[0]!.entry.id : null },
            after: { entries: out.map((o) => ({ ...entryFacts(o.entry), created: o.created })) },
          });
        }
        return out;
      });
    },

    /**
     * Removes `address` from `owner`'s list: every scope, or only `scope` (and for identity, only
     * the entries for `domain`/`stream` when given). Throws NOT_FOUND when nothing matched.
     */
    async unsuppress(
      owner: Owner,
      address: string,
      where: { scope?: SuppressionScope; domain?: string; stream?: Stream },
      actor: string,
      who?: Actor,
    ) {
      const key = addressKey(address.trim());
      const domain = where.domain ? normaliseDomain(where.domain) : undefined;
      // A domain that does not normalise must not become "no domain filter" (null would match
      // every tenant-scope entry and remove it).
      if (domain === null) throw validationError([{ path: '/query/domain', message: 'is not a domain name' }]);
      return store.transaction(async (tx) => {
        const rows = (await tx.suppressions.list(owner, { address: key })).filter(
          (e) =>
            (where.scope === undefined || e.scope === where.scope) &&
            (domain === undefined || e.domain === domain) &&
            (where.stream === undefined || e.stream === where.stream),
        );
        if (!rows.length)
          throw new PostwardenError('NOT_FOUND', `${key} is not suppressed${where.scope ? ` at scope ${where.scope}` : ''}`, {
            address: key,
          });
        for (const e of rows) await removeIn(tx, e, actor);
        if (audit && who) {
          await audit.log.append(tx, {
            actor: who,
            tenantId: owner,
            action: 'suppression.removed',
            resource: { type: 'suppression', id: rows.length === 1 ? rows[0]!.id : null },
            before: { entries: rows.map(entryFacts) },
          });
        }
        return rows;
      });
    },

    /** A page of `owner`'s list, oldest first; pass nextCursor back as `after`. */
    async list(owner: Owner, f: SuppressionFilter & { limit: number }) {
      const filter = { ...f, ...(f.address !== undefined ? { address: addressKey(f.address.trim()) } : {}), limit: f.limit + 1 };
      const rows = await store.suppressions.list(owner, filter);
      const data = rows.slice(0, f.limit);
      return { data, nextCursor: rows.length > f.limit ? data[data.length - 1]!.id : null };
    },

    /**
     * The entries that stop mail from `tenantId` to `address`: all of them, or only those that apply
     * to a message from `message.fromDomain` on `message.stream`.
     */
    async check(tenantId: string, address: string, message?: { fromDomain: string; stream: Stream }) {
      const rows = await store.suppressions.findForAddresses(tenantId, [addressKey(address.trim())]);
      return message ? rows.filter((e) => suppressionApplies(e, message)) : rows;
    },

    /** Every entry of `owner`'s list, oldest first: the input `import` restores exactly. */
    export: (owner: Owner) => store.suppressions.list(owner),

    /**
     * Imports rows all-or-nothing. A row whose place already holds an entry keeps that entry (a
     * `repeat` in the history). With dryRun nothing is kept, and the answer says what would happen.
     */
    async import(
      owner: Owner,
      inputs: EntryInput[],
      opts: { dryRun: boolean; actor: string; pathOf?: (i: number) => string; who?: Actor },
    ) {
      const batch = newId('sup', clock.now()).replace(/^sup_/, 'imp_');
      const errors: FieldError[] = [];
      const pathOf = opts.pathOf ?? ((i: number) => `/${i}`);
      const entries = inputs.map((x, i) => entryOf(owner, x, pathOf(i), { reason: 'import', source: `import:${batch}` }, errors));
      const seen = new Map<string, number>();
      entries.forEach((e, i) => {
        if (!e) return;
        const k = [e.scope, e.domain, e.stream, e.address].join('|');
        const first = seen.get(k);
        if (first !== undefined) errors.push({ path: `${pathOf(i)}/address`, message: `repeats the entry of ${pathOf(first)}` });
        else seen.set(k, i);
      });
      checkOrThrow(errors);
      const summary = { batch, dryRun: opts.dryRun, rows: entries.length, added: 0, existing: 0 };
      try {
        await store.transaction(async (tx) => {
          for (const [i, e] of entries.entries()) {
            try {
              const r = await addIn(tx, e!, opts.actor, 'import');
              summary[r.created ? 'added' : 'existing'] += 1;
            } catch (err) {
              if (err instanceof PostwardenError && err.code === 'VALIDATION_FAILED') {
                throw validationError([{ path: `${pathOf(i)}/id`, message: `${e!.id} is already the id of another entry` }]);
              }
              throw err;
            }
          }
          // A dry run rolls back, its entry with it: nothing changed, nothing to record.
          if (audit && opts.who) {
            await audit.log.append(tx, {
              actor: opts.who,
              tenantId: owner,
              action: 'suppression.imported',
              resource: { type: 'suppression_import', id: batch },
              after: { rows: summary.rows, added: summary.added, existing: summary.existing },
            });
          }
          if (opts.dryRun) throw new RollBack();
        });
      } catch (err) {
        if (!(err instanceof RollBack)) throw err;
      }
      return summary;
    },

    /** The audit trail of `owner`'s list, oldest first. */
    async history(owner: Owner, f: { address?: string; after?: string; limit: number }) {
      if (f.after !== undefined && !/^\d+$/.test(f.after))
        throw validationError([{ path: '/query/after', message: 'must be a cursor returned by this API' }]);
      const rows = await store.suppressions.changes(owner, {
        ...(f.address !== undefined ? { address: addressKey(f.address.trim()) } : {}),
        ...(f.after !== undefined ? { after: Number(f.after) } : {}),
        limit: f.limit + 1,
      });
      const data = rows.slice(0, f.limit);
      return { data, nextCursor: rows.length > f.limit ? String(data[data.length - 1]!.seq) : null };
    },

    async policy(tenantId: string): Promise<SuppressionPolicy> {
      const p = await store.suppressions.policy(tenantId);
      if (!p) throw new PostwardenError('NOT_FOUND', `tenant ${tenantId} does not exist`, { id: tenantId });
      return p;
    },
    /**
     * Changes the automatic suppression policy, recorded as `suppression_policy.updated` (as the API
     * shows it) in the same transaction; a patch that changes nothing writes and records nothing.
     */
    async setPolicy(tenantId: string, patch: Partial<SuppressionPolicy>, who?: Actor): Promise<SuppressionPolicy> {
      const json = (p: SuppressionPolicy) => ({ suppress_on: { hard_bounce: p.hardBounce, complaint: p.complaint } });
      return store.transaction(async (tx) => {
        const before = await tx.suppressions.policy(tenantId);
        if (!before) throw new PostwardenError('NOT_FOUND', `tenant ${tenantId} does not exist`, { id: tenantId });
        const after: SuppressionPolicy = { ...before, ...patch };
        if (after.hardBounce === before.hardBounce && after.complaint === before.complaint) return before;
        await tx.suppressions.setPolicy(tenantId, patch);
        if (audit && who) {
          await audit.log.append(tx, {
            actor: who,
            tenantId,
            action: 'suppression_policy.updated',
            resource: { type: 'suppression_policy', id: tenantId },
            before: json(before),
            after: json(after),
          });
        }
        return after;
      });
    },
  };
}

export type Suppressions = ReturnType<typeof createSuppressions>;
