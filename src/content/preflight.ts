import { simpleParser } from 'mailparser';
import { type Clock, PostwardenError, type Stream, validationError } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { ContentRules } from './content-rules.js';
import { htmlFacts } from './html-facts.js';
import {
  type ContentView,
  coachOnlyCodes,
  openingLine,
  type PreflightCode,
  type PreflightFacts,
  type PreflightWarning,
  preflightCodes,
  runChecks,
} from './preflight-checks.js';

/**
 * The preflight: coaching warnings about a message before it is sent (the dry run, template
 * publish and preview), and at send time the tenant's refusals: the warning codes a tenant lists in
 * its preflight policy (PUT /v1/preflight/policy) refuse a send with 422 PREFLIGHT_REFUSED instead
 * of passing. The policy lives in the store (one row per tenant), so every node applies the same;
 * each node keeps a tenant's policy for `policyCacheMs` (default 10 s) so a send costs no extra
 * read. Coach-only codes (cold-lane checks, DKIM rotation) can never be refusals.
 */
export interface PreflightDeps {
  store: Pick<Store, 'templates' | 'messages'>;
  clock: Clock;
  rules: ContentRules;
  /** The From domain's signing selectors and when each rotates (identity; platform.ts wires it). */
  dkimSchedule?: (fromDomain: string) => Promise<{ domain: string; selector: string; rotatesAt: number }[]>;
  policyCacheMs?: number;
}

/** A composed message: its content as requested (rendered) and the MIME that would be sent. */
export interface PreflightMessage {
  tenantId: string;
  stream: Stream;
  subject: string;
  html?: string;
  text?: string;
  fromDomain: string;
  replyToDomains: string[];
  raw: Buffer;
  /** Where the content came from: literal fields, or a template. */
  fromTemplate: boolean;
}

const DAY = 86_400_000;

/** Top-level header fields of a message, unfolded, by lower-case name. */
export function topHeaders(raw: Buffer): Map<string, string[]> {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]/g, ' ');
  const out = new Map<string, string[]>();
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    out.set(name, [...(out.get(name) ?? []), line.slice(i + 1).trim()]);
  }
  return out;
}

