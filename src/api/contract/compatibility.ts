/**
 * What /v1 promises its clients (docs/api.md, "Compatibility policy"), checked between two OpenAPI
 * documents: the committed snapshot of the released contract and the one the routes generate now.
 * Additions pass (a new operation, status, field or enum value); these break a client and are
 * reported, one line each with where:
 * - an operation, a success status or a response content type is gone;
 * - a response field is gone or renamed (a rename is a removal plus an addition), or no longer
 *   always present, or its type changed;
 * - an enum lost a value;
 * - a request body gained a required field.
 * Pure: two documents in, a list of breaks out.
 */
type Schema = Record<string, unknown>;
type Doc = { paths?: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> } };
interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

interface Where {
  /** `GET /v1/keys 200 application/json` */
  where: string;
  /** JSON Pointer into the body; `[]` stands for every item of a list. */
  pointer: string;
}

const methods = new Set(['get', 'put', 'post', 'delete', 'patch']);

export function breakingChanges(released: Doc, current: Doc): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(released.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!methods.has(method)) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const now = current.paths?.[path]?.[method];
      if (!now) {
        out.push(`${where}: the operation is gone`);
        continue;
      }
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const next = now.responses?.[status];
        if (!next) {
          if (status.startsWith('2')) out.push(`${where} ${status}: the response is gone`);
          continue;
        }
        for (const [type, media] of Object.entries(response.content ?? {})) {
          const nextMedia = next.content?.[type];
          if (!nextMedia) out.push(`${where} ${status}: ${type} is no longer answered`);
          else if (media.schema && nextMedia.schema) {
            compare(
              { released, current },
              media.schema,
              nextMedia.schema,
              { where: `${where} ${status} ${type}`, pointer: '' },
              out,
              new Set(),
            );
          }
        }
      }
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        const before = resolve(released, media.schema ?? {});
        const after = resolve(current, now.requestBody?.content?.[type]?.schema ?? {});
        const was = new Set((before.required as string[] | undefined) ?? []);
        for (const field of (after.required as string[] | undefined) ?? []) {
          if (!was.has(field)) out.push(`${where} request ${type} /${field}: newly required`);
        }
      }
    }
  }
  return out;
}

function resolve(doc: Doc, s: Schema): Schema {
  for (let i = 0; i < 20 && typeof s.$ref === 'string'; i++) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1];
    const target = name ? doc.components?.schemas?.[name] : undefined;
    if (!target) return s;
    s = target;
  }
  return s;
}

/** The values a schema can take when it is an enumeration (enum, const, or a union of consts). */
function enumValues(s: Schema): unknown[] | undefined {
  if (Array.isArray(s.enum)) return s.enum;
  if ('const' in s) return [s.const];
  const members = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (members?.length && members.every((m) => 'const' in m)) return members.map((m) => m.const);
  return undefined;
}

const typesOf = (s: Schema): string[] => (Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : []);

function compare(docs: { released: Doc; current: Doc }, a0: Schema, b0: Schema, at: Where, out: string[], seen: Set<Schema>): void {
  const a = resolve(docs.released, a0);
  const b = resolve(docs.current, b0);
  if (seen.has(a)) return;
  const inner = new Set(seen).add(a);
  const say = (pointer: string, what: string) => out.push(`${at.where} ${pointer || '/'}: ${what}`);

  const before = enumValues(a);
  if (before) {
    const after = enumValues(b);
    if (after) for (const v of before) if (!after.includes(v)) say(at.pointer, `enum lost ${JSON.stringify(v)}`);
    return;
  }
  const ta = typesOf(a);
  const tb = typesOf(b);
  if (ta.length && tb.length && ta.join() !== tb.join()) say(at.pointer, `type changed from ${ta.join('|')} to ${tb.join('|')}`);

  const unionA = (a.anyOf ?? a.oneOf) as Schema[] | undefined;
  if (unionA) {
    const unionB = ((b.anyOf ?? b.oneOf) as Schema[] | undefined) ?? [b];
    // Each released variant must still be answerable by one current variant: report the closest.
    for (const variant of unionA) {
      let best: string[] | undefined;
      for (const candidate of unionB) {
        const found: string[] = [];
        compare(docs, variant, candidate, at, found, inner);
        if (!best || found.length < best.length) best = found;
        if (!found.length) break;
      }
      out.push(...(best ?? []));
    }
    return;
  }

  const pa = a.properties as Record<string, Schema> | undefined;
  if (pa) {
    const pb = (b.properties as Record<string, Schema> | undefined) ?? {};
    const requiredA = new Set((a.required as string[] | undefined) ?? []);
    const requiredB = new Set((b.required as string[] | undefined) ?? []);
    for (const [name, sa] of Object.entries(pa)) {
      const pointer = `${at.pointer}/${name}`;
      const sb = pb[name];
      if (!sb) {
        say(pointer, 'field is gone (removed or renamed)');
        continue;
      }
      if (requiredA.has(name) && !requiredB.has(name)) say(pointer, 'no longer always present');
      compare(docs, sa, sb, { where: at.where, pointer }, out, inner);
    }
  }
  if (a.items && typeof a.items === 'object' && b.items && typeof b.items === 'object') {
    compare(docs, a.items as Schema, b.items as Schema, { where: at.where, pointer: `${at.pointer}/[]` }, out, inner);
  }
  const addA = a.additionalProperties;
  const addB = b.additionalProperties;
  if (addA && typeof addA === 'object' && addB && typeof addB === 'object') {
    compare(docs, addA as Schema, addB as Schema, { where: at.where, pointer: `${at.pointer}/{key}` }, out, inner);
  }
}
