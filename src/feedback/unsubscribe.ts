import { type Clock, newEvent, PostwardenError, type Stream } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { Suppressions } from './suppression.js';
import { decodeUnsubscribeToken, encodeUnsubscribeToken, type UnsubscribeClaims } from './unsubscribe-token.js';

/**
 * One-click unsubscribe (RFC 8058 with RFC 2369's List-Unsubscribe). Marketing and cold messages
 * carry a signed link per recipient; a POST to it with `List-Unsubscribe=One-Click` (what a
 * mailbox provider sends, no cookies, no auth) suppresses the address at once for that From domain
 * and stream (scope identity, reason unsubscribe) and records `recipient.unsubscribed`. Repeats
 * change nothing and answer the same. Transactional mail from the same domain still flows.
 */
export interface UnsubscribeDeps {
  suppressions: Pick<Suppressions, 'suppress'>;
  store: Pick<Store, 'events' | 'recipients'>;
  clock: Clock;
  /** Signing key first; older keys after it still verify (rotation). */
  keys: readonly Buffer[];
  /** Public base URL of the API, e.g. https://mail.example.com (no trailing slash needed). */
  publicUrl: string;
}

export function createUnsubscribe(deps: UnsubscribeDeps) {
  const base = deps.publicUrl.replace(/\/+$/, '');
  const urlFor = (c: UnsubscribeClaims) => `${base}/v1/unsubscribe/${encodeUnsubscribeToken(c, deps.keys[0]!)}`;

  function verify(token: string): UnsubscribeClaims {
    const d = decodeUnsubscribeToken(token, deps.keys);
    if (d.ok) return d.claims;
    // A forged token and an unknown one look the same from outside: nothing to unsubscribe here.
    if (d.reason === 'bad_mac') throw new PostwardenError('NOT_FOUND', 'This unsubscribe link is not valid.');
    throw new PostwardenError('MALFORMED_REQUEST', 'This is not an unsubscribe link of this server.');
  }

  return {
    urlFor,
    /** RFC 2369 §3.2 List-Unsubscribe (angle-bracketed URI) and RFC 8058 §3.1 List-Unsubscribe-Post. */
    headersFor(c: UnsubscribeClaims): [string, string][] {
      return [
        ['List-Unsubscribe', `<${urlFor(c)}>`],
        ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'],
      ];
    },
    verify,
    /** Suppresses the token's address for its domain and stream; `created` is false on a repeat. */
    async unsubscribe(token: string, via: 'one-click' | 'page') {
      const c = verify(token);
      const r = await deps.suppressions.suppress({
        tenantId: c.tenantId,
        address: c.address,
        reason: 'unsubscribe',
        scope: 'identity',
        domain: c.domain,
        stream: c.stream as Stream,
        source: c.messageId,
        actor: 'unsubscribe',
      });
      if (!r.suppressed) throw new PostwardenError('INTERNAL', 'an unsubscribe was not recorded');
      if (r.created) {
        const recipient = (await deps.store.recipients.listByMessages([c.messageId])).find((x) => x.address.toLowerCase() === c.address);
        await deps.store.events.append(
          [
            newEvent(
              'recipient.unsubscribed',
              { tenantId: c.tenantId, messageId: c.messageId, recipientId: recipient?.id ?? null },
              { email: c.address, domain: c.domain, stream: c.stream, suppression_id: r.entry.id, via },
            ),
          ],
          deps.clock.now(),
        );
      }
      return { claims: c, created: r.created, entry: r.entry };
    },
  };
}

export type Unsubscribe = ReturnType<typeof createUnsubscribe>;
