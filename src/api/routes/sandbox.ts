import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { CapturedRow } from '../../store/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

const capturedJson = (c: CapturedRow) => ({
  id: c.id,
  message_id: c.messageId,
  recipient_id: c.recipientId,
  envelope_from: c.envelopeFrom,
  envelope_to: c.envelopeTo,
  captured_at: iso(c.capturedAt),
});

/** What sandbox delivery captured instead of sending: one entry per recipient. */
export function sandboxRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get(
    '/v1/sandbox/messages',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['sandbox'],
        summary: 'Captured messages, newest first',
        querystring: Type.Object({
          before: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
        }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query as { before?: string; limit: number };
      const rows = await s.spine.listCaptured(p.tenant.id, q);
      return { data: rows.map(capturedJson), next_before: rows.length === q.limit ? rows[rows.length - 1]!.id : null };
    },
  );
  app.get(
    '/v1/sandbox/messages/:id',
    {
      config: { scope: 'read' },
      schema: { tags: ['sandbox'], summary: 'One capture with the raw message', params: Type.Object({ id: Type.String() }) },
    },
    async (request) => {
      const p = principalOf(request);
      const { capture, raw } = await s.spine.captured(p.tenant.id, (request.params as { id: string }).id);
      return { ...capturedJson(capture), raw: raw.toString('utf8') };
    },
  );
}
