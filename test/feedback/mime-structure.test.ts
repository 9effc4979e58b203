import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PostwardenError } from '../../src/core/index.js';
import { checkMimeStructure } from '../../src/feedback/mime-structure.js';
import { deepMail, manyPartsMail } from './hostile-documents.js';

const limits = { maxMimeParts: 500, maxMimeDepth: 20 };
const refused = (setting: string) => (e: PostwardenError) => e.code === 'CONTENT_LIMIT_EXCEEDED' && e.message.includes(`(${setting})`);

test('ordinary multiparts pass the MIME structure check', () => {
  checkMimeStructure(manyPartsMail(10), limits);
  checkMimeStructure(deepMail(5), limits);
  checkMimeStructure(Buffer.from('Subject: plain\r\n\r\nno MIME at all\r\n'), limits);
});

test('a message with more parts than the limit is refused', () => {
  checkMimeStructure(manyPartsMail(499), limits);
  assert.throws(() => checkMimeStructure(manyPartsMail(500), limits), refused('feedback.maxMimeParts'));
  assert.throws(() => checkMimeStructure(manyPartsMail(10_000), limits), /more than 500 MIME parts/);
});

test('multiparts nested deeper than the limit are refused', () => {
  checkMimeStructure(deepMail(19), limits);
  assert.throws(() => checkMimeStructure(deepMail(20), limits), refused('feedback.maxMimeDepth'));
  assert.throws(() => checkMimeStructure(deepMail(2000), limits), /nest deeper than 20 levels/);
});

test('embedded messages count as a level and their parts as parts', () => {
  const nested = (depth: number): string =>
    depth === 0 ? 'Subject: inner\r\n\r\nbody\r\n' : `Content-Type: message/rfc822\r\n\r\n${nested(depth - 1)}`;
  checkMimeStructure(Buffer.from(`Subject: outer\r\n${nested(20)}`), limits);
  assert.throws(() => checkMimeStructure(Buffer.from(`Subject: outer\r\n${nested(21)}`), limits), refused('feedback.maxMimeDepth'));
  // A base64 message/rfc822 body is opaque: nothing is counted inside it.
  checkMimeStructure(
    Buffer.from(`Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n${'QQ=='.repeat(10)}\r\n`),
    limits,
  );
});
