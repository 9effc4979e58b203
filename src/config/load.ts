import { readFileSync } from 'node:fs';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { type FieldError, PostwardenError } from '../core/index.js';
import { type Config, ConfigSchema } from './schema.js';

/**
 * Configuration is loaded once, in main: defaults ← file ← environment ← flags. It is a pure
 * function of its inputs (tests pass literals) and fails with every bad key path listed.
 *
 * Environment: `POSTWARDEN_<SECTION>__<KEY>` in SCREAMING_SNAKE (`POSTWARDEN_DELIVERY__MAX_AGE_HOURS`),
 * plus the short aliases operators expect for the common flags (`POSTWARDEN_HTTP_PORT`, `DATABASE_URL`).
 */
export interface LoadConfigInput {
  /** Path of a YAML file; a missing file is an error only when the path was given explicitly. */
  file?: string;
  /** YAML text (tests); used instead of reading `file`. */
  fileText?: string;
  env?: Record<string, string | undefined>;
  /** Values from command-line flags: the last word. */
  overrides?: DeepPartial<Config>;
}

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Short names → config paths. Each is documented in docs/config.md. */
export const envAliases: Record<string, string> = {
  POSTWARDEN_DATA_DIR: 'dataDir',
  POSTWARDEN_SANDBOX: 'sandbox',
  POSTWARDEN_HOST: 'server.host',
  POSTWARDEN_HTTP_PORT: 'server.httpPort',
  POSTWARDEN_SMTP_PORT: 'server.smtpPort',
  POSTWARDEN_MX_PORT: 'server.mxPort',
  POSTWARDEN_HOSTNAME: 'server.hostname',
  POSTWARDEN_DATABASE_URL: 'store.url',
  DATABASE_URL: 'store.url',
  POSTWARDEN_DNS_SERVER: 'dns.servers',
  POSTWARDEN_LOG_LEVEL: 'log.level',
  REDIS_URL: 'cluster.redisUrl',
};

/** Variables that are ours but not configuration (client settings, test harness). */
const notConfig = /^POSTWARDEN_(CONFIG|API_KEY|URL|ACTOR|TEST_.*)$/;

export function loadConfig(input: LoadConfigInput = {}): Config {
  const errors: FieldError[] = [];
  let merged: Record<string, unknown> = {};

  const text = input.fileText ?? (input.file ? readConfigFile(input.file) : undefined);
  if (text !== undefined) {
    try {
      const fromFile = parseYaml(text) ?? {};
      if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
        errors.push({ path: '/', message: 'the config file must hold a mapping of keys' });
      } else merged = fromFile as Record<string, unknown>;
    } catch (e) {
      errors.push({ path: '/', message: `the config file is not valid YAML: ${(e as Error).message}` });
    }
  }

  for (const [name, value] of Object.entries(input.env ?? {})) {
    if (value === undefined) continue;
    const path = envPath(name);
    if (path === undefined) continue;
    if (path === null) {
      errors.push({ path: `env:${name}`, message: 'is not a known setting (see docs/config.md)' });
      continue;
    }
    const schema = schemaAt(path);
    if (!schema) {
      errors.push({ path: `env:${name}`, message: `maps to /${path.join('/')}, which is not a known setting` });
      continue;
    }
    setPath(merged, path, coerce(value, schema));
  }

  if (input.overrides) merged = deepMerge(merged, input.overrides as Record<string, unknown>);

  const withDefaults = Value.Default(ConfigSchema, structuredClone(merged)) as unknown;
  for (const e of Value.Errors(ConfigSchema, withDefaults)) {
    const extra = (e.params as { additionalProperties?: string[] }).additionalProperties;
    if (e.keyword === 'additionalProperties' && extra) {
      for (const k of extra) errors.push({ path: `${e.instancePath}/${k}`, message: 'is not a known setting' });
    } else errors.push({ path: e.instancePath || '/', message: e.message });
  }
  if (!errors.length) {
    const url = (withDefaults as Config).store.url;
    const problem = storeUrlProblem(url);
    if (problem) errors.push({ path: '/store/url', message: problem });
  }
  if (errors.length) {
    const list = errors.map((e) => `${e.path} ${e.message}`).join('; ');
    throw new PostwardenError('CONFIG_INVALID', `invalid configuration: ${list}`, { errors });
  }
  return withDefaults as Config;
}

/**
 * store.url picks the database, so a typo must not reach a driver: pg reads `not-a-url` as a host
 * name ("ENOTFOUND base") and would try `mysql://…` as PostgreSQL. The message names what is accepted
 * and never repeats the value, which may hold a password.
 */
function storeUrlProblem(url: string): string | undefined {
  if (url === '') return undefined;
  const accepted =
    'it must be a postgres:// or postgresql:// URL (set by store.url, --database-url, DATABASE_URL or POSTWARDEN_DATABASE_URL); leave it empty for the SQLite file in dataDir';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a URL; ${accepted}`;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    return `uses the scheme ${parsed.protocol.slice(0, 20)}; ${accepted}`;
  return undefined;
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new PostwardenError('CONFIG_INVALID', `cannot read config file ${file}: ${(e as Error).message}`, {
      errors: [{ path: '/', message: `cannot read ${file}` }],
    });
  }
}

/** undefined: not ours, ignore; null: ours but unknown; else the path. */
function envPath(name: string): string[] | null | undefined {
  const alias = envAliases[name];
  if (alias) return alias.split('.');
  if (!name.startsWith('POSTWARDEN_') || notConfig.test(name)) return undefined;
  const segments = name.slice('POSTWARDEN_'.length).split('__');
  if (segments.some((s) => !s)) return null;
  return segments.map((s) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function schemaAt(path: string[]): TSchema | undefined {
  let s: TSchema | undefined = ConfigSchema;
  for (const key of path) {
    const props: Record<string, TSchema> | undefined = (s as { properties?: Record<string, TSchema> }).properties;
    s = props?.[key];
    if (!s) return undefined;
  }
  return s;
}

function coerce(value: string, schema: TSchema): unknown {
  const type = (schema as { type?: string }).type;
  switch (type) {
    case 'integer':
    case 'number':
      return value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(value)) return true;
      if (/^(0|false|no|off)$/i.test(value)) return false;
      return value;
    case 'array': {
      const items = (schema as { items?: TSchema }).items;
      return value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
        .map((v) => (items ? coerce(v, items) : v));
    }
    default:
      return value;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let o = target;
  for (const key of path.slice(0, -1)) {
    if (typeof o[key] !== 'object' || o[key] === null) o[key] = {};
    o = o[key] as Record<string, unknown>;
  }
  o[path[path.length - 1]!] = value;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
