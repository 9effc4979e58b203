import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { createPreflight, loadDefaultContentRules } from '../../src/content/index.js';
import { systemClock } from '../../src/core/index.js';
import { fakeClock } from '../support/clock.js';
import { announcePostgresSkip, postgresUrl } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

announcePostgresSkip();

/**
 * Done-means 2 of issue 20, first half: POST /v1/messages/dry-run runs every preflight check, and
 * each has a message that trips it and one that does not. Thresholds come from rules/content.yaml
 * (docs/content.md).
 */
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
const preheader = (s: string) => `<div style="display:none;max-height:0;overflow:hidden">${s}</div>`;
/** A body that trips nothing: a preheader about what the text says, enough words, a text part. */
const clean = {
  from: 'hello@example.com',
  to: 'ann@example.net',
  subject: 'Your March invoice',
  html: `${preheader('Your March invoice is ready to download')}<p>Your March invoice is ready to download from your account page. ${words(60)}</p>`,
  text: `Your March invoice is ready to download from your account page. ${words(60)}`,
};

async function codes(p: TestPlatform, over: Record<string, unknown>): Promise<string[]> {
  const res = await p.request('POST', '/v1/messages/dry-run', { ...clean, ...over });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.warnings.map((w: { code: string }) => w.code);
}

async function trips(p: TestPlatform, code: string, tripping: Record<string, unknown>, passing: Record<string, unknown>) {
  assert.ok((await codes(p, tripping)).includes(code), `${code} trips`);
  assert.ok(!(await codes(p, passing)).includes(code), `${code} does not trip`);
}

test('the clean message trips nothing, and a dry run stores nothing', async (t) => {
  const p = await startPlatform(t);
  assert.deepEqual(await codes(p, {}), []);
  assert.equal((await p.request('GET', '/v1/messages')).body.data.length, 0);
  assert.equal(await p.platform.store.messages.count(), 0);
});

test('text_part_missing: HTML without a text part', async (t) => {
  const p = await startPlatform(t);
  await trips(p, 'text_part_missing', { text: undefined }, {});
});

test('html_images_only and image_text_ratio: images with too little text', async (t) => {
  const p = await startPlatform(t);
  const img = (i: number) => `<img src="https://cdn.example.com/${i}.png" alt="banner ${i}">`;
  await trips(p, 'html_images_only', { html: `${preheader('Spring sale')}${img(1)}${img(2)}<p>Shop now</p>`, text: 'Shop now' }, {});
  await trips(
    p,
    'image_text_ratio',
    { html: `${preheader('Spring sale')}${img(1)}${img(2)}${img(3)}<p>Spring sale ${words(60)}</p>` },
    { html: `${preheader('Spring sale')}${img(1)}<p>Spring sale ${words(60)}</p>` },
  );
});

test('image_alt_missing: an image without alt; alt="" is a deliberate decorative image', async (t) => {
  const p = await startPlatform(t);
  const html = (alt: string) => `${clean.html}<img src="https://cdn.example.com/logo.png"${alt}>`;
  await trips(p, 'image_alt_missing', { html: html('') }, { html: html(' alt=""') });
});

test('preview_text_missing and preview_text_misleading: the hidden preheader', async (t) => {
  const p = await startPlatform(t);
  await trips(p, 'preview_text_missing', { html: `<p>Your March invoice is ready. ${words(60)}</p>` }, {});
  await trips(
    p,
    'preview_text_misleading',
    { html: `${preheader('Claim your free cruise tickets today')}<p>Your March invoice is ready. ${words(60)}</p>` },
    { html: `${preheader('Your invoice for March is ready')}<p>Your March invoice is ready. ${words(60)}</p>` },
  );
});

test("html_clipped: HTML past Gmail's 102 KB", async (t) => {
  const p = await startPlatform(t);
  const padded = (bytes: number) => `${clean.html}<p>${'x '.repeat(Math.ceil(bytes / 2))}</p>`;
  await trips(p, 'html_clipped', { html: padded(105_000) }, { html: padded(90_000) });
});

test('link_tracking_params and link_shortener: links that hide or track too much', async (t) => {
  const p = await startPlatform(t);
  const link = (href: string) => `${clean.html}<p><a href="${href}">Download</a></p>`;
  await trips(
    p,
    'link_tracking_params',
    { html: link('https://example.com/i?utm_source=a&amp;utm_medium=b&amp;utm_campaign=c&amp;utm_term=d&amp;utm_content=e&amp;mc_eid=f') },
    { html: link('https://example.com/i?utm_source=a&amp;utm_medium=b&amp;id=7') },
  );
  await trips(p, 'link_shortener', { html: link('https://bit.ly/3xYz') }, { html: link('https://example.com/invoice/3') });
  // Links in the text part are checked too.
  await trips(p, 'link_shortener', { text: `${clean.text} https://tinyurl.com/abc` }, { text: `${clean.text} https://example.com/abc` });
});

