import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeMessage, withComposer } from '../../src/accept/compose.js';
import { writeMessage } from '../../src/accept/mime-writer.js';
import type { SendRequest } from '../../src/accept/send-request.js';
import { type Mailbox, parseAddress } from '../../src/core/index.js';
import { seededRandom } from '../support/random.js';

/**
 * writeMessage must write what nodemailer's composer writes for the same request, byte for byte, or
 * decline. Requests are generated from a seeded generator over what an API send carries: display
 * names plain, with specials, quotes, backslashes or non-ASCII; atext-rich and non-plain addresses;
 * subjects short, long, foldable, quoted, encoded or empty; extension and list headers, in any case,
 * colliding, empty or structured; text, HTML or both, in 7bit, quoted-printable and base64 shapes,
 * with bare LFs, lone CRs, long lines and trailing whitespace.
 */
function generator(seed: number) {
  const next = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  /** Mostly from what the writer takes, one draw in twenty from what it must decline. */
  const mostly = <T>([plain, declined]: readonly [readonly T[], readonly T[]]): T => pick(next() < 0.05 ? declined : plain);
  const words = ['order', 'receipt', 'naïve', '東京', 'a.b', 'tab\there', 'trailing ', '=3D', 'From x', '.dot'];
  const text = () => {
    const kind = pick(['ascii', 'ascii', 'mixed', 'long', 'cjk', 'empty', 'spaced']);
    if (kind === 'empty') return '';
    if (kind === 'ascii')
      return Array.from({ length: 1 + Math.floor(next() * 40) }, () => 'Thanks for your order, see you soon.').join(
        pick(['\n', '\r\n', '\r', '\n\n']),
      );
    if (kind === 'spaced') return `Line one \nline two\t\nend${pick(['', ' ', '\t', '\n'])}`;
    if (kind === 'long') return 'x'.repeat(50 + Math.floor(next() * 2000)) + pick(['', '\n', ' y']);
    if (kind === 'cjk') return '東京の天気は晴れです。'.repeat(1 + Math.floor(next() * 50));
    return Array.from({ length: 1 + Math.floor(next() * 60) }, () =>
      Array.from({ length: Math.floor(next() * 20) }, () => pick(words)).join(' '),
    ).join(pick(['\n', '\r\n']));
  };
  return { next, pick, mostly, text };
}

const ADDRESSES = [
  ['ada@example.com', "o'brien+tag@mail.example.org", '{a}|b=c?d@x.example', 'First.Last@sub.example.co', 'UPPER@Example.COM'],
  ['"quoted local"@example.com', 'jöns@example.se', 'a@xn--bcher-kva.example'],
] as const;
const NAMES = [
  [
    undefined,
    undefined,
    'Ada',
    'Ada Lovelace',
    'A_b 9',
    'Acme, Inc.',
    "O'Brien",
    'say "hi"',
    'back\\slash',
    'a:b;c',
    ' spaced ',
    'Smith, John',
  ],
  ['Zoë', '東京'],
] as const;
const SUBJECTS = [
  [
    'Your receipt',
    '',
    '   ',
    ' leading and trailing ',
    'x'.repeat(120),
    `Re: [ticket #42] (urgent) a;b ${'word '.repeat(30)}end`,
    `${'y'.repeat(70)} z`,
  ],
  ['has "quotes"', 'see x=?utf-8?q?a?= here', 'see =?utf-8?x?bad?= here', 'Grüße'],
] as const;
const HEADERS: readonly [Array<Record<string, string>>, Array<Record<string, string>>] = [
  [
    {},
    { 'X-Campaign': 'winter' },
    { 'x-campaign': 'winter', 'x-smtpapi': '{}', 'dkim-note': 'n', 'x-otp-token': 't' },
    { 'List-Unsubscribe': '<https://example.com/u/1>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    { 'X-Empty': '  ', 'X-Then': 'kept' },
    { 'X-Long': `${'segment '.repeat(20)}end` },
    { 'Feedback-ID': 'a:b:c', 'X-Trailing': 'value  ' },
  ],
  [
    { 'x-a': '1', 'X-A': '2' },
    { 'In-Reply-To': '<a@example.com>' },
    { 'Content-Disposition': 'inline; filename=a b.txt' },
    { 'Content-ID': 'part1@example.com' },
    { 'X-Quote': 'say "x"' },
  ],
];

function mailbox(g: ReturnType<typeof generator>): Mailbox {
  const parsed = parseAddress(g.mostly(ADDRESSES));
  assert.ok(parsed.ok);
  // A mailbox made without parseAddress may carry a domain nodemailer would still rewrite.
  const box = g.next() < 0.02 ? { ...parsed.mailbox, address: `${parsed.mailbox.local}@Example.COM` } : parsed.mailbox;
  const name = g.mostly(NAMES);
  return name ? { ...box, name } : box;
}

function request(seed: number): SendRequest {
  const g = generator(seed);
  const shape = g.pick(['text', 'text', 'html', 'both', 'both', 'attachment']);
  const list = (max: number) => Array.from({ length: Math.floor(g.next() * (max + 1)) }, () => mailbox(g));
  return {
    from: mailbox(g),
    to: [mailbox(g), ...list(2)],
    cc: list(2),
    bcc: list(1),
    replyTo: list(1),
    subject: g.mostly(SUBJECTS),
    ...(shape !== 'html' ? { text: g.text() } : {}),
    ...(shape !== 'text' ? { html: `<p>${g.text()}</p>` } : {}),
    headers: g.mostly(HEADERS),
    attachments: shape === 'attachment' ? [{ filename: 'a.txt', content: Buffer.from('hello') }] : [],
    tags: [],
    metadata: {},
    stream: 'transactional',
  } as SendRequest;
}

const ids = (seed: number) => ({ messageIdHeader: `<m${seed}.x@example.com>`, date: new Date(1_767_225_600_000 + seed * 1000) });

test('2,000 generated requests: the direct writer gives the composer’s bytes, or declines', async () => {
  let written = 0;
  const shapes = new Set<string>();
  for (let seed = 1; seed <= 2000; seed++) {
    const req = request(seed);
    const mine = writeMessage(req, req.subject, req.headers, ids(seed), () => `b${seed}`);
    if (!mine) continue;
    written++;
    const head = mine.toString('latin1');
    for (const m of head.matchAll(/^Content-(?:Type|Transfer-Encoding): ([^;\r]+)/gm)) shapes.add(m[1]!);
    const theirs = await withComposer(req, req.subject, req.headers, ids(seed), `b${seed}`);
    if (!mine.equals(theirs)) {
      let at = 0;
      while (at < mine.length && mine[at] === theirs[at]) at++;
      const around = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, at - 80), at + 80).toString('latin1'));
      assert.fail(
        `seed ${seed}: differs from the composer at byte ${at} of ${theirs.length}\nwriter   ${around(mine)}\ncomposer ${around(theirs)}`,
      );
    }
  }
  // Most generated requests carry something the writer declines (a non-ASCII name, a quoted or
  // xn-- address, an attachment among several recipients); what remains must still be a good share.
  assert.ok(written >= 700, `${written} of 2,000 written directly`);
  for (const shape of ['multipart/alternative', 'text/plain', 'text/html', '7bit', 'quoted-printable', 'base64']) {
    assert.ok(shapes.has(shape), `no ${shape} among the written messages`);
  }
});

