import {
  addressKey,
  assertNever,
  type Clock,
  cancellableStates,
  type FieldError,
  type NewEvent,
  PostwardenError,
  type RecipientState,
  validationError,
} from '../core/index.js';
import type { MessageRow, RecipientRow, Repositories, Store } from '../store/index.js';
import type { Principal } from '../tenants/index.js';
import { metadataFrom, tagsFrom } from './send-request.js';

/**
 * Changes to a message after it was accepted: cancelling recipients that have not been handed to a
 * receiving server yet, and replacing its tags and metadata. Each change is one transaction with
 * its events (`recipient.cancelled` per recipient, `message.updated`), like every state change.
 *
 * What a cancel may end is the queue's waiting states, `queued` (including a message not yet due)
 * and `deferred`. It refuses a recipient a delivery worker holds (`in_flight`): the attempt may be
 * on the wire right now, and stopping it would lose its outcome or, retried, send twice. Such a
 * recipient settles within one attempt; a cancel repeated then succeeds if it was deferred. The
 * guard is the store's conditional UPDATE (recipients.cancel), so a claim racing the cancel either
 * sees `cancelled` and skips the row or wins, and then the cancel is refused as a whole.
 *
 * A cancel naming recipients is all or nothing: one that cannot be cancelled refuses the request
 * (409 NOT_CANCELLABLE, each recipient with its state) and nothing changes. A cancel of the whole
 * message cancels every waiting recipient and reports the finished ones unchanged; it is refused
 * when one is in flight or none is waiting. Cancelling a cancelled recipient again changes nothing.
 */
export interface CancelInput {
  /** Recipient ids (`rcp_…`) or addresses; absent: every recipient of the message. */
  recipients?: string[];
  reason?: string;
}

export interface CancelOutcome {
  message: MessageRow;
  cancelled: RecipientRow[];
  /** Recipients the cancel left as they were: already cancelled, or finished (whole-message cancel). */
  unchanged: RecipientRow[];
}

export interface LabelsInput {
  tags?: string[];
  /** RFC 7396 merge: a key with null is removed, others are set. */
  metadata?: Record<string, string | null>;
}

const CONTROL = /[\x00-\x1f\x7f]/;

/** Why a recipient in this state cannot be cancelled, in words a caller can act on. */
function refusal(state: RecipientState): string {
  switch (state) {
    case 'in_flight':
      return 'a delivery attempt holds it right now; retry after the attempt settles (a deferred recipient can then be cancelled)';
    case 'delivered':
      return 'it was already delivered';
    case 'bounced':
      return 'it already bounced';
    case 'expired':
      return 'it already expired';
    case 'failed':
      return 'it already failed';
    case 'suppressed':
      return 'it was suppressed at accept and never queued';
    case 'queued':
    case 'deferred':
    case 'cancelled':
      return 'it can be cancelled';
    default:
      return assertNever(state, 'recipient state');
  }
}

const isWaiting = (s: RecipientState) => (cancellableStates as readonly RecipientState[]).includes(s);

function notCancellable(refused: { row: RecipientRow; path?: string }[]): PostwardenError {
  const list = refused.map(({ row }) => `${row.id} (${row.address}) is ${row.state}: ${refusal(row.state)}`);
  const errors: FieldError[] = refused.flatMap(({ row, path }) =>
    path ? [{ path, message: `is ${row.state}: ${refusal(row.state)}` }] : [],
  );
  return new PostwardenError('NOT_CANCELLABLE', `Nothing was cancelled. ${list.join('; ')}.`, {
    ...(errors.length ? { errors } : {}),
    recipients: refused.map(({ row }) => ({ id: row.id, email: row.address, state: row.state, reason: refusal(row.state) })),
  });
}

/** The message's recipients the request names, each with the path it was named at. */
function namedRecipients(rows: RecipientRow[], names: string[]): { row: RecipientRow; path: string }[] {
  const errors: FieldError[] = [];
  const found = new Map<string, { row: RecipientRow; path: string }>();
  names.forEach((name, i) => {
    const path = `/recipients/${i}`;
    const row = rows.find((r) => r.id === name) ?? rows.find((r) => addressKey(r.address) === addressKey(name));
    if (!row) errors.push({ path, message: `is not a recipient of this message (give a recipient id rcp_… or its address)` });
    else if (!found.has(row.id)) found.set(row.id, { row, path });
  });
  if (errors.length) throw validationError(errors);
  return [...found.values()];
}

