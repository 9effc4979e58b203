import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance, FastifyReply, RouteOptions } from 'fastify';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { problemFor } from '../plugins/problem.js';

/**
 * Holds every answer to its route's contract (server.checkResponses; on in tests). Fastify serialises
 * a body by the response schema of its status and silently drops the fields the schema does not
 * declare, or coerces a value (null to "" in a string field), so a route can drift from its
 * documentation without any test noticing. This check runs after serialisation and, for each answer
 * of a route that declares responses:
 * - the status must be declared;
 * - the body must validate against the schema of that status and content type;
 * - the serialised body must equal what the handler sent (nothing dropped, nothing coerced).
 * A violation is logged, kept in `violations`, and the answer is replaced by a 500 problem+json
 * naming it, so the test that made the request fails loudly. Every (route, status) seen is kept in
 * `observed`, next to `declared`, for the contract test (test/api/contract.test.ts).
 */
export interface ResponseCheck {
  /** `GET /v1/messages/:id` → the statuses its schema declares. */
  declared: Map<string, Set<number>>;
  observed: Map<string, Set<number>>;
  violations: string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Present when the API was built with checkResponses (server.checkResponses). */
    responseCheck?: ResponseCheck;
  }
}

export const createResponseCheck = (): ResponseCheck => ({ declared: new Map(), observed: new Map(), violations: [] });

type ResponseSchemas = Record<string, TSchema & { content?: Record<string, { schema: TSchema }> }>;

const sent = new WeakMap<FastifyReply, string>();
const keyOf = (method: string, url: string) => `${method} ${url}`;
/** A streamed body (an export): its content type is checked, its bytes are not held to buffer them. */
const isStream = (payload: unknown) => typeof (payload as { pipe?: unknown } | null)?.pipe === 'function';
const isHidden = (schema: unknown) => (schema as { hide?: boolean } | undefined)?.hide === true;

export function registerResponseCheck(app: FastifyInstance, check: ResponseCheck): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const response = (route.schema as { response?: ResponseSchemas } | undefined)?.response;
    if (!response || isHidden(route.schema)) return;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      check.declared.set(keyOf(method, route.url), new Set(Object.keys(response).map(Number)));
    }
  });

  app.addHook('preSerialization', async (request, reply, payload) => {
    const schema = request.routeOptions.schema as { response?: unknown } | undefined;
    if (schema?.response && !isHidden(schema)) sent.set(reply, JSON.stringify(payload));
    return payload;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const schema = request.routeOptions.schema as { response?: ResponseSchemas } | undefined;
    const url = request.routeOptions.url;
    if (!schema?.response || isHidden(schema) || url === undefined) return payload;
    const key = keyOf(request.method, url);
    const status = reply.statusCode;
    if (!check.observed.has(key)) check.observed.set(key, new Set());
    check.observed.get(key)!.add(status);
    const problem = violation(schema.response, status, reply, payload);
    if (!problem) return payload;
    const message = `${key} answered ${status}: ${problem}`;
    check.violations.push(message);
    request.log.error({ violation: message }, 'response does not match its declared schema');
    reply.code(500).header('content-type', 'application/problem+json');
    return JSON.stringify({ ...problemFor('INTERNAL', `Contract violation: ${message}`), instance: request.url });
  });
}

function violation(responses: ResponseSchemas, status: number, reply: FastifyReply, payload: unknown): string | undefined {
  const declared = responses[String(status)];
  if (!declared) return `status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})`;
  const contentType = String(reply.getHeader('content-type') ?? '')
    .split(';')[0]!
    .trim();
  if (status === 204 || (declared as { type?: string }).type === 'null') {
    // send(null) serialises to "null"; Fastify writes no body on a 204 (RFC 9110 §15.3.5).
    return payload === undefined || payload === null || payload === '' || (status === 204 && payload === 'null')
      ? undefined
      : 'a body was sent where none is declared';
  }
  let bodySchema: TSchema | undefined = declared;
  if (declared.content) {
    bodySchema = declared.content[contentType]?.schema;
    if (!bodySchema) return `content type "${contentType}" is not declared (declared: ${Object.keys(declared.content).join(', ')})`;
  } else if (contentType !== 'application/json') return `content type "${contentType}" is not declared (application/json is)`;
  // Text (text/html, text/csv) or bytes (an attachment download): the declared content type is the contract.
  if (!/[/+]json$/.test(contentType))
    return typeof payload === 'string' || Buffer.isBuffer(payload) || isStream(payload) ? undefined : 'the body is neither text nor bytes';
  if (typeof payload !== 'string') return 'the body is not serialised JSON';
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return 'the body is not JSON';
  }
  const errors = [...Value.Errors(bodySchema, body)].slice(0, 5);
  if (errors.length) return `the body does not match the schema: ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`;
  const before = sent.get(reply);
  if (before !== undefined && !isDeepStrictEqual(JSON.parse(before), body)) {
    return `serialisation changed the body (a field is undeclared, or a value was coerced): sent ${before.slice(0, 600)}, answered ${payload.slice(0, 600)}`;
  }
  return undefined;
}
