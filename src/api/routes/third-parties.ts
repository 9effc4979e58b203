import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ThirdPartyBody, ThirdPartyJson, ThirdPartyPatch, thirdPartyJson } from '../../compliance/index.js';
import { PostwardenError } from '../../core/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { List, NoContent, Page } from './json.js';

/**
 * /v1/third-parties: the tenant's third-party register (docs/compliance.md): services authorized to
 * send for its domains or to process its data, with their contract side (owner, purpose, data
 * categories, DPA, certifications, review date) and the identifiers that recognise their mail.
 * Every change is audited (`third_party.*`).
 */
const tags = ['compliance'];
const IdParams = Type.Object({
  id: Type.String({ description: 'Register entry id (tp_…).', examples: ['tp_01JF8Z3Q4N0000000000000000'] }),
});

export function complianceOf(s: ApiServices) {
  if (!s.compliance) throw new PostwardenError('NOT_FOUND', 'compliance operations are not available on this node');
  return s.compliance;
}

export function thirdPartyRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/third-parties',
    {
      schema: {
        tags,
        summary: 'List the third-party register',
        description: 'Entries in the order they were added; pass next_cursor back as `after` for the next page.',
        querystring: Type.Object({
          after: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Page(ThirdPartyJson, 'Pass back as `after`; null on the last page.'), ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await complianceOf(s).register.page(principalOf(request).tenant.id, { after: q.after, limit: q.limit ?? 100 });
      return { data: page.data.map(thirdPartyJson), next_cursor: page.next };
    },
  );
  r.post(
    '/third-parties',
    {
      schema: {
        tags,
        summary: 'Add a register entry',
        description:
          'Dates may be given as YYYY-MM-DD or ISO date-times; answers carry ISO date-times. A name already in the register answers 409; an address that is not an IP or CIDR network, 422 at /identifiers/ips.',
        body: ThirdPartyBody,
        response: { 201: ThirdPartyJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const created = await complianceOf(s).register.create(principalOf(request).tenant.id, request.body, actorOf(request));
      return reply.code(201).send(thirdPartyJson(created));
    },
  );
  r.post(
    '/third-parties/seed',
    {
      schema: {
        tags,
        summary: 'Propose entries from what the platform sees',
        description:
          'One proposed entry per SPF include of the tenant’s domains, per DKIM domain that passed in the last 30 days of DMARC aggregate reports, and per remaining source address; names already in the register are kept as they are. Answers the entries added.',
        response: { 200: List(ThirdPartyJson), ...problems(...AUTHED, ...IDEMPOTENT) },
      },
    },
    async (request) => ({
      data: (await complianceOf(s).register.seed(principalOf(request).tenant.id, actorOf(request))).map(thirdPartyJson),
    }),
  );
  r.get(
    '/third-parties/:id',
    {
      schema: {
        tags,
        summary: 'A register entry',
        description: 'The entry with its contract side and identifiers.',
        params: IdParams,
        response: { 200: ThirdPartyJson, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => thirdPartyJson(await complianceOf(s).register.get(principalOf(request).tenant.id, request.params.id)),
  );
  r.patch(
    '/third-parties/:id',
    {
      schema: {
        tags,
        summary: 'Change a register entry',
        description:
          'Fields given replace the stored ones (null clears owner, purpose, dpa or review_due_at); identifiers are replaced kind by kind. Record a review by setting review_due_at to the next date.',
        params: IdParams,
        body: ThirdPartyPatch,
        response: { 200: ThirdPartyJson, ...problems(...AUTHED, ...JSON_BODY, 404, 409) },
      },
    },
    async (request) =>
      thirdPartyJson(
        await complianceOf(s).register.update(principalOf(request).tenant.id, request.params.id, request.body, actorOf(request)),
      ),
  );
  r.delete(
    '/third-parties/:id',
    {
      schema: {
        tags,
        summary: 'Remove a register entry',
        description: 'Its mail is then unknown to the register again: the next DMARC report naming its sources raises alerts.',
        params: IdParams,
        response: { 204: NoContent('Removed.'), ...problems(...AUTHED, 404) },
      },
    },
    async (request, reply) => {
      await complianceOf(s).register.remove(principalOf(request).tenant.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
