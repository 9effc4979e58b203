import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, errorCatalogue, type FieldError, isPostwardenError } from '../../core/index.js';

/**
 * The one map from errors to HTTP: RFC 9457 problem+json with `errors[{ path, message }]`.
 * Fastify's own failures (schema validation, bad JSON, body too large) are folded into the same
 * catalogue codes so a client handles one shape.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export function problemFor(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): Problem {
  const spec = errorCatalogue[code];
  return { type: `urn:postwarden:error:${code}`, title: spec.meaning, status: spec.status, detail, code, ...extra };
}

// Field paths name where the caller put the value: the body is the root, and the query string is
// `/query`, as the handlers' own checks say (Fastify calls it `querystring`).
function contextPath(context: FastifyError['validationContext']): string {
  if (context === 'body') return '';
  return `/${context === 'querystring' ? 'query' : (context ?? '')}`;
}

function fromFastify(e: FastifyError): Problem | undefined {
  if (e.validation) {
    const errors = e.validation.map((v) => {
      const params = v.params as { missingProperty?: string; additionalProperty?: string };
      const base = `${contextPath(e.validationContext)}${v.instancePath}`;
      if (params.missingProperty) return { path: `${base}/${params.missingProperty}`, message: 'is required' };
      if (params.additionalProperty) return { path: `${base}/${params.additionalProperty}`, message: 'is not a known field' };
      return { path: base || '/', message: v.message ?? 'is invalid' };
    });
    return problemFor('VALIDATION_FAILED', 'The request has invalid fields.', { errors });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problemFor('MALFORMED_REQUEST', `The body is not valid JSON: ${e.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problemFor('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problemFor('MESSAGE_TOO_LARGE', 'The request body is larger than this node accepts.');
  }
  if (e instanceof SyntaxError || e.statusCode === 400) return problemFor('MALFORMED_REQUEST', e.message);
  return undefined;
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  if (typeof p.retry_after === 'number') reply.header('retry-after', String(p.retry_after));
  return reply.code(p.status).type('application/problem+json').send(p);
}

export function registerProblems(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let p: Problem | undefined;
    if (isPostwardenError(error)) {
      const { errors, retryAfter, ...rest } = error.details;
      p = problemFor(error.code, error.message, {
        ...(errors ? { errors } : {}),
        ...(retryAfter !== undefined ? { retry_after: retryAfter } : {}),
        ...rest,
      });
    } else p = fromFastify(error);
    if (!p) {
      request.log.error({ err: error }, 'unhandled error');
      p = problemFor('INTERNAL', 'An unexpected error occurred; nothing was changed. The log has the details.');
    }
    p.instance = request.url;
    return sendProblem(reply, p);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { ...problemFor('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`), instance: request.url }),
  );
}

/**
 * Node answers some requests before Fastify sees them: a request line or headers past
 * `maxHeaderSize` (431), a request that is not HTTP (400), one that stalls (408). Fastify's default
 * writes its own JSON; this writes the same problem+json every other error has, then closes, as Node
 * does (the parser state is lost, so the connection cannot carry another request).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const p =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? problemFor('HEADERS_TOO_LARGE', 'The request line and headers together are larger than this server reads (16 KiB).')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? problemFor('REQUEST_TIMEOUT', 'The request did not arrive completely in time.')
        : problemFor('MALFORMED_REQUEST', 'The request is not valid HTTP/1.1.');
  const body = JSON.stringify(p);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? 'Error'}\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
