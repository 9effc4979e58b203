/**
 * Deterministic bounce classification: the first rule of the ruleset (in file order) whose every
 * matcher accepts the reply wins. Used alike for synchronous SMTP replies and for the recipients of
 * asynchronous DSNs, so every stored outcome can say which rule and ruleset version produced it.
 *
 * Two refinements make the most specific signal decide rather than the first one seen:
 *   - `expired` ("gave up after retrying") never ends the search. Its phrase is removed from the
 *     text and the search goes on; a later specific rule (the last attempt's cause: host not found,
 *     connection timed out, 5.7.1 blocked, mailbox full) wins, and `expired` is the answer only when
 *     nothing but the reply class is known.
 *   - An answer from a generic rule (reply class only) or no answer at all is retried on the
 *     further texts of `context` (the human-readable explanation of a DSN), first specific wins.
 */
import { parseSmtpResponse } from '../core/index.js';
import type { BounceCategory, BounceRule, DsnProblemAction, Ruleset } from './bounce-rules.js';

export interface ClassifyInput {
  /** RFC 5321 reply code, when one is known. */
  code?: number;
  /** RFC 3463 enhanced status code (`5.1.1`), when one is known. */
  enhanced?: string;
  /** Human text of the reply or diagnostic. */
  text: string;
  /** Destination provider key (`gmail`, `microsoft`, …) from `providerOf`. */
  provider?: string;
  /** RFC 3464 action of the DSN recipient, when the reply came from a DSN. */
  action?: DsnProblemAction;
  /** The SMTP command the reply answered (`RCPT`, `DATA`), when the report names it. */
  command?: string;
  /**
   * Further texts about the same failure, least direct last (a DSN's diagnostic when `text` is the
   * reply, the recipient's paragraph of the human-readable part). Read only when `text` gives no
   * specific answer.
   */
  context?: readonly string[];
}

export interface Classification {
  category: BounceCategory;
  /** True when the address itself is undeliverable (suppression-worthy); see rules/README.md. */
  hard: boolean;
  /** Id of the rule that matched; null when no rule matched (category `unknown`, soft). */
  ruleId: string | null;
  rulesetVersion: string;
}

const REPEATED_WITH_ENHANCED = /\s+(?=([245]\d\d)[ -][245]\.\d{1,3}\.\d{1,3}\s)/g;
const REPEATED_DASH = /\s+(?=([245]\d\d)-)/g;
const ENHANCED_IN_TEXT = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;

/** Categories that describe the message itself, never read from a DSN's surrounding text. */
const NOT_FROM_CONTEXT = new Set(['auto_reply', 'complaint']);

/** How much an answer knows: only the class (or nothing), a plain phrase, or something specific. */
const CLASS_ONLY = 0;
const PLAIN = 1;
const SPECIFIC = 2;

export function classify(ruleset: Ruleset, input: ClassifyInput): Classification {
  const first = evaluate(ruleset, input, input.text);
  if (first.level === SPECIFIC || !input.context) return first.result;
  let best = first;
  for (const extra of input.context) {
    if (!extra || extra === input.text) continue;
    const next = evaluate(ruleset, input, extra);
    if (NOT_FROM_CONTEXT.has(next.result.category)) continue;
    if (next.level === SPECIFIC) return next.result;
    if (next.level > best.level) best = next;
  }
  return best.result;
}

/** The answer for one text, and how much it knows (see the file comment). */
function evaluate(ruleset: Ruleset, input: ClassifyInput, raw: string): { result: Classification; level: number } {
  let text = normaliseText(raw);
  let candidates = ruleset.prefilter.candidates(text.toLowerCase());
  const rules = ruleset.rules;
  let gaveUp: Classification | undefined;
  let plain: Classification | undefined;
  const answer = (result: Classification, level: number) => ({ result, level });
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!constraintsMatch(rule, input)) continue;
    if (rule.regexes && !(candidates[i] === 1 && rule.regexes.some((re) => re.test(text)))) continue;
    const result: Classification = { category: rule.category, hard: rule.hard, ruleId: rule.id, rulesetVersion: ruleset.version };
    if (rule.category === 'expired') {
      gaveUp ??= result;
      if (rule.globalRegexes) {
        // "retry timeout exceeded" must not read as a network timeout once it is set aside.
        text = normaliseText(rule.globalRegexes.reduce((t, re) => t.replace(re, ' '), text));
        candidates = ruleset.prefilter.candidates(text.toLowerCase());
      }
      continue;
    }
    if (rule.fallback) {
      plain ??= result;
      continue;
    }
    if (!rule.generic) return answer(result, SPECIFIC);
    return plain ? answer(plain, PLAIN) : answer(gaveUp ?? result, CLASS_ONLY);
  }
  if (plain) return answer(plain, PLAIN);
  return answer(gaveUp ?? { category: 'unknown', hard: false, ruleId: null, rulesetVersion: ruleset.version }, CLASS_ONLY);
}

