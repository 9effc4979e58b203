import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isPostwardenError } from '../../src/core/index.js';
import { type Feedback, loadDefaultProviderMap, loadDefaultRuleset, parseFeedback } from '../../src/feedback/index.js';
import { seededRandom } from '../support/random.js';

/**
 * Robustness of the one entry point over every message fixture: line endings never matter, and
 * seeded, bounded random mutations (truncation, mixed line endings, header changes) never crash it
 * and never change what an intact message is. The seed is fixed so a failure reproduces; set
 * FEEDBACK_FUZZ_SEED to explore other seeds locally.
 */
const ruleset = loadDefaultRuleset();
const providers = loadDefaultProviderMap();
const dir = new URL('../fixtures/feedback/', import.meta.url);
const fixtures = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(new URL(`${d.name}/`, dir))
      .filter((f) => /\.(eml|xml|json)$/.test(f))
      .map((f) => `${d.name}/${f}`),
  )
  .sort();
/** Bare report payloads (XML, JSON) are not messages: only the line-ending twins apply to them. */
const messages = fixtures.filter((f) => f.endsWith('.eml'));
const lf = (name: string) => readFileSync(new URL(name, dir), 'latin1').replace(/\r\n?/g, '\n');
const parse = (text: string) => parseFeedback(Buffer.from(text, 'latin1'), { ruleset, providers });

/**
 * A broken document may also be refused for a processing limit (a truncated gzip whose trailer now
 * declares a gigabyte): that is an answer (the MX replies 554 5.6.0), not a crash. Anything else
 * thrown is a crash.
 */
async function parseOrRefuse(text: string): Promise<Feedback['kind'] | 'refused'> {
  try {
    return (await parse(text)).kind;
  } catch (e) {
    if (isPostwardenError(e) && e.code === 'CONTENT_LIMIT_EXCEEDED') return 'refused';
    throw e;
  }
}

/** Seeded, so every run mutates the same way. */
const rng = seededRandom;

const SEED = Number(process.env.FEEDBACK_FUZZ_SEED ?? 20261206);
const ROUNDS = 12;

function split(text: string): { head: string[]; body: string } {
  const end = text.indexOf('\n\n');
  return end < 0 ? { head: text.split('\n'), body: '' } : { head: text.slice(0, end).split('\n'), body: text.slice(end + 2) };
}

/** Mutations that keep the message intact: its kind must not change. */
const benign: ((text: string, r: () => number) => string)[] = [
  // Mixed line endings, per line. A CR ending followed by an empty LF-ended line would merge into one
  // CRLF and swallow a blank line, so that combination is avoided.
  (t, r) => {
    let prev = '';
    return t
      .split('\n')
      .map((l) => {
        const choices = prev === '\r' && l === '' ? ['\r', '\r\n'] : ['\n', '\r\n', '\r'];
        prev = choices[Math.floor(r() * choices.length)]!;
        return l + prev;
      })
      .join('');
  },
  // Header field names in another case (RFC 5322 §1.2.2: case-insensitive).
  (t, r) => {
    const { head, body } = split(t);
    const out = head.map((l) =>
      /^[\w-]+:/.test(l) && r() < 0.5 ? l.replace(/^[\w-]+/, (n) => (r() < 0.5 ? n.toUpperCase() : n.toLowerCase())) : l,
    );
    return `${out.join('\n')}\n\n${body}`;
  },
  // An unknown, folded header (RFC 5322 §2.2.3) added before another field.
  (t, r) => {
    const { head, body } = split(t);
    const starts = head.flatMap((l, i) => (i > 0 && /^[\w-]+:/.test(l) ? [i] : []));
    if (starts.length === 0) return t;
    const at = starts[Math.floor(r() * starts.length)]!;
    head.splice(at, 0, `X-Fuzz-${Math.floor(r() * 1000)}: value ${'x'.repeat(Math.floor(r() * 40))}`, '\tfolded continuation');
    return `${head.join('\n')}\n\n${body}`;
  },
  // Blank lines after the end of the message.
  (t, r) => t + '\n'.repeat(1 + Math.floor(r() * 3)),
];

/** Mutations that may break the message: only "never throws, always a kind" is required. */
const destructive: ((text: string, r: () => number) => string)[] = [
  (t, r) => t.slice(0, Math.floor(r() * t.length)),
  (t, r) => {
    const { head, body } = split(t);
    head.splice(Math.floor(r() * head.length), 1);
    return `${head.join('\n')}\n\n${body}`;
  },
  (t, r) => {
    const { head, body } = split(t);
    const i = Math.floor(r() * head.length);
    head[i] = head[i]!.replace(/:.*/, ':');
    return `${head.join('\n')}\n\n${body}`;
  },
  (t, r) => {
    const i = Math.floor(r() * t.length);
    return t.slice(0, i) + t.slice(i + Math.floor(r() * 400));
  },
  (t, r) => {
    const lines = t.split('\n');
    const i = Math.floor(r() * lines.length);
    lines.splice(i, 0, lines[Math.floor(r() * lines.length)]!);
    return lines.join('\n');
  },
];

const KINDS = new Set<Feedback['kind']>(['dsn', 'arf', 'dmarc-aggregate', 'dmarc-failure', 'tls-rpt', 'auto-reply', 'unknown']);

describe('line endings', () => {
  for (const name of fixtures) {
    test(`${name} reads the same with LF, CRLF and bare CR line endings`, async () => {
      const text = lf(name);
      const want = JSON.stringify(await parse(text));
      assert.equal(JSON.stringify(await parse(text.replace(/\n/g, '\r\n'))), want, 'CRLF twin differs');
      assert.equal(JSON.stringify(await parse(text.replace(/\n/g, '\r'))), want, 'CR-only twin differs');
    });
  }
});

describe(`fuzz (seed ${SEED}, ${ROUNDS} rounds per fixture)`, () => {
  for (const [n, name] of messages.entries()) {
    test(`${name}: mutations never crash and never change the kind of an intact message`, async () => {
      const r = rng(SEED + n);
      const text = lf(name);
      const kind = (await parse(text)).kind;
      for (let i = 0; i < ROUNDS; i++) {
        const b = benign[Math.floor(r() * benign.length)]!;
        const mutated = b(text, r);
        const got = await parse(mutated);
        assert.equal(got.kind, kind, `benign mutation #${benign.indexOf(b)} (round ${i}) changed the kind`);
        const d = destructive[Math.floor(r() * destructive.length)]!;
        const broken = await parseOrRefuse(d(mutated, r));
        assert.ok(broken === 'refused' || KINDS.has(broken), `destructive mutation #${destructive.indexOf(d)} (round ${i})`);
      }
    });
  }
});
