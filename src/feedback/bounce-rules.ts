/**
 * The bounce ruleset: loading, validation and compilation of `rules/bounces.yaml`.
 *
 * A ruleset is data, not code (KumoMTA's bounce classifier, Momentum's bounce categories): an ordered
 * list of rules, each a conjunction of matchers (context, text, enhanced status, reply code) that
 * assigns a category and hard/soft. The file order is the evaluation order, and the loader enforces
 * that the file is written tier by tier (context, text, enhanced, basic code) so that "first match
 * wins" and the documented fallback order are the same thing. Regexes are compiled once here.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PostwardenError } from '../core/index.js';
import { buildPrefilter, type Prefilter, requiredLiterals } from './pattern-prefilter.js';

export const BOUNCE_CATEGORIES = [
  'bad_mailbox',
  'bad_domain',
  'mailbox_full',
  'message_too_large',
  'auth_failure',
  'reputation_block',
  'content_block',
  'policy_block',
  'throttling',
  'transient',
  'protocol_error',
  'expired',
  'suppressed',
  'auto_reply',
  'complaint',
  'unknown',
] as const;
export type BounceCategory = (typeof BOUNCE_CATEGORIES)[number];

/** RFC 3464 §2.3.3 action values a rule may require (only the two that report a problem). */
export type DsnProblemAction = 'failed' | 'delayed';

/**
 * Evaluation tiers, in order. A rule's tier is that of its most specific matcher:
 * `context` (provider or DSN action), `text` (patterns), `enhanced` (RFC 3463 code), `code` (RFC 5321).
 */
export const RULE_TIERS = ['context', 'text', 'enhanced', 'code'] as const;
export type RuleTier = (typeof RULE_TIERS)[number];

/** A sample the rule must win, used by the reachability test and `rules check`. */
export interface RuleExample {
  line: string;
  provider?: string;
  action?: DsnProblemAction;
  command?: string;
}

export interface BounceRule {
  id: string;
  tier: RuleTier;
  category: BounceCategory;
  hard: boolean;
  note?: string;
  example?: RuleExample;
  /** Source forms, kept for display and `rules check`. */
  code?: string[];
  enhanced?: string[];
  patterns?: string[];
  provider?: string[];
  action?: DsnProblemAction[];
  /** SMTP command the reply answered (`RCPT`, `DATA`, …), when the report says. */
  command?: string[];
  /**
   * True when the rule knows only the class of the failure (a basic reply code, or an enhanced code
   * of the form `4.`/`5.`): any more specific signal, or a gave-up notice, says more than it does.
   */
  generic: boolean;
  /**
   * A plain phrase ("rejected", "blocked", "access denied") that decides only when no specific rule
   * (a specific enhanced code, a precise phrase) does: it outranks a reply class, never a 5.1.1.
   */
  fallback: boolean;
  /** Compiled matchers (absent = no constraint). */
  readonly matchCode?: (code: number | undefined, enhanced: string | undefined) => boolean;
  readonly matchEnhanced?: (enhanced: string | undefined) => boolean;
  readonly regexes?: readonly RegExp[];
  /** The same patterns with the `g` flag, to remove every match (used for `expired` rules). */
  readonly globalRegexes?: readonly RegExp[];
}

export interface Ruleset {
  version: string;
  rules: readonly BounceRule[];
  /** Literal prefilter over every rule's patterns (see pattern-prefilter.ts). */
  readonly prefilter: Prefilter;
}

/** One problem in a ruleset file, naming the rule and field so an operator can fix it. */
export interface RuleProblem {
  ruleId: string;
  index: number;
  field: string;
  message: string;
}

/** A ruleset that cannot be used: CONFIG_INVALID with one field error per problem (rules are policy data). */
export class RulesetError extends PostwardenError {
  readonly problems: RuleProblem[];
  constructor(problems: RuleProblem[]) {
    super(
      'CONFIG_INVALID',
      `invalid bounce ruleset: ${problems.map((p) => `rule ${p.ruleId} (#${p.index}) ${p.field}: ${p.message}`).join('; ')}`,
      {
        errors: problems.map((p) => ({
          path: p.index < 0 ? `/${p.field}` : `/rules/${p.index}/${p.field}`,
          message: `${p.ruleId}: ${p.message}`,
        })),
      },
    );
    this.name = 'RulesetError';
    this.problems = problems;
  }
}

/** Commands a reply can answer (RFC 5321 §4.1.1); `DATA` covers "end of DATA". */
export const SMTP_COMMANDS = ['CONNECT', 'EHLO', 'MAIL', 'RCPT', 'DATA'];

const ID_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const VERSION_RE = /^\d{4}\.\d{1,2}\.\d+$/;
const CODE_RE = /^([245])([0-9x])([0-9x])$|^none$/;
const ENHANCED_RE = /^[245x]\.(?:\d{1,3}\.(?:\d{1,3})?)?$/;
const KNOWN_FIELDS = new Set([
  'id',
  'code',
  'enhanced',
  'pattern',
  'patterns',
  'provider',
  'action',
  'command',
  'category',
  'hard',
  'note',
  'example',
  'fallback',
]);

/**
 * Loads a ruleset from YAML text, or from a file when given a path (a string without a newline that
 * ends in .yaml/.yml). Throws `RulesetError` listing every bad rule by id and field.
 */
export function loadRuleset(yamlTextOrPath: string): Ruleset {
  const text = /^[^\n]+\.ya?ml$/i.test(yamlTextOrPath.trim()) ? readFileSync(yamlTextOrPath.trim(), 'utf8') : yamlTextOrPath;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new RulesetError([{ ruleId: '(file)', index: -1, field: 'yaml', message: (e as Error).message }]);
  }
  return compileRuleset(doc);
}

