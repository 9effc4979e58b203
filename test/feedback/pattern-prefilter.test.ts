import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadDefaultRuleset } from '../../src/feedback/index.js';
import { buildPrefilter, requiredLiterals } from '../../src/feedback/pattern-prefilter.js';

test('derives literals that every match must contain', () => {
  assert.deepEqual(requiredLiterals('user unknown'), ['user unknown']);
  assert.deepEqual(requiredLiterals('(user|recipient) (is )?unknown')?.sort(), [
    'recipient is unknown',
    'recipient unknown',
    'user is unknown',
    'user unknown',
  ]);
  assert.deepEqual(requiredLiterals('over ?quota')?.sort(), ['over quota', 'overquota']);
  // Either word would do; the longer one filters better.
  assert.deepEqual(requiredLiterals('\\bSPF\\b.{0,60}fail'), ['fail']);
  assert.deepEqual(requiredLiterals('[a-z]+ing'), ['ing']);
});

test('gives up (runs the rule always) when no literal is required', () => {
  assert.equal(requiredLiterals('\\d{3}'), null);
  assert.equal(requiredLiterals('(foo)?bar|x'), null);
  assert.equal(requiredLiterals('a.*b'), null);
  assert.equal(requiredLiterals('[a-z]+'), null);
  assert.equal(requiredLiterals('ab'), null);
});

test('every literal set is sound: each rule example that a pattern matches contains one of its literals', () => {
  const rs = loadDefaultRuleset();
  const texts = rs.rules.flatMap((r) => (r.example ? [r.example.line.replace(/\s+/g, ' ')] : []));
  for (const rule of rs.rules) {
    for (const re of rule.regexes ?? []) {
      const lits = requiredLiterals(re.source);
      if (!lits) continue;
      for (const t of texts)
        if (re.test(t))
          assert.ok(
            lits.some((l) => t.toLowerCase().includes(l)),
            `${rule.id}: ${re.source} matched "${t}" but none of ${lits.join('|')}`,
          );
    }
  }
});

test('the automaton flags exactly the rules whose literals occur', () => {
  const pf = buildPrefilter([['user unknown'], null, ['quota', 'full mailbox'], ['unknown']]);
  assert.deepEqual([...pf.candidates('550 user unknown here')], [1, 1, 0, 1]);
  assert.deepEqual([...pf.candidates('mailbox over quota')], [0, 1, 1, 0]);
  assert.deepEqual([...pf.candidates('größe überschritten')], [0, 1, 0, 0]);
});