test('the plain send, as the bench and most callers make it, is written directly and reads as composed', async () => {
  const from = parseAddress('billing@example.com');
  const to = parseAddress('ada@example.org');
  assert.ok(from.ok && to.ok);
  const req = {
    from: { ...from.mailbox, name: 'Example Billing' },
    to: [to.mailbox],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: 'Your receipt for order 42',
    text: 'Thanks for your order.\nTotal: 10.00 EUR\n',
    headers: { 'List-Unsubscribe': '<https://example.com/u/1>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    attachments: [],
    tags: [],
    metadata: {},
    stream: 'transactional',
  } as unknown as SendRequest;
  const written = writeMessage(req, req.subject, req.headers, ids(1), () => 'unused');
  assert.ok(written, 'the plain send is written directly');
  assert.deepEqual(await composeMessage(req, ids(1)), written);
  assert.deepEqual(written, await withComposer(req, req.subject, req.headers, ids(1), 'unused'));
  assert.match(
    written.toString(),
    /^List-Unsubscribe: <https:\/\/example\.com\/u\/1>\r\n.*\r\nFrom: Example Billing <billing@example\.com>\r\n/s,
  );
});

test('declines what the composer would encode, quote or structure differently', () => {
  const base = request(1);
  const plain = parseAddress('ada@example.org');
  assert.ok(plain.ok);
  const ok: SendRequest = {
    ...base,
    from: plain.mailbox,
    to: [plain.mailbox],
    cc: [],
    replyTo: [],
    text: 'hi',
    headers: {},
    attachments: [],
  };
  delete ok.html;
  const write = (r: SendRequest, subject = 'Hi') => writeMessage(r, subject, r.headers, ids(1), () => 'b');
  assert.ok(write(ok));
  assert.equal(write(ok, 'Grüße'), undefined, 'non-ASCII subject');
  assert.equal(write(ok, 'say "x"'), undefined, 'a quote makes an encoded-word');
  assert.equal(write({ ...ok, from: { ...plain.mailbox, name: 'Zoë' } }), undefined, 'non-ASCII name');
  assert.equal(write({ ...ok, headers: { 'x-a': '1', 'X-A': '2' } }), undefined, 'colliding header names');
  assert.equal(write({ ...ok, headers: { References: '<a@b>' } }), undefined, 'structured header');
  assert.equal(write({ ...ok, text: '' }), undefined, 'empty part');
  assert.equal(
    writeMessage(ok, 'Hi', {}, { ...ids(1), messageIdHeader: 'm1@example.com' }, () => 'b'),
    undefined,
    'Message-ID without <>',
  );
  assert.equal(write({ ...ok, attachments: [{ filename: 'a.txt', content: Buffer.from('x') }] } as SendRequest), undefined, 'attachment');
});