/** A text/plain part: the top level is text/plain (or untyped, RFC 2045 §5.2), or a part says so. */
function hasTextPart(raw: Buffer): boolean {
  const top = topHeaders(raw).get('content-type')?.[0];
  if (!top || /^text\/plain\b/i.test(top)) return true;
  if (!/^multipart\//i.test(top)) return false;
  return /^Content-Type:[ \t]*text\/plain\b/im.test(raw.toString('latin1'));
}

export function createPreflight(deps: PreflightDeps) {
  const { store, clock, rules } = deps;
  const cacheMs = deps.policyCacheMs ?? 10_000;
  const policies = new Map<string, { at: number; codes: PreflightCode[] }>();

  async function refused(tenantId: string): Promise<PreflightCode[]> {
    const hit = policies.get(tenantId);
    if (hit && clock.now() - hit.at < cacheMs) return hit.codes;
    const codes = (await store.templates.refusedCodes(tenantId)) as PreflightCode[];
    if (policies.size > 10_000) policies.clear();
    policies.set(tenantId, { at: clock.now(), codes });
    return codes;
  }

  /** Normalised opening lines of the tenant's recent cold messages (bounded by the rules). */
  async function recentOpenings(tenantId: string): Promise<string[]> {
    const t = rules.thresholds;
    const bodies = await store.messages.recentBodies(tenantId, 'cold', clock.now() - t.coldRepeatWindowDays * DAY, t.coldRecentLimit);
    const out: string[] = [];
    for (const b of bodies) {
      const parsed = await simpleParser(b.raw, { skipImageLinks: true });
      const text = typeof parsed.text === 'string' && parsed.text ? parsed.text : parsed.html ? htmlFacts(parsed.html).visibleText : '';
      const line = openingLine(text);
      if (line) out.push(line);
    }
    return out;
  }

  function viewOf(m: PreflightMessage): ContentView {
    const content = m.fromTemplate ? '/template' : undefined;
    return {
      stream: m.stream,
      subject: m.subject,
      ...(m.html !== undefined ? { html: m.html } : {}),
      ...(m.text !== undefined ? { text: m.text } : {}),
      message: { fromDomain: m.fromDomain, replyToDomains: m.replyToDomains, headers: topHeaders(m.raw) },
      paths: {
        subject: content ?? '/subject',
        html: content ?? '/html',
        text: content ?? '/text',
        replyTo: '/reply_to',
        headers: '/headers',
      },
    };
  }

  return {
    codes: preflightCodes,
    coachOnly: coachOnlyCodes,

    /** Every check on a composed message, with the facts that need the store or identity (dry run). */
    async checkMessage(m: PreflightMessage): Promise<PreflightWarning[]> {
      const facts: PreflightFacts = { now: clock.now() };
      if (deps.dkimSchedule) facts.dkim = await deps.dkimSchedule(m.fromDomain);
      if (m.stream === 'cold') facts.recentOpenings = await recentOpenings(m.tenantId);
      return runChecks(viewOf(m), facts, rules);
    },

    /** The content checks on a rendered template (publish, preview): message-level checks need a send. */
    async checkContent(input: { tenantId: string; stream: Stream | null; subject: string; html: string; text: string }) {
      const facts: PreflightFacts = { now: clock.now() };
      if (input.stream === 'cold') facts.recentOpenings = await recentOpenings(input.tenantId);
      const view: ContentView = {
        stream: input.stream,
        subject: input.subject,
        html: input.html,
        text: input.text,
        paths: { subject: '/subject', html: '/html', text: '/text', replyTo: '/reply_to', headers: '/headers' },
      };
      return runChecks(view, facts, rules);
    },

    /**
     * At send time: when the tenant refuses some codes, the refusable checks run on the composed
     * message and a warning with a refused code refuses the send (422 PREFLIGHT_REFUSED naming it).
     * A tenant that refuses nothing pays one cached read.
     */
    async enforce(m: PreflightMessage): Promise<void> {
      const codes = await refused(m.tenantId);
      if (!codes.length) return;
      const tripped = runChecks(viewOf(m), { now: clock.now() }, rules).filter((w) => codes.includes(w.code));
      if (!tripped.length) return;
      throw new PostwardenError('PREFLIGHT_REFUSED', `the tenant's preflight policy refuses ${tripped.map((w) => w.code).join(', ')}`, {
        errors: tripped.map((w) => ({ path: w.path, message: `${w.code}: ${w.message}` })),
        warnings: tripped,
      });
    },

    /**
     * The same for an SMTP submission, read from its MIME: mailparser gives the HTML and the text,
     * and a text part counts only when the message has one (mailparser derives text from HTML).
     */
    async enforceSubmitted(m: { tenantId: string; stream: Stream; raw: Buffer; fromDomain: string }): Promise<void> {
      if (!(await refused(m.tenantId)).length) return;
      const parsed = await simpleParser(m.raw, { skipImageLinks: true });
      const html = typeof parsed.html === 'string' ? parsed.html : undefined;
      const replyTo = parsed.replyTo ? (Array.isArray(parsed.replyTo) ? parsed.replyTo : [parsed.replyTo]) : [];
      await this.enforce({
        tenantId: m.tenantId,
        stream: m.stream,
        subject: parsed.subject ?? '',
        ...(html !== undefined ? { html } : {}),
        ...(hasTextPart(m.raw) ? { text: parsed.text ?? '' } : {}),
        fromDomain: m.fromDomain,
        replyToDomains: replyTo.flatMap((a) => a.value.map((v: { address?: string }) => v.address?.split('@').pop() ?? '').filter(Boolean)),
        raw: m.raw,
        fromTemplate: false,
      });
    },

    refusedCodes: (tenantId: string) => store.templates.refusedCodes(tenantId),

    async setRefusedCodes(tenantId: string, codes: unknown): Promise<PreflightCode[]> {
      if (!Array.isArray(codes)) throw validationError([{ path: '/refuse', message: 'must be a list of preflight warning codes' }]);
      const errors = codes.flatMap((c, i) =>
        typeof c !== 'string' || !(preflightCodes as readonly string[]).includes(c)
          ? [{ path: `/refuse/${i}`, message: `is not a preflight code (one of ${preflightCodes.join(', ')})` }]
          : coachOnlyCodes.includes(c as PreflightCode)
            ? [{ path: `/refuse/${i}`, message: `${c} only coaches and cannot refuse a send` }]
            : [],
      );
      if (errors.length) throw validationError(errors);
      const unique = [...new Set(codes as PreflightCode[])];
      await store.templates.setRefusedCodes(tenantId, unique, clock.now());
      policies.delete(tenantId);
      return unique;
    },
  };
}

export type Preflight = ReturnType<typeof createPreflight>;
