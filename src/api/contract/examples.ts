import type { TSchema } from 'typebox';

/**
 * The first example a schema carries, so a page or a list of it can show one without writing the
 * item twice (the contract test wants an example on every answer).
 */
export function exampleOf(schema: TSchema): unknown {
  const examples = (schema as { examples?: unknown[] }).examples;
  if (!examples?.length) throw new Error('the schema has no example to reuse');
  return examples[0];
}
