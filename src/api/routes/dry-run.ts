import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { parseSendRequest } from '../../accept/index.js';
import { validationError } from '../../core/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { Warning } from './content-schemas.js';
import { SendBody } from './messages.js';

/**
 * POST /v1/messages/dry-run: everything a send does up to the commit (the same parseSendRequest,
 * template rendering and MIME composition, accept's `draft`), then the preflight checks, and the
 * answer: warnings and the normalised MIME as it would be stored and sent, with the DKIM-Signature
 * fields it would get (signature values left out). Nothing is stored, counted or sent.
 *
 * GET/PUT /v1/preflight/policy: the warning codes that refuse this tenant's sends.
 */
const noValidation = () => () => true;
const tags = ['messages'];

const Policy = Type.Object(
  {
    refuse: Type.Array(Type.String(), { description: 'Warning codes that refuse a send (422 PREFLIGHT_REFUSED).' }),
    codes: Type.Array(Type.String(), { description: 'Every preflight code.' }),
    coach_only: Type.Array(Type.String(), { description: 'Codes that only coach and cannot refuse.' }),
  },
  {
    examples: [
      {
        refuse: ['list_unsubscribe_missing', 'html_clipped'],
        codes: ['text_part_missing', 'html_images_only', '…'],
        coach_only: ['dkim_rotation_due', 'cold_opening_repeated', 'cold_spam_phrase'],
      },
    ],
  },
);

const DryRunAnswer = Type.Object(
  {
    warnings: Type.Array(Warning),
    refused: Type.Array(Type.String(), {
      description: "Codes among the warnings that the tenant's preflight policy refuses: the send would answer 422 PREFLIGHT_REFUSED.",
    }),
    mime: Type.String({
      description:
        'The message as it would be stored and sent (CRLF line ends), DKIM-Signature fields on top with b= left empty. Date and Message-ID are those of this run.',
    }),
    size: Type.Integer({ description: 'Bytes of the message without the DKIM-Signature fields.' }),
    stream: Type.String(),
    recipients: Type.Array(Type.Object({ email: Type.String(), kind: Type.String() })),
    dkim: Type.Array(Type.Object({ domain: Type.String(), selector: Type.String(), algorithm: Type.String() })),
    template: Type.Union([
      Type.Object({ id: Type.String(), name: Type.String(), version: Type.Integer(), locale: Type.String() }),
      Type.Null(),
    ]),
  },
  {
    examples: [
      {
        warnings: [
          {
            code: 'text_part_missing',
            severity: 'warning',
            path: '/text',
            message: 'the message has HTML but no text part',
            hint: 'Add a text version.',
          },
        ],
        refused: [],
        mime: 'From: hello@example.com\r\nTo: ann@example.net\r\nSubject: Hi\r\n…',
        size: 512,
        stream: 'transactional',
        recipients: [{ email: 'ann@example.net', kind: 'to' }],
        dkim: [],
        template: null,
      },
    ],
  },
);

export function dryRunRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/messages/dry-run',
    {
      config: { scope: 'send' },
      schema: {
        tags,
        summary: 'Check a send without sending it: preflight warnings and the MIME that would go out',
        description:
          'Takes exactly the body of POST /v1/messages (checked the same way, not by this schema). Stores, counts and sends nothing; the sender domain and suppression are checked at send time only.',
        body: SendBody,
        response: { 200: DryRunAnswer, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
      validatorCompiler: noValidation,
    },
    async (request) => {
      const p = principalOf(request);
      const parsed = parseSendRequest(request.body);
      if (!parsed.ok) throw validationError(parsed.errors);
      const d = await s.accept.draft(p, parsed.request);
      const warnings = await s.preflight.checkMessage(d.preflight);
      const refusing = await s.preflight.refusedCodes(p.tenant.id);
      const dkim = s.dkimPreview ? await s.dkimPreview(d.raw, d.request.from.domain) : { headers: '', signatures: [] };
      return {
        warnings,
        refused: [...new Set(warnings.map((w) => w.code).filter((c) => refusing.includes(c)))],
        mime: dkim.headers + d.raw.toString('utf8'),
        size: d.raw.length,
        stream: d.request.stream,
        recipients: d.recipients.map((x) => ({ email: x.mailbox.address, kind: x.kind })),
        dkim: dkim.signatures,
        template: d.template ?? null,
      };
    },
  );

  const policyJson = async (tenantId: string) => ({
    refuse: await s.preflight.refusedCodes(tenantId),
    codes: [...s.preflight.codes],
    coach_only: [...s.preflight.coachOnly],
  });

  r.get(
    '/preflight/policy',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: "The tenant's preflight policy: which warning codes refuse a send",
        description: 'A send whose preflight warnings include one of these codes answers 422 PREFLIGHT_REFUSED; `codes` lists every code.',
        response: { 200: Policy, ...problems(...AUTHED) },
      },
    },
    async (request) => policyJson(principalOf(request).tenant.id),
  );

  r.put(
    '/preflight/policy',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Choose the warning codes that refuse a send',
        description:
          'Replaces the list. Coach-only codes (cold-lane checks, DKIM rotation) cannot be listed. Nodes apply a change within 10 s.',
        body: Type.Object(
          { refuse: Type.Array(Type.String(), { maxItems: 50 }) },
          { additionalProperties: false, examples: [{ refuse: ['list_unsubscribe_missing', 'html_clipped'] }] },
        ),
        response: { 200: Policy, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      await s.preflight.setRefusedCodes(p.tenant.id, request.body.refuse);
      return policyJson(p.tenant.id);
    },
  );
}
