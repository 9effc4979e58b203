import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';
import axe from 'axe-core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { waitUntil } from '../support/delivery-lab.js';
import { tempDir } from '../support/dialects.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core, headless) against a
 * real platform on loopback: mail sent through the API to SMTP sinks that accept, defer once,
 * refuse with 550, or throttle until the breaker opens; a sandboxed tenant whose mail is captured.
 * Each view is checked for its content, for axe-core's serious and critical violations, and (with
 * POSTWARDEN_UPDATE_SCREENSHOTS=1) photographed at 1280×800 into docs/screenshots/.
 */
const CHROMIUM = '/usr/bin/chromium';
const root = resolve(import.meta.dirname, '../..');
const shots = process.env.POSTWARDEN_UPDATE_SCREENSHOTS === '1' ? join(root, 'docs/screenshots') : null;
// STACK.md's flags for Debian's chromium in a container; Playwright gives each launch a fresh profile.
const flags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Lab {
  p: TestPlatform;
  sandboxKey: string;
  ids: Record<'delivered' | 'deferred' | 'bounced' | 'suppressed' | 'captured', string>;
  remoteHits: () => number;
}

async function setUp(t: TestContext): Promise<Lab> {
  // The bundle as `npm run build:web` makes it, from the sources under test, into a temp dir.
  const webDir = tempDir(t, 'pw-web-');
  await build({
    configFile: join(root, 'vite.config.ts'),
    root: join(root, 'web'),
    logLevel: 'warn',
    build: { outDir: webDir, emptyOutDir: true },
  });

  const ok = await startSmtpSink(t, {});
  const slow = await startSmtpSink(t, { default: { deferTimes: 1 } });
  const bad = await startSmtpSink(t, { default: { reply: { code: 550, enhanced: '5.1.1', text: 'no such user here' } } });
  const busy = await startSmtpSink(t, {
    throttle: { after: 0, reply: { code: 421, enhanced: '4.7.0', text: 'Too many connections from your IP, try later' } },
  });
  // busy.test is hosted by "Microsoft" (an MX under protection.outlook.com), so the Providers view names it.
  const mx = { ok: 'mx.ok.test', slow: 'mx.slow.test', bad: 'mx.bad.test', busy: 'busy-test.mail.protection.outlook.com' };
  const dns = await startDnsServer(t, {
    'ok.test': { MX: [{ priority: 10, exchange: mx.ok }] },
    'slow.test': { MX: [{ priority: 10, exchange: mx.slow }] },
    'bad.test': { MX: [{ priority: 10, exchange: mx.bad }] },
    'busy.test': { MX: [{ priority: 10, exchange: mx.busy }] },
    [mx.ok]: { A: ['127.0.0.1'] },
    [mx.slow]: { A: ['127.0.0.1'] },
    [mx.bad]: { A: ['127.0.0.1'] },
    [mx.busy]: { A: ['127.0.0.1'] },
  });
  const p = await startPlatform(t, {
    config: {
      sandbox: false,
      server: { dashboardDir: webDir },
      dns: { servers: [dns.address], timeoutMs: 1000 },
      delivery: {
        portMap: { [mx.ok]: ok.port, [mx.slow]: slow.port, [mx.bad]: bad.port, [mx.busy]: busy.port },
        retryMinutes: [0.005],
        breakerFailures: 2,
        breakerCooldownSeconds: 600,
      },
    },
  });
  const sandboxTenant = await p.platform.tenants.createTenant({ name: 'Sandbox tenant', sandbox: true });
  const { secret: sandboxKey } = await p.platform.tenants.createKey({ tenantId: sandboxTenant.id, scopes: ['send', 'read', 'admin'] });
  await p.platform.domains.addDomain(sandboxTenant.id, 'example.org');

  const send = async (to: string, extra: Record<string, unknown> = {}, key = p.key) => {
    const res = await fetch(`${p.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'Acme <hello@example.com>', to, subject: `Hello ${to}`, text: `Hi ${to}`, ...extra }),
    });
    const body = (await res.json()) as { id: string };
    assert.equal(res.status, 202, JSON.stringify(body));
    return body.id;
  };
  const state = async (id: string) => (await p.platform.spine.recipientsOf([id]))[0]?.state;
  const ids = {
    delivered: await send('ann@ok.test', { tags: ['welcome'], html: '<p>Welcome, Ann</p>' }),
    deferred: await send('bob@slow.test', { tags: ['receipt'] }),
    bounced: await send('carl@bad.test'),
    suppressed: '',
    captured: '',
  };
  for (const [id, want] of [
    [ids.delivered, 'delivered'],
    [ids.deferred, 'delivered'],
    [ids.bounced, 'bounced'],
  ] as const) {
    await waitUntil(`${id} is ${want}`, async () => (await state(id)) === want, 20_000);
  }
  // The 550 5.1.1 suppressed carl: the next message to him is not sent.
  ids.suppressed = await send('carl@bad.test', { subject: 'Second try for Carl' });
  assert.equal(await state(ids.suppressed), 'suppressed');
  // Two throttling replies open busy.test's breaker.
  for (let i = 0; i < 3; i++) await send(`dan${i}@busy.test`);
  await waitUntil(
    'the breaker of busy.test is open',
    async () => {
      const r = await p.request('GET', '/v1/providers');
      return JSON.stringify(r.body).includes('"state":"open"');
    },
    20_000,
  );

  // A sandboxed tenant's HTML mail, with a script and a remote image that must not load unasked.
  let hits = 0;
  const remote = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'image/gif' }).end(Buffer.from('R0lGODlhAQABAAAAACw=', 'base64'));
  });
  await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => remote.close(() => r())));
  const port = (remote.address() as { port: number }).port;
  ids.captured = await send(
    'eve@example.net',
    {
      from: 'Shop <news@example.org>',
      subject: 'Your order has shipped',
      text: 'Your order 1042 has shipped.',
      html: `<h1 id="hello">Your order has shipped</h1><p id="status">static</p><script>document.getElementById('status').textContent = 'script ran'</script><img alt="tracking" src="http://127.0.0.1:${port}/pixel.gif">`,
      attachments: [
        { filename: 'invoice-1042.txt', content: Buffer.from('Invoice 1042: 3 items').toString('base64'), content_type: 'text/plain' },
      ],
    },
    sandboxKey,
  );
  await waitUntil('the sandbox captured the message', async () => (await state(ids.captured)) === 'delivered', 20_000);
  return { p, sandboxKey, ids, remoteHits: () => hits };
}

/** axe-core in the page: no serious or critical violation. */
async function checkAccessibility(page: Page, view: string) {
  await page.evaluate(axe.source);
  const result = await page.evaluate<axe.AxeResults>('axe.run(document)');
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `${view}: accessibility violations`,
  );
}

async function snap(page: Page, name: string) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

async function login(page: Page, url: string, key: string) {
  await page.goto(`${url}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

async function openMessage(page: Page, to: string, subject: string) {
  await page.getByRole('link', { name: 'Messages' }).click();
  await page.getByLabel('Recipient', { exact: true }).fill(to);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: subject }).first().click();
  await page.getByRole('heading', { name: 'Path' }).waitFor();
}

test('the dashboard in a browser', {
  skip: !existsSync(CHROMIUM) && `${CHROMIUM} is missing (apt-get install chromium)`,
  timeout: 180_000,
}, async (t) => {
  const lab = await setUp(t);
  const { p } = lab;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: flags });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: p.url });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Nothing but this origin: the CSP forbids remote loads, and the app asks for none.
  const foreign: string[] = [];
  // (requestfinished: a load the CSP blocks is reported as a request that failed, not one that was made.)
  page.on('requestfinished', (r) => {
    if (!r.url().startsWith(p.url) && !r.url().startsWith('data:')) foreign.push(r.url());
  });

  await t.test('serves the bundle with its cache headers and CSP, and client routes as index.html', async () => {
    const index = await fetch(`${p.url}/messages/anything`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self'/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(await index.text())?.[1];
    assert.ok(asset);
    const js = await fetch(`${p.url}${asset}`);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal((await fetch(`${p.url}/assets/..%2Fpackage.json`)).status, 404);
  });

  await t.test('logs in with an API key, refusing a wrong one', async () => {
    await page.goto(`${p.url}/`);
    await page.getByLabel('API key').fill('pw_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown or revoked' }).waitFor();
    await checkAccessibility(page, 'login');
    await snap(page, 'login');
    await page.getByLabel('API key').fill(p.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // The key is in sessionStorage, never in the URL.
    assert.ok(!page.url().includes(p.key));
    assert.equal(await page.evaluate<string | null>("sessionStorage.getItem('postwarden.apiKey')"), p.key);
  });

  await t.test('the overview counts what was sent and shows the open breaker and the SLOs', async () => {
    await page.locator('[data-count="hour-accepted"]').waitFor();
    assert.equal(await page.locator('[data-count="hour-accepted"]').textContent(), '7');
    assert.equal(await page.locator('[data-count="hour-delivered"]').textContent(), '2');
    assert.equal(await page.locator('[data-count="hour-bounced"]').textContent(), '1');
    assert.equal(await page.locator('[data-count="hour-suppressed"]').textContent(), '1');
    await page.getByText('Breaker busy-test.mail.protection.outlook.com').waitFor();
    assert.equal(await page.locator('tr[data-sli]').count(), 4);
    await checkAccessibility(page, 'overview');
    await snap(page, 'overview');
  });

  await t.test('the providers view shows Microsoft with its breaker open and the reason', async () => {
    await page.getByRole('link', { name: 'Providers' }).click();
    await page.getByRole('heading', { name: 'microsoft' }).waitFor();
    const reason = await page.getByTestId('breaker-reason').textContent();
    assert.match(reason ?? '', /Circuit breaker open: open after \d+ consecutive throttling replies/);
    assert.match(reason ?? '', /421 4\.7\.0 Too many connections/);
    await page.getByRole('heading', { name: 'other' }).waitFor();
    await checkAccessibility(page, 'providers');
    await snap(page, 'providers');
  });

  await t.test('message search finds by recipient, and the path of a delivered message shows route, TLS and transcript', async () => {
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('link', { name: 'Hello ann@ok.test' }).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 7);
    await page.getByLabel('Tag').fill('welcome');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 message').waitFor();
    await checkAccessibility(page, 'messages');
    await snap(page, 'messages');
    await page.getByRole('link', { name: 'Hello ann@ok.test' }).click();
    await page.getByRole('heading', { name: 'Path' }).waitFor();
    const steps = await page.locator('li[data-event]').evaluateAll((els) => els.map((e) => e.getAttribute('data-event')));
    assert.deepEqual(steps, ['message.accepted', 'recipient.queued', 'recipient.delivered']);
    const delivered = page.locator('li[data-event="recipient.delivered"]');
    assert.match((await delivered.textContent()) ?? '', /MX mx\.ok\.test/);
    assert.match((await delivered.textContent()) ?? '', /RFC 5321 §4\.2\.1/);
    assert.match((await delivered.locator('pre.transcript').textContent()) ?? '', /RCPT TO:<a…@ok\.test>/);
    await page.getByText('DMARC verdict').waitFor();
  });

  await t.test('the path of a deferred-then-delivered message shows the deferral and its retry', async () => {
    await openMessage(page, 'slow.test', 'Hello bob@slow.test');
    const steps = await page.locator('li[data-event]').evaluateAll((els) => els.map((e) => e.getAttribute('data-event')));
    assert.deepEqual(steps, ['message.accepted', 'recipient.queued', 'recipient.deferred', 'recipient.delivered']);
    assert.match((await page.locator('li[data-event="recipient.deferred"]').textContent()) ?? '', /451 4\.3\.0/);
    assert.match((await page.locator('li[data-event="recipient.deferred"]').textContent()) ?? '', /Next attempt/);
    await checkAccessibility(page, 'message path');
    await page.getByRole('heading', { name: 'Recipients' }).evaluate((h) => h.scrollIntoView({ block: 'start' }));
    await snap(page, 'message-path');
  });

  await t.test('the path of a bounced message shows the 550 and its classification', async () => {
    await openMessage(page, 'carl@bad.test', 'Hello carl@bad.test');
    const bounced = (await page.locator('li[data-event="recipient.bounced"]').textContent()) ?? '';
    assert.match(bounced, /550 5\.1\.1 no such user here/);
    assert.match(bounced, /Classified.*bad_mailbox \(hard\)/);
  });

  await t.test('a suppressed recipient is impossible to miss in the path', async () => {
    await openMessage(page, 'carl@bad.test', 'Second try for Carl');
    await page.getByRole('note').filter({ hasText: 'Suppressed: carl@bad.test' }).waitFor();
    const step = (await page.locator('li[data-event="recipient.suppressed"]').textContent()) ?? '';
    assert.match(step, /hard_bounce \(scope tenant\)/);
    assert.match(step, /evt_/);
  });

  await t.test('a domain shows its records with copy buttons that copy', async () => {
    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByRole('link', { name: 'example.com' }).click();
    await page.getByRole('heading', { name: 'DNS records to publish' }).waitFor();
    const spf = page.locator('li[data-record="spf"]');
    const value = (await spf.locator('code').nth(1).textContent()) ?? '';
    assert.match(value, /^v=spf1 /);
    await spf.getByRole('button', { name: 'Copy spf record value' }).click();
    await spf.getByRole('button', { name: 'Copied spf record value' }).waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), value);
    assert.ok((await page.getByRole('button', { name: /^Copy .* record (name|value)$/ }).count()) >= 6);
    await page.getByRole('heading', { name: 'DKIM keys' }).waitFor();
    await page.getByText('advice: hold').waitFor();
    await checkAccessibility(page, 'domain');
    await snap(page, 'domains');
  });

  await t.test('suppressions show why, scope and history', async () => {
    await page.getByRole('link', { name: 'Suppressions' }).click();
    const row = page.locator('tr', { hasText: 'carl@bad.test' }).first();
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /hard bounce.*tenant.*evt_/);
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await checkAccessibility(page, 'suppressions');
    await snap(page, 'suppressions');
  });

  await t.test('the sandbox inbox shows a captured HTML message in a sandboxed iframe where scripts do not run', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await login(page, p.url, lab.sandboxKey);
    await page.getByRole('link', { name: 'Sandbox inbox' }).click();
    const row = page.locator('tr', { hasText: 'Your order has shipped' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /news@example\.org.*eve@example\.net/);
    await checkAccessibility(page, 'sandbox inbox');
    await page.getByRole('link', { name: 'Your order has shipped' }).click();
    const frame = page.locator('iframe.preview');
    await frame.waitFor();
    assert.equal(await frame.getAttribute('sandbox'), '');
    const inside = page.frameLocator('iframe.preview');
    await inside.locator('#hello').waitFor();
    assert.equal(await inside.locator('#status').textContent(), 'static', 'the script in the message did not run');
    assert.equal(lab.remoteHits(), 0, 'no remote load before it was asked for');
    // The message's HTML is only inside the frame, never in the dashboard's own document.
    assert.equal(await page.locator('#hello').count(), 0);
    await checkAccessibility(page, 'sandbox message');
    await snap(page, 'sandbox');
    assert.deepEqual(foreign, [], 'no request left the origin before remote content was asked for');
    await page.getByRole('button', { name: 'Load remote content' }).click();
    await waitUntil('the remote image loaded after the click', () => lab.remoteHits() > 0, 10_000);
    assert.equal(await page.frameLocator('iframe.preview').locator('#status').textContent(), 'static');

    await page.getByRole('tab', { name: 'Text' }).click();
    await page.getByText('Your order 1042 has shipped.').waitFor();
    await page.getByRole('tab', { name: 'Headers' }).press('ArrowRight');
    await page.getByRole('tab', { name: 'Raw' }).click();
    await page.getByText('Content-Type: multipart/mixed', { exact: false }).first().waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download invoice-1042.txt' }).click();
    assert.equal((await download).suggestedFilename(), 'invoice-1042.txt');

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Nothing captured').waitFor();
  });

  await t.test('works at a narrow width and from the keyboard', async () => {
    await page.setViewportSize({ width: 375, height: 700 });
    await page.goto(`${p.url}/overview`);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    assert.ok((await page.evaluate<number>('document.documentElement.scrollWidth')) <= 375, 'no sideways scrolling of the page');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Providers', level: 1 }).waitFor();
  });

  assert.deepEqual(errors, [], 'no script error in the page');
  assert.deepEqual(
    foreign.filter((u) => !u.endsWith('/pixel.gif')),
    [],
    'no request left the origin but the remote image asked for',
  );
});
