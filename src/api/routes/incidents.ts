import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import {
  clocksOf,
  IncidentDetailJson,
  IncidentJson,
  incidentDetailJson,
  incidentJson,
  OpenIncidentBody,
  TraceBundleJson,
} from '../../compliance/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { PageBefore } from './json.js';
import { complianceOf } from './third-parties.js';

/**
 * /v1/incidents: incidents with their timeline, notification clocks and reminders (docs/compliance.md),
 * and GET /v1/messages/{id}/trace, a message's signed trace bundle. Opening, notes and closing are
 * audited (`incident.*`); the credential-compromise action is in credential-compromise.ts.
 */
const tags = ['compliance'];
const IdParams = Type.Object({ id: Type.String({ description: 'Incident id (inc_…).', examples: ['inc_01JF8Z3Q4N0000000000000000'] }) });

export function incidentRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const detail = async (tenantId: string, id: string) => {
    const { incidents } = complianceOf(s);
    return incidentDetailJson(await incidents.get(tenantId, id), await incidents.reminders(id));
  };

  r.get(
    '/incidents',
    {
      schema: {
        tags,
        summary: 'List incidents',
        description: 'Newest first; pass next_before back as `before` for older ones. GET /v1/incidents/{id} adds the reminders.',
        querystring: Type.Object({
          before: Type.Optional(Type.String({ description: 'next_before of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
        }),
        response: { 200: PageBefore(IncidentJson, 'Pass back as `before`; null on the last page.'), ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await complianceOf(s).incidents.page(principalOf(request).tenant.id, { before: q.before, limit: q.limit ?? 50 });
      return { data: page.data.map(incidentJson), next_before: page.next };
    },
  );
  r.post(
    '/incidents',
    {
      schema: {
        tags,
        summary: 'Open an incident',
        description:
          'Opens it with its notification clocks (a configured regime by name, or a custom clock) and links; appends incident.opened. An unknown regime answers 422 at /clocks/<n>, a message that is not this tenant’s 422 at /links/messages/<n>.',
        body: OpenIncidentBody,
        response: { 201: IncidentDetailJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const actor = actorOf(request);
      const b = request.body;
      const incident = await complianceOf(s).incidents.open(
        p.tenant.id,
        {
          kind: b.kind,
          severity: b.severity,
          title: b.title,
          ...(b.description !== undefined ? { description: b.description } : {}),
          openedBy: actor.id,
          clocks: clocksOf(b.clocks),
          ...(b.links ? { links: b.links } : {}),
        },
        actor,
      );
      return reply.code(201).send(await detail(p.tenant.id, incident.id));
    },
  );
  r.get(
    '/incidents/:id',
    {
      schema: {
        tags,
        summary: 'An incident, its clocks and reminders',
        description:
          'The incident with its timeline, each notification clock with its deadline, and every reminder: sent (sent_at) or pending.',
        params: IdParams,
        response: { 200: IncidentDetailJson, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => detail(principalOf(request).tenant.id, request.params.id),
  );
  r.post(
    '/incidents/:id/notes',
    {
      schema: {
        tags,
        summary: 'Add a timeline note',
        description: 'Appends an entry to the timeline, by the caller (closed incidents too: findings often come later).',
        params: IdParams,
        body: Type.Object(
          { entry: Type.String({ minLength: 1, maxLength: 10_000 }) },
          { additionalProperties: false, examples: [{ entry: 'Recipient confirmed deletion by phone.' }] },
        ),
        response: { 200: IncidentDetailJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const actor = actorOf(request);
      await complianceOf(s).incidents.note(p.tenant.id, request.params.id, actor.id, request.body.entry, actor);
      return detail(p.tenant.id, request.params.id);
    },
  );
  r.post(
    '/incidents/:id/close',
    {
      schema: {
        tags,
        summary: 'Close an incident',
        description: 'Records the reason on the timeline and cancels the reminders not yet sent; an incident already closed answers 409.',
        params: IdParams,
        body: Type.Object(
          { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
          { additionalProperties: false, examples: [{ reason: 'Authority notified on 2026-12-07; no further action.' }] },
        ),
        response: { 200: IncidentDetailJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const actor = actorOf(request);
      await complianceOf(s).incidents.close(p.tenant.id, request.params.id, actor.id, request.body.reason, actor);
      return detail(p.tenant.id, request.params.id);
    },
  );
  r.get(
    '/messages/:id/trace',
    {
      schema: {
        tags,
        summary: 'A message trace as a signed evidence bundle',
        description:
          'The message, its recipients and every event, as JSON and HTML, hashed and signed with the platform key (docs/compliance.md). Save the body as it is and verify it offline with postwarden trace verify.',
        params: Type.Object({ id: Type.String({ description: 'Message id (msg_…).', examples: ['msg_01JF8Z2K7C0000000000000000'] }) }),
        response: { 200: TraceBundleJson, ...problems(...AUTHED, 404) },
      },
    },
    async (request, reply) => {
      const text = await complianceOf(s).incidents.traceBundle(principalOf(request).tenant.id, { message_id: request.params.id });
      // The exact bytes that were signed, sent as text: a serializer must not reorder or re-space them
      // (the response check still holds them to TraceBundleJson).
      const untyped: FastifyReply = reply;
      return untyped.type('application/json; charset=utf-8').send(text);
    },
  );
}
