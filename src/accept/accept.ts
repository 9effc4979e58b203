import {
  addressKey,
  type Clock,
  type Mailbox,
  type NewEvent,
  newId,
  PostwardenError,
  type RecipientState,
  type Stream,
} from '../core/index.js';
import { createBackpressure, createGroupCommitter } from '../queue/index.js';
import type { MessageRow, RecipientRow, Store } from '../store/index.js';
import type { Principal, Tenants } from '../tenants/index.js';
import { composeMessage } from './compose.js';
import { createRateLimiter } from './rate-limit.js';
import { prepareSubmitted, readHeaders } from './raw-message.js';
import type { SendRequest } from './send-request.js';

/**
 * The front door both edges share: the HTTP API and SMTP submission hand a message here, and the
 * answer (202/250) is given only after the transaction holding the message, its recipients and
 * their first events has committed. Concurrent accepts share transactions (group commit).
 *
 * Checks, cheapest first: the sender's domain belongs to the tenant, recipient count, queue depth
 * (backpressure), size, rate limit; then suppression decides each recipient's first state.
 */
export interface AcceptLimits {
  maxMessageBytes: number;
  maxRecipients: number;
  ratePerMinute: number;
  maxQueued: number;
}

export interface AcceptDeps {
  store: Store;
  tenants: Pick<Tenants, 'owningDomain'>;
  clock: Clock;
  hostname: string;
  limits: AcceptLimits;
  /** Node-wide sandbox: every message is captured instead of sent. */
  sandbox: boolean;
  /** Called after a commit so the local scheduler can pick the work up at once. */
  onAccepted?: () => void;
}

export interface AcceptedRecipient {
  id: string;
  email: string;
  state: RecipientState;
  reason?: string;
}

export interface AcceptedMessage {
  id: string;
  stream: Stream;
  sandbox: boolean;
  recipients: AcceptedRecipient[];
}

interface Envelope {
  from: Mailbox;
  recipients: { mailbox: Mailbox; kind: string }[];
  subject: string;
  stream: Stream;
  tags: string[];
  metadata: Record<string, string>;
  source: 'api' | 'smtp';
}

interface Pending {
  message: MessageRow;
  raw: Buffer;
  recipients: RecipientRow[];
  events: NewEvent[];
}

