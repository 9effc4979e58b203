import { type Actor, type AuditRecorder, unattributed } from '../audit/index.js';
import { type Clock, newId, PostwardenError, type Stream, validationError } from '../core/index.js';
import type { MessageTemplateRef, Repositories, Store, TemplateRow } from '../store/index.js';
import type { PreflightWarning } from './preflight-checks.js';
import { parseTemplateInput, type TemplateContent, type TemplateInput, type TemplateRef, templateContentJson } from './template-content.js';
import { type CompiledTemplate, checkTemplateSyntax, compileTemplate, type Rendered, renderTemplate } from './template-render.js';

/**
 * Templates of a tenant: a mutable draft and immutable published versions.
 *
 * Create and update change the draft only. Publishing copies the draft into the next version
 * number and makes it current; the version row is never written again, so what version 3 renders
 * today it renders forever. A rollback makes an earlier version current (it publishes nothing).
 * Sends render the current version, or the one they name; previews render the draft unless they
 * name a version. The preflight checks (preflight.ts) run on publish and their warnings come back
 * in its answer: they coach, they do not stop a publish.
 */
export interface TemplatesDeps {
  store: Pick<Store, 'templates' | 'transaction'>;
  clock: Clock;
  /** Preflight of rendered content, for the publish answer (absent: no warnings). */
  preflight?: (input: { tenantId: string; stream: Stream | null; rendered: Rendered }) => Promise<PreflightWarning[]>;
  /** Records publishes and rollbacks (what sends render) in the audit log, in the change's transaction. */
  audit?: AuditRecorder;
}

export interface TemplateView {
  row: TemplateRow;
  draft: TemplateContent;
  versions: { version: number; publishedAt: number }[];
}

export interface RenderedForSend extends Rendered {
  template: MessageTemplateRef;
  /** The stream the template is written for, if it names one. */
  stream: Stream | null;
}

const TEMPLATE_ID = /^tpl_[0-9A-Z]{26}$/;

/** Compiled published versions kept per node (a version never changes, so an entry is never stale). */
const MAX_COMPILED = 1000;