/** Validates and compiles an already-parsed document (`{ version, rules: [...] }`). */
export function compileRuleset(doc: unknown): Ruleset {
  const problems: RuleProblem[] = [];
  const top = (doc ?? {}) as Record<string, unknown>;
  const version = typeof top.version === 'string' ? top.version : String(top.version ?? '');
  if (!VERSION_RE.test(version)) {
    problems.push({ ruleId: '(file)', index: -1, field: 'version', message: `expected YYYY.M.N, got ${JSON.stringify(top.version)}` });
  }
  if (!Array.isArray(top.rules) || top.rules.length === 0) {
    problems.push({ ruleId: '(file)', index: -1, field: 'rules', message: 'expected a non-empty list' });
    throw new RulesetError(problems);
  }
  const seen = new Set<string>();
  const rules: BounceRule[] = [];
  let lastTier = 0;
  top.rules.forEach((raw: unknown, index: number) => {
    const r = (raw ?? {}) as Record<string, unknown>;
    const id = typeof r.id === 'string' ? r.id : `#${index}`;
    const bad = (field: string, message: string) => problems.push({ ruleId: id, index, field, message });
    if (typeof r.id !== 'string' || !ID_RE.test(r.id)) bad('id', 'expected a kebab-case string');
    else if (seen.has(r.id)) bad('id', 'duplicate id');
    seen.add(id);
    for (const k of Object.keys(r)) if (!KNOWN_FIELDS.has(k)) bad(k, 'unknown field');
    if (!BOUNCE_CATEGORIES.includes(r.category as BounceCategory)) {
      bad('category', `unknown category ${JSON.stringify(r.category)} (expected one of ${BOUNCE_CATEGORIES.join(', ')})`);
    }
    if (typeof r.hard !== 'boolean') bad('hard', 'expected true or false');
    if (r.note !== undefined && typeof r.note !== 'string') bad('note', 'expected a string');
    if (r.fallback !== undefined && typeof r.fallback !== 'boolean') bad('fallback', 'expected true or false');
    if (r.fallback === true && r.pattern === undefined && r.patterns === undefined) bad('fallback', 'only a text rule can be a fallback');
    if (r.pattern !== undefined && r.patterns !== undefined) bad('pattern', 'use either pattern or patterns');

    const code = stringList(r.code, 'code', bad);
    const enhanced = stringList(r.enhanced, 'enhanced', bad);
    const patterns = stringList(r.patterns ?? r.pattern, r.patterns !== undefined ? 'patterns' : 'pattern', bad);
    const provider = stringList(r.provider, 'provider', bad);
    const action = stringList(r.action, 'action', bad) as DsnProblemAction[] | undefined;
    const command = stringList(r.command, 'command', bad)?.map((c) => c.toUpperCase());
    for (const c of command ?? [])
      if (!SMTP_COMMANDS.includes(c)) bad('command', `invalid command ${JSON.stringify(c)} (${SMTP_COMMANDS.join(', ')})`);

    for (const c of code ?? []) if (!CODE_RE.test(c)) bad('code', `invalid code pattern ${JSON.stringify(c)} (use 550, 55x, 5xx or none)`);
    for (const e of enhanced ?? [])
      if (!ENHANCED_RE.test(e)) bad('enhanced', `invalid enhanced code ${JSON.stringify(e)} (use 5.1.1, prefix 5.1. or x.7.26)`);
    for (const p of provider ?? []) if (!ID_RE.test(p)) bad('provider', `invalid provider key ${JSON.stringify(p)}`);
    for (const a of action ?? [])
      if (a !== 'failed' && a !== 'delayed') bad('action', `invalid action ${JSON.stringify(a)} (failed or delayed)`);
    const regexes: RegExp[] = [];
    for (const p of patterns ?? []) {
      try {
        const re = new RegExp(p, 'i');
        // A pattern that matches the empty string would match every reply.
        if (re.test('')) throw new Error('pattern matches the empty string');
        regexes.push(re);
      } catch (e) {
        bad(r.patterns !== undefined ? 'patterns' : 'pattern', `invalid regex ${JSON.stringify(p)}: ${(e as Error).message}`);
      }
    }
    const tier: RuleTier = provider || action || command ? 'context' : patterns ? 'text' : enhanced ? 'enhanced' : code ? 'code' : 'code';
    if (!code && !enhanced && !patterns && !provider && !action && !command) bad('code', 'a rule needs at least one matcher');
    const tierIndex = RULE_TIERS.indexOf(tier);
    if (tierIndex < lastTier) {
      bad('order', `a ${tier} rule cannot follow ${RULE_TIERS[lastTier]} rules (tiers: ${RULE_TIERS.join(' → ')})`);
    }
    lastTier = Math.max(lastTier, tierIndex);
    const example = readExample(r.example, bad);

    const classOnly = (enhanced ?? []).every((e) => /^[245x]\.$/.test(e));
    const rule: BounceRule = {
      id,
      tier,
      generic: tier === 'code' || (tier === 'enhanced' && classOnly),
      fallback: r.fallback === true,
      category: r.category as BounceCategory,
      hard: r.hard === true,
      ...(typeof r.note === 'string' ? { note: r.note } : {}),
      ...(example ? { example } : {}),
      ...(code ? { code, matchCode: compileCodeMatcher(code) } : {}),
      ...(enhanced ? { enhanced, matchEnhanced: compileEnhancedMatcher(enhanced) } : {}),
      ...(patterns ? { patterns, regexes, globalRegexes: regexes.map((re) => new RegExp(re.source, 'gi')) } : {}),
      ...(provider ? { provider } : {}),
      ...(action ? { action } : {}),
      ...(command ? { command } : {}),
    };
    rules.push(rule);
  });
  if (problems.length > 0) throw new RulesetError(problems);
  const literals = rules.map((r) => {
    if (!r.patterns) return null;
    const sets = r.patterns.map(requiredLiterals);
    return sets.some((x) => x === null) ? null : [...new Set(sets.flat() as string[])];
  });
  return { version, rules, prefilter: buildPrefilter(literals) };
}

