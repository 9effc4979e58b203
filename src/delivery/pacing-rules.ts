/**
 * Pacing rules (`rules/pacing.yaml`): loading, validation and compilation. A rule is data, like the
 * bounce rules: *match* (provider, stream, pool, reply code, enhanced code, text, classifier
 * category) → *condition* (a count of matching replies in a window; a rate of a metric over a
 * window; a ratio to the trailing baseline) → *action* (cap the rate, cut concurrency, pause, flag)
 * → *recovery* (quiet time, then stepwise back to full pace). The format is documented in
 * rules/README.md; the loader refuses anything it does not know, naming the rule and field.
 *
 * Which conditions delivery can evaluate from its own attempts: `replies`, and `rate` over the
 * delivery metrics (`throttled`, `deferred`, `bounced`). Rate over ledger metrics and `baseline`
 * conditions are validated and kept, marked `needsLedger`, for the reputation ledger to feed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const DELIVERY_METRICS = ['throttled', 'deferred', 'bounced'] as const;
export const LEDGER_METRICS = ['complaints', 'hard_bounces', 'blocks', 'unsubscribes'] as const;
export type PacingMetric = (typeof DELIVERY_METRICS)[number] | (typeof LEDGER_METRICS)[number];

export interface PacingMatch {
  provider?: string[];
  stream?: string[];
  pool?: string[];
  /** Reply codes: exact (421), or a class pattern (4xx, 42x). */
  code?: string[];
  /** Enhanced codes: exact (4.7.28) or a prefix ending in a dot (4.7.). */
  enhanced?: string[];
  pattern?: RegExp;
  category?: string[];
}

export type PacingCondition =
  | { kind: 'replies'; count: number; windowSeconds: number }
  | { kind: 'rate'; metric: PacingMetric; above: number; windowSeconds: number; minAttempts: number }
  | { kind: 'baseline'; metric: PacingMetric; ratio: number; windowSeconds: number; baselineDays: number };

export type PacingAction =
  | { kind: 'cap'; rateFactor: number; minPerMinute: number; concurrency?: number; flag: boolean }
  | { kind: 'pause'; flag: boolean }
  | { kind: 'flag' };

export interface PacingRecovery {
  afterSeconds: number;
  stepSeconds: number;
  stepFactor: number;
}

export interface PacingRule {
  id: string;
  match: PacingMatch;
  condition: PacingCondition;
  action: PacingAction;
  recovery: PacingRecovery;
  note?: string;
  /** The condition needs the reputation ledger's figures: validated, not evaluated by delivery. */
  needsLedger: boolean;
}

export interface PacingRuleset {
  version: string;
  rules: PacingRule[];
}

export function defaultPacingRulesPath(): string {
  return fileURLToPath(new URL('../../rules/pacing.yaml', import.meta.url));
}

