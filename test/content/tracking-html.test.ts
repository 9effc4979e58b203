import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rewriteHtml } from '../../src/content/tracking-html.js';
import { classifyUserAgent } from '../../src/content/user-agent-class.js';

/** The rewriter over HTML written in the ways people write it (synthesised cases, WHATWG §13.2.5). */
const click = (url: string) => `https://t.example/c/${encodeURIComponent(url)}`;

test('only the href values of links change; every other byte is kept', () => {
  const cases: [string, string][] = [
    ['<a href="https://a.example/x">x</a>', `<a href="${click('https://a.example/x')}">x</a>`],
    ["<A HREF='https://a.example/x' Class=k>x</A>", `<A HREF="${click('https://a.example/x')}" Class=k>x</A>`],
    ['<a href=https://a.example/x>x</a>', `<a href="${click('https://a.example/x')}">x</a>`],
    ['<a\nhref = "https://a.example/?a=1&amp;b=2"\n>x</a>', `<a\nhref = "${click('https://a.example/?a=1&b=2')}"\n>x</a>`],
    ['<area shape=rect href="http://a.example/m">', `<area shape=rect href="${click('http://a.example/m')}">`],
    [
      '<a href="https://a.example/1" href="https://b.example/2">x</a>',
      `<a href="${click('https://a.example/1')}" href="https://b.example/2">x</a>`,
    ],
  ];
  for (const [input, expected] of cases) assert.equal(rewriteHtml(input, { clickUrl: click }).html, expected, input);
});

test('links inside comments, scripts, styles and textareas are text, not links', () => {
  const html =
    '<!-- <a href="https://c.example/">c</a> --><script>var s = "<a href=\'https://s.example/\'>";</script>' +
    '<style>a[href="https://y.example/"]{}</style><textarea><a href="https://t.example/"></textarea><a href="https://real.example/">r</a>';
  const out = rewriteHtml(html, { clickUrl: click });
  assert.deepEqual(
    out.links.map((l) => l.url),
    ['https://real.example/'],
  );
  assert.equal(out.html, html.replace('<a href="https://real.example/">', `<a href="${click('https://real.example/')}">`));
});

test('opt-out, non-http links and platform links are left as written; data-pw-track is removed everywhere', () => {
  const html =
    '<a href="https://keep.example/" data-pw-track="off">k</a><a data-pw-track=OFF href=\'https://keep2.example/\'>k</a>' +
    '<a href="mailto:a@b.example">m</a><a href="#top">t</a><a href="/relative">r</a>' +
    '<a href="https://pw.example/v1/unsubscribe/x">u</a><img src="x.png" data-pw-track="off">';
  const out = rewriteHtml(html, { clickUrl: click, skipPrefixes: ['https://pw.example/v1/unsubscribe/'] });
  assert.equal(
    out.html,
    '<a href="https://keep.example/">k</a><a href=\'https://keep2.example/\'>k</a><a href="mailto:a@b.example">m</a><a href="#top">t</a>' +
      '<a href="/relative">r</a><a href="https://pw.example/v1/unsubscribe/x">u</a><img src="x.png">',
  );
  assert.deepEqual(
    out.links.map((l) => l.skipped),
    ['opt-out', 'opt-out', 'scheme', 'scheme', 'scheme', 'platform'],
  );
});

test('the pixel goes before the last </body>, or at the end without one', () => {
  assert.match(
    rewriteHtml('<body><p>x</p></body></html>', { pixelUrl: 'https://t.example/o.gif' }).html,
    /<p>x<\/p><img src="https:\/\/t\.example\/o\.gif"[^>]*><\/body><\/html>$/,
  );
  assert.match(rewriteHtml('<p>x</p>', { pixelUrl: 'https://t.example/o.gif' }).html, /^<p>x<\/p><img [^>]+>$/);
});

test('the user-agent classifier tells mail clients, browsers, bots and Apple’s proxy apart', () => {
  const table: [string | undefined, string | undefined, string][] = [
    ['Mozilla/5.0', undefined, 'apple_proxy'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', '17.58.1.1', 'apple_proxy'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', '198.51.100.1', 'mail_client'],
    ['Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)', '66.249.1.1', 'mail_client'],
    ['Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)', undefined, 'mail_client'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', undefined, 'browser'],
    ['python-requests/2.32.3', undefined, 'bot'],
    ['Mozilla/5.0 (compatible; proofpoint url defense)', undefined, 'bot'],
    [undefined, '2620:149:a:b::1', 'apple_proxy'],
    [undefined, undefined, 'unknown'],
  ];
  for (const [ua, ip, expected] of table) assert.equal(classifyUserAgent(ua, ip), expected, `${ua} ${ip}`);
});
