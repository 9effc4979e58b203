import { addressKey, type Mailbox, PostwardenError, type Stream } from '../core/index.js';

/** SMTP submissions choose their stream with this header; it is removed before the message is stored. */
export const STREAM_HEADER = 'X-Postwarden-Stream';

export type UnsubscribeHeaders = (r: {
  tenantId: string;
  messageId: string;
  address: string;
  domain: string;
  stream: Stream;
}) => [string, string][];

/**
 * RFC 8058 one-click unsubscribe for marketing and cold mail. The link names its recipient, and
 * the body is stored and signed once per message, so such a message has one recipient (bulk
 * senders send one message per recipient anyway); transactional mail gets no link.
 */
export function listUnsubscribeHeaders(
  make: UnsubscribeHeaders | undefined,
  m: { tenantId: string; messageId: string; stream: Stream; from: Mailbox; recipients: { mailbox: Mailbox }[]; path: string },
): [string, string][] | undefined {
  if (m.stream === 'transactional' || !make) return undefined;
  if (m.recipients.length !== 1) {
    throw new PostwardenError('VALIDATION_FAILED', `a ${m.stream} message must have exactly one recipient`, {
      errors: [
        {
          path: m.path,
          message: `${m.stream} mail carries a one-click unsubscribe link for its recipient (RFC 8058): send one message per recipient`,
        },
      ],
    });
  }
  const to = m.recipients[0]!.mailbox;
  return make({ tenantId: m.tenantId, messageId: m.messageId, address: addressKey(to.address), domain: m.from.domain, stream: m.stream });
}

/** A caller's own List-Unsubscribe fields give way to ours: only our endpoint records the unsubscribe. */
export function withoutListUnsubscribe(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !/^list-unsubscribe(-post)?$/i.test(k)));
}