test("reply_to_misaligned: a Reply-To outside the From domain's organisation", async (t) => {
  const p = await startPlatform(t);
  await trips(p, 'reply_to_misaligned', { reply_to: 'collect@other-domain.net' }, { reply_to: 'support@help.example.com' });
});

test('list_unsubscribe_missing: bulk mail without RFC 8058 one-click unsubscribe', async (t) => {
  const p = await startPlatform(t);
  // API sends on the marketing and cold streams always get both fields from the platform: no warning.
  assert.ok(!(await codes(p, { stream: 'marketing' })).includes('list_unsubscribe_missing'));
  assert.ok(!(await codes(p, { stream: 'cold' })).includes('list_unsubscribe_missing'));
  // A composed message without them (what the check guards against) trips it.
  const preflight = createPreflight({
    store: p.platform.store,
    clock: systemClock,
    rules: loadDefaultContentRules(),
  });
  const raw = (extra: string) =>
    Buffer.from(
      `From: hello@example.com\r\nTo: ann@example.net\r\nSubject: News\r\n${extra}Content-Type: text/plain\r\n\r\nHello ${words(60)}\r\n`,
    );
  const message = (stream: 'marketing' | 'transactional', extra = '') => ({
    tenantId: p.tenantId,
    stream,
    subject: 'News',
    text: `Hello ${words(60)}`,
    fromDomain: 'example.com',
    replyToDomains: [],
    raw: raw(extra),
    fromTemplate: false,
  });
  const codesOf = async (m: ReturnType<typeof message>) => (await preflight.checkMessage(m)).map((w) => w.code);
  assert.ok((await codesOf(message('marketing'))).includes('list_unsubscribe_missing'));
  assert.ok(
    (await codesOf(message('marketing', 'List-Unsubscribe: <https://pw.test/v1/unsubscribe/x>\r\n'))).includes('list_unsubscribe_missing'),
    'List-Unsubscribe without List-Unsubscribe-Post is not one-click',
  );
  assert.ok(
    !(
      await codesOf(
        message(
          'marketing',
          'List-Unsubscribe: <https://pw.test/v1/unsubscribe/x>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n',
        ),
      )
    ).includes('list_unsubscribe_missing'),
  );
  assert.ok(!(await codesOf(message('transactional'))).includes('list_unsubscribe_missing'), 'transactional mail needs none');
});