export function loadPacingRules(path = defaultPacingRulesPath()): PacingRuleset {
  return parsePacingRules(readFileSync(path, 'utf8'), path);
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parsePacingRules(text: string, source = 'pacing rules'): PacingRuleset {
  const doc = parseYaml(text) as unknown;
  const fail = (path: string, msg: string): never => {
    throw new Error(`${source}: ${path}: ${msg}`);
  };
  if (!isObj(doc)) return fail('/', 'expected a mapping with version and rules');
  if (typeof doc.version !== 'string' || !/^\d{4}\.\d{1,2}\.\d+$/.test(doc.version)) return fail('version', 'expected YYYY.M.N');
  if (!Array.isArray(doc.rules)) return fail('rules', 'expected a list');
  const ids = new Set<string>();
  const rules = doc.rules.map((raw, i): PacingRule => {
    const at = `rules[${i}]`;
    if (!isObj(raw)) return fail(at, 'expected a mapping');
    known(raw, ['id', 'match', 'condition', 'action', 'recovery', 'note'], at, fail);
    if (typeof raw.id !== 'string' || !/^[a-z0-9][a-z0-9.-]*$/.test(raw.id)) return fail(`${at}.id`, 'expected a kebab-case id');
    if (ids.has(raw.id)) return fail(`${at}.id`, `duplicate id ${raw.id}`);
    ids.add(raw.id);
    const condition = readCondition(raw.condition, `${at}.condition`, fail);
    return {
      id: raw.id,
      match: readMatch(raw.match ?? {}, `${at}.match`, fail),
      condition,
      action: readAction(raw.action, `${at}.action`, fail),
      recovery: readRecovery(raw.recovery, `${at}.recovery`, fail),
      ...(typeof raw.note === 'string' ? { note: raw.note } : {}),
      needsLedger:
        condition.kind === 'baseline' || (condition.kind === 'rate' && !(DELIVERY_METRICS as readonly string[]).includes(condition.metric)),
    };
  });
  return { version: doc.version, rules };
}

type Fail = (path: string, msg: string) => never;

function known(o: Raw, keys: string[], at: string, fail: Fail): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${at}.${k}`, `unknown field (expected one of ${keys.join(', ')})`);
}

const list = (v: unknown, at: string, fail: Fail): string[] | undefined => {
  if (v === undefined) return undefined;
  const l = Array.isArray(v) ? v : [v];
  if (!l.length || !l.every((x) => typeof x === 'string' || typeof x === 'number'))
    return fail(at, 'expected a string or a list of strings');
  return l.map((x) => String(x).toLowerCase());
};

const num = (o: Raw, k: string, at: string, fail: Fail, o2: { min?: number; dflt?: number } = {}): number => {
  const v = o[k] ?? o2.dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < (o2.min ?? 0)) return fail(`${at}.${k}`, `expected a number ≥ ${o2.min ?? 0}`);
  return v;
};

function readMatch(v: unknown, at: string, fail: Fail): PacingMatch {
  if (!isObj(v)) return fail(at, 'expected a mapping');
  known(v, ['provider', 'stream', 'pool', 'code', 'enhanced', 'pattern', 'category'], at, fail);
  const m: PacingMatch = {};
  for (const k of ['provider', 'stream', 'pool', 'code', 'enhanced', 'category'] as const) {
    const l = list(v[k], `${at}.${k}`, fail);
    if (l) m[k] = l;
  }
  for (const c of m.code ?? []) if (!/^[245][0-9x][0-9x]$/.test(c)) fail(`${at}.code`, `${c}: expected 421, 42x or 4xx`);
  for (const e of m.enhanced ?? [])
    if (!/^[245x](\.\d{1,3}){0,2}\.?$/.test(e)) fail(`${at}.enhanced`, `${e}: expected 4.7.28 or a prefix 4.7.`);
  if (v.pattern !== undefined) {
    if (typeof v.pattern !== 'string') return fail(`${at}.pattern`, 'expected a regular expression');
    try {
      m.pattern = new RegExp(v.pattern, 'i');
    } catch (e) {
      return fail(`${at}.pattern`, (e as Error).message);
    }
  }
  return m;
}

function readCondition(v: unknown, at: string, fail: Fail): PacingCondition {
  if (!isObj(v)) return fail(at, 'expected a mapping with kind');
  const metric = (): PacingMetric => {
    const all: readonly string[] = [...DELIVERY_METRICS, ...LEDGER_METRICS];
    if (typeof v.metric !== 'string' || !all.includes(v.metric)) return fail(`${at}.metric`, `expected one of ${all.join(', ')}`);
    return v.metric as PacingMetric;
  };
  switch (v.kind) {
    case 'replies':
      known(v, ['kind', 'count', 'windowSeconds'], at, fail);
      return {
        kind: 'replies',
        count: num(v, 'count', at, fail, { min: 1 }),
        windowSeconds: num(v, 'windowSeconds', at, fail, { min: 1 }),
      };
    case 'rate':
      known(v, ['kind', 'metric', 'above', 'windowSeconds', 'minAttempts'], at, fail);
      return {
        kind: 'rate',
        metric: metric(),
        above: num(v, 'above', at, fail),
        windowSeconds: num(v, 'windowSeconds', at, fail, { min: 1 }),
        minAttempts: num(v, 'minAttempts', at, fail, { min: 1, dflt: 1 }),
      };
    case 'baseline':
      known(v, ['kind', 'metric', 'ratio', 'windowSeconds', 'baselineDays'], at, fail);
      return {
        kind: 'baseline',
        metric: metric(),
        ratio: num(v, 'ratio', at, fail, { min: 1 }),
        windowSeconds: num(v, 'windowSeconds', at, fail, { min: 1 }),
        baselineDays: num(v, 'baselineDays', at, fail, { min: 1, dflt: 7 }),
      };
    default:
      return fail(`${at}.kind`, 'expected replies, rate or baseline');
  }
}

function readAction(v: unknown, at: string, fail: Fail): PacingAction {
  if (!isObj(v)) return fail(at, 'expected a mapping with kind');
  const flag = v.flag === true;
  switch (v.kind) {
    case 'cap': {
      known(v, ['kind', 'rateFactor', 'minPerMinute', 'concurrency', 'flag'], at, fail);
      const rateFactor = num(v, 'rateFactor', at, fail);
      if (rateFactor <= 0 || rateFactor >= 1) fail(`${at}.rateFactor`, 'expected a factor between 0 and 1 (exclusive)');
      return {
        kind: 'cap',
        rateFactor,
        minPerMinute: num(v, 'minPerMinute', at, fail, { min: 1 }),
        ...(v.concurrency !== undefined ? { concurrency: num(v, 'concurrency', at, fail, { min: 1 }) } : {}),
        flag,
      };
    }
    case 'pause':
      known(v, ['kind', 'flag'], at, fail);
      return { kind: 'pause', flag };
    case 'flag':
      known(v, ['kind'], at, fail);
      return { kind: 'flag' };
    default:
      return fail(`${at}.kind`, 'expected cap, pause or flag');
  }
}

function readRecovery(v: unknown, at: string, fail: Fail): PacingRecovery {
  if (!isObj(v)) return fail(at, 'expected a mapping with afterSeconds, stepSeconds and stepFactor');
  known(v, ['afterSeconds', 'stepSeconds', 'stepFactor'], at, fail);
  const stepFactor = num(v, 'stepFactor', at, fail);
  if (stepFactor <= 1) fail(`${at}.stepFactor`, 'expected a factor above 1');
  return { afterSeconds: num(v, 'afterSeconds', at, fail), stepSeconds: num(v, 'stepSeconds', at, fail, { min: 1 }), stepFactor };
}

/** A rule the reputation ledger evaluates and acts on: a rate over a ledger metric whose action is a pause. */
export const ledgerEvaluates = (r: PacingRule): boolean => r.needsLedger && r.condition.kind === 'rate' && r.action.kind === 'pause';

/**
 * The ledger's pause rules as plain data (src/reputation/ledger-rules.ts `LedgerRule`): the ledger
 * sees complaints and bounces, so it holds a stream at a provider; delivery obeys the holds.
 */
export function ledgerPauseRules(set: PacingRuleset) {
  return set.rules.filter(ledgerEvaluates).map((r) => {
    const c = r.condition as Extract<PacingCondition, { kind: 'rate' }>;
    return {
      id: r.id,
      version: set.version,
      ...(r.match.stream ? { streams: r.match.stream } : {}),
      ...(r.match.provider ? { providers: r.match.provider } : {}),
      ...(r.match.pool ? { pools: r.match.pool } : {}),
      metric: c.metric as (typeof LEDGER_METRICS)[number],
      above: c.above,
      windowSeconds: c.windowSeconds,
      minVolume: c.minAttempts,
      pauseSeconds: r.recovery.afterSeconds,
    };
  });
}

/** Does a reply (with its context) satisfy a rule's match? */
export function matchesReply(
  m: PacingMatch,
  ctx: {
    provider: string | undefined;
    stream: string;
    pool: string;
    reply?: { code: number; enhanced?: string | null; text: string };
    category?: string;
  },
): boolean {
  if (m.provider && !(ctx.provider && m.provider.includes(ctx.provider))) return false;
  if (m.stream && !m.stream.includes(ctx.stream)) return false;
  if (m.pool && !m.pool.includes(ctx.pool)) return false;
  if (m.category && !(ctx.category && m.category.includes(ctx.category))) return false;
  const needsReply = m.code || m.enhanced || m.pattern;
  if (!needsReply) return true;
  const r = ctx.reply;
  if (!r) return false;
  if (m.code && !m.code.some((c) => codeMatches(c, r.code))) return false;
  if (m.enhanced && !(r.enhanced && m.enhanced.some((e) => (e.endsWith('.') ? r.enhanced!.startsWith(e) : r.enhanced === e)))) return false;
  if (m.pattern && !m.pattern.test(r.text)) return false;
  return true;
}

function codeMatches(pattern: string, code: number): boolean {
  const s = String(code);
  return pattern.length === 3 && [...pattern].every((ch, i) => ch === 'x' || ch === s[i]);
}
