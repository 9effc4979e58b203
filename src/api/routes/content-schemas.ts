import { Type } from 'typebox';
import { type PreflightCode, preflightCodes } from '../../content/index.js';
import { streams } from '../../core/index.js';

/**
 * TypeBox schemas shared by the template, preview, dry-run and preflight-policy routes: preflight
 * warnings and template content. Each route declares its own error statuses.
 */

export const Warning = Type.Object(
  {
    code: Type.Unsafe<PreflightCode>({ type: 'string', enum: [...preflightCodes], description: 'Stable warning code (docs/content.md).' }),
    severity: Type.Union([Type.Literal('info'), Type.Literal('warning')]),
    path: Type.String({ description: 'JSON path of the request field the warning is about.' }),
    message: Type.String(),
    hint: Type.String({ description: 'What to change.' }),
  },
  {
    examples: [
      {
        code: 'image_alt_missing',
        severity: 'warning',
        path: '/html',
        message: '1 image(s) have no alt attribute: https://cdn.example.com/hero.png',
        hint: 'Give every image an alt text (alt="" for a purely decorative one): readers with images blocked, and screen readers, see only that.',
      },
    ],
  },
);

export const StreamOrNull = Type.Union([Type.Literal('transactional'), Type.Literal('marketing'), Type.Literal('cold'), Type.Null()], {
  description: `One of ${streams.join(', ')}, or null (any).`,
});

const LocaleContent = Type.Object(
  { subject: Type.Optional(Type.String()), html: Type.Optional(Type.String()), text: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const TemplateContent = Type.Object({
  subject: Type.String({ description: 'Liquid; rendered without HTML escaping.' }),
  html: Type.String({ description: 'Liquid; output is HTML-escaped unless piped through `raw`.' }),
  text: Type.Optional(Type.String({ description: 'Liquid; absent: made from the rendered HTML.' })),
  partials: Type.Record(Type.String(), Type.String(), { description: 'Named partials for {% render %} / {% include %}.' }),
  locales: Type.Record(Type.String(), LocaleContent, { description: 'Per-locale overrides; fr-CA falls back to fr, then the base.' }),
  default_locale: Type.String(),
  inline_css: Type.Boolean({ description: 'Inline <style> rules with juice (default true).' }),
});

const contentExample = {
  subject: 'Your order {{ order.id }}',
  html: '<style>p { color: #333 }</style><p>Hello {{ customer.name }},</p>{% render "footer" %}',
  partials: { footer: '<p>Acme Inc.</p>' },
  locales: { fr: { subject: 'Votre commande {{ order.id }}' } },
  default_locale: 'en',
  inline_css: true,
};

export const TemplateInputBody = Type.Object(
  {
    name: Type.String({ description: 'Unique per tenant; usable in place of the id.' }),
    stream: Type.Optional(StreamOrNull),
    subject: Type.String(),
    html: Type.String(),
    text: Type.Optional(Type.String()),
    partials: Type.Optional(Type.Record(Type.String(), Type.String())),
    locales: Type.Optional(Type.Record(Type.String(), LocaleContent)),
    default_locale: Type.Optional(Type.String()),
    inline_css: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, examples: [{ name: 'order-shipped', stream: 'transactional', ...contentExample }] },
);

export const TemplateDraftBody = Type.Partial(Type.Omit(TemplateInputBody, ['name']), {
  additionalProperties: false,
  examples: [{ subject: 'Your order {{ order.id }} has shipped' }],
});

export const templateExample = {
  id: 'tpl_01JEXAMPLE0000000000000000',
  name: 'order-shipped',
  stream: 'transactional',
  current_version: 1,
  versions: [{ version: 1, published_at: '2026-12-06T10:00:00.000Z' }],
  draft: contentExample,
  created_at: '2026-12-06T09:58:00.000Z',
  updated_at: '2026-12-06T10:00:00.000Z',
};

export const TemplateJson = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    stream: StreamOrNull,
    current_version: Type.Union([Type.Integer(), Type.Null()], { description: 'The version sends render; null until published.' }),
    versions: Type.Array(Type.Object({ version: Type.Integer(), published_at: Type.String({ format: 'date-time' }) })),
    draft: TemplateContent,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { examples: [templateExample] },
);

export const Data = Type.Record(Type.String(), Type.Unknown(), { description: 'The variables the template reads.' });

/** `template` on a send: instead of subject, text and html (docs/templates.md). */
export const TemplateRef = Type.Object(
  {
    id: Type.String({ description: 'Template id (tpl_…) or name.' }),
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'A published version; default the current one.' })),
    locale: Type.Optional(Type.String({ description: 'e.g. fr-CA; falls back to fr, then the default.' })),
    data: Type.Optional(Data),
  },
  {
    additionalProperties: false,
    examples: [{ id: 'order-shipped', locale: 'fr-CA', data: { customer: { name: 'Ann' }, order: { id: 'A-1' } } }],
  },
);