test('dkim_rotation_due: the signing selector rotates within 14 days', async (t) => {
  const clock = fakeClock();
  const p = await startPlatform(t, { clock, config: { identity: { dkimRotationDays: 180 } } });
  const fresh = await p.request('POST', '/v1/messages/dry-run', clean);
  assert.ok(!fresh.body.warnings.some((w: { code: string }) => w.code === 'dkim_rotation_due'));
  assert.equal(fresh.body.dkim.length, 1, 'the dry run names the selector that signs');
  clock.advance(170 * 86_400_000);
  const due = await p.request('POST', '/v1/messages/dry-run', clean);
  const w = due.body.warnings.find((x: { code: string }) => x.code === 'dkim_rotation_due');
  assert.ok(w, JSON.stringify(due.body.warnings));
  assert.match(w.message, new RegExp(`selector ${fresh.body.dkim[0].selector} of example.com is due for rotation`));
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  test(`cold_opening_repeated: the same opening line across recent cold sends (${dialect})`, {
    skip: dialect === 'postgres' && !postgresUrl && 'needs POSTWARDEN_TEST_DATABASE_URL',
  }, async (t) => {
    const p = await startPlatform(t, { dialect });
    const cold = (text: string) => ({ stream: 'cold', html: undefined, text });
    const opening = 'I noticed your team is hiring engineers in Berlin.';
    for (let i = 0; i < 3; i++) {
      const res = await p.request('POST', '/v1/messages', {
        ...clean,
        to: `lead${i}@example.net`,
        ...cold(`Hi Lead${i},\n\n${opening}\n\nBest`),
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    await trips(
      p,
      'cold_opening_repeated',
      cold(`Hi Ann,\n\n${opening}\n\nBest`),
      cold('Hi Ann,\n\nYour talk at the Berlin meetup was great.\n\nBest'),
    );
  });
}

test('cold_spam_phrase: known spam-trigger phrases on the cold lane only', async (t) => {
  const p = await startPlatform(t);
  const text = `Act now: this offer is guaranteed. ${words(60)}`;
  await trips(
    p,
    'cold_spam_phrase',
    { stream: 'cold', html: undefined, text },
    { stream: 'cold', html: undefined, text: `A question about your roadmap. ${words(60)}` },
  );
  assert.ok(!(await codes(p, { html: undefined, text })).includes('cold_spam_phrase'), 'not on the transactional lane');
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  test(`the tenant's policy turns chosen codes into refusals (422 naming the code); coach-only codes cannot be chosen (${dialect})`, {
    skip: dialect === 'postgres' && !postgresUrl && 'needs POSTWARDEN_TEST_DATABASE_URL',
  }, async (t) => {
    const p = await startPlatform(t, { dialect });
    const put = await p.request('PUT', '/v1/preflight/policy', { refuse: ['text_part_missing'] });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.refuse, ['text_part_missing']);
    const refused = await p.request('POST', '/v1/messages', { ...clean, text: undefined });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.code, 'PREFLIGHT_REFUSED');
    assert.match(refused.body.detail, /text_part_missing/);
    assert.deepEqual(refused.body.errors, [{ path: '/text', message: 'text_part_missing: the message has HTML but no text part' }]);
    assert.equal((await p.request('POST', '/v1/messages', clean)).status, 202, 'a message that does not trip it is sent');
    const dry = await p.request('POST', '/v1/messages/dry-run', { ...clean, text: undefined });
    assert.deepEqual(dry.body.refused, ['text_part_missing']);

    const coach = await p.request('PUT', '/v1/preflight/policy', { refuse: ['cold_spam_phrase', 'no_such_code'] });
    assert.equal(coach.status, 422);
    assert.deepEqual(
      coach.body.errors.map((e: { path: string }) => e.path),
      ['/refuse/0', '/refuse/1'],
    );
    assert.deepEqual((await p.request('GET', '/v1/preflight/policy')).body.refuse, ['text_part_missing']);
  });
}

test('the same checks run on template publish and preview', async (t) => {
  const p = await startPlatform(t);
  const tpl = await p.request('POST', '/v1/templates', {
    name: 'promo',
    stream: 'marketing',
    subject: 'Sale for {{ name }}',
    html: '<p>Hi {{ name }}</p><img src="https://cdn.example.com/sale.png"><a href="https://bit.ly/x">Shop</a>',
  });
  const pub = await p.request('POST', `/v1/templates/${tpl.body.id}/publish`, {});
  assert.equal(pub.status, 200);
  const got = pub.body.warnings.map((w: { code: string }) => w.code).sort();
  assert.deepEqual(got, ['html_images_only', 'image_alt_missing', 'link_shortener', 'preview_text_missing']);
  const preview = await p.request('POST', `/v1/templates/${tpl.body.id}/preview`, { data: { name: 'Ann' } });
  assert.deepEqual(preview.body.warnings.map((w: { code: string }) => w.code).sort(), got);
});

test("SMTP submissions answer the tenant's refusals with 550 5.7.1", async (t) => {
  const p = await startPlatform(t);
  assert.equal((await p.request('PUT', '/v1/preflight/policy', { refuse: ['text_part_missing'] })).status, 200);
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.smtpPort,
    secure: false,
    requireTLS: true,
    auth: { user: 'any', pass: p.key },
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
  });
  t.after(() => transport.close());
  const raw = (contentType: string, body: string) =>
    ['From: hello@example.com', 'To: ann@example.net', 'Subject: Hi', `Content-Type: ${contentType}`, '', body, ''].join('\r\n');
  const envelope = { from: 'hello@example.com', to: ['ann@example.net'] };
  await assert.rejects(
    transport.sendMail({ envelope, raw: raw('text/html', '<p>Only HTML</p>') }),
    (e: Error & { responseCode?: number }) => {
      assert.equal(e.responseCode, 550);
      assert.match(e.message, /5\.7\.1/);
      return true;
    },
  );
  const ok = await transport.sendMail({ envelope, raw: raw('text/plain', 'Plain text.') });
  assert.match(ok.response, /^250/);
  assert.equal(await p.platform.store.messages.count(), 1, 'only the message with a text part was stored');
});
