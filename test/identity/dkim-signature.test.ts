import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { type TestContext, test } from 'node:test';
import { dkimVerify } from 'mailauth';
import {
  type DkimSigningKey,
  dkimDnsName,
  dkimTxtValue,
  generateDkimKey,
  relaxedBodyHash,
  relaxedHeader,
  signDkim,
} from '../../src/identity/index.js';
import { startDnsServer } from '../support/dns-server.js';
import { sampleMessage } from './dkim-fixture.js';

const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);
const sha256 = (s: string) => createHash('sha256').update(s, 'latin1').digest('base64');

/** One RSA and one Ed25519 key under example.com, published on a loopback DNS server. */
async function keysAndVerifier(t: TestContext) {
  const rsa = await generateDkimKey('rsa-2048');
  const ed = await generateDkimKey('ed25519');
  const dns = await startDnsServer(t, {
    [dkimDnsName('r1', 'example.com')]: { TXT: [dkimTxtValue('rsa-2048', rsa.publicKey)] },
    [dkimDnsName('e1', 'example.com')]: { TXT: [dkimTxtValue('ed25519', ed.publicKey)] },
  });
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([dns.address]);
  const keys: DkimSigningKey[] = [
    { domain: 'example.com', selector: 'r1', algorithm: 'rsa-2048', key: createPrivateKey(rsa.privateKeyPem) },
    { domain: 'example.com', selector: 'e1', algorithm: 'ed25519', key: createPrivateKey(ed.privateKeyPem) },
  ];
  const verify = async (raw: Buffer) =>
    (await dkimVerify(raw, { resolver: (name: string) => resolver.resolveTxt(name), curTime: new Date(NOW) })).results.map(
      (r) => `${r.selector}:${r.status.result}`,
    );
  const signed = (raw: Buffer) => Buffer.concat([Buffer.from(signDkim(raw, keys, NOW).headers, 'latin1'), raw]);
  return { keys, verify, signed };
}

test('relaxed header canonicalisation matches the RFC 6376 §3.4.6 example', () => {
  assert.equal(relaxedHeader('A: X', true).toString('latin1'), 'a:X\r\n');
  assert.equal(relaxedHeader('B : Y\t\r\n\tZ  ', true).toString('latin1'), 'b:Y Z\r\n');
});

test('relaxed body canonicalisation matches the RFC 6376 §3.4.6 example', () => {
  // " C \r\nD \t E\r\n\r\n\r\n" canonicalises to " C\r\nD E\r\n".
  assert.equal(relaxedBodyHash(Buffer.from(' C \r\nD \t E\r\n\r\n\r\n')).toString('base64'), sha256(' C\r\nD E\r\n'));
});

test('an empty body, or one of only empty lines, hashes as nothing; a missing final CRLF is added', () => {
  const empty = sha256('');
  assert.equal(relaxedBodyHash(Buffer.alloc(0)).toString('base64'), empty);
  assert.equal(relaxedBodyHash(Buffer.from('\r\n\r\n \t\r\n')).toString('base64'), empty);
  assert.equal(relaxedBodyHash(Buffer.from('last line')).toString('base64'), sha256('last line\r\n'));
  assert.equal(relaxedBodyHash(Buffer.from('bare\nlf\n')).toString('base64'), sha256('bare\r\nlf\r\n'));
});

test('RSA and Ed25519 signatures of awkward messages verify with mailauth through the loopback DNS', async (t) => {
  const { verify, signed } = await keysAndVerifier(t);
  const awkward = [
    sampleMessage(),
    // folded and oddly spaced headers, a repeated header, trailing whitespace and blank lines in the body
    Buffer.from(
      'From:  "A  B"   <a@example.com>  \r\nTo: b@example.net,\r\n\tc@example.net\r\nSubject: hi \t there\r\nSubject: again\r\n\r\nHello  world \t\r\n\r\nline\r\n\r\n\r\n',
    ),
    // bare LF line endings everywhere (as an application might hand them in)
    Buffer.from('From: a@example.com\nSubject: lf\n\nline one\nline two\n'),
    // no body at all, and a body without a final line break
    Buffer.from('From: a@example.com\r\nSubject: empty\r\n\r\n'),
    Buffer.from('From: a@example.com\r\nSubject: tail\r\n\r\nno final break'),
    // UTF-8 in a header (RFC 6532) and in the body
    Buffer.from('From: Zoë <zoe@example.com>\r\nSubject: Grüße aus Köln\r\n\r\nÇa va — très bien\r\n'),
  ];
  for (const [i, raw] of awkward.entries()) {
    assert.deepEqual(await verify(signed(raw)), ['r1:pass', 'e1:pass'], `message ${i}`);
  }
});

test('a changed body or a changed signed header fails verification', async (t) => {
  const { verify, signed } = await keysAndVerifier(t);
  const message = signed(sampleMessage());
  const body = Buffer.from(message.toString('latin1').replace('Your report is ready.', 'Your report is READY.'), 'latin1');
  assert.deepEqual(await verify(body), ['r1:neutral', 'e1:neutral']); // mailauth: "body hash did not verify"
  const subject = Buffer.from(message.toString('latin1').replace('Subject: Monthly report', 'Subject: Monthly rep0rt'), 'latin1');
  assert.deepEqual(await verify(subject), ['r1:fail', 'e1:fail']);
});

test('From is oversigned: a From header added above or below the signed one breaks the signature', async (t) => {
  const { keys, verify, signed } = await keysAndVerifier(t);
  const { headers } = signDkim(sampleMessage(), keys, NOW);
  assert.match(
    headers.replace(/\r\n /g, ''),
    /h=from:from:to:subject:date:message-id:mime-version:content-type:content-transfer-encoding:list-unsubscribe:list-unsubscribe-post;/,
  );
  const message = signed(sampleMessage()).toString('latin1');
  const split = message.indexOf('From: Alerts');
  const above = message.slice(0, split) + 'From: Mallory <m@evil.example>\r\n' + message.slice(split);
  const below = message.replace('To: Ada', 'From: Mallory <m@evil.example>\r\nTo: Ada');
  for (const forged of [above, below]) {
    const verdicts = await verify(Buffer.from(forged, 'latin1'));
    assert.ok(
      verdicts.every((v) => !v.endsWith(':pass')),
      verdicts.join(', '),
    );
  }
});

test('the signature header stays within 78 columns and carries t= from the given time', async (t) => {
  const { keys } = await keysAndVerifier(t);
  const { headers, signatures } = signDkim(sampleMessage(), keys, NOW);
  for (const line of headers.split('\r\n').filter(Boolean)) assert.ok(line.length <= 78, `${line.length}: ${line}`);
  assert.match(headers, new RegExp(`t=${NOW / 1000};`));
  assert.deepEqual(
    signatures.map((s) => s.algorithm),
    ['rsa-2048', 'ed25519'],
  );
});