/**
 * Classifies one reply line as an MTA logs it (`550 5.1.1 <x@y>: user unknown`, multi-line replies
 * joined with CRLF, or a code-less diagnostic such as qmail's `Sorry, no mailbox here (#5.1.1)`).
 */
export function classifyLine(
  ruleset: Ruleset,
  line: string,
  context: { provider?: string; action?: DsnProblemAction; command?: string } = {},
): Classification {
  return classify(ruleset, { ...replyFromLine(line), ...context });
}

/** Splits a logged reply into code, enhanced status and text (the input `classify` expects). */
export function replyFromLine(line: string): ClassifyInput {
  const cleaned = line.replace(/^\s*(?:smtp|x-[\w-]+)\s*;\s*/i, '');
  const parsed = parseSmtpResponse(splitInlineContinuations(cleaned));
  if (parsed) {
    const input: ClassifyInput = { code: parsed.code, text: parsed.text };
    const enhanced = parsed.enhanced ?? findEnhancedCode(parsed.text);
    if (enhanced) input.enhanced = enhanced;
    return input;
  }
  const input: ClassifyInput = { text: cleaned.trim() };
  const enhanced = findEnhancedCode(cleaned);
  if (enhanced) input.enhanced = enhanced;
  return input;
}

/** An RFC 3463 code written inside free text (`(#5.1.1)`, `Status: 4.2.2`), ignoring IPs/versions. */
export function findEnhancedCode(text: string): string | undefined {
  const m = ENHANCED_IN_TEXT.exec(text);
  return m ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
}

/**
 * The most specific of several RFC 3463 codes for one failure (RFC 3463 §3: `x.0.0` and `x.y.0`
 * say less than `x.y.z`): a DSN's generic `Status: 5.0.0` loses to the `5.1.1` its diagnostic
 * gives. On a tie the earlier candidate wins, so callers list the most direct source first.
 */
export function mostSpecificStatus(...codes: (string | undefined)[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const c of codes) {
    if (!c) continue;
    const [, subject, detail] = c.split('.');
    const score = (subject !== '0' ? 1 : 0) + (detail !== '0' ? 1 : 0);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/**
 * A multi-line reply flattened into one line (as DSN Diagnostic-Code fields are after unfolding:
 * `550-5.1.1 The email account … 550-5.1.1 double-checking … 550 5.1.1 https://…`) is split back at
 * each repeated `NNN-x.y.z` prefix so the prefixes do not end up inside the text.
 */
export function splitInlineContinuations(reply: string): string {
  const m = /^\s*([245]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3}\s)?/.exec(reply);
  if (!m) return reply;
  const code = m[1]!;
  // With an enhanced code the repeated prefix is unambiguous; without one only `NNN-` is.
  const next = m[2] ? REPEATED_WITH_ENHANCED : REPEATED_DASH;
  return reply.replace(next, (whole, c: string) => (c === code ? '\n' : whole));
}

function constraintsMatch(rule: BounceRule, input: ClassifyInput): boolean {
  if (rule.provider && (input.provider === undefined || !rule.provider.includes(input.provider))) return false;
  if (rule.action && (input.action === undefined || !rule.action.includes(input.action))) return false;
  if (rule.command && (input.command === undefined || !rule.command.includes(smtpCommand(input.command)))) return false;
  if (rule.matchCode && !rule.matchCode(input.code, input.enhanced)) return false;
  if (rule.matchEnhanced && !rule.matchEnhanced(input.enhanced)) return false;
  return true;
}

/** `end of DATA`, `RCPT TO`, `MAIL FROM` as the bare command name rules name. */
export function smtpCommand(command: string): string {
  const c = command.toUpperCase().replace(/^END OF /, '');
  return c.split(/[\s:]/)[0]!;
}

function normaliseText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
