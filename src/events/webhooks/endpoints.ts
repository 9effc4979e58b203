import { type Actor, type AuditInput, type AuditRecorder, auditedChange, unattributed } from '../../audit/index.js';
import {
  type Clock,
  type EventType,
  isEventType,
  streams as knownStreams,
  newId,
  PostwardenError,
  type SpineEvent,
  validationError,
} from '../../core/index.js';
import type { Repositories, Store, WebhookAttemptRow, WebhookEndpointPatch, WebhookEndpointRow } from '../../store/index.js';
import type { FanOut } from './dispatcher.js';
import { type Poster, urlProblem } from './poster.js';
import { type SecretBox, type Sender, secretAad } from './sender.js';
import { generateSecret, signatureHeaders } from './signer.js';

/**
 * Managing a tenant's webhook endpoints: create (the secret is shown once and stored sealed),
 * read, update, delete, rotate the secret (the previous one keeps signing for a grace period),
 * send a test event, list attempts, and replay a window of events with their original ids.
 */
export interface EndpointInput {
  url: string;
  events?: string[] | undefined;
  streams?: string[] | undefined;
  domains?: string[] | undefined;
  description?: string | undefined;
  batchSize?: number | undefined;
}

export interface EndpointUpdate extends Partial<EndpointInput> {
  /** false re-enables a disabled endpoint; true disables it by hand. */
  disabled?: boolean | undefined;
}

export interface ReplayRequest {
  /** ISO time (inclusive) or a spine cursor (exclusive, as `after`). */
  from: string;
  /** ISO time (exclusive) or a spine cursor (inclusive). */
  to: string;
  types?: string[] | undefined;
  messageId?: string | undefined;
}

export interface EndpointsDeps {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  poster: Poster;
  sender: Pick<Sender, 'signingKeys' | 'forget'>;
  fanOut: Pick<FanOut, 'deliveriesFor'>;
  allowPrivateTargets: boolean;
  rotationGraceMs: number;
  maxBatchSize: number;
  retentionDays: number;
  /** Told when deliveries were queued (a replay), so the worker looks at once. */
  onQueued?: () => void;
  /** Create, update, delete and secret rotation are audited in the change's transaction (docs/governance.md). */
  audit?: AuditRecorder;
}

/** Most events one replay queues; a wider window is split into several replays. */
export const REPLAY_MAX_EVENTS = 100_000;

