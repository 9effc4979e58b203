import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type AcceptedMessage, parseSendRequest, type SendWarning } from '../../accept/index.js';
import { isPostwardenError, validationError } from '../../core/index.js';
import type { RecipientRow } from '../../store/index.js';
import { principalOf } from '../plugins/auth.js';
import { problemFor } from '../plugins/problem.js';
import type { ApiServices } from '../services.js';
import { TemplateRef } from './content-schemas.js';
import { eventJson, iso, messageJson, recipientJson } from './json.js';

/**
 * POST /v1/messages and /v1/messages/batch, GET /v1/messages/{id} (the list: message-search.ts).
 *
 * The send body is checked by parseSendRequest (shared with nothing else, but richer than a JSON
 * schema: it accepts the address shapes people use and reports each problem by JSON path). The
 * TypeBox schema below documents it in OpenAPI and is not used to validate.
 */
const Address = Type.Union([
  Type.String({ description: 'An address, "Name <address>", or several separated by commas.' }),
  Type.Object({ email: Type.String(), name: Type.Optional(Type.String()) }),
]);
const Addresses = Type.Union([Address, Type.Array(Address)]);
export const SendBody = Type.Object({
  from: Address,
  to: Type.Optional(Addresses),
  cc: Type.Optional(Addresses),
  bcc: Type.Optional(Addresses),
  reply_to: Type.Optional(Addresses),
  subject: Type.Optional(Type.String({ maxLength: 998, description: 'Required unless template is given.' })),
  text: Type.Optional(Type.String()),
  html: Type.Optional(Type.String()),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  attachments: Type.Optional(
    Type.Array(
      Type.Object({
        filename: Type.String(),
        content: Type.String({ description: 'base64' }),
        content_type: Type.Optional(Type.String()),
        content_id: Type.Optional(Type.String()),
        encoding: Type.Optional(Type.Literal('base64', { description: 'How content is encoded; base64 is the only value.' })),
      }),
    ),
  ),
  tags: Type.Optional(Type.Array(Type.String())),
  metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
  stream: Type.Optional(Type.Union([Type.Literal('transactional'), Type.Literal('marketing'), Type.Literal('cold')])),
  send_at: Type.Optional(
    Type.String({ description: 'RFC 3339 time to send at (up to limits.maxScheduleDays ahead); cancellable until then' }),
  ),
  template: Type.Optional(TemplateRef),
});
const SendQuery = Type.Object({
  mode: Type.Optional(Type.Union([Type.Literal('queue'), Type.Literal('sync')], { description: 'sync waits for first outcomes' })),
  wait_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 120000 })),
});
const noValidation = () => () => true;

/** `warnings`: each field variant that was read as ours (send-variants.ts), with its path in the request. */
function acceptedJson(a: AcceptedMessage, warnings: SendWarning[]) {
  return {
    id: a.id,
    status: 'queued',
    stream: a.stream,
    sandbox: a.sandbox,
    recipients: a.recipients.map((r) => ({
      id: r.id,
      email: r.email,
      state: r.state,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.suppression ? { suppression: suppressionWhy(r.suppression) } : {}),
    })),
    warnings,
  };
}

const suppressionWhy = (x: NonNullable<AcceptedMessage['recipients'][number]['suppression']>) => ({
  reason: x.reason,
  scope: x.scope,
  domain: x.domain,
  stream: x.stream,
  since: iso(x.since),
  source: x.source,
});

