/**
 * Links a feedback document back to what we sent: which tenant, message and recipient it is about.
 * Evidence, strongest first:
 *   1. a VERP return path whose MAC verifies (identity/verp.ts): the envelope RCPT the MX received,
 *      else the document's Delivered-To / X-Original-To / To, else the returned original's
 *      Return-Path (complaints carry the original, whose Return-Path was our VERP address);
 *   2. the returned original's Message-ID (or the In-Reply-To of an auto-reply), matched against
 *      the Message-ID header we wrote at accept. A Message-ID is no secret (every recipient sees it),
 *      so this links the document for the record but is not enough to suppress (feedback-outcomes.ts).
 *      A bounce's or complaint's own outer In-Reply-To is never used: the reporter writes it, and only
 *      the returned original speaks for what we sent;
 *   3. nothing: the document is kept unattributed and changes no tenant's state.
 * A caller that already knows the tenant (an upload over the API) restricts attribution to it, so
 * one tenant cannot bounce or complain another tenant's recipients.
 */
import { addressKey } from '../core/index.js';
import { decodeVerp, type VerpKey } from '../identity/index.js';
import type { MessageRow, RecipientRow, Store } from '../store/index.js';
import type { Feedback } from './detect.js';
import type { OriginalMessage } from './original-message.js';

export interface Attribution {
  tenantId: string;
  message: MessageRow;
  recipients: RecipientRow[];
  /** The recipient the VERP address names, when one did. */
  verpRecipient?: RecipientRow;
  via: 'verp' | 'message-id';
}

export type AttributionStore = Pick<Store, 'messages' | 'recipients'>;

export function originalOf(f: Feedback): OriginalMessage | undefined {
  switch (f.kind) {
    case 'dsn':
      return f.dsn.original;
    case 'arf':
    case 'dmarc-failure':
      return f.arf.original;
    default:
      return undefined;
  }
}

/** Addresses that may hold our VERP token, in order of trust. */
export function verpCandidates(f: Feedback, rcpts: readonly string[]): string[] {
  const m = f.message;
  const original = originalOf(f);
  const list = [...rcpts, ...(m?.deliveredTo ?? []), ...(m?.xOriginalTo ?? []), ...(m?.to ?? []), original?.returnPath ?? ''];
  return [...new Set(list.map((a) => a.trim().replace(/^<|>$/g, '')).filter((a) => a.includes('@')))];
}

export async function attribute(
  f: Feedback,
  rcpts: readonly string[],
  deps: { store: AttributionStore; verpKeys: readonly VerpKey[]; tenantId?: string },
): Promise<Attribution | undefined> {
  for (const address of verpCandidates(f, rcpts)) {
    const d = decodeVerp(address, [...deps.verpKeys]);
    if (!d.ok) continue;
    const recipient = await deps.store.recipients.get(d.recipientId);
    if (!recipient || recipient.messageId !== d.messageId) continue;
    if (deps.tenantId && recipient.tenantId !== deps.tenantId) continue;
    const message = await deps.store.messages.get(d.messageId, recipient.tenantId);
    if (!message) continue;
    const recipients = await deps.store.recipients.listByMessage(message.id);
    return { tenantId: message.tenantId, message, recipients, verpRecipient: recipient, via: 'verp' };
  }
  const report = f.kind === 'dsn' || f.kind === 'arf' || f.kind === 'dmarc-failure';
  const ids = [
    originalOf(f)?.messageId,
    f.kind === 'auto-reply' ? f.autoReply.inReplyTo : undefined,
    report ? undefined : f.message?.inReplyTo,
  ].filter((x): x is string => !!x);
  for (const id of ids) {
    const found = (await deps.store.messages.findByMessageIdHeader(id.toLowerCase())).concat(
      id === id.toLowerCase() ? [] : await deps.store.messages.findByMessageIdHeader(id),
    );
    const message = found.find((m) => !deps.tenantId || m.tenantId === deps.tenantId);
    if (!message) continue;
    const recipients = await deps.store.recipients.listByMessage(message.id);
    return { tenantId: message.tenantId, message, recipients, via: 'message-id' };
  }
  return undefined;
}

/**
 * The recipient row a report names. An address match wins; a report that names nobody (or whose
 * one address is the VERP-named recipient under another spelling) falls back to the VERP recipient;
 * a message with a single recipient is unambiguous.
 */
export function recipientFor(a: Attribution, address: string | undefined, single: boolean): RecipientRow | undefined {
  if (address) {
    const key = addressKey(address);
    const hit = a.recipients.find((r) => addressKey(r.address) === key);
    if (hit) return hit;
  }
  if (a.verpRecipient && (single || !address)) return a.verpRecipient;
  if (a.recipients.length === 1 && (single || !address)) return a.recipients[0];
  return undefined;
}
