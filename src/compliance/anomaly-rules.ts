import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/**
 * rules/anomalies.yaml: the thresholds of the anomaly alerts, versioned data like the bounce and
 * pacing rules. Each rule has a stable id and a kind; which fields it needs depends on the kind.
 * A file that does not validate fails at boot with the path of the bad field.
 */
export type AnomalyKind = 'volume-spike' | 'bounce-spike' | 'complaint-spike' | 'key-new-address' | 'auth-failure-burst' | 'dmarc-failures';
export const anomalyKinds: readonly AnomalyKind[] = [
  'volume-spike',
  'bounce-spike',
  'complaint-spike',
  'key-new-address',
  'auth-failure-burst',
  'dmarc-failures',
];

export interface AnomalyRule {
  id: string;
  kind: AnomalyKind;
  severity: 'info' | 'warning' | 'critical';
  /** volume-spike: whose volume (the tenant, each API key, each stream). */
  scope: 'tenant' | 'key' | 'stream';
  windowMinutes: number;
  /** volume-spike: how many windows before the current one make the baseline. */
  baselineWindows: number;
  /** volume-spike: the window's count must exceed factor × the baseline mean. */
  factor: number;
  /** The least count that may alert (recipients, bounces, complaints, failures). */
  minCount: number;
  /** bounce-spike, complaint-spike, dmarc-failures: the share at or above which it alerts. */
  rate: number;
}

export interface AnomalyRuleset {
  version: string;
  rules: AnomalyRule[];
}

export const defaultAnomalyRulesPath = () => fileURLToPath(new URL('../../rules/anomalies.yaml', import.meta.url));

export function loadAnomalyRules(path = defaultAnomalyRulesPath()): AnomalyRuleset {
  return parseAnomalyRules(readFileSync(path, 'utf8'), path);
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const FIELDS = ['id', 'kind', 'severity', 'scope', 'windowMinutes', 'baselineWindows', 'factor', 'minCount', 'rate', 'note'];

export function parseAnomalyRules(text: string, source = 'anomaly rules'): AnomalyRuleset {
  const fail = (path: string, msg: string): never => {
    throw new Error(`${source}: ${path}: ${msg}`);
  };
  const doc = parseYaml(text) as unknown;
  if (!isObj(doc)) return fail('/', 'expected a mapping with version and rules');
  if (typeof doc.version !== 'string' || !/^\d{4}\.\d{1,2}\.\d+$/.test(doc.version)) return fail('version', 'expected YYYY.M.N');
  if (!Array.isArray(doc.rules)) return fail('rules', 'expected a list');
  const ids = new Set<string>();
  const rules = doc.rules.map((raw, i): AnomalyRule => {
    const at = `rules[${i}]`;
    if (!isObj(raw)) return fail(at, 'expected a mapping');
    for (const k of Object.keys(raw)) if (!FIELDS.includes(k)) fail(`${at}.${k}`, `unknown field (expected one of ${FIELDS.join(', ')})`);
    if (typeof raw.id !== 'string' || !/^[a-z0-9][a-z0-9.-]*$/.test(raw.id)) return fail(`${at}.id`, 'expected a kebab-case id');
    if (ids.has(raw.id)) return fail(`${at}.id`, `duplicate id ${raw.id}`);
    ids.add(raw.id);
    if (!anomalyKinds.includes(raw.kind as AnomalyKind)) return fail(`${at}.kind`, `expected one of ${anomalyKinds.join(', ')}`);
    const num = (k: string, dflt: number, min: number) => {
      const v = raw[k] ?? dflt;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) return fail(`${at}.${k}`, `expected a number ≥ ${min}`);
      return v;
    };
    const severity = raw.severity ?? 'warning';
    if (severity !== 'info' && severity !== 'warning' && severity !== 'critical')
      return fail(`${at}.severity`, 'expected info, warning or critical');
    const scope = raw.scope ?? 'tenant';
    if (scope !== 'tenant' && scope !== 'key' && scope !== 'stream') return fail(`${at}.scope`, 'expected tenant, key or stream');
    return {
      id: raw.id,
      kind: raw.kind as AnomalyKind,
      severity,
      scope,
      windowMinutes: num('windowMinutes', 60, 1),
      baselineWindows: num('baselineWindows', 24, 1),
      factor: num('factor', 5, 1),
      minCount: num('minCount', 1, 1),
      rate: num('rate', 0, 0),
    };
  });
  return { version: doc.version, rules };
}
