/**
 * Where the shipped rules live (`rules/` at the package root) and loaders for them.
 *
 * The bounce ruleset is compiled once per process (and per feedback parsing thread): compiling it
 * (validation, the prefilter's literal analysis, its automaton) costs a few hundred ms of CPU, and a
 * process that builds several platforms (the CLI, a test) would otherwise pay it for each. The cache
 * is keyed by the file's size and modification time, so an edited file is read again.
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadRuleset, type Ruleset } from './bounce-rules.js';
import { loadProviderMap, type ProviderMap } from './providers.js';

export function defaultRulesetPath(): string {
  return fileURLToPath(new URL('../../rules/bounces.yaml', import.meta.url));
}

export function defaultProviderMapPath(): string {
  return fileURLToPath(new URL('../../rules/providers.yaml', import.meta.url));
}

let compiled: { stamp: string; ruleset: Ruleset } | undefined;

export function loadDefaultRuleset(): Ruleset {
  const path = defaultRulesetPath();
  const { size, mtimeMs } = statSync(path);
  const stamp = `${size}:${mtimeMs}`;
  if (compiled?.stamp !== stamp) compiled = { stamp, ruleset: loadRuleset(path) };
  return compiled.ruleset;
}

export function loadDefaultProviderMap(): ProviderMap {
  return loadProviderMap(defaultProviderMapPath());
}
