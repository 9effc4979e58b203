import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { mxMatches, parseMtaStsPolicy, parseMtaStsTxt } from '../../src/transport-policy/index.js';

const fixtures = new URL('../fixtures/transport-policy/', import.meta.url);

interface PolicyCase {
  file: string;
  source: string;
  ok: boolean;
  mode?: string;
  mx?: string[];
  maxAge?: number;
  ignoredKeys?: string[];
  warningLines?: Array<number | null>;
  errorLines?: Array<number | null>;
}

const cases = JSON.parse(readFileSync(new URL('policy-cases.json', fixtures), 'utf8')) as PolicyCase[];

describe('MTA-STS policy parsing (fixtures)', () => {
  for (const c of cases) {
    test(`${c.file}: ${c.source}`, () => {
      const text = readFileSync(new URL(`policies/${c.file}`, fixtures), 'utf8');
      const parsed = parseMtaStsPolicy(text);
      assert.equal(parsed.ok, c.ok, JSON.stringify(parsed));
      if (parsed.ok) {
        assert.equal(parsed.policy.mode, c.mode);
        assert.deepEqual(parsed.policy.mx, c.mx);
        assert.equal(parsed.policy.maxAge, c.maxAge);
        assert.deepEqual(parsed.ignoredKeys, c.ignoredKeys ?? []);
      } else {
        assert.deepEqual(
          parsed.errors.map((e) => e.line ?? null),
          c.errorLines,
        );
        for (const e of parsed.errors) assert.ok(e.message.length > 0);
      }
      assert.deepEqual(
        parsed.warnings.map((w) => w.line ?? null),
        c.warningLines ?? [],
      );
    });
  }
});

describe('MTA-STS TXT record parsing', () => {
  const table: Array<{ name: string; records: string[]; id?: string; problem?: string }> = [
    { name: 'takes the id of the RFC 8461 §3.1 example', records: ['v=STSv1; id=20160831085700Z;'], id: '20160831085700Z' },
    { name: 'accepts a record without the trailing semicolon', records: ['v=STSv1; id=abc123'], id: 'abc123' },
    { name: 'accepts extension fields', records: ['v=STSv1; id=abc; ext-1=value'], id: 'abc' },
    { name: 'accepts whitespace around delimiters', records: ['v=STSv1 ;id=x1 ;  '], id: 'x1' },
    { name: 'discards records not beginning with v=STSv1', records: ['v=spf1 -all', 'v=STSv1; id=one;'], id: 'one' },
    { name: 'has no policy without records', records: [], problem: 'no-record' },
    { name: 'has no policy when no record begins with v=STSv1;', records: ['id=1; v=STSv1'], problem: 'no-record' },
    { name: 'does not take v=STSv10 for v=STSv1', records: ['v=STSv10; id=1'], problem: 'no-record' },
    { name: 'has no policy with two STSv1 records', records: ['v=STSv1; id=a;', 'v=STSv1; id=b;'], problem: 'multiple-records' },
    { name: 'rejects a record without an id', records: ['v=STSv1; foo=bar'], problem: 'syntax' },
    { name: 'rejects an id longer than 32 characters', records: [`v=STSv1; id=${'a'.repeat(33)}`], problem: 'syntax' },
    { name: 'rejects an id with punctuation', records: ['v=STSv1; id=2024-01-01'], problem: 'syntax' },
    { name: 'rejects an empty field between delimiters', records: ['v=STSv1; ; id=a'], problem: 'syntax' },
    { name: 'rejects an extension value containing "="', records: ['v=STSv1; id=a; x=b=c'], problem: 'syntax' },
  ];
  for (const row of table) {
    test(row.name, () => {
      const parsed = parseMtaStsTxt(row.records);
      if (row.id !== undefined) {
        assert.ok(parsed.ok, JSON.stringify(parsed));
        assert.equal(parsed.id, row.id);
      } else {
        assert.ok(!parsed.ok);
        assert.equal(parsed.problem, row.problem);
      }
    });
  }

  test('keeps the first id when the record repeats it, with a warning', () => {
    const parsed = parseMtaStsTxt(['v=STSv1; id=first; id=second']);
    assert.ok(parsed.ok);
    assert.equal(parsed.id, 'first');
    assert.equal(parsed.warnings.length, 1);
  });
});

describe('MX pattern matching (RFC 8461 §4.1)', () => {
  const table: Array<[pattern: string, host: string, expected: boolean]> = [
    ['mail.example.com', 'mail.example.com', true],
    ['mail.example.com', 'MAIL.Example.com.', true],
    ['mail.example.com', 'mail2.example.com', false],
    ['*.example.net', 'mx1.example.net', true],
    ['*.example.net', 'MX1.EXAMPLE.NET', true],
    ['*.example.net', 'example.net', false],
    ['*.example.net', 'a.b.example.net', false],
    ['*.example.net', 'mx1.example.network', false],
    ['*.example.net', 'mx1.notexample.net', false],
    ['mx*.example.net', 'mx1.example.net', false],
    ['*.bücher.example', 'mx.xn--bcher-kva.example', true],
  ];
  for (const [pattern, host, expected] of table) {
    test(`${pattern} ${expected ? 'matches' : 'does not match'} ${host}`, () => {
      assert.equal(mxMatches(pattern, host), expected);
    });
  }
});