export function createTemplates(deps: TemplatesDeps) {
  const { store, clock } = deps;
  const compiled = new Map<string, CompiledTemplate>();

  /** A published version, compiled once per node: a send neither reads the store for it again nor parses it again. */
  async function publishedVersion(templateId: string, version: number): Promise<CompiledTemplate | undefined> {
    const key = `${templateId}:${version}`;
    const hit = compiled.get(key);
    if (hit) return hit;
    const v = await store.templates.version(templateId, version);
    if (!v) return undefined;
    const c = compileTemplate(v.content as TemplateContent);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, c);
    return c;
  }

  function checked(body: unknown, base?: TemplateInput): TemplateInput {
    const parsed = parseTemplateInput(body, base);
    if (!parsed.ok) throw validationError(parsed.errors);
    const syntax = checkTemplateSyntax(parsed.value.content);
    if (syntax.length) throw validationError(syntax, 'The template has Liquid syntax errors.');
    return parsed.value;
  }

  /** By id (tpl_…) or by name; NOT_FOUND names what was asked for. */
  /** Makes `version` current, recorded as `action` in the same transaction. */
  async function makeCurrent(
    tx: Repositories,
    row: TemplateRow,
    before: number | null,
    version: number,
    now: number,
    actor: Actor,
    action: 'template.published' | 'template.rolled_back',
  ): Promise<void> {
    await tx.templates.setCurrent(row.tenantId, row.id, version, now);
    await deps.audit?.log.append(tx, {
      actor,
      tenantId: row.tenantId,
      action,
      resource: { type: 'template', id: row.id },
      before: { name: row.name, current_version: before },
      after: { name: row.name, current_version: version },
    });
  }

  async function find(tenantId: string, idOrName: string): Promise<TemplateRow> {
    const row = TEMPLATE_ID.test(idOrName)
      ? await store.templates.get(tenantId, idOrName)
      : await store.templates.getByName(tenantId, idOrName);
    if (!row) throw new PostwardenError('NOT_FOUND', `template ${idOrName} does not exist`);
    return row;
  }

  async function view(row: TemplateRow): Promise<TemplateView> {
    return { row, draft: row.draft as TemplateContent, versions: await store.templates.versions(row.id) };
  }

  async function versionContent(row: TemplateRow, version: number, path: string): Promise<TemplateContent> {
    const v = await store.templates.version(row.id, version);
    if (!v) {
      throw new PostwardenError('NOT_FOUND', `template ${row.name} has no version ${version}`, {
        errors: [{ path, message: `template ${row.name} has no published version ${version}` }],
      });
    }
    return v.content as TemplateContent;
  }

  return {
    async create(tenantId: string, body: unknown): Promise<TemplateView> {
      const input = checked(body);
      if (await store.templates.getByName(tenantId, input.name)) {
        throw new PostwardenError('CONFLICT', `a template named ${input.name} already exists`, {
          errors: [{ path: '/name', message: 'is taken by another template of this tenant' }],
        });
      }
      const now = clock.now();
      const row: TemplateRow = {
        id: newId('tpl', now),
        tenantId,
        name: input.name,
        stream: input.stream,
        draft: input.content,
        currentVersion: null,
        createdAt: now,
        updatedAt: now,
      };
      await store.templates.insert(row);
      return view(row);
    },

    async list(tenantId: string, opts: { after?: string; limit: number }): Promise<TemplateRow[]> {
      return store.templates.list(tenantId, opts);
    },

    get: async (tenantId: string, idOrName: string) => view(await find(tenantId, idOrName)),

    /** Changes the draft (fields not given keep their value); published versions are untouched. */
    async updateDraft(tenantId: string, idOrName: string, body: unknown): Promise<TemplateView> {
      const row = await find(tenantId, idOrName);
      const base: TemplateInput = { name: row.name, stream: row.stream as Stream | null, content: row.draft as TemplateContent };
      if (typeof body === 'object' && body && 'name' in body && (body as { name: unknown }).name !== row.name) {
        throw validationError([{ path: '/name', message: 'cannot change; create a new template instead' }]);
      }
      const input = checked(body, base);
      const at = clock.now();
      await store.templates.updateDraft(tenantId, row.id, { draft: input.content, stream: input.stream, at });
      return view({ ...row, draft: input.content, stream: input.stream, updatedAt: at });
    },

    async version(tenantId: string, idOrName: string, version: number) {
      const row = await find(tenantId, idOrName);
      const v = await store.templates.version(row.id, version);
      if (!v) throw new PostwardenError('NOT_FOUND', `template ${row.name} has no version ${version}`);
      return { row, version: v.version, content: v.content as TemplateContent, publishedAt: v.publishedAt };
    },

    /**
     * Publishes the draft as the next version and makes it current. With sample `data`, the new
     * version is rendered and preflight-checked (a render error refuses the publish: the version
     * would fail every send with that data); the warnings come back with the answer.
     */
    async publish(
      tenantId: string,
      idOrName: string,
      opts: { data?: Record<string, unknown>; locale?: string } = {},
      actor: Actor = unattributed,
    ) {
      const row = await find(tenantId, idOrName);
      const content = row.draft as TemplateContent;
      // With sample data a render error refuses the publish; without, the structure is checked with variables left empty.
      const rendered = await renderTemplate(content, {
        data: opts.data ?? {},
        locale: opts.locale,
        dataPath: '/data',
        lenient: !opts.data,
      });
      const now = clock.now();
      const version = await store.transaction(async (tx) => {
        const next = (await tx.templates.latestVersion(row.id)) + 1;
        try {
          await tx.templates.insertVersion({ templateId: row.id, version: next, content, publishedAt: now });
        } catch (e) {
          throw new PostwardenError(
            'CONFLICT',
            `template ${row.name} was published by another request at the same time; retry`,
            {},
            { cause: e },
          );
        }
        const before = (await tx.templates.get(tenantId, row.id))?.currentVersion ?? null;
        await makeCurrent(tx, row, before, next, now, actor, 'template.published');
        return next;
      });
      const warnings = deps.preflight ? await deps.preflight({ tenantId, stream: row.stream as Stream | null, rendered }) : [];
      return { view: await view({ ...row, currentVersion: version, updatedAt: now }), version, warnings };
    },

    /**
     * Makes an earlier (or any other published) version current again, recorded as
     * `template.rolled_back` in the same transaction; naming the current version changes and records nothing.
     */
    async rollback(tenantId: string, idOrName: string, version: number, actor: Actor = unattributed): Promise<TemplateView> {
      const row = await find(tenantId, idOrName);
      await versionContent(row, version, '/version');
      const now = clock.now();
      const changed = await store.transaction(async (tx) => {
        const before = (await tx.templates.get(tenantId, row.id))?.currentVersion ?? null;
        if (before === version) return false;
        await makeCurrent(tx, row, before, version, now, actor, 'template.rolled_back');
        return true;
      });
      return changed ? view({ ...row, currentVersion: version, updatedAt: now }) : view(row);
    },

    /** Renders the draft, or a published version when one is named, with the given data. */
    async preview(tenantId: string, idOrName: string, opts: { data: Record<string, unknown>; locale?: string; version?: number }) {
      const row = await find(tenantId, idOrName);
      const content = opts.version === undefined ? (row.draft as TemplateContent) : await versionContent(row, opts.version, '/version');
      const rendered = await renderTemplate(content, { data: opts.data, locale: opts.locale, dataPath: '/data' });
      const warnings = deps.preflight ? await deps.preflight({ tenantId, stream: row.stream as Stream | null, rendered }) : [];
      return { row, version: opts.version ?? null, rendered, warnings };
    },

    /** The `template` of a send, rendered from the current (or named) published version. */
    async renderForSend(tenantId: string, ref: TemplateRef, path: string): Promise<RenderedForSend> {
      const row = await find(tenantId, ref.id).catch((e) => {
        if (e instanceof PostwardenError && e.code === 'NOT_FOUND')
          throw validationError([{ path: `${path}/id`, message: `template ${ref.id} does not exist` }]);
        throw e;
      });
      const version = ref.version ?? row.currentVersion;
      if (version == null) {
        throw validationError([{ path: `${path}/id`, message: `template ${row.name} has no published version yet: publish it first` }]);
      }
      const v = await publishedVersion(row.id, version);
      if (!v) throw validationError([{ path: `${path}/version`, message: `template ${row.name} has no published version ${version}` }]);
      const rendered = await renderTemplate(v, { data: ref.data, locale: ref.locale, dataPath: `${path}/data` });
      return {
        ...rendered,
        template: { id: row.id, name: row.name, version, locale: rendered.locale },
        stream: row.stream as Stream | null,
      };
    },
  };
}

export type Templates = ReturnType<typeof createTemplates>;

/** One JSON definition of a template for the API and the CLI. */
export function templateJson(v: TemplateView) {
  return {
    id: v.row.id,
    name: v.row.name,
    stream: v.row.stream as Stream | null,
    current_version: v.row.currentVersion,
    versions: v.versions.map((x) => ({ version: x.version, published_at: new Date(x.publishedAt).toISOString() })),
    draft: templateContentJson(v.draft),
    created_at: new Date(v.row.createdAt).toISOString(),
    updated_at: new Date(v.row.updatedAt).toISOString(),
  };
}

export function templateSummaryJson(r: TemplateRow) {
  return {
    id: r.id,
    name: r.name,
    stream: r.stream as Stream | null,
    current_version: r.currentVersion,
    created_at: new Date(r.createdAt).toISOString(),
    updated_at: new Date(r.updatedAt).toISOString(),
  };
}
