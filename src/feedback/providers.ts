/**
 * Destination provider keys from MX host names, read from `rules/providers.yaml`. Rules can then be
 * written once per provider (`provider: microsoft`) instead of once per MX host name.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export interface ProviderMap {
  version: string;
  /** Lower-case suffix -> provider key. */
  suffixes: ReadonlyMap<string, string>;
}

const KEY_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const HOST_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

/** Loads the map from YAML text or a `.yaml` path; throws naming the provider and host on bad data. */
export function loadProviderMap(yamlTextOrPath: string): ProviderMap {
  const text = /^[^\n]+\.ya?ml$/i.test(yamlTextOrPath.trim()) ? readFileSync(yamlTextOrPath.trim(), 'utf8') : yamlTextOrPath;
  const doc = (parseYaml(text) ?? {}) as { version?: unknown; providers?: unknown };
  const problems: string[] = [];
  const suffixes = new Map<string, string>();
  const providers = doc.providers;
  if (!providers || typeof providers !== 'object' || Array.isArray(providers)) {
    throw new Error('invalid provider map: `providers` must be a mapping of key -> host suffixes');
  }
  for (const [key, hosts] of Object.entries(providers as Record<string, unknown>)) {
    if (!KEY_RE.test(key)) problems.push(`provider ${key}: key must be kebab-case`);
    if (!Array.isArray(hosts) || hosts.length === 0) {
      problems.push(`provider ${key}: expected a non-empty list of host suffixes`);
      continue;
    }
    for (const h of hosts) {
      const host = typeof h === 'string' ? h.trim().toLowerCase().replace(/\.$/, '') : '';
      if (!HOST_RE.test(host)) problems.push(`provider ${key}: invalid host suffix ${JSON.stringify(h)}`);
      else if (suffixes.has(host) && suffixes.get(host) !== key)
        problems.push(`provider ${key}: ${host} already belongs to ${suffixes.get(host)}`);
      else suffixes.set(host, key);
    }
  }
  if (problems.length > 0) throw new Error(`invalid provider map: ${problems.join('; ')}`);
  return { version: String(doc.version ?? ''), suffixes };
}

/**
 * The provider key of an MX host (`gmail-smtp-in.l.google.com.` -> `gmail`), or undefined. The
 * longest matching suffix on a label boundary wins. Accepts `host[1.2.3.4]` and `dns; host` forms as
 * they appear in DSN Remote-MTA fields and Postfix diagnostics.
 */
export function providerOf(map: ProviderMap, mxHost: string): string | undefined {
  let host = mxHost
    .trim()
    .toLowerCase()
    .replace(/^dns\s*;\s*/, '')
    .replace(/[[(\s].*$/, '')
    .replace(/\.$/, '');
  if (host.includes('@')) host = host.slice(host.lastIndexOf('@') + 1);
  for (;;) {
    const key = map.suffixes.get(host);
    if (key) return key;
    const dot = host.indexOf('.');
    if (dot < 0) return undefined;
    host = host.slice(dot + 1);
  }
}
