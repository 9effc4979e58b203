import type { Actor } from '../audit/index.js';
import { type Clock, isoTime, PostwardenError, validationError } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { Incident, Incidents, OpenIncident } from './incidents.js';

/**
 * Credential compromise: one action that does, in order,
 *
 *   1. stop the credential: an API key is revoked (it is also the key's SMTP credential: submission
 *      authenticates with API keys, src/smtp/submission.ts), or every session of a user ends and
 *      their password and TOTP are cleared until a new password is set;
 *   2. rotate the tenant's webhook endpoint secrets with no grace by default (a credential with
 *      webhooks:write could have rotated or created an endpoint and so learnt a secret);
 *   3. list what the credential sent in a window: the `message.accepted` events whose `api_key` is
 *      the key (or, for mail sent in a session, the user id), with their message ids;
 *   4. open an incident of kind `credential_compromise` linked to the key or user and those
 *      messages, whose timeline says what steps 1 to 3 did.
 *
 * Each change commits with its own audit entry (api_key.revoked or user.sign_in_revoked,
 * webhook_endpoint.secret_rotated per endpoint, incident.opened) before the next begins, so a
 * failure part-way leaves the credential stopped first and what was done recorded. Who may ask is
 * the edge's concern (compliance:write, and keys:write or users:write, and webhooks:write).
 */
export type CompromiseTarget = { keyId: string } | { userId: string } | { email: string };

export interface CompromiseRequest {
  target: CompromiseTarget;
  /** Why (timeline and incident description). */
  reason?: string | undefined;
  severity?: OpenIncident['severity'] | undefined;
  /** Notification clocks of the incident (`gdpr`, `hipaa`, custom); none by default. */
  clocks?: OpenIncident['clocks'] | undefined;
  /** The window of what the credential sent; default the 30 days up to now. */
  since?: number | undefined;
  until?: number | undefined;
  /** Rotate the webhook secrets (default true), with this grace for the previous ones (default 0). */
  rotateWebhooks?: boolean | undefined;
  webhookGraceMs?: number | undefined;
}

/** What the credential sent in the window: every message counted, at most MAX_LISTED ids listed. */
export interface SentByCredential {
  since: number;
  until: number;
  messages: number;
  recipients: number;
  messageIds: string[];
  truncated: boolean;
}

export interface CompromiseResult {
  incident: Incident;
  target: { kind: 'api_key' | 'user'; id: string; label: string };
  /** What stopped: the key (or that it was revoked already), or the user's sessions and sign-in. */
  revoked: { apiKey: { id: string; alreadyRevokedAt: number | null } | null; user: { id: string; sessions: number } | null };
  /** The new secrets, shown in this answer only (as POST /v1/webhooks/{id}/rotate-secret does). */
  webhooks: { id: string; secret: string; previousExpiresAt: number }[];
  sent: SentByCredential;
}

/** `Who` is the edge's caller (actor and what the users service needs for its owner rule). */
export interface CredentialCompromiseDeps<Who extends { actor: Actor }> {
  store: Pick<Store, 'events' | 'apiKeys' | 'users'>;
  clock: Clock;
  incidents: Pick<Incidents, 'open' | 'checkClocks'>;
  revokeKey(tenantId: string, keyId: string, who: Who): Promise<void>;
  revokeSignIn(tenantId: string, userId: string, who: Who): Promise<{ sessions: number }>;
  webhooks: {
    list(tenantId: string): Promise<{ id: string }[]>;
    rotate(tenantId: string, id: string, who: Who, graceMs: number): Promise<{ secret: string; previousExpiresAt: number }>;
  };
}

const DAY = 86_400_000;
/** Message ids listed (and linked to the incident); the count covers every message. */
export const MAX_LISTED = 1000;
/** Events of the window read at most; past it the listing says it is truncated. */
const MAX_SCANNED = 500_000;
const PAGE = 1000;

