/**
 * Where the shipped rules live (`rules/` at the package root) and loaders for them. Callers load
 * once at start-up and pass the result down; nothing here caches.
 */
import { fileURLToPath } from 'node:url';
import { loadRuleset, type Ruleset } from './bounce-rules.js';
import { loadProviderMap, type ProviderMap } from './providers.js';

export function defaultRulesetPath(): string {
  return fileURLToPath(new URL('../../rules/bounces.yaml', import.meta.url));
}

export function defaultProviderMapPath(): string {
  return fileURLToPath(new URL('../../rules/providers.yaml', import.meta.url));
}

export function loadDefaultRuleset(): Ruleset {
  return loadRuleset(defaultRulesetPath());
}

export function loadDefaultProviderMap(): ProviderMap {
  return loadProviderMap(defaultProviderMapPath());
}
