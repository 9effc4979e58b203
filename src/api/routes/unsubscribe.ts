import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import { problems } from '../contract/problem-schema.js';
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
const Token = Type.Object({
  token: Type.String({ maxLength: 2000, description: 'The signed token from the List-Unsubscribe URL.', examples: ['v1.eyJhIjoi…'] }),
});
const Page = (description: string, example: string) =>
  Type.Unsafe<string>({ description, content: { 'text/html': { schema: Type.String({ examples: [example] }) } } });

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
  app.register(async (plain) => {
    plain.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data'], { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    const scoped = plain.withTypeProvider<TypeBoxTypeProvider>();

    scoped.get(
      '/unsubscribe/:token',
      {
        schema: {
          tags: ['unsubscribe'],
          summary: 'Unsubscribe confirmation page',
          description:
            'A page whose button unsubscribes: opening the link alone never does (RFC 8058 §1: link scanners fetch URLs in mail). Public; the token is the credential. 404 for a token that is not ours or was tampered with.',
          params: Token,
          security: [],
          response: {
            200: Page('The confirmation page.', '<!doctype html><html lang="en">…<button type="submit">Unsubscribe</button>…'),
            ...problems(400, 404, 500),
          },
        },
      },
      async (request, reply) => {
        const c = s.unsubscribe.verify(request.params.token);
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
      '/unsubscribe/:token',
      {
        schema: {
          tags: ['unsubscribe'],
          summary: 'One-click unsubscribe (RFC 8058)',
          description:
            'What a mailbox provider sends when its user clicks "unsubscribe": the body List-Unsubscribe=One-Click, form-urlencoded or multipart/form-data (RFC 8058 §3.2). ' +
            'Suppresses at once and answers 200; a repeat answers the same. Public; the token is the credential.',
          params: Token,
          security: [],
          body: Type.Unsafe<unknown>({
            content: {
              'application/x-www-form-urlencoded': { schema: Type.String({ examples: ['List-Unsubscribe=One-Click'] }) },
              'multipart/form-data': {
                schema: Type.String({
                  examples: ['--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n'],
                }),
              },
            },
          }),
          response: {
            200: Page('Unsubscribed.', '<!doctype html><html lang="en">…<h1>Unsubscribed</h1>…'),
            ...problems(400, 404, 413, 415, 500, 503),
          },
        },
      },
      async (request, reply) => {
        const { token } = request.params;
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
