import { Type } from 'typebox';

/**
 * The RFC 9457 problem+json shape every error answer has (src/api/plugins/problem.ts), as a
 * response schema, so new routes declare their error statuses completely.
 */
export const ProblemJson = Type.Object(
  {
    type: Type.String({ description: 'urn:postwarden:error:<CODE>' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable error code (docs/errors.md).' }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  {
    additionalProperties: true,
    description: 'RFC 9457 problem details.',
    examples: [
      {
        type: 'urn:postwarden:error:UNAUTHENTICATED',
        title: 'No valid API key was presented',
        status: 401,
        detail: 'Send an API key: Authorization: Bearer pw_…',
        code: 'UNAUTHENTICATED',
      },
    ],
  },
);

/** The error answers of an authenticated read: 401, 403, 503 (store unavailable), plus `extra`. */
export function readErrors(...extra: (400 | 404)[]) {
  const out: Record<number, typeof ProblemJson> = { 401: ProblemJson, 403: ProblemJson, 503: ProblemJson };
  for (const s of extra) out[s] = ProblemJson;
  return out;
}
