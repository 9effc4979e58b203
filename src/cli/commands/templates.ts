import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { Act } from '../context.js';
import { apiClientFor } from '../context.js';
import { CliError, table } from '../output.js';

/**
 * `postwarden templates list|create|show|publish|rollback|preview`: /v1/templates on a running
 * server (docs/templates.md). The server checks everything; these commands turn flags and files
 * into JSON and print the answer (--json prints it whole).
 */
interface TemplateWire {
  id: string;
  name: string;
  stream: string | null;
  current_version: number | null;
  versions?: { version: number; published_at: string }[];
  draft?: {
    subject: string;
    default_locale: string;
    locales: Record<string, unknown>;
    partials: Record<string, string>;
    inline_css: boolean;
  };
  updated_at: string;
}
interface WarningWire {
  code: string;
  severity: string;
  path: string;
  message: string;
  hint: string;
}

function readText(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read ${flag} ${file}: ${(e as Error).message}`);
  }
}

function readJson(text: string, flag: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CliError('USAGE', `${flag} is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CliError('USAGE', `${flag} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** --data '{…}' or --data-file data.json. */
function dataOf(o: { data?: string; dataFile?: string }): Record<string, unknown> | undefined {
  if (o.data !== undefined) return readJson(o.data, '--data');
  if (o.dataFile !== undefined) return readJson(readText(o.dataFile, '--data-file'), '--data-file');
  return undefined;
}

const warningLines = (ws: WarningWire[]) =>
  ws.length
    ? ['warnings:', ...ws.map((w) => `  ${w.severity} ${w.code} ${w.path}: ${w.message}\n    hint: ${w.hint}`)]
    : ['no preflight warnings'];

const versionOf = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError('USAGE', `${v} is not a version number (1, 2, …)`);
  return n;
};

export function registerTemplates(program: Command, act: Act): void {
  const tpl = program.command('templates').description('Liquid templates on a running server (/v1/templates)');
  const path = (id: string) => `/v1/templates/${encodeURIComponent(id)}`;

  tpl
    .command('list')
    .description('List templates')
    .action(
      act(async (ctx) => {
        const { body } = await apiClientFor(ctx).request<{ data: TemplateWire[] }>({ method: 'GET', path: '/v1/templates' });
        ctx.out.result(body, () =>
          body.data.length
            ? table([
                ['ID', 'NAME', 'STREAM', 'CURRENT', 'UPDATED'],
                ...body.data.map((t) => [
                  t.id,
                  t.name,
                  t.stream ?? '',
                  t.current_version === null ? '(draft)' : `v${t.current_version}`,
                  t.updated_at,
                ]),
              ])
            : ['No templates.'],
        );
      }),
    );

  tpl
    .command('create')
    .description('Create a template (its draft); --file gives the whole JSON (partials, locales), flags override it')
    .option('--file <json>', 'template JSON: name, stream, subject, html, text, partials, locales, default_locale, inline_css')
    .option('--name <name>', 'unique name, usable in place of the id')
    .option('--subject <liquid>', 'subject (Liquid)')
    .addOption(new Option('--html <liquid>', 'HTML body (Liquid)').conflicts('htmlFile'))
    .option('--html-file <file>', 'HTML body read from a file')
    .addOption(new Option('--text <liquid>', 'text body (Liquid); default: made from the HTML').conflicts('textFile'))
    .option('--text-file <file>', 'text body read from a file')
    .addOption(new Option('--stream <stream>', 'the stream it is written for').choices(['transactional', 'marketing', 'cold']))
    .option('--no-inline-css', 'keep <style> blocks instead of inlining CSS')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{
          file?: string;
          name?: string;
          subject?: string;
          html?: string;
          htmlFile?: string;
          text?: string;
          textFile?: string;
          stream?: string;
          inlineCss: boolean;
        }>();
        const body: Record<string, unknown> = o.file ? readJson(readText(o.file, '--file'), '--file') : {};
        if (o.name !== undefined) body.name = o.name;
        if (o.subject !== undefined) body.subject = o.subject;
        if (o.html !== undefined) body.html = o.html;
        if (o.htmlFile !== undefined) body.html = readText(o.htmlFile, '--html-file');
        if (o.text !== undefined) body.text = o.text;
        if (o.textFile !== undefined) body.text = readText(o.textFile, '--text-file');
        if (o.stream !== undefined) body.stream = o.stream;
        if (!o.inlineCss) body.inline_css = false;
        const { body: t } = await apiClientFor(ctx).request<TemplateWire>({ method: 'POST', path: '/v1/templates', body });
        ctx.out.result(t, () => [`Created ${t.id} (${t.name}): a draft; publish it with postwarden templates publish ${t.name}`]);
      }),
    );

  tpl
    .command('show')
    .description('Show a template: current version, versions, draft')
    .argument('<id>', 'template id (tpl_…) or name')
    .action(
      act(async (ctx, cmd) => {
        const [id] = cmd.processedArgs as [string];
        const { body: t } = await apiClientFor(ctx).request<TemplateWire>({ method: 'GET', path: path(id) });
        ctx.out.result(t, () => [
          `${t.id}  ${t.name}`,
          `stream:    ${t.stream ?? '(any)'}`,
          `current:   ${t.current_version === null ? '(not published)' : `v${t.current_version}`}`,
          `versions:  ${(t.versions ?? []).map((v) => `v${v.version} ${v.published_at}`).join(', ') || '(none)'}`,
          `draft:     subject ${JSON.stringify(t.draft?.subject ?? '')}, locales ${Object.keys(t.draft?.locales ?? {}).join(', ') || '(none)'}, partials ${Object.keys(t.draft?.partials ?? {}).join(', ') || '(none)'}`,
        ]);
      }),
    );

  tpl
    .command('publish')
    .description('Publish the draft as the next version and make it current (prints preflight warnings)')
    .argument('<id>', 'template id (tpl_…) or name')
    .addOption(new Option('--data <json>', 'sample data to render and check with').conflicts('dataFile'))
    .option('--data-file <file>', 'sample data read from a JSON file')
    .option('--locale <tag>', 'locale to render the sample in')
    .action(
      act(async (ctx, cmd) => {
        const [id] = cmd.processedArgs as [string];
        const o = cmd.opts<{ data?: string; dataFile?: string; locale?: string }>();
        const data = dataOf(o);
        const { body } = await apiClientFor(ctx).request<{ version: number; template: TemplateWire; warnings: WarningWire[] }>({
          method: 'POST',
          path: `${path(id)}/publish`,
          body: { ...(data ? { data } : {}), ...(o.locale ? { locale: o.locale } : {}) },
        });
        ctx.out.result(body, () => [`Published ${body.template.name} v${body.version} (now current)`, ...warningLines(body.warnings)]);
      }),
    );

  tpl
    .command('rollback')
    .description('Make an earlier published version current')
    .argument('<id>', 'template id (tpl_…) or name')
    .argument('<version>', 'the version to make current', versionOf)
    .action(
      act(async (ctx, cmd) => {
        const [id, version] = cmd.processedArgs as [string, number];
        const { body: t } = await apiClientFor(ctx).request<TemplateWire>({
          method: 'POST',
          path: `${path(id)}/rollback`,
          body: { version },
        });
        ctx.out.result(t, () => [`${t.name}: v${t.current_version} is current`]);
      }),
    );

  tpl
    .command('preview')
    .description('Render the draft (or --version) with data; prints subject and text (--json: html too)')
    .argument('<id>', 'template id (tpl_…) or name')
    .addOption(new Option('--data <json>', 'the data, as JSON').conflicts('dataFile'))
    .option('--data-file <file>', 'the data, from a JSON file')
    .option('--locale <tag>', 'locale, e.g. fr-CA')
    .option('--version <n>', 'a published version instead of the draft', versionOf)
    .option('--html', 'print the HTML instead of the text')
    .action(
      act(async (ctx, cmd) => {
        const [id] = cmd.processedArgs as [string];
        const o = cmd.opts<{ data?: string; dataFile?: string; locale?: string; version?: number; html?: boolean }>();
        const { body } = await apiClientFor(ctx).request<{
          locale: string;
          version: number | null;
          subject: string;
          html: string;
          text: string;
          warnings: WarningWire[];
        }>({
          method: 'POST',
          path: `${path(id)}/preview`,
          body: { data: dataOf(o) ?? {}, ...(o.locale ? { locale: o.locale } : {}), ...(o.version ? { version: o.version } : {}) },
        });
        ctx.out.result(body, () => [
          `subject: ${body.subject}`,
          `locale:  ${body.locale}   version: ${body.version === null ? 'draft' : `v${body.version}`}`,
          '',
          ...(o.html ? body.html : body.text).split('\n'),
          '',
          ...warningLines(body.warnings),
        ]);
      }),
    );
}
