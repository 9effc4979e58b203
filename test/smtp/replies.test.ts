import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ErrorCode, errorCatalogue, PostwardenError } from '../../src/core/index.js';
import { builtinOverride, hasEnhancedCode, replyFor, smtpError } from '../../src/smtp/index.js';

test('every catalogue code maps to a reply whose enhanced code matches its class', () => {
  for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
    const r = replyFor(new PostwardenError(code, 'internal detail that must not reach the wire'));
    assert.ok(hasEnhancedCode(r.message), `${code}: ${r.message}`);
    assert.equal(r.message[0], String(r.responseCode)[0], `${code}: ${r.responseCode} ${r.message}`);
    if (code !== 'VALIDATION_FAILED') assert.doesNotMatch(r.message, /internal detail/, code);
  }
});

test('codes with an smtp entry use the catalogue numbers', () => {
  assert.deepEqual(replyFor(new PostwardenError('MESSAGE_TOO_LARGE', 'x', { limit: 2048 })), {
    responseCode: 552,
    message: '5.3.4 Message too large: the limit is 2048 bytes',
  });
  assert.deepEqual(replyFor(new PostwardenError('SENDER_DOMAIN_NOT_ALLOWED', 'other.org is not ours')), {
    responseCode: 550,
    message: '5.7.1 Sender domain not allowed for this account',
  });
  assert.deepEqual(replyFor(new PostwardenError('RATE_LIMITED', 'x', { retryAfter: 12.2 })), {
    responseCode: 451,
    message: '4.7.1 Rate limit exceeded, try again in 13 seconds',
  });
  assert.deepEqual(replyFor(new PostwardenError('ENCRYPTION_REQUIRED', 'x')), {
    responseCode: 538,
    message: '5.7.11 Encryption required for requested authentication mechanism',
  });
});

test('codes without an smtp entry fall back by HTTP status class', () => {
  assert.deepEqual(replyFor(new PostwardenError('NOT_FOUND', 'x')), { responseCode: 550, message: '5.7.1 Not found' });
  assert.deepEqual(replyFor(new PostwardenError('CONFIG_INVALID', 'x')), { responseCode: 451, message: '4.3.0 Local error in processing' });
});

test('an unknown error becomes 451 4.3.0 without its message', () => {
  assert.deepEqual(replyFor(new Error('SQLITE_BUSY: database is locked')), {
    responseCode: 451,
    message: '4.3.0 Local error in processing',
  });
  assert.deepEqual(replyFor('a string'), { responseCode: 451, message: '4.3.0 Local error in processing' });
});

test('validation text keeps the client-facing message on one bounded line', () => {
  const r = replyFor(new PostwardenError('VALIDATION_FAILED', `bad\r\nheader ${'x'.repeat(1000)}`));
  assert.equal(r.responseCode, 550);
  assert.match(r.message, /^5\.6\.0 Message rejected: bad header x+…$/);
  assert.ok(r.message.length <= 410);
});

test('smtp-server built-ins that are replaced and those that are left alone', () => {
  assert.equal(builtinOverride(538, undefined)?.message, '5.7.11 Encryption required for requested authentication mechanism');
  assert.deepEqual(builtinOverride(501, 'MAILBOX_SYNTAX_ERROR'), { responseCode: 501, message: '5.1.3 Bad recipient address syntax' });
  assert.deepEqual(builtinOverride(501, 'SENDER_SYNTAX_ERROR'), { responseCode: 501, message: '5.1.7 Bad sender address syntax' });
  assert.equal(builtinOverride(503, undefined), undefined);
});

test('smtpError carries the reply in the shape smtp-server reads', () => {
  const e = smtpError({ responseCode: 452, message: '4.5.3 Too many recipients' });
  assert.ok(e instanceof Error);
  assert.equal(e.responseCode, 452);
  assert.equal(e.message, '4.5.3 Too many recipients');
});
