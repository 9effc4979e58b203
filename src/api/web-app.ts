import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Serves the dashboard (web/, built by `vite build` into dist/web at install) on the API's origin,
 * so it speaks to /v1 with no CORS. Nothing is read at start-up (start-up cost: zero); files are
 * read when asked. Hashed assets are immutable for a year; index.html is revalidated every time so
 * a new build is picked up at once. The CSP allows only this origin: no remote script, style, font,
 * image or connection, and the only frames are the sandbox previews (sandbox-inbox.ts). Client
 * routes (/messages/…) answer index.html; the app routes itself from the path.
 *
 * When dist/web is missing (a checkout run from src with tsx, before any build), / answers 503 with
 * the command that builds it, rather than building at run time: the build needs dev dependencies a
 * production install does not have, and start-up stays fast.
 */
export const dashboardCsp =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
  "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The app's own paths: each answers index.html. */
const clientRoutes = [
  '/',
  '/login',
  '/overview',
  '/providers',
  '/messages',
  '/messages/:id',
  '/domains',
  '/domains/:id',
  '/suppressions',
  '/sandbox',
  '/sandbox/:id',
];
const ASSET = /^[\w.-]+\.(js|css|svg|png|woff2)$/;
const types: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
};

export function defaultWebDir(): string {
  // src/api/web-app.ts and dist/api/web-app.js both sit two levels below the package root.
  return fileURLToPath(new URL('../../dist/web/', import.meta.url));
}

export function registerWebApp(app: FastifyInstance, opts: { dir: string }): void {
  const dir = opts.dir || defaultWebDir();
  const secure = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', dashboardCsp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');

  for (const url of clientRoutes) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      let html: Buffer;
      try {
        html = await readFile(join(dir, 'index.html'));
      } catch {
        return secure(reply)
          .code(503)
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(
            `<!doctype html><html lang="en"><title>Postwarden</title><h1>The dashboard is not built</h1><p>${escapeHtml(join(dir, 'index.html'))} is missing. Run <code>npm run build:web</code> (or <code>npm ci</code>, which builds it), then reload. The API at /v1 works without it.</p></html>`,
          );
      }
      return secure(reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
    });
  }
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const m = ASSET.exec(request.params.file);
    if (!m) return reply.callNotFound();
    let body: Buffer;
    try {
      body = await readFile(join(dir, 'assets', request.params.file));
    } catch {
      return reply.callNotFound();
    }
    // Vite puts a content hash in every asset name: a changed file is a new name.
    return secure(reply).type(types[m[1]!]!).header('cache-control', 'public, max-age=31536000, immutable').send(body);
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
