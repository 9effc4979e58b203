import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { fakeClock } from '../support/clock.js';
import { forEachDialect } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Tracking seen from the outside: a send asks for tracking, the stored message carries signed
 * links and a pixel, and a mail client (or a proxy, or a scanner) fetches them from the loopback
 * listener. The links' origin is the node's public URL; requests go to the same path on loopback.
 */
const HTML =
  '<html><body><p>Hello</p>' +
  '<a href="https://shop.example.org/sale?a=1&amp;b=2">Sale</a> ' +
  "<a class=x href='https://shop.example.org/help'>Help</a> " +
  '<a href="https://shop.example.org/keep?a=1&amp;b=2" data-pw-track="off">Keep</a> ' +
  '<a href="mailto:help@example.com">Mail</a>' +
  '<!-- <a href="https://commented.example/">no</a> -->' +
  '</body></html>';

const THUNDERBIRD = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

async function sendTracked(p: TestPlatform, over: Record<string, unknown> = {}) {
  const r = await p.request('POST', '/v1/messages', {
    from: 'news@example.com',
    to: 'ann@example.net',
    subject: 'Offers',
    html: HTML,
    stream: 'marketing',
    tracking: { opens: true, clicks: true },
    ...over,
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.id as string;
}

async function storedHtml(p: TestPlatform, messageId: string): Promise<string> {
  const raw = (await p.platform.store.messages.body(messageId))!;
  return String((await simpleParser(raw)).html);
}

async function delivered(p: TestPlatform, messageId: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const rows = await p.platform.store.recipients.listByMessages([messageId]);
    if (rows.every((r) => r.state === 'delivered')) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail('the sandbox did not deliver within 10 s');
}

const pathOf = (url: string) => new URL(url).pathname;
const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
const hit = (p: TestPlatform, path: string, ua: string) => fetch(p.url + path, { redirect: 'manual', headers: { 'user-agent': ua } });

async function eventsOf(p: TestPlatform, messageId: string, type: string) {
  return (await p.platform.store.events.forMessage(messageId)).filter((e) => e.type === type);
}

forEachDialect(
  'opens and clicks produce one event per recipient and link within the window, and again after it',
  async (t, dialect) => {
    const clock = fakeClock();
    const p = await startPlatform(t, { clock, dialect });
    const id = await sendTracked(p);
    await delivered(p, id);
    clock.advance(60_000);
    const html = await storedHtml(p, id);
    const links = hrefs(html);
    const clicks = links.filter((h) => h.includes('/t/c/'));
    assert.equal(clicks.length, 2, 'the two http(s) links are tracked');
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+\.gif)"/.exec(html)?.[1];
    assert.ok(pixel, 'an open pixel is in the body');
    assert.ok(html.indexOf(pixel) < html.indexOf('</body>'), 'the pixel goes before </body>');

    for (let i = 0; i < 3; i++) {
      const o = await hit(p, pathOf(pixel), THUNDERBIRD);
      assert.equal(o.status, 200);
      assert.equal(o.headers.get('content-type'), 'image/gif');
      assert.equal(
        Buffer.from(await o.arrayBuffer())
          .subarray(0, 6)
          .toString('latin1'),
        'GIF89a',
      );
    }
    for (let i = 0; i < 2; i++) {
      const c = await hit(p, pathOf(clicks[0]!), CHROME);
      assert.equal(c.status, 302);
      assert.equal(c.headers.get('location'), 'https://shop.example.org/sale?a=1&b=2', 'the signed target, entities decoded');
    }
    const c2 = await hit(p, pathOf(clicks[1]!), CHROME);
    assert.equal(c2.headers.get('location'), 'https://shop.example.org/help');

    const opened = await eventsOf(p, id, 'recipient.opened');
    assert.equal(opened.length, 1, 'three fetches of the pixel within the window are one open');
    assert.equal(opened[0]!.data.email, 'ann@example.net');
    assert.ok(opened[0]!.recipientId?.startsWith('rcp_'));
    assert.equal(opened[0]!.data.ua_class, 'mail_client');
    assert.equal(opened[0]!.data.machine, false);
    const clicked = await eventsOf(p, id, 'recipient.clicked');
    assert.deepEqual(
      clicked.map((e) => [e.data.url, e.data.ua_class, e.data.machine]),
      [
        ['https://shop.example.org/sale?a=1&b=2', 'browser', false],
        ['https://shop.example.org/help', 'browser', false],
      ],
      'one click per link',
    );

    clock.advance(61 * 60_000);
    await hit(p, pathOf(pixel), THUNDERBIRD);
    assert.equal((await eventsOf(p, id, 'recipient.opened')).length, 2, 'after the window an open counts again');
  },
  test,
);

test('a tampered or unsigned link is refused without redirecting', async (t) => {
  const p = await startPlatform(t);
  const id = await sendTracked(p);
  const click = hrefs(await storedHtml(p, id)).find((h) => h.includes('/t/c/'))!;
  const token = pathOf(click).slice('/t/c/'.length);
  const [v, payload, mac] = token.split('.') as [string, string, string];

  // The same MAC over a payload that now points elsewhere.
  const fields = Buffer.from(payload, 'base64url').toString('utf8').split('\n');
  fields[3] = 'https://evil.example/phish';
  const forged = `${v}.${Buffer.from(fields.join('\n')).toString('base64url')}.${mac}`;
  // A token another tenant's key would sign: same payload, the MAC of nothing.
  const unsigned = `${v}.${payload}.${Buffer.alloc(16).toString('base64url')}`;
  for (const [bad, status] of [
    [forged, 404],
    [unsigned, 404],
    ['t1.bm90IGEgdG9rZW4.AAAA', 400],
    ['https://evil.example/', 400],
  ] as const) {
    const r = await hit(p, `/t/c/${bad}`, CHROME);
    assert.equal(r.status, status, `${bad} answers ${status}`);
    assert.equal(r.headers.get('location'), null, 'never a redirect');
    assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
  }
  const ok = await hit(p, pathOf(click), CHROME);
  assert.equal(ok.status, 302, 'the genuine link still redirects');
  assert.equal((await eventsOf(p, id, 'recipient.clicked')).length, 1, 'only the genuine click is recorded');
});

test('per-link opt-out leaves the link untouched and the attribute is removed', async (t) => {
  const p = await startPlatform(t);
  const id = await sendTracked(p);
  const html = await storedHtml(p, id);
  assert.ok(html.includes('<a href="https://shop.example.org/keep?a=1&amp;b=2">Keep</a>'), html);
  assert.ok(!html.includes('data-pw-track'), 'our instruction is not sent to the recipient');
  assert.ok(html.includes('<a href="mailto:help@example.com">Mail</a>'), 'non-http links are left alone');
  assert.ok(html.includes('<!-- <a href="https://commented.example/">no</a> -->'), 'comments are not rewritten');
  assert.ok(html.includes('<a class=x href="http://pw.test:0/t/c/'), 'other markup of a rewritten link is kept as written');
});

test('machine opens and clicks are flagged: Apple Mail Privacy Protection, bots, and scanners clicking at delivery', async (t) => {
  const clock = fakeClock();
  const p = await startPlatform(t, { clock });
  const apple = await sendTracked(p, { to: 'apple@example.net' });
  await delivered(p, apple);
  const appleHtml = await storedHtml(p, apple);
  const pixel = /<img src="([^"]+\.gif)"/.exec(appleHtml)![1]!;
  await hit(p, pathOf(pixel), 'Mozilla/5.0');
  const [open] = await eventsOf(p, apple, 'recipient.opened');
  assert.equal(open!.data.ua_class, 'apple_proxy');
  assert.equal(open!.data.machine, true);
  assert.equal(open!.data.machine_reason, 'apple_proxy');

  // A scanner follows every link within seconds of delivery, with a browser's User-Agent.
  const scanned = await sendTracked(p, { to: 'scanned@example.net' });
  await delivered(p, scanned);
  clock.advance(2000);
  const link = hrefs(await storedHtml(p, scanned)).find((h) => h.includes('/t/c/'))!;
  assert.equal((await hit(p, pathOf(link), CHROME)).status, 302, 'the scanner is redirected like anyone');
  const [scan] = await eventsOf(p, scanned, 'recipient.clicked');
  assert.equal(scan!.data.machine, true);
  assert.equal(scan!.data.machine_reason, 'scanner');
  assert.equal(scan!.data.seconds_after_delivery, 2);

  const bot = await sendTracked(p, { to: 'bot@example.net' });
  await delivered(p, bot);
  clock.advance(3_600_000);
  const botLink = hrefs(await storedHtml(p, bot)).find((h) => h.includes('/t/c/'))!;
  await hit(p, pathOf(botLink), 'Mozilla/5.0 (compatible; Barracuda Sentinel link protection)');
  const [b] = await eventsOf(p, bot, 'recipient.clicked');
  assert.deepEqual([b!.data.ua_class, b!.data.machine, b!.data.machine_reason], ['bot', true, 'bot']);
});

test('tracking is off by default; a stream setting turns it on, with the tenant tracking domain in the URLs', async (t) => {
  const p = await startPlatform(t);
  const untracked = HTML.replace(' data-pw-track="off"', '');
  const plain = await sendTracked(p, { tracking: undefined });
  assert.equal((await storedHtml(p, plain)).trimEnd(), untracked, 'without tracking the HTML is sent as written (less our attribute)');

  const put = await p.request('PUT', '/v1/tracking/settings', {
    domain: 'track.example.com',
    opens_streams: [],
    clicks_streams: ['marketing'],
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const tracked = await sendTracked(p, { tracking: undefined });
  const html = await storedHtml(p, tracked);
  assert.ok(
    hrefs(html).some((h) => h.startsWith('https://track.example.com/t/c/')),
    html,
  );
  assert.ok(!html.includes('/t/o/'), 'opens stay off for the stream');
  const optedOut = await sendTracked(p, { tracking: { clicks: false } });
  assert.equal((await storedHtml(p, optedOut)).trimEnd(), untracked, 'the send choice wins over the stream setting');

  const bad = await p.request('PUT', '/v1/tracking/settings', { domain: 'not a host', opens_streams: [], clicks_streams: [] });
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, '/domain');
});