export function createAccept(deps: AcceptDeps) {
  const { store, clock } = deps;
  const rates = createRateLimiter(clock);
  const backpressure = createBackpressure({ maxQueued: deps.limits.maxQueued, countOpen: () => store.recipients.countOpen(), clock });
  const committer = createGroupCommitter<Pending, void>({
    commit: (items) =>
      store.transaction(async (tx) => {
        await tx.messages.insertMany(items.map((p) => ({ message: p.message, raw: p.raw })));
        await tx.recipients.insertMany(items.flatMap((p) => p.recipients));
        await tx.events.append(items.flatMap((p) => p.events), clock.now());
        return items.map(() => undefined);
      }),
  });

  const maxBytes = (p: Principal) => p.tenant.maxMessageBytes ?? deps.limits.maxMessageBytes;

  async function checkSender(p: Principal, from: Mailbox, path: string): Promise<void> {
    if (await deps.tenants.owningDomain(p.tenant.id, from.domain)) return;
    throw new PostwardenError('SENDER_DOMAIN_NOT_ALLOWED', `${from.domain} is not a sending domain of this tenant`, {
      errors: [{ path, message: `domain ${from.domain} is not registered for this tenant; add it with POST /v1/domains` }],
    });
  }

  function checkSize(p: Principal, size: number): void {
    const limit = maxBytes(p);
    if (size > limit) {
      throw new PostwardenError('MESSAGE_TOO_LARGE', `the message is ${size} bytes; the limit is ${limit}`, { size, limit });
    }
  }

  function takeRate(p: Principal): void {
    const perMinute = p.tenant.ratePerMinute ?? deps.limits.ratePerMinute;
    const wait = rates.take(p.tenant.id, perMinute);
    if (wait > 0) {
      throw new PostwardenError('RATE_LIMITED', `the tenant's limit of ${perMinute} messages per minute is exhausted`, {
        retryAfter: wait, limit: perMinute,
      });
    }
  }

  async function commit(p: Principal, env: Envelope, raw: Buffer, ids: { id: string; messageIdHeader: string }): Promise<AcceptedMessage> {
    const now = clock.now();
    const sandbox = deps.sandbox || p.tenant.sandbox;
    const keys = env.recipients.map((r) => addressKey(r.mailbox.address));
    const suppressed = await store.suppressions.find(p.tenant.id, keys);
    const message: MessageRow = {
      id: ids.id, tenantId: p.tenant.id, stream: env.stream, from: env.from.address, subject: env.subject,
      messageIdHeader: ids.messageIdHeader, size: raw.length, tags: env.tags, metadata: env.metadata, source: env.source,
      sandbox, createdAt: now,
    };
    const recipients: RecipientRow[] = [];
    const events: NewEvent[] = [
      {
        type: 'message.accepted', tenantId: p.tenant.id, messageId: ids.id,
        data: {
          from: env.from.address, subject: env.subject, size: raw.length, stream: env.stream, source: env.source,
          recipients: env.recipients.length, message_id_header: ids.messageIdHeader, sandbox, api_key: p.keyId,
        },
      },
    ];
    const accepted: AcceptedRecipient[] = [];
    env.recipients.forEach((r, i) => {
      const sup = suppressed.get(keys[i]!);
      const row: RecipientRow = {
        id: newId('rcp', now), messageId: ids.id, tenantId: p.tenant.id, address: r.mailbox.address, domain: r.mailbox.domain,
        kind: r.kind, state: sup ? 'suppressed' : 'queued', attempts: 0, nextAttemptAt: now, leaseOwner: null, leaseExpiresAt: null,
        lastReply: null, createdAt: now, updatedAt: now,
      };
      recipients.push(row);
      if (sup) {
        const reason = `suppressed since ${new Date(sup.createdAt).toISOString()}: ${sup.reason} (${sup.source})`;
        events.push({
          type: 'recipient.suppressed', tenantId: p.tenant.id, messageId: ids.id, recipientId: row.id,
          data: { email: row.address, reason: sup.reason, source: sup.source, suppression_id: sup.id },
        });
        accepted.push({ id: row.id, email: row.address, state: 'suppressed', reason });
      } else {
        events.push({ type: 'recipient.queued', tenantId: p.tenant.id, messageId: ids.id, recipientId: row.id, data: { email: row.address, kind: r.kind } });
        accepted.push({ id: row.id, email: row.address, state: 'queued' });
      }
    });
    await committer.submit({ message, raw, recipients, events });
    deps.onAccepted?.();
    return { id: ids.id, stream: env.stream, sandbox, recipients: accepted };
  }

  function dedupe(list: { mailbox: Mailbox; kind: string }[]) {
    const seen = new Set<string>();
    return list.filter((r) => {
      const k = addressKey(r.mailbox.address);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  function checkRecipientCount(n: number, path: string): void {
    if (n > deps.limits.maxRecipients) {
      throw new PostwardenError('TOO_MANY_RECIPIENTS', `the message has ${n} recipients; the limit is ${deps.limits.maxRecipients}`, {
        errors: [{ path, message: `must have at most ${deps.limits.maxRecipients} recipients in all` }],
      });
    }
  }

  const newIds = () => {
    const id = newId('msg', clock.now());
    return { id, messageIdHeader: `<${id.toLowerCase()}@${deps.hostname}>` };
  };

  return {
    /** An API send, already shape-checked by parseSendRequest. */
    async acceptRequest(p: Principal, req: SendRequest): Promise<AcceptedMessage> {
      await checkSender(p, req.from, '/from');
      const recipients = dedupe([
        ...req.to.map((mailbox) => ({ mailbox, kind: 'to' })),
        ...req.cc.map((mailbox) => ({ mailbox, kind: 'cc' })),
        ...req.bcc.map((mailbox) => ({ mailbox, kind: 'bcc' })),
      ]);
      checkRecipientCount(recipients.length, '/to');
      await backpressure.check();
      const ids = newIds();
      const raw = await composeMessage(req, { messageIdHeader: ids.messageIdHeader, date: new Date(clock.now()) });
      checkSize(p, raw.length);
      takeRate(p);
      return commit(p, { from: req.from, recipients, subject: req.subject, stream: req.stream, tags: req.tags, metadata: req.metadata, source: 'api' }, raw, ids);
    },

    /** An SMTP submission: envelope recipients and the message as received. */
    async acceptSubmitted(p: Principal, rcpts: Mailbox[], raw: Buffer, stream: Stream = 'transactional'): Promise<AcceptedMessage> {
      const headers = readHeaders(raw);
      if (!headers.from) {
        throw new PostwardenError('VALIDATION_FAILED', headers.fromProblem ?? 'the From header is invalid', {
          errors: [{ path: '/headers/From', message: headers.fromProblem ?? 'is invalid' }],
        });
      }
      await checkSender(p, headers.from, '/headers/From');
      const recipients = dedupe(rcpts.map((mailbox) => ({ mailbox, kind: 'rcpt' })));
      checkRecipientCount(recipients.length, '/envelope/to');
      await backpressure.check();
      const ids = newIds();
      const prepared = prepareSubmitted(raw, { messageIdHeader: ids.messageIdHeader, date: new Date(clock.now()) });
      checkSize(p, prepared.raw.length);
      takeRate(p);
      return commit(
        p,
        { from: headers.from, recipients, subject: headers.subject, stream, tags: [], metadata: {}, source: 'smtp' },
        prepared.raw,
        { id: ids.id, messageIdHeader: prepared.messageIdHeader },
      );
    },

    /** Early checks the SMTP edge makes before DATA (SIZE parameter, RCPT count). */
    checkSize,
    checkSender,
    maxMessageBytes: maxBytes,
    checkBackpressure: () => backpressure.check(),
    drain: () => committer.drain(),
  };
}

export type Accept = ReturnType<typeof createAccept>;
