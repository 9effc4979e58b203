import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

/**
 * Fastify's own schema compilers (ajv for requests, fast-json-stringify for answers), compiling each
 * route's schema when the route first needs it instead of all of them when the server starts.
 *
 * Why: the API declares a request and several response schemas for each of its ~150 routes, and
 * compiling them all took most of the API's start-up (about 0.6 s of CPU, every time a node or a test
 * platform starts), while a node serves a handful of routes in its first minutes. A route now pays for
 * its own schemas on its first request (a few ms). Behaviour is otherwise Fastify's: the same ajv
 * options, the same serializer. The ajv compiler is built once per process, so its compiled schemas
 * are shared by every API the process builds (a test builds dozens).
 */
type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
/** What Fastify passes a compiler (the published typings of @fastify/ajv-compiler say a bare schema). */
interface RouteSchema {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
  httpStatus?: string;
}
type Validate = ((data: unknown, ctx?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type Compile<F> = (route: RouteSchema) => F;

const validators = AjvCompiler() as unknown as (externalSchemas: unknown, options: unknown) => Compile<Validate>;
const serializers = SerializerSelector() as unknown as (externalSchemas: unknown, options: unknown) => Compile<(doc: unknown) => string>;

export const lazySchemaCompilers = {
  buildValidator(externalSchemas: unknown, ajvOptions: unknown): Compile<Validate> {
    const compile = validators(externalSchemas, ajvOptions);
    return (route) => {
      let fn: Validate | undefined;
      const get = () => {
        fn ??= compile(route);
        return fn;
      };
      const validate: Validate = (data, ctx) => {
        const f = get();
        const result = f(data, ctx);
        validate.errors = f.errors;
        return result;
      };
      // Fastify hands ajv the parent object (so a root value can be coerced) when the function has a schemaEnv.
      Object.defineProperty(validate, 'schemaEnv', { get: () => get().schemaEnv });
      return validate;
    };
  },
  buildSerializer(externalSchemas: unknown, serializerOptions: unknown): Compile<(doc: unknown) => string> {
    const compile = serializers(externalSchemas, serializerOptions);
    return (route) => {
      let fn: ((doc: unknown) => string) | undefined;
      return (doc) => {
        fn ??= compile(route);
        return fn(doc);
      };
    };
  },
} as unknown as CompilersFactory;
