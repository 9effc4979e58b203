import { type TSchema, Type } from 'typebox';

/**
 * The RFC 9457 problem+json body every error answer has (src/api/plugins/problem.ts), as a response
 * schema for the routes that declare theirs. Extension members a route adds (`retry_after`,
 * `recipients`…) are allowed and serialised as they are.
 */
export const FieldErrorSchema = Type.Object(
  { path: Type.String({ description: 'JSON Pointer into the request' }), message: Type.String() },
  { examples: [{ path: '/to/0', message: 'must contain exactly one @' }] },
);

export function problemSchema(code: string, status: number, extra: Record<string, TSchema> = {}, description?: string) {
  return Type.Object(
    {
      type: Type.String({ description: 'urn:postwarden:error:<code>' }),
      title: Type.String(),
      status: Type.Integer(),
      detail: Type.String(),
      code: Type.String({ description: 'A stable code of docs/errors.md' }),
      instance: Type.Optional(Type.String()),
      errors: Type.Optional(Type.Array(FieldErrorSchema)),
      ...extra,
    },
    {
      additionalProperties: true,
      description: description ?? `problem+json (${code})`,
      examples: [{ type: `urn:postwarden:error:${code}`, title: '…', status, detail: '…', code }],
    },
  );
}

/** The errors every authenticated route may answer. */
export const commonProblems = {
  401: problemSchema('UNAUTHENTICATED', 401, {}, 'No valid API key'),
  403: problemSchema('FORBIDDEN', 403, {}, 'The key lacks the scope'),
  422: problemSchema('VALIDATION_FAILED', 422, {}, 'Invalid fields, each with its JSON path'),
  503: problemSchema(
    'STORE_UNAVAILABLE',
    503,
    { retry_after: Type.Optional(Type.Number()) },
    'The database cannot be reached; retry after Retry-After',
  ),
};
