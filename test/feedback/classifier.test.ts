import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  BOUNCE_CATEGORIES,
  type BounceRule,
  type ClassifyInput,
  classify,
  classifyLine,
  compileRuleset,
  defaultRulesetPath,
  loadDefaultRuleset,
  loadRuleset,
  mostSpecificStatus,
  type Ruleset,
  RulesetError,
  replyFromLine,
  smtpCommand,
} from '../../src/feedback/index.js';

const ruleset = loadDefaultRuleset();
const fixture = (name: string) => new URL(`../fixtures/feedback/${name}`, import.meta.url);

/** The reply-line table: expected category, hard, provider, line. */
const table = readFileSync(fixture('reply-lines.tsv'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [category, hard, provider, line] = l.split('\t');
    return { category: category!, hard: hard === 'true', provider: provider === '-' ? undefined : provider!, line: line! };
  });

/**
 * The obvious implementation, without the literal prefilter: rules in file order; `expired` and
 * fallback phrases are set aside until a specific rule (or only a class rule) is reached.
 */
function naiveClassify(rs: Ruleset, input: ClassifyInput): string | null {
  let text = input.text.replace(/\s+/g, ' ').trim();
  let gaveUp: string | undefined;
  let plain: string | undefined;
  for (const r of rs.rules) {
    if (r.provider && (!input.provider || !r.provider.includes(input.provider))) continue;
    if (r.action && (!input.action || !r.action.includes(input.action))) continue;
    if (r.command && (!input.command || !r.command.includes(smtpCommand(input.command)))) continue;
    if (r.matchCode && !r.matchCode(input.code, input.enhanced)) continue;
    if (r.matchEnhanced && !r.matchEnhanced(input.enhanced)) continue;
    if (r.regexes && !r.regexes.some((re) => re.test(text))) continue;
    if (r.category === 'expired') {
      gaveUp ??= r.id;
      for (const re of r.regexes ?? []) text = text.replace(new RegExp(re.source, 'gi'), ' ').replace(/\s+/g, ' ').trim();
      continue;
    }
    if (r.fallback) {
      plain ??= r.id;
      continue;
    }
    return r.generic ? (plain ?? gaveUp ?? r.id) : r.id;
  }
  return plain ?? gaveUp ?? null;
}

const pick = (c: { category: string; hard: boolean }) => [c.category, c.hard];

function exampleContext(rule: BounceRule) {
  return {
    ...(rule.example?.provider ? { provider: rule.example.provider } : {}),
    ...(rule.example?.action ? { action: rule.example.action } : {}),
    ...(rule.example?.command ? { command: rule.example.command } : {}),
  };
}

