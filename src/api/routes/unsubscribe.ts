import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import type { ApiServices } from '../services.js';

/**
 * The one-click unsubscribe endpoint (RFC 8058), public: the signed token is the credential.
 *
 * - POST with `List-Unsubscribe=One-Click` is what a mailbox provider sends when its user clicks
 *   "unsubscribe" (§3.2: form-urlencoded or multipart/form-data, no cookies, no redirects
 *   followed). It suppresses at once and answers 200; a repeat answers the same.
 * - GET is a person opening the link: it must not unsubscribe by itself (§1: link scanners and
 *   prefetchers fetch URLs in mail), so it shows a page whose button POSTs the same form. No JS.
 */
const Token = Type.Object({ token: Type.String({ maxLength: 2000 }) });

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">${body}</body></html>`;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** RFC 8058 §3.1: the POST body carries the key/value pair "List-Unsubscribe=One-Click". */
function isOneClick(body: unknown, contentType: string): boolean {
  if (typeof body !== 'string') return false;
  if (contentType.startsWith('multipart/form-data'))
    return /name="?List-Unsubscribe"?[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n\s*One-Click\s*(\r?\n|$)/i.test(body);
  return new URLSearchParams(body).get('List-Unsubscribe') === 'One-Click';
}

export function unsubscribeRoutes(app: FastifyInstance, s: ApiServices): void {
  app.register(async (scoped) => {
    scoped.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'], { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );

    scoped.get(
      '/v1/unsubscribe/:token',
      { schema: { tags: ['unsubscribe'], summary: 'A confirmation page whose button unsubscribes (public)', params: Token, security: [] } },
      async (request, reply) => {
        const { token } = request.params as { token: string };
        const c = s.unsubscribe.verify(token);
        return reply
          .type('text/html; charset=utf-8')
          .send(
            page(
              'Unsubscribe',
              `<h1>Unsubscribe</h1><p>Stop ${escapeHtml(c.stream)} mail from <b>${escapeHtml(c.domain)}</b> to <b>${escapeHtml(c.address)}</b>?</p>` +
                `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
            ),
          );
      },
    );

    scoped.post(
      '/v1/unsubscribe/:token',
      {
        schema: {
          tags: ['unsubscribe'],
          summary: 'RFC 8058 one-click unsubscribe: body List-Unsubscribe=One-Click (public; the token is the credential)',
          params: Token,
          security: [],
        },
      },
      async (request, reply) => {
        const { token } = request.params as { token: string };
        s.unsubscribe.verify(token);
        const contentType = String(request.headers['content-type'] ?? '');
        if (!isOneClick(request.body, contentType)) {
          throw new PostwardenError('MALFORMED_REQUEST', 'The body must be List-Unsubscribe=One-Click (RFC 8058 §3.1).');
        }
        const viaPage = request.headers.origin !== undefined || String(request.headers.accept ?? '').includes('text/html');
        const r = await s.unsubscribe.unsubscribe(token, viaPage ? 'page' : 'one-click');
        return reply
          .type('text/html; charset=utf-8')
          .send(
            page(
              'Unsubscribed',
              `<h1>Unsubscribed</h1><p>${escapeHtml(r.claims.address)} will get no more ${escapeHtml(r.claims.stream)} mail from ${escapeHtml(r.claims.domain)}.</p>`,
            ),
          );
      },
    );
  });
}
