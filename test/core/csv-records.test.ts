import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCsvRecordReader } from '../../src/core/index.js';

/** RFC 4180 §2 cases, read whole and split at every position: chunk boundaries never change the records. */
const CSV =
  '\uFEFFEmail Address,Name,Note\r\n' +
  'ann@example.com,Ann,"says ""hi"", twice"\r\n' +
  '\r\n' +
  'bob@example.com,"Bob\r\nSmith",\n' +
  '"",,"a"b\r' +
  'last@example.com,Last,"end"';

const EXPECTED = [
  ['Email Address', 'Name', 'Note'],
  ['ann@example.com', 'Ann', 'says "hi", twice'],
  ['bob@example.com', 'Bob\r\nSmith', ''],
  ['', '', 'ab'],
  ['last@example.com', 'Last', 'end'],
];

function readAll(chunks: string[]) {
  const r = createCsvRecordReader();
  const out = chunks.flatMap((c) => r.push(c));
  const last = r.end();
  return { records: [...out, ...last.records], error: last.error };
}

test('records are the same however the text is split into chunks', () => {
  assert.deepEqual(readAll([CSV]).records, EXPECTED);
  for (let i = 0; i <= CSV.length; i++) {
    for (const j of [i, Math.min(CSV.length, i + 1), Math.min(CSV.length, i + 7)]) {
      const chunks = [CSV.slice(0, i), '', CSV.slice(i, j), CSV.slice(j)];
      assert.deepEqual(readAll(chunks).records, EXPECTED, `split at ${i} and ${j}`);
    }
  }
});

test('a quoted field never closed is an error naming its record', () => {
  const r = readAll(['a,b\r\n', '1,"open\r\n2,3\r\n']);
  assert.equal(r.error, 'a quoted field opened on record 2 is never closed');
});