describe('bounce ruleset', () => {
  test('has a version and every category is reachable by some rule', () => {
    assert.match(ruleset.version, /^\d{4}\.\d{1,2}\.\d+$/);
    const categories = new Set(ruleset.rules.map((r) => r.category));
    for (const c of BOUNCE_CATEGORIES) assert.ok(categories.has(c), `no rule yields ${c}`);
  });

  test('every rule is reachable: its example line classifies to that rule', () => {
    for (const rule of ruleset.rules) {
      assert.ok(rule.example, `rule ${rule.id} has no example`);
      const c = classifyLine(ruleset, rule.example.line, exampleContext(rule));
      assert.equal(c.ruleId, rule.id, `example of ${rule.id} (${rule.example.line}) went to ${c.ruleId}`);
      assert.equal(c.rulesetVersion, ruleset.version);
    }
  });

  test('the changelog has an entry for the ruleset version in force', () => {
    const changelog = readFileSync(new URL('../../rules/CHANGELOG.md', import.meta.url), 'utf8');
    const headings = [...changelog.matchAll(/^## (\d{4}\.\d{1,2}\.\d+)\b/gm)].map((m) => m[1]);
    assert.ok(headings.includes(ruleset.version), `rules/CHANGELOG.md has no "## ${ruleset.version}" entry`);
    assert.equal(headings[0], ruleset.version, 'the newest changelog entry is the version in force');
  });

  test('rule order is the order of the file, identical on every load', () => {
    const yamlText = readFileSync(defaultRulesetPath(), 'utf8');
    const idsInFile = [...yamlText.matchAll(/^\s*- id: ([a-z0-9-]+)\s*$/gm)].map((m) => m[1]);
    const again = loadRuleset(yamlText);
    assert.deepEqual(
      ruleset.rules.map((r) => r.id),
      idsInFile,
    );
    assert.deepEqual(
      again.rules.map((r) => r.id),
      idsInFile,
    );
    assert.equal(again.version, ruleset.version);
  });

  test('the first of two overlapping rules wins, so reordering them changes the result', () => {
    const a = { id: 'a-user-unknown', pattern: 'user unknown', category: 'bad_mailbox', hard: true };
    const b = { id: 'b-unknown', pattern: 'unknown', category: 'unknown', hard: false };
    const ab = compileRuleset({ version: '2026.1.1', rules: [a, b] });
    const ba = compileRuleset({ version: '2026.1.1', rules: [b, a] });
    assert.equal(classifyLine(ab, '550 user unknown').ruleId, 'a-user-unknown');
    assert.equal(classifyLine(ba, '550 user unknown').ruleId, 'b-unknown');
  });

  test('a rule written after a later tier is rejected, naming the rule and the order', () => {
    assert.throws(
      () =>
        compileRuleset({
          version: '2026.1.1',
          rules: [
            { id: 'code-first', code: '5xx', category: 'unknown', hard: false },
            { id: 'text-late', pattern: 'user unknown', category: 'bad_mailbox', hard: true },
          ],
        }),
      (e: unknown) => e instanceof RulesetError && e.problems.some((p) => p.ruleId === 'text-late' && p.field === 'order'),
    );
  });

  test('invalid rules are reported by rule id and field', () => {
    const cases: [Record<string, unknown>[], string, string][] = [
      [[{ id: 'x-cat', code: 550, category: 'bounced', hard: true }], 'x-cat', 'category'],
      [[{ id: 'x-re', pattern: 'user (unknown', category: 'bad_mailbox', hard: true }], 'x-re', 'pattern'],
      [
        [
          { id: 'dup', code: 550, category: 'unknown', hard: false },
          { id: 'dup', code: 551, category: 'unknown', hard: false },
        ],
        'dup',
        'id',
      ],
      [[{ id: 'x-code', code: '5.1.1', category: 'unknown', hard: false }], 'x-code', 'code'],
      [[{ id: 'x-enh', enhanced: '5-1-1', category: 'unknown', hard: false }], 'x-enh', 'enhanced'],
      [[{ id: 'x-hard', code: 550, category: 'unknown', hard: 'yes' }], 'x-hard', 'hard'],
      [[{ id: 'x-empty', pattern: '.*', category: 'unknown', hard: false }], 'x-empty', 'pattern'],
      [[{ id: 'x-none', category: 'unknown', hard: false }], 'x-none', 'code'],
      [[{ id: 'Bad_Id', code: 550, category: 'unknown', hard: false }], 'Bad_Id', 'id'],
      [[{ id: 'x-field', code: 550, category: 'unknown', hard: false, severity: 1 }], 'x-field', 'severity'],
    ];
    for (const [rules, id, field] of cases) {
      assert.throws(
        () => compileRuleset({ version: '2026.1.1', rules }),
        (e: unknown) => {
          assert.ok(e instanceof RulesetError);
          assert.ok(
            e.problems.some((p) => p.ruleId === id && p.field === field),
            JSON.stringify(e.problems),
          );
          assert.match(e.message, new RegExp(`rule ${id}`));
          return true;
        },
      );
    }
    assert.throws(() => loadRuleset('version: 1\nrules: []\n'), RulesetError);
  });
});

describe('classify', () => {
  for (const row of table) {
    test(`${row.category}${row.hard ? ' (hard)' : ''}: ${row.line.slice(0, 90)}`, () => {
      const c = classifyLine(ruleset, row.line, row.provider ? { provider: row.provider } : {});
      assert.equal(c.category, row.category, `rule ${c.ruleId}`);
      assert.equal(c.hard, row.hard);
    });
  }

  test('the literal prefilter never changes a result compared with running every rule', () => {
    const inputs: ClassifyInput[] = [];
    for (const row of table) inputs.push({ ...replyFromLine(row.line), ...(row.provider ? { provider: row.provider } : {}) });
    for (const r of ruleset.rules) if (r.example) inputs.push({ ...replyFromLine(r.example.line), ...exampleContext(r) });
    // Variations: text only, upper case, other codes, and fragments of real replies.
    for (const input of [...inputs]) {
      inputs.push({ text: input.text });
      inputs.push({ ...input, text: input.text.toUpperCase() });
      inputs.push({ ...input, code: 450, enhanced: '4.0.0' });
      const words = input.text.split(' ');
      inputs.push({ ...input, text: words.slice(Math.floor(words.length / 2)).join(' ') });
    }
    for (const input of inputs) assert.equal(classify(ruleset, input).ruleId, naiveClassify(ruleset, input), input.text);
  });

  test('classifies 10,000 varied reply lines deterministically', () => {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const row = table[i % table.length]!;
      lines.push(row.line.replace(/192\.0\.2\.1\b/g, `198.51.100.${i % 250}`).replace(/someone@/g, `user${i}@`));
    }
    // Best of three runs: the first pays for JIT warm-up, and other processes share the CPU. The
    // figure the issue asks for (under 1 s) is the bound; bench/classify.ts measures it properly.
    const runs: number[] = [];
    let first: ReturnType<typeof classifyLine>[] = [];
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      const out = lines.map((l) => classifyLine(ruleset, l));
      runs.push(performance.now() - start);
      if (run === 0) first = out;
      else assert.deepEqual(out, first);
    }
    for (let i = 0; i < lines.length; i++) assert.equal(first[i]!.category, table[i % table.length]!.category, lines[i]);
    const ms = Math.min(...runs);
    console.log(`# classified 10,000 reply lines in ${ms.toFixed(0)} ms (best of ${runs.map((r) => r.toFixed(0)).join(', ')})`);
    assert.ok(ms < 1000, `10,000 reply lines took ${ms.toFixed(0)} ms, over the 1 s bound`);
  });

  test('a code-less qmail diagnostic is classified from its text and (#x.y.z) status', () => {
    const c = classifyLine(ruleset, 'Sorry, no mailbox here by that name. (#5.1.1)');
    assert.equal(c.category, 'bad_mailbox');
    assert.deepEqual(replyFromLine('Sorry, no mailbox here by that name. (#5.1.1)').enhanced, '5.1.1');
  });

  test('a multi-line reply flattened into one line keeps its text without the repeated prefixes', () => {
    const input = replyFromLine(
      "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address 550 5.1.1 for typos. - gsmtp",
    );
    assert.equal(input.code, 550);
    assert.equal(input.enhanced, '5.1.1');
    assert.doesNotMatch(input.text, /550/);
  });

  test('an IP address or version number is not mistaken for an enhanced status code', () => {
    assert.equal(replyFromLine('Client host 5.1.1.4 blocked').enhanced, undefined);
    assert.equal(replyFromLine('server version 4.2.2.1 busy').enhanced, undefined);
  });

  test('a reply no rule explains is unknown, soft, with no rule id', () => {
    const tiny = compileRuleset({ version: '2026.1.1', rules: [{ id: 'only-552', code: 552, category: 'mailbox_full', hard: false }] });
    assert.deepEqual(classify(tiny, { code: 250, text: 'ok' }), {
      category: 'unknown',
      hard: false,
      ruleId: null,
      rulesetVersion: '2026.1.1',
    });
  });

  test('a DSN that gave up with a 4.x.x status and no known cause is expired', () => {
    assert.equal(classifyLine(ruleset, '451 4.4.1 Delivery deferred', { action: 'failed' }).category, 'expired');
    assert.equal(classifyLine(ruleset, '451 4.4.1 Delivery deferred').category, 'transient');
    assert.equal(classifyLine(ruleset, 'retry timeout exceeded').category, 'expired');
    assert.equal(
      classifyLine(ruleset, '550 4.4.7 Message could not be delivered within 5 days; retry timeout exceeded').category,
      'expired',
    );
  });

  test('the last attempt of a gave-up DSN decides over expired', () => {
    const failed = { action: 'failed' } as const;
    const cases: [string, string, boolean][] = [
      ['451 4.4.1 connect to mx.example.net[192.0.2.44]:25: Connection timed out', 'transient', false],
      ['Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found', 'bad_domain', true],
      ['retry timeout exceeded; last error: Host or domain name not found', 'bad_domain', true],
      ['550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using zen.spamhaus.org', 'reputation_block', false],
      ['550 5.7.1 blocked', 'policy_block', false],
      ['452 4.2.2 Mailbox full', 'mailbox_full', false],
      ['Message expired after 5 days; last error: 552 5.2.2 mailbox over quota', 'mailbox_full', false],
    ];
    for (const [line, category, hard] of cases) {
      const c = classifyLine(ruleset, line, failed);
      assert.equal(c.category, category, `${line}: rule ${c.ruleId}`);
      assert.equal(c.hard, hard, line);
    }
  });

  test('a specific enhanced code outranks a plain phrase; the phrase outranks a bare reply class', () => {
    assert.equal(classifyLine(ruleset, '550 5.1.1 rejected').category, 'bad_mailbox');
    assert.equal(classifyLine(ruleset, '550 rejected').category, 'policy_block');
    assert.equal(classifyLine(ruleset, '550 5.0.0 Access denied').category, 'policy_block');
    assert.equal(classifyLine(ruleset, '554 blocked').category, 'reputation_block');
    assert.equal(classifyLine(ruleset, '550 Requested action not taken').category, 'unknown');
  });

  test('further context decides when the reply itself knows only its class', () => {
    const input = { code: 550, enhanced: '5.0.0', text: 'Requested action not taken' };
    assert.equal(classify(ruleset, input).category, 'unknown');
    assert.equal(classify(ruleset, { ...input, context: ['Sorry, no such user here.'] }).category, 'bad_mailbox');
    // Context never overrules a specific reply.
    assert.equal(
      classify(ruleset, { code: 552, enhanced: '5.2.2', text: 'Mailbox full', context: ['no such user'] }).category,
      'mailbox_full',
    );
  });

  test('a disabled or suspended mailbox is soft; a mailbox that is gone or moved is hard', () => {
    for (const line of [
      '550 5.2.1 The email account that you tried to reach is disabled. - gsmtp',
      '550 5.2.1 Mailbox disabled, not accepting messages',
      '550 Account suspended',
      '550 5.0.0 user account is inactive',
    ])
      assert.deepEqual([classifyLine(ruleset, line).category, classifyLine(ruleset, line).hard], ['bad_mailbox', false], line);
    for (const line of ['550 5.1.6 Recipient mailbox has moved, no forwarding address', '550 Account closed', '550 5.1.1 no such user'])
      assert.deepEqual([classifyLine(ruleset, line).category, classifyLine(ruleset, line).hard], ['bad_mailbox', true], line);
    assert.equal(classifyLine(ruleset, "550 5.7.1 Message rejected by the recipient's mail filter").hard, false);
  });

  test('a recipient refused only after DATA is content-filtered and soft, not an unknown mailbox', () => {
    const line = '550 5.1.1 <someone@example.org>: Recipient address rejected: User unknown';
    assert.deepEqual(pick(classifyLine(ruleset, line, { command: 'end of DATA' })), ['content_block', false]);
    assert.deepEqual(pick(classifyLine(ruleset, line, { command: 'RCPT TO' })), ['bad_mailbox', true]);
    assert.deepEqual(pick(classifyLine(ruleset, line)), ['bad_mailbox', true]);
  });

  test('the most specific of several enhanced codes is chosen', () => {
    assert.equal(mostSpecificStatus('5.0.0', '5.1.1'), '5.1.1');
    assert.equal(mostSpecificStatus('5.1.0', '5.0.0'), '5.1.0');
    assert.equal(mostSpecificStatus('5.1.1', '5.2.2'), '5.1.1');
    assert.equal(mostSpecificStatus(undefined, '4.4.7'), '4.4.7');
  });

  test('a provider rule applies only to that provider', () => {
    const line = '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages';
    assert.equal(classifyLine(ruleset, line, { provider: 'gmail' }).ruleId, 'gmail-receiving-too-quickly');
    assert.notEqual(classifyLine(ruleset, '450 4.2.1 Mailbox disabled', { provider: 'microsoft' }).ruleId, 'gmail-receiving-too-quickly');
  });
});