export function createWebhookEndpoints(deps: EndpointsDeps) {
  const { store, clock } = deps;

  function checkInput(i: Partial<EndpointInput>): void {
    const errors: { path: string; message: string }[] = [];
    if (i.url !== undefined) {
      const problem = urlProblem(i.url, deps.allowPrivateTargets);
      if (problem) errors.push({ path: '/url', message: problem });
    }
    i.events?.forEach((t, n) => {
      if (!isEventType(t)) errors.push({ path: `/events/${n}`, message: `is not an event type` });
    });
    i.streams?.forEach((s, n) => {
      if (!(knownStreams as readonly string[]).includes(s))
        errors.push({ path: `/streams/${n}`, message: `must be one of ${knownStreams.join(', ')}` });
    });
    if (i.batchSize !== undefined && (i.batchSize < 1 || i.batchSize > deps.maxBatchSize))
      errors.push({ path: '/batch_size', message: `must be between 1 and ${deps.maxBatchSize} (webhooks.maxBatchSize)` });
    if (errors.length) throw validationError(errors);
  }

  async function mustGet(tenantId: string, id: string): Promise<WebhookEndpointRow> {
    const e = await store.webhookEndpoints.get(id, tenantId);
    if (!e) throw new PostwardenError('NOT_FOUND', `webhook ${id} does not exist`, { id });
    return e;
  }

  const orNull = (l: string[] | undefined) => (l?.length ? l : null);

  const audited = <T>(fn: (tx: Repositories) => Promise<T>, entry: (result: T) => AuditInput | undefined): Promise<T> =>
    auditedChange(deps.audit, store, fn, entry);

  return {
    async create(
      tenantId: string,
      input: EndpointInput,
      actor: Actor = unattributed,
    ): Promise<{ endpoint: WebhookEndpointRow; secret: string }> {
      checkInput(input);
      const now = clock.now();
      const id = newId('wh', now);
      const secret = generateSecret();
      const endpoint: WebhookEndpointRow = {
        id,
        tenantId,
        url: input.url,
        description: input.description ?? '',
        eventTypes: orNull(input.events),
        streams: orNull(input.streams),
        domains: orNull(input.domains?.map((d) => d.toLowerCase())),
        batchSize: input.batchSize ?? 1,
        secretSealed: deps.secrets.seal(secret, secretAad(id)),
        previousSecretSealed: null,
        previousSecretExpiresAt: null,
        state: 'enabled',
        disabledReason: null,
        disabledAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await audited(
        (tx) => tx.webhookEndpoints.insert(endpoint),
        () => ({
          actor,
          tenantId,
          action: 'webhook_endpoint.created',
          resource: { type: 'webhook_endpoint', id },
          after: auditFacts(endpoint),
        }),
      );
      return { endpoint, secret };
    },

    list: (tenantId: string) => store.webhookEndpoints.list(tenantId),
    get: mustGet,

    async update(tenantId: string, id: string, u: EndpointUpdate, actor: Actor = unattributed): Promise<WebhookEndpointRow> {
      checkInput(u);
      const current = await mustGet(tenantId, id);
      const now = clock.now();
      const patch: WebhookEndpointPatch = {};
      if (u.url !== undefined) patch.url = u.url;
      if (u.description !== undefined) patch.description = u.description;
      if (u.events !== undefined) patch.eventTypes = orNull(u.events);
      if (u.streams !== undefined) patch.streams = orNull(u.streams);
      if (u.domains !== undefined) patch.domains = orNull(u.domains.map((d) => d.toLowerCase()));
      if (u.batchSize !== undefined) patch.batchSize = u.batchSize;
      if (u.disabled === false && current.state === 'disabled')
        Object.assign(patch, { state: 'enabled', disabledReason: null, disabledAt: null });
      const updated = await audited(
        async (tx) => {
          await tx.webhookEndpoints.update(id, patch, now);
          if (u.disabled === true && current.state === 'enabled') {
            await tx.webhookEndpoints.disable(id, 'disabled by request', now);
            await tx.webhookDeliveries.killOpen(id, now);
          }
          return tx.webhookEndpoints.get(id, tenantId);
        },
        (after) => {
          const [b, a] = [auditFacts(current), after ? auditFacts(after) : null];
          // Nothing changed (an empty PATCH): nothing to record.
          if (JSON.stringify(b) === JSON.stringify(a)) return undefined;
          return { actor, tenantId, action: 'webhook_endpoint.updated', resource: { type: 'webhook_endpoint', id }, before: b, after: a };
        },
      );
      deps.sender.forget(id);
      if (!updated) throw new PostwardenError('NOT_FOUND', `webhook ${id} does not exist`, { id });
      return updated;
    },

    async remove(tenantId: string, id: string, actor: Actor = unattributed): Promise<void> {
      const current = await mustGet(tenantId, id);
      await audited(
        async (tx) => {
          await tx.webhookDeliveries.killOpen(id, clock.now());
          await tx.webhookEndpoints.delete(id);
        },
        () => ({
          actor,
          tenantId,
          action: 'webhook_endpoint.deleted',
          resource: { type: 'webhook_endpoint', id },
          before: auditFacts(current),
        }),
      );
      deps.sender.forget(id);
    },

    /**
     * A new secret signs from now on; the previous one too for `graceMs` (default
     * webhooks.rotationGraceHours). A credential compromise rotates with no grace: 0 means the
     * previous secret stops signing at once.
     */
    async rotateSecret(
      tenantId: string,
      id: string,
      actor: Actor = unattributed,
      opts: { graceMs?: number } = {},
    ): Promise<{ endpoint: WebhookEndpointRow; secret: string; previousExpiresAt: number }> {
      const current = await mustGet(tenantId, id);
      const now = clock.now();
      const secret = generateSecret();
      const previousExpiresAt = now + Math.max(0, opts.graceMs ?? deps.rotationGraceMs);
      // The entry says that and until when the previous secret signs, never a secret (new, previous,
      // sealed or not); the member is not named like a secret, which redact.ts would blank.
      await audited(
        (tx) =>
          tx.webhookEndpoints.update(
            id,
            {
              secretSealed: deps.secrets.seal(secret, secretAad(id)),
              previousSecretSealed: current.secretSealed,
              previousSecretExpiresAt: previousExpiresAt,
            },
            now,
          ),
        () => ({
          actor,
          tenantId,
          action: 'webhook_endpoint.secret_rotated',
          resource: { type: 'webhook_endpoint', id },
          before: { previous_signs_until: iso(current.previousSecretExpiresAt) },
          after: { previous_signs_until: iso(previousExpiresAt) },
        }),
      );
      deps.sender.forget(id);
      return { endpoint: await mustGet(tenantId, id), secret, previousExpiresAt };
    },

    /** POSTs a `webhook.test` event to the endpoint now, signed as any other, and records the attempt. */
    async test(tenantId: string, id: string): Promise<WebhookAttemptRow> {
      const endpoint = await mustGet(tenantId, id);
      const now = clock.now();
      const event = {
        id: newId('evt', now),
        type: 'webhook.test',
        timestamp: new Date(now).toISOString(),
        cursor: null,
        message_id: null,
        recipient_id: null,
        seq: 0,
        at: new Date(now).toISOString(),
        data: { webhook_id: id, message: 'A test event from Postwarden; nothing happened.' },
      };
      const body = JSON.stringify(endpoint.batchSize > 1 ? [event] : event);
      const headers = signatureHeaders(deps.sender.signingKeys(endpoint), event.id, Math.floor(now / 1000), body);
      const r = await deps.poster.post(endpoint.url, headers, body);
      const attempt: WebhookAttemptRow = {
        id: newId('wha', clock.now()),
        endpointId: id,
        eventIds: [event.id],
        attempt: 1,
        at: clock.now(),
        outcome: r.ok ? 'succeeded' : 'failed',
        status: r.status,
        latencyMs: r.latencyMs,
        error: r.error,
        responseExcerpt: r.excerpt,
      };
      await store.webhookDeliveries.insertAttempts([attempt]);
      return attempt;
    },

    async attempts(tenantId: string, id: string, opts: { before?: string | undefined; limit: number }) {
      await mustGet(tenantId, id);
      const data = await store.webhookDeliveries.listAttempts(id, { limit: opts.limit, ...(opts.before ? { before: opts.before } : {}) });
      return { data, nextCursor: data.length === opts.limit ? data[data.length - 1]!.id : null };
    },

    /**
     * Queues the tenant's events in the window again for this endpoint (its own filters apply too),
     * with their original ids. Events older than `events.retentionDays` cannot be asked for.
     */
    async replay(tenantId: string, id: string, r: ReplayRequest): Promise<{ replayId: string; queued: number }> {
      const endpoint = await mustGet(tenantId, id);
      if (endpoint.state !== 'enabled')
        throw validationError([{ path: '/', message: 'the endpoint is disabled; enable it first (PATCH {"disabled": false})' }]);
      const types = r.types ?? [];
      const bad = types.flatMap((t, n) => (isEventType(t) ? [] : [{ path: `/types/${n}`, message: 'is not an event type' }]));
      const from = bound(r.from, '/from');
      const to = bound(r.to, '/to');
      const errors = [...bad, ...from.errors, ...to.errors];
      const now = clock.now();
      const oldest = now - deps.retentionDays * 86_400_000;
      if (from.at !== undefined && from.at < oldest)
        errors.push({ path: '/from', message: `is older than the events retained (events.retentionDays = ${deps.retentionDays})` });
      if (errors.length) throw validationError(errors);
      const replayId = `replay_${newId('whd', now).slice(4)}`;
      let queued = 0;
      let page: number | undefined;
      for (;;) {
        const events: SpineEvent[] = await store.webhookDeliveries.eventsForReplay({
          tenantId,
          ...(from.at !== undefined ? { fromAt: from.at } : { afterCursor: from.cursor! }),
          ...(to.at !== undefined ? { toAt: to.at } : { toCursor: to.cursor! }),
          ...(types.length ? { types: types as EventType[] } : {}),
          ...(r.messageId ? { messageId: r.messageId } : {}),
          ...(page !== undefined ? { afterPage: page } : {}),
          limit: 1000,
        });
        if (!events.length) break;
        const rows = await deps.fanOut.deliveriesFor(events, [endpoint], replayId);
        await store.webhookDeliveries.insertMany(rows, clock.now());
        queued += rows.length;
        page = Number(events[events.length - 1]!.cursor);
        if (events.length < 1000 || queued >= REPLAY_MAX_EVENTS) break;
      }
      if (queued) deps.onQueued?.();
      return { replayId, queued };
    },
  };
}

export type WebhookEndpoints = ReturnType<typeof createWebhookEndpoints>;

/**
 * What the audit log keeps of an endpoint: its settings, never a secret. The URL loses its userinfo
 * and its query string, where receivers commonly put credentials (`?token=…`).
 */
function auditFacts(e: WebhookEndpointRow) {
  return {
    url: urlForAudit(e.url),
    description: e.description,
    events: e.eventTypes,
    streams: e.streams,
    domains: e.domains,
    batch_size: e.batchSize,
    state: e.state,
  };
}

function urlForAudit(raw: string): string {
  try {
    const u = new URL(raw);
    const query = u.search ? '?[redacted]' : '';
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return `${u.toString()}${query}`;
  } catch {
    return '[unparsable]';
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A replay bound: digits are a spine cursor, anything else an ISO time. */
function bound(v: string, path: string): { at?: number; cursor?: number; errors: { path: string; message: string }[] } {
  if (/^\d+$/.test(v)) return { cursor: Number(v), errors: [] };
  const at = Date.parse(v);
  if (Number.isNaN(at)) return { errors: [{ path, message: 'must be an ISO 8601 time or a cursor' }] };
  return { at, errors: [] };
}
