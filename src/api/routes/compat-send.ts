import type { FastifyError, FastifyRequest } from 'fastify';
import { type AcceptedMessage, parseSendRequest, type SendWarning } from '../../accept/index.js';
import { type FieldError, isPostwardenError, PostwardenError, validationError } from '../../core/index.js';
import type { Principal } from '../../tenants/index.js';
import { authenticateKey } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * What the drop-in endpoints of other providers (compat-postmark.ts, compat-resend.ts,
 * compat-ses.ts) share: each maps its provider's body to our send body, and everything after that
 * is our own send (parseSendRequest, accept: suppression, idempotency, limits, events). Problems
 * found in our fields are named back with the provider's field (`To`, `Destination/ToAddresses`),
 * and each provider route renders errors in its provider's own shape from the one PostwardenError.
 */
export interface MappedSend {
  /** A body for parseSendRequest, in our field names. */
  body: Record<string, unknown>;
  /** Provider fields read loosely or ignored, by provider path. */
  warnings: SendWarning[];
  /** Problems found while mapping, by provider path. */
  errors: FieldError[];
  /** Our top-level field → the provider's path for it, to name problems in the provider's terms. */
  paths: Record<string, string>;
}

export function emptyMapping(): MappedSend {
  return { body: {}, warnings: [], errors: [], paths: {} };
}

/** `/to/1/email` → `/To/1/email` when `to` came from the provider's `To`. */
function providerPath(path: string, paths: Record<string, string>): string {
  const m = /^\/([^/]+)(.*)$/.exec(path);
  if (!m) return path;
  const mapped = paths[m[1]!];
  return mapped ? `${mapped}${m[2]}` : path;
}

/** Our send of a mapped body: the same checks, accept path and answer as POST /v1/messages. */
export async function sendMapped(
  s: Pick<ApiServices, 'accept'>,
  p: Principal,
  m: MappedSend,
): Promise<{ accepted: AcceptedMessage; warnings: SendWarning[] }> {
  if (m.errors.length) throw validationError(m.errors);
  const parsed = parseSendRequest(m.body);
  if (!parsed.ok) throw validationError(parsed.errors.map((e) => ({ path: providerPath(e.path, m.paths), message: e.message })));
  const accepted = await s.accept.acceptRequest(p, parsed.request);
  return { accepted, warnings: [...m.warnings, ...parsed.warnings.map((w) => ({ ...w, path: providerPath(w.path, m.paths) }))] };
}

/**
 * Authenticates one of our API keys presented the provider's way, for the `send` scope. A missing
 * key and a wrong one are told apart (`details.missing`) because the providers answer them apart.
 */
export async function principalFromKey(
  s: Pick<ApiServices, 'tenants' | 'access' | 'authFailed'>,
  request: FastifyRequest,
  secret: string | undefined,
  how: string,
): Promise<Principal> {
  if (!secret) throw new PostwardenError('UNAUTHENTICATED', `Send a Postwarden API key as ${how}.`, { missing: true });
  // Through the same per-address throttle as /v1, so guessing keys here is no cheaper.
  const principal = await authenticateKey(s, request, secret);
  if (!principal) throw new PostwardenError('UNAUTHENTICATED', 'The API key is unknown or revoked.');
  if (!principal.permissions.has('messages:send')) {
    throw new PostwardenError('FORBIDDEN', 'Sending needs the "messages:send" permission (the send scope).', {
      permission: 'messages:send',
    });
  }
  return principal;
}

export const bearerOf = (request: FastifyRequest): string | undefined => /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];

/**
 * Any error a compat route meets, as one of our catalogue's: schema validation, unreadable JSON and
 * the like from Fastify become the codes problem.ts gives them; anything unknown is INTERNAL.
 */
export function asPostwardenError(error: unknown): PostwardenError {
  if (isPostwardenError(error)) return error;
  const e = error as FastifyError;
  if (e?.validation) {
    return validationError(
      e.validation.map((v) => {
        const params = v.params as { missingProperty?: string; additionalProperty?: string };
        const base = v.instancePath;
        if (params.missingProperty) return { path: `${base}/${params.missingProperty}`, message: 'is required' };
        return { path: base || '/', message: v.message ?? 'is invalid' };
      }),
    );
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new PostwardenError('MALFORMED_REQUEST', `The body is not valid JSON: ${e.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PostwardenError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PostwardenError('MESSAGE_TOO_LARGE', 'The request body is larger than this node accepts.');
  }
  return new PostwardenError(
    'INTERNAL',
    'An unexpected error occurred; nothing was changed. The log has the details.',
    {},
    { cause: error },
  );
}

/** One line naming each field problem (`To: is not an email address; Subject: is required`), for providers with one message string. */
export function oneLine(e: PostwardenError): string {
  const errors = e.details.errors ?? [];
  if (!errors.length) return e.message;
  return errors.map((x) => `${x.path.replace(/^\//, '') || 'body'}: ${x.message}`).join('; ');
}

/** `[{Name, Value}]` (Postmark, SES) at `path` → our header object; a name twice (any case) is a problem at its path. */
export function headerPairs(out: MappedSend, list: unknown, path: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (list === undefined) return headers;
  if (!Array.isArray(list)) {
    out.errors.push({ path, message: 'must be a list of {Name, Value}' });
    return headers;
  }
  const seen = new Set<string>();
  list.forEach((h: unknown, i) => {
    const item = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
    if (typeof item.Name !== 'string' || typeof item.Value !== 'string') {
      out.errors.push({ path: `${path}/${i}`, message: 'must have string Name and Value' });
    } else if (seen.has(item.Name.toLowerCase())) {
      out.errors.push({ path: `${path}/${i}/Name`, message: 'repeats an earlier header; each header may be given once' });
    } else {
      seen.add(item.Name.toLowerCase());
      headers[item.Name] = item.Value;
    }
  });
  return headers;
}

/** Provider fields with no Postwarden meaning (`fields`: name → why), read in `at.body` at `at.base`: ignored, and said so. */
export function ignore(out: MappedSend, fields: Record<string, string>, at: { body: object; base?: string }): void {
  const body = at.body as Record<string, unknown>;
  for (const [field, why] of Object.entries(fields)) {
    if (body[field] !== undefined) out.warnings.push({ path: `${at.base ?? ''}/${field}`, message: `ignored: ${why}` });
  }
}
