import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { recordContentRead } from './audit.js';
import { CapturedJson, capturedJson, PageBefore } from './json.js';

/** What sandbox delivery captured instead of sending: one entry per recipient. */
const captureExample = {
  id: 'cap_01JD7Y4A0B3C',
  message_id: 'msg_01JD7Y3H2C9M',
  recipient_id: 'rcp_01JD7Y3H2D1P',
  envelope_from: 'bounce+x1@bounces.example.com',
  envelope_to: 'ada@example.org',
  captured_at: '2026-01-05T11:02:01.000Z',
};
const Captures = Type.Object(
  {
    ...PageBefore(CapturedJson, 'Pass back as `before` for older captures; null on the last page.').properties,
  },
  { additionalProperties: false, examples: [{ data: [captureExample], next_before: null }] },
);
const CaptureWithRaw = Type.Object(
  { ...CapturedJson.properties, raw: Type.String({ description: 'The whole message as it would have been sent (RFC 5322).' }) },
  { additionalProperties: false, examples: [{ ...captureExample, raw: 'From: shop@example.com\r\nTo: ada@example.org\r\n…' }] },
);

export function sandboxRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/sandbox/messages',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['sandbox'],
        summary: 'Captured messages',
        description: 'What sandbox delivery captured instead of sending, newest first, one entry per recipient.',
        querystring: Type.Object({
          before: Type.Optional(Type.String({ description: 'next_before of the previous page.' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
        }),
        response: { 200: Captures, ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const limit = request.query.limit ?? 50;
      const rows = await s.spine.listCaptured(p.tenant.id, { before: request.query.before, limit });
      return { data: rows.map(capturedJson), next_before: rows.length === limit ? rows[rows.length - 1]!.id : null };
    },
  );
  r.get(
    '/sandbox/messages/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['sandbox'],
        summary: 'One capture with the raw message',
        description: 'The capture and the message bytes as they would have gone out, DKIM signature included.',
        params: Type.Object({ id: Type.String({ description: 'Capture id (cap_…).', examples: ['cap_01JD7Y4A0B3C'] }) }),
        response: { 200: CaptureWithRaw, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { capture, raw } = await s.spine.captured(p.tenant.id, request.params.id);
      await recordContentRead(s, request, capture.id, 'raw');
      return { ...capturedJson(capture), raw: raw.toString('utf8') };
    },
  );
}