function stringList(v: unknown, field: string, bad: (f: string, m: string) => void): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) {
    bad(field, 'expected a value or a non-empty list');
    return undefined;
  }
  const out: string[] = [];
  for (const x of list) {
    if (typeof x === 'string' || typeof x === 'number') out.push(String(x).trim());
    else bad(field, `expected strings, got ${JSON.stringify(x)}`);
  }
  return out;
}

function readExample(v: unknown, bad: (f: string, m: string) => void): RuleExample | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return { line: v };
  const o = v as Record<string, unknown>;
  if (o && typeof o.line === 'string') {
    const ex: RuleExample = { line: o.line };
    if (typeof o.provider === 'string') ex.provider = o.provider;
    if (o.action === 'failed' || o.action === 'delayed') ex.action = o.action;
    if (typeof o.command === 'string') ex.command = o.command.toUpperCase();
    return ex;
  }
  bad('example', 'expected a reply line or { line, provider?, action? }');
  return undefined;
}

/**
 * `550` exact, `55x`/`5xx` wildcards, `none` = no reply code known. A pure class pattern (`5xx`)
 * also matches a code-less input whose enhanced status has that class, so a DSN carrying only
 * `Status: 5.0.0` still reaches the basic-class fallback.
 */
function compileCodeMatcher(patterns: string[]): (code: number | undefined, enhanced: string | undefined) => boolean {
  const tests = patterns.map((p) => {
    if (p === 'none') return (code: number | undefined) => code === undefined;
    const re = new RegExp(`^${p.replace(/x/g, '\\d')}$`);
    const classOnly = /^[245]xx$/.test(p);
    return (code: number | undefined, enhanced: string | undefined) =>
      code !== undefined ? re.test(String(code)) : classOnly && enhanced !== undefined && enhanced[0] === p[0];
  });
  return (code, enhanced) => tests.some((t) => t(code, enhanced));
}

/** `5.1.1` exact, `5.1.` prefix, `x.7.26` any class. */
function compileEnhancedMatcher(patterns: string[]): (enhanced: string | undefined) => boolean {
  const tests = patterns.map((p) => {
    const body = p.startsWith('x.') ? p.slice(1) : p;
    const anyClass = p.startsWith('x.');
    const prefix = body.endsWith('.');
    return (e: string) => {
      const subject = anyClass ? e.slice(1) : e;
      return prefix ? subject.startsWith(body) : subject === body;
    };
  });
  return (enhanced) => enhanced !== undefined && tests.some((t) => t(enhanced));
}