export function createCredentialCompromise<Who extends { actor: Actor }>(deps: CredentialCompromiseDeps<Who>) {
  const { store, clock } = deps;

  async function resolve(tenantId: string, t: CompromiseTarget) {
    if ('keyId' in t) {
      const key = (await store.apiKeys.list(tenantId)).find((k) => k.id === t.keyId);
      if (!key) throw new PostwardenError('NOT_FOUND', `key ${t.keyId} does not exist`, { id: t.keyId });
      return { kind: 'api_key' as const, id: key.id, label: `API key ${key.id} (${key.name})`, revokedAt: key.revokedAt };
    }
    const user = 'userId' in t ? await store.users.get(t.userId) : await store.users.findByEmail(t.email.trim().toLowerCase());
    if (!user || user.tenantId !== tenantId) {
      const named = 'userId' in t ? t.userId : t.email;
      throw new PostwardenError('NOT_FOUND', `user ${named} does not exist`, { id: named });
    }
    return { kind: 'user' as const, id: user.id, label: `user ${user.email}`, revokedAt: null };
  }

  /** The `message.accepted` events of the window sent with `credentialId`, page by page. */
  async function sentBy(tenantId: string, credentialId: string, since: number, until: number): Promise<SentByCredential> {
    const out: SentByCredential = { since, until, messages: 0, recipients: 0, messageIds: [], truncated: false };
    let after: number | undefined;
    for (let scanned = 0; ; scanned += PAGE) {
      if (scanned >= MAX_SCANNED) {
        out.truncated = true;
        break;
      }
      const page = await store.events.page({ tenantId, types: ['message.accepted'], since, before: until, limit: PAGE, after });
      for (const e of page) {
        if (e.data.api_key !== credentialId || !e.messageId) continue;
        out.messages++;
        out.recipients += Number(e.data.recipients ?? 0);
        if (out.messageIds.length < MAX_LISTED) out.messageIds.push(e.messageId);
        else out.truncated = true;
      }
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1]!.cursor);
    }
    return out;
  }

  async function respond(tenantId: string, r: CompromiseRequest, who: Who): Promise<CompromiseResult> {
    // Exclusive: by default one millisecond past now, so what was accepted this very millisecond counts.
    const until = r.until ?? clock.now() + 1;
    const since = r.since ?? until - 30 * DAY;
    if (since >= until) throw validationError([{ path: '/since', message: 'must be before until' }]);
    // Everything that can refuse the request is checked before the first change.
    deps.incidents.checkClocks(r.clocks ?? []);
    const target = await resolve(tenantId, r.target);
    const timeline: string[] = [];

    // 1. Stop the credential.
    let apiKey: CompromiseResult['revoked']['apiKey'] = null;
    let user: CompromiseResult['revoked']['user'] = null;
    if (target.kind === 'api_key') {
      if (target.revokedAt === null) await deps.revokeKey(tenantId, target.id, who);
      apiKey = { id: target.id, alreadyRevokedAt: target.revokedAt };
      timeline.push(
        target.revokedAt === null
          ? `${target.label} revoked: the API and SMTP submission refuse it from now on`
          : `${target.label} was already revoked at ${isoTime(target.revokedAt)}`,
      );
    } else {
      const { sessions } = await deps.revokeSignIn(tenantId, target.id, who);
      user = { id: target.id, sessions };
      timeline.push(`${target.label}: ${sessions} session(s) ended; password and TOTP cleared until a new password is set`);
    }

    // 2. Rotate the webhook secrets.
    const webhooks: CompromiseResult['webhooks'] = [];
    if (r.rotateWebhooks ?? true) {
      const grace = Math.max(0, r.webhookGraceMs ?? 0);
      for (const e of await deps.webhooks.list(tenantId)) {
        const rotated = await deps.webhooks.rotate(tenantId, e.id, who, grace);
        webhooks.push({ id: e.id, secret: rotated.secret, previousExpiresAt: rotated.previousExpiresAt });
      }
      timeline.push(
        webhooks.length
          ? `webhook secrets rotated: ${webhooks.map((w) => w.id).join(', ')}; the previous ones ${grace ? `sign until ${isoTime(clock.now() + grace)}` : 'no longer sign'}`
          : 'no webhook endpoint to rotate',
      );
    }

    // 3. What it sent.
    const sent = await sentBy(tenantId, target.id, since, until);
    timeline.push(
      `sent with it between ${isoTime(since)} and ${isoTime(until)}: ${sent.messages} message(s) to ${sent.recipients} recipient(s)` +
        (sent.truncated ? `; the first ${sent.messageIds.length} are linked (the listing is truncated)` : '; all are linked'),
    );

    // 4. The incident.
    const incident = await deps.incidents.open(
      tenantId,
      {
        kind: 'credential_compromise',
        severity: r.severity ?? 'high',
        title: `Credential compromise: ${target.label}`,
        ...(r.reason ? { description: r.reason } : {}),
        openedBy: who.actor.id,
        clocks: r.clocks ?? [],
        links: { messages: sent.messageIds, ...(target.kind === 'api_key' ? { keys: [target.id] } : { users: [target.id] }) },
        timeline,
      },
      who.actor,
    );
    return { incident, target: { kind: target.kind, id: target.id, label: target.label }, revoked: { apiKey, user }, webhooks, sent };
  }

  return { respond, sentBy };
}

export type CredentialCompromise<Who extends { actor: Actor }> = ReturnType<typeof createCredentialCompromise<Who>>;
