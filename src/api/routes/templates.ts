import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { templateContentJson, templateJson, templateSummaryJson } from '../../content/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import {
  Data,
  StreamOrNull,
  TemplateContent,
  TemplateDraftBody,
  TemplateInputBody,
  TemplateJson,
  templateExample,
  Warning,
} from './content-schemas.js';

/**
 * /v1/templates: a tenant's Liquid templates (docs/templates.md). Create and PATCH change the draft;
 * publish makes the draft the next immutable version and the current one (with the preflight's
 * warnings in the answer); rollback makes an earlier version current; preview renders the draft or
 * a version with data. `{id}` is the template id (tpl_…) or its name.
 */
const Id = Type.Object({ id: Type.String({ description: 'Template id (tpl_…) or name.' }) });
const tags = ['templates'];

export function templateRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/templates',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Create a template (its draft)',
        description: 'The Liquid sources are checked for syntax; publish the draft to make it sendable.',
        body: TemplateInputBody,
        response: { 201: TemplateJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const v = await s.templates.create(principalOf(request).tenant.id, request.body);
      return reply.code(201).send(templateJson(v));
    },
  );

  r.get(
    '/templates',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'List templates, oldest first',
        description: 'Pages by id: pass next_after as after for the next page.',
        querystring: Type.Object({
          after: Type.Optional(Type.String()),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        }),
        response: {
          200: Type.Object(
            {
              data: Type.Array(
                Type.Object({
                  id: Type.String(),
                  name: Type.String(),
                  stream: StreamOrNull,
                  current_version: Type.Union([Type.Integer(), Type.Null()]),
                  created_at: Type.String({ format: 'date-time' }),
                  updated_at: Type.String({ format: 'date-time' }),
                }),
              ),
              next_after: Type.Union([Type.String(), Type.Null()]),
            },
            { examples: [{ data: [], next_after: null }] },
          ),
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await s.templates.list(principalOf(request).tenant.id, { after: q.after, limit: q.limit });
      return { data: rows.map(templateSummaryJson), next_after: rows.length === q.limit ? rows[rows.length - 1]!.id : null };
    },
  );

  r.get(
    '/templates/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'A template: draft, versions, current version',
        description: 'By id (tpl_…) or name: the draft being edited, the published version numbers and which one sends use.',
        params: Id,
        response: { 200: TemplateJson, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => templateJson(await s.templates.get(principalOf(request).tenant.id, request.params.id)),
  );

  r.patch(
    '/templates/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change the draft',
        description: 'Fields not given keep their value. Published versions never change.',
        params: Id,
        body: TemplateDraftBody,
        response: { 200: TemplateJson, ...problems(...AUTHED, ...JSON_BODY, 404) },
      },
    },
    async (request) => templateJson(await s.templates.updateDraft(principalOf(request).tenant.id, request.params.id, request.body)),
  );

  r.get(
    '/templates/:id/versions/:version',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'A published version (immutable)',
        description: 'The content of one published version, exactly as it was published; versions never change.',
        params: Type.Object({ id: Type.String(), version: Type.Integer({ minimum: 1 }) }),
        response: {
          200: Type.Object(
            {
              template_id: Type.String(),
              version: Type.Integer(),
              current: Type.Boolean(),
              published_at: Type.String({ format: 'date-time' }),
              content: TemplateContent,
            },
            {
              examples: [
                {
                  template_id: 'tpl_01JEXAMPLE0000000000000000',
                  version: 1,
                  current: true,
                  published_at: '2026-12-06T10:00:00.000Z',
                  content: {
                    subject: 'Hi {{ name }}',
                    html: '<p>Hi {{ name }}</p>',
                    partials: {},
                    locales: {},
                    default_locale: 'en',
                    inline_css: true,
                  },
                },
              ],
            },
          ),
          ...problems(...AUTHED, 404, 422),
        },
      },
    },
    async (request) => {
      const v = await s.templates.version(principalOf(request).tenant.id, request.params.id, request.params.version);
      return {
        template_id: v.row.id,
        version: v.version,
        current: v.row.currentVersion === v.version,
        published_at: new Date(v.publishedAt).toISOString(),
        content: templateContentJson(v.content),
      };
    },
  );

  r.post(
    '/templates/:id/publish',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Publish the draft as the next version and make it current',
        description:
          'With sample `data` the new version is rendered with it (a render error refuses the publish) and the preflight checks its content; without, the checks run on the template with variables left empty. Warnings coach; they never stop a publish.',
        params: Id,
        body: Type.Optional(
          Type.Object(
            { data: Type.Optional(Data), locale: Type.Optional(Type.String()) },
            { additionalProperties: false, examples: [{ data: { customer: { name: 'Ann' }, order: { id: 'A-1' } } }] },
          ),
        ),
        response: {
          200: Type.Object(
            { template: TemplateJson, version: Type.Integer(), warnings: Type.Array(Warning) },
            { examples: [{ template: templateExample, version: 1, warnings: [] }] },
          ),
          // 409: another publish of the same template at the same moment, or IDEMPOTENT's.
          ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404),
        },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const out = await s.templates.publish(
        principalOf(request).tenant.id,
        request.params.id,
        {
          ...(body.data ? { data: body.data } : {}),
          ...(body.locale ? { locale: body.locale } : {}),
        },
        actorOf(request),
      );
      return { template: templateJson(out.view), version: out.version, warnings: out.warnings };
    },
  );

  r.post(
    '/templates/:id/rollback',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Make an earlier published version current',
        description: 'Later sends naming the template use this version; the draft and the other versions stay as they are.',
        params: Id,
        body: Type.Object({ version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false, examples: [{ version: 1 }] }),
        response: { 200: TemplateJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404) },
      },
    },
    async (request) =>
      templateJson(await s.templates.rollback(principalOf(request).tenant.id, request.params.id, request.body.version, actorOf(request))),
  );

  r.post(
    '/templates/:id/preview',
    {
      config: { scope: 'send' },
      schema: {
        tags,
        summary: 'Render the draft (or a version) with data',
        description:
          'Strict variables: a variable the data lacks is a 422 naming it and its path. Preflight warnings come with the result.',
        params: Id,
        body: Type.Object(
          { data: Data, locale: Type.Optional(Type.String()), version: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false, examples: [{ data: { customer: { name: 'Ann' }, order: { id: 'A-1' } }, locale: 'fr-CA' }] },
        ),
        response: {
          200: Type.Object(
            {
              template_id: Type.String(),
              version: Type.Union([Type.Integer(), Type.Null()], { description: 'null: the draft' }),
              locale: Type.String({ description: 'The locale whose content was used (after fallback).' }),
              subject: Type.String(),
              html: Type.String(),
              text: Type.String(),
              warnings: Type.Array(Warning),
            },
            {
              examples: [
                {
                  template_id: 'tpl_01JEXAMPLE0000000000000000',
                  version: null,
                  locale: 'fr',
                  subject: 'Votre commande A-1',
                  html: '<p style="color: #333;">Hello Ann,</p><p>Acme Inc.</p>',
                  text: 'Hello Ann,\n\nAcme Inc.',
                  warnings: [],
                },
              ],
            },
          ),
          ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404),
        },
      },
    },
    async (request) => {
      const b = request.body;
      const out = await s.templates.preview(principalOf(request).tenant.id, request.params.id, {
        data: b.data,
        ...(b.locale ? { locale: b.locale } : {}),
        ...(b.version !== undefined ? { version: b.version } : {}),
      });
      return { template_id: out.row.id, version: out.version, ...out.rendered, warnings: out.warnings };
    },
  );
}
