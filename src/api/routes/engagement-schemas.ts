import { Type } from 'typebox';

/**
 * Schemas shared by the engagement routes (tracking, experiments, lists): the RFC 9457 problem
 * document every error answers with (src/api/plugins/problem.ts), declared so OpenAPI shows it.
 */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    retry_after: Type.Optional(Type.Integer()),
  },
  {
    additionalProperties: true,
    description: 'RFC 9457 problem details',
    examples: [
      {
        type: 'urn:postwarden:error:NOT_FOUND',
        title: 'The resource does not exist or is not visible to this tenant.',
        status: 404,
        detail: 'No experiment exp_01J….',
        code: 'NOT_FOUND',
        instance: '/v1/experiments/exp_01J…',
      },
    ],
  },
);

/** The error answers of an authenticated route, plus any extra statuses it names. */
export const authErrors = { 401: Problem, 403: Problem, 422: Problem } as const;