export function createMessageChanges(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;

  async function messageOf(tx: Pick<Repositories, 'messages'>, p: Principal, id: string): Promise<MessageRow> {
    const message = await tx.messages.get(id, p.tenant.id);
    if (!message) throw new PostwardenError('NOT_FOUND', `message ${id} does not exist`, { id });
    return message;
  }

  return {
    async cancel(p: Principal, messageId: string, input: CancelInput): Promise<CancelOutcome> {
      if (input.reason !== undefined && (CONTROL.test(input.reason) || input.reason.length > 500)) {
        throw validationError([{ path: '/reason', message: 'must be at most 500 characters without control characters' }]);
      }
      return store.transaction(async (tx) => {
        const message = await messageOf(tx, p, messageId);
        const rows = await tx.recipients.listByMessage(messageId);
        const named = input.recipients !== undefined;
        const targets = named ? namedRecipients(rows, input.recipients!) : rows.map((row) => ({ row }));
        const waiting = targets.filter((t) => isWaiting(t.row.state)).map((t) => t.row);
        const done = targets.filter((t) => t.row.state === 'cancelled').map((t) => t.row);
        const refused = targets.filter(
          (t) => t.row.state === 'in_flight' || (named && !isWaiting(t.row.state) && t.row.state !== 'cancelled'),
        );
        if (refused.length) throw notCancellable(refused);
        // A whole-message cancel with nothing waiting is refused unless all was cancelled before.
        if (!named && !waiting.length && done.length < rows.length) {
          throw notCancellable(targets.filter((t) => t.row.state !== 'cancelled'));
        }
        const now = clock.now();
        const changed = await tx.recipients.cancel(
          waiting.map((r) => r.id),
          now,
        );
        if (changed.length !== waiting.length) {
          // A delivery worker claimed one between the read and the update (PostgreSQL, several
          // nodes): refuse as a whole; the transaction rolls back the others.
          const lost = new Set(waiting.map((r) => r.id));
          for (const c of changed) lost.delete(c.id);
          const now2 = await tx.recipients.listByMessage(messageId);
          throw notCancellable(now2.filter((r) => lost.has(r.id)).map((row) => ({ row })));
        }
        const before = new Map(waiting.map((r) => [r.id, r.state]));
        const events: NewEvent[] = changed.map((r) => ({
          type: 'recipient.cancelled',
          tenantId: p.tenant.id,
          messageId,
          recipientId: r.id,
          data: {
            email: r.address,
            previous_state: before.get(r.id) === 'deferred' ? 'deferred' : 'queued',
            attempts: r.attempts,
            reason: input.reason ?? null,
            api_key: p.keyId,
          },
        }));
        await tx.events.append(events, now);
        const unchanged = targets.map((t) => t.row).filter((r) => !before.has(r.id));
        return { message, cancelled: changed, unchanged };
      });
    },

    async updateLabels(p: Principal, messageId: string, input: LabelsInput): Promise<MessageRow> {
      const errors: FieldError[] = [];
      const tags = input.tags === undefined ? undefined : tagsFrom(input.tags, '/tags', errors);
      const removals = Object.entries(input.metadata ?? {})
        .filter(([, v]) => v === null)
        .map(([k]) => k);
      const sets = metadataFrom(
        input.metadata === undefined ? undefined : Object.fromEntries(Object.entries(input.metadata).filter(([, v]) => v !== null)),
        '/metadata',
        errors,
      );
      if (tags === undefined && input.metadata === undefined) errors.push({ path: '', message: 'give tags, metadata or both' });
      if (errors.length) throw validationError(errors);
      return store.transaction(async (tx) => {
        const message = await messageOf(tx, p, messageId);
        const metadata = { ...message.metadata, ...sets };
        for (const k of removals) delete metadata[k];
        if (Object.keys(metadata).length > 50)
          throw validationError([{ path: '/metadata', message: 'the merged metadata must have at most 50 keys' }]);
        const next = { tags: tags ?? message.tags, metadata };
        await tx.messages.updateLabels(messageId, next);
        const now = clock.now();
        await tx.events.append(
          [
            {
              type: 'message.updated',
              tenantId: p.tenant.id,
              messageId,
              data: { ...next, previous: { tags: message.tags, metadata: message.metadata }, api_key: p.keyId },
            },
          ],
          now,
        );
        return { ...message, ...next };
      });
    },
  };
}

export type MessageChanges = ReturnType<typeof createMessageChanges>;