export function messageRoutes(app: FastifyInstance, s: ApiServices): void {
  /** Waits (bounded) until every queued recipient has a first outcome; polls the store so it works across nodes. */
  async function waitForOutcomes(messageIds: string[], waitMs: number): Promise<{ rows: RecipientRow[]; complete: boolean }> {
    const deadline = s.clock.now() + waitMs;
    let delay = 10;
    for (let i = 0; i < 10_000; i++) {
      const rows = await s.spine.recipientsOf(messageIds);
      const pending = rows.some((r) => r.state === 'queued' || (r.state === 'in_flight' && r.attempts <= 1));
      if (!pending || s.clock.now() >= deadline) return { rows, complete: !pending };
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, deadline - s.clock.now()))));
      delay = Math.min(delay * 2, 200);
    }
    return { rows: await s.spine.recipientsOf(messageIds), complete: false };
  }

  app.post(
    '/v1/messages',
    {
      config: { scope: 'send' },
      schema: { body: SendBody, querystring: SendQuery, tags: ['messages'], summary: 'Send a message' },
      validatorCompiler: noValidation,
    },
    async (request, reply) => {
      const p = principalOf(request);
      const mode = parseMode(request.query as Record<string, string | undefined>, s.limits.syncWaitMs);
      const parsed = parseSendRequest(request.body);
      if (!parsed.ok) throw validationError(parsed.errors);
      const accepted = await s.accept.acceptRequest(p, parsed.request);
      if (mode.mode !== 'sync') return reply.code(202).send(acceptedJson(accepted, parsed.warnings));
      const { rows, complete } = await waitForOutcomes([accepted.id], mode.waitMs);
      return reply.code(complete ? 200 : 202).send({
        ...acceptedJson(accepted, parsed.warnings),
        status: complete ? 'completed' : 'pending',
        // A suppressed recipient keeps the why of the accept answer.
        recipients: rows.map((r) => {
          const why = accepted.recipients.find((a) => a.id === r.id)?.suppression;
          return { ...recipientJson(r), ...(why ? { suppression: suppressionWhy(why) } : {}) };
        }),
      });
    },
  );

  app.post(
    '/v1/messages/batch',
    {
      config: { scope: 'send' },
      schema: {
        body: Type.Object({ messages: Type.Array(SendBody, { minItems: 1, maxItems: 500 }) }),
        tags: ['messages'],
        summary: 'Send up to 500 messages; each gets its own result',
      },
      validatorCompiler: noValidation,
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body as { messages?: unknown };
      if (typeof body !== 'object' || body === null || !Array.isArray(body.messages)) {
        throw validationError([{ path: '/messages', message: 'must be a list of messages' }]);
      }
      if (body.messages.length === 0 || body.messages.length > s.limits.batchMax) {
        throw validationError([{ path: '/messages', message: `must hold 1 to ${s.limits.batchMax} messages` }]);
      }
      const results = await Promise.all(
        body.messages.map(async (m, i) => {
          const parsed = parseSendRequest(m);
          try {
            if (!parsed.ok) throw validationError(parsed.errors);
            const warnings = parsed.warnings.map((w) => ({ path: `/messages/${i}${w.path}`, message: w.message }));
            return acceptedJson(await s.accept.acceptRequest(p, parsed.request), warnings);
          } catch (e) {
            if (!isPostwardenError(e)) throw e;
            const { errors, retryAfter: _r, ...rest } = e.details;
            const prefixed = errors?.map((x) => ({ path: `/messages/${i}${x.path}`, message: x.message }));
            return { error: problemFor(e.code, e.message, { ...(prefixed ? { errors: prefixed } : {}), ...rest }) };
          }
        }),
      );
      const accepted = results.filter((r) => !('error' in r)).length;
      return reply.code(accepted ? 202 : 422).send({ accepted, rejected: results.length - accepted, messages: results });
    },
  );

  app.get(
    '/v1/messages/:id',
    {
      config: { scope: 'read' },
      schema: {
        params: Type.Object({ id: Type.String() }),
        tags: ['messages'],
        summary: 'A message with its recipients and ordered timeline',
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { id } = request.params as { id: string };
      const view = await s.spine.message(p.tenant.id, id);
      return {
        ...messageJson(view.message),
        state: view.state,
        recipients: view.recipients.map(recipientJson),
        events: view.events.map(eventJson),
      };
    },
  );
  // GET /v1/messages (list and search) lives in message-search.ts.
}

/** The query of a send; validated by hand because the route's body skips schema validation. */
function parseMode(q: Record<string, string | undefined>, maxWaitMs: number): { mode: 'queue' | 'sync'; waitMs: number } {
  const errors = [];
  if (q.mode !== undefined && q.mode !== 'queue' && q.mode !== 'sync')
    errors.push({ path: '/query/mode', message: 'must be queue or sync' });
  const wait = q.wait_ms === undefined ? maxWaitMs : Number(q.wait_ms);
  if (!Number.isInteger(wait) || wait < 100 || wait > maxWaitMs)
    errors.push({ path: '/query/wait_ms', message: `must be an integer from 100 to ${maxWaitMs}` });
  if (errors.length) throw validationError(errors);
  return { mode: q.mode === 'sync' ? 'sync' : 'queue', waitMs: wait };
}
