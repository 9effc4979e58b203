import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { startDnsServer } from '../support/dns-server.js';
import { deliverToMx } from '../support/mx-client.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import { dmarcZipEmail, recentDmarcXml } from './documents.js';
import { bigDmarcReportGz, deepMail, manyPartsMail, nestedLyingZip, reportMail, wrappedLyingZip } from './hostile-documents.js';

/**
 * Hostile feedback through the front doors (the inbound MX, POST /v1/feedback) of a whole platform:
 * each document is answered within 2 s, refused permanently when it breaks a limit, and the node
 * keeps answering `/healthz` in under 200 ms all along (measured concurrently: the test and the
 * platform share one event loop, so a blocked loop shows up here as a slow health check).
 */
const ANSWER_MS = 2000;
const HEALTH_MS = 200;

async function platform(t: TestContext, feedback: Record<string, unknown> = {}): Promise<TestPlatform> {
  const dns = await startDnsServer(t, { 'example.com': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] } });
  const p = await startPlatform(t, { config: { dns: { servers: [dns.address] }, feedback } });
  // Warm: the first documents wait for the parsing threads to start (seconds under tsx), not timed.
  // As many as there are threads, at once, so none is still starting when the timing begins.
  const threads = Number(feedback.parseThreads ?? p.config.feedback.parseThreads);
  for (const warm of await Promise.all(
    Array.from({ length: threads }, () => deliver(p, 'dmarc@pw.test', dmarcZipEmail(recentDmarcXml()))),
  )) {
    assert.ok(warm.ok, warm.response);
  }
  return p;
}

/** A DMARC reporter handing `raw` to the MX. */
const deliver = (p: TestPlatform, to: string, raw: Buffer) => deliverToMx(p.mxPort, to, raw, 'noreply-dmarc@receiver.example.net');

/** Runs `work` while /healthz is asked every 20 ms; resolves with its result, its duration and the slowest health answer. */
async function whileWatchingHealth<T>(
  p: TestPlatform,
  work: () => Promise<T>,
): Promise<{ result: T; ms: number; worstHealthMs: number; checks: number; maxLoopDelayMs: number; busy: number }> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const elu = performance.eventLoopUtilization();
  let done = false;
  let worst = 0;
  let checks = 0;
  const watcher = (async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${p.url}/healthz`);
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      worst = Math.max(worst, performance.now() - started);
      checks++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  done = true;
  await watcher;
  loop.disable();
  const busy = performance.eventLoopUtilization(elu).utilization;
  return { result, ms, worstHealthMs: worst, checks, maxLoopDelayMs: loop.max / 1e6, busy };
}

function assertPrompt(
  r: { ms: number; worstHealthMs: number; checks: number; maxLoopDelayMs: number; busy: number },
  what: string,
  answerMs = ANSWER_MS,
): void {
  // When these fail, the stall and the loop's busy share tell a blocked loop from a starved machine.
  const loop = `longest event loop stall ${Math.round(r.maxLoopDelayMs)} ms, loop busy ${Math.round(r.busy * 100)} %`;
  assert.ok(r.ms < answerMs, `${what}: answered after ${Math.round(r.ms)} ms (${loop})`);
  assert.ok(r.checks > 0, `${what}: /healthz was asked`);
  assert.ok(r.worstHealthMs < HEALTH_MS, `${what}: /healthz took ${Math.round(r.worstHealthMs)} ms (${loop})`);
}

test('lying zips and a 100,000-record report to the MX are answered within 2 s while /healthz stays fast', async (t) => {
  const p = await platform(t);
  const single = reportMail(wrappedLyingZip(512 * 1024 * 1024), 'report.zip', 'application/zip');
  const nested = reportMail(nestedLyingZip(10, 512 * 1024 * 1024), 'report.zip', 'application/zip');
  const big = reportMail(bigDmarcReportGz(100_000), 'report.xml.gz', 'application/gzip');
  const before = await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 10 });

  await t.test('a zip entry that inflates to 512 MiB while declaring 1,000 bytes is read as a corrupt archive', async () => {
    const r = await whileWatchingHealth(p, () => deliver(p, 'dmarc@pw.test', single));
    assertPrompt(r, 'single lying zip');
    assert.ok(r.result.ok, r.result.response);
  });
  await t.test('zips nested ten deep with a lying entry on every level are read as a corrupt archive', async () => {
    const r = await whileWatchingHealth(p, () => deliver(p, 'dmarc@pw.test', nested));
    assertPrompt(r, 'nested lying zip');
    assert.ok(r.result.ok, r.result.response);
  });
  await t.test('a 60 MB report in a small gzip is refused with 554 5.6.0 naming the unpacking limit', async () => {
    const r = await whileWatchingHealth(p, () => deliver(p, 'dmarc@pw.test', big));
    assertPrompt(r, '100,000-record report');
    assert.equal(r.result.code, 554, r.result.response);
    assert.match(r.result.response ?? '', /^554 5\.6\.0 .*decompressed report too large.*feedback\.maxUnpackedBytes/);
  });
  const docs = await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 10 });
  assert.equal(docs.length, before.length, 'none of them was attributed to the tenant');
});

test('a report with more records than feedback.maxReportRecords is refused with 554 5.6.0 and stores nothing', async (t) => {
  const p = await platform(t, { maxReportRecords: 1000 });
  const before = await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 10 });
  const over = reportMail(bigDmarcReportGz(1001), 'r.xml.gz', 'application/gzip');
  const r = await whileWatchingHealth(p, () => deliver(p, 'dmarc@pw.test', over));
  assertPrompt(r, '1,001-record report');
  assert.equal(r.result.code, 554);
  assert.match(
    r.result.response ?? '',
    /^554 5\.6\.0 Content refused: DMARC report r\.xml has more than 1000 records; the limit is 1000 \(feedback\.maxReportRecords\)/,
  );
  assert.equal((await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 10 })).length, before.length);
  const ok = await deliver(p, 'dmarc@pw.test', reportMail(bigDmarcReportGz(1000, 'big-2'), 'r.xml.gz', 'application/gzip'));
  assert.ok(ok.ok, ok.response);
});

test('MIME messages with 10,000 parts or 2,000 levels get a permanent 554 5.6.0 within 2 s', async (t) => {
  const p = await platform(t);
  for (const [what, raw, setting] of [
    ['10,000 parts', manyPartsMail(10_000), 'feedback.maxMimeParts'],
    ['2,000 levels', deepMail(2000), 'feedback.maxMimeDepth'],
  ] as const) {
    const r = await whileWatchingHealth(p, () => deliver(p, 'dmarc@pw.test', raw));
    assertPrompt(r, what);
    assert.equal(r.result.code, 554, `${what}: ${r.result.response}`);
    assert.match(r.result.response ?? '', new RegExp(`^554 5\\.6\\.0 .*\\(${setting.replace('.', '\\.')}\\)`));
  }
});

test('a document that parses longer than feedback.parseTimeoutMs is stopped and refused; the next one is parsed', async (t) => {
  // Limits raised so that only the deadline stands between the node and a 60 MB XML tree.
  const p = await platform(t, { parseTimeoutMs: 1000, parseThreads: 1, maxUnpackedBytes: 128 * 1024 * 1024, maxReportRecords: 1_000_000 });
  const slow = reportMail(bigDmarcReportGz(100_000), 'r.xml.gz', 'application/gzip');
  const r = await whileWatchingHealth(p, () => deliver(p, 'dmarc@pw.test', slow));
  // The answer comes at the deadline, so it gets the deadline on top of the usual 2 s.
  assertPrompt(r, 'slow report', 1000 + ANSWER_MS);
  assert.equal(r.result.code, 554, r.result.response);
  assert.match(
    r.result.response ?? '',
    /^554 5\.6\.0 Content refused: parsing took longer than 1000 ms; the limit is 1000 \(feedback\.parseTimeoutMs\)/,
  );
  const next = await deliver(p, 'dmarc@pw.test', dmarcZipEmail(recentDmarcXml()));
  assert.ok(next.ok, next.response);
});

test('a document that needs more than feedback.parseMemoryMb is refused and the thread replaced', async (t) => {
  const p = await platform(t, {
    parseMemoryMb: 64,
    parseThreads: 1,
    parseTimeoutMs: 30_000,
    maxReportRecords: 100_000,
    maxUnpackedBytes: 256 * 1024 * 1024,
  });
  const r = await deliver(p, 'dmarc@pw.test', reportMail(bigDmarcReportGz(40_000), 'r.xml.gz', 'application/gzip'));
  assert.equal(r.code, 554, r.response);
  assert.match(
    r.response ?? '',
    /^554 5\.6\.0 Content refused: parsing needed more than 64 MB of memory; the limit is 64 \(feedback\.parseMemoryMb\)/,
  );
  const next = await deliver(p, 'dmarc@pw.test', dmarcZipEmail(recentDmarcXml()));
  assert.ok(next.ok, next.response);
});

test('a report resent under a new report id, or twice under the same, is stored once', async (t) => {
  const p = await platform(t);
  const at = Math.floor(Date.now() / 1000);
  const mail = (id: string) => reportMail(bigDmarcReportGz(50, id, at), `${id}.xml.gz`, 'application/gzip');
  const domain = (await p.request('GET', '/v1/domains')).body.data.find((d: any) => d.name === 'example.com');
  const messages = async () => (await p.request('GET', `/v1/domains/${domain.id}/dmarc?days=30`)).body.totals?.messages;
  const before = await messages();
  assert.ok((await deliver(p, 'dmarc@pw.test', mail('first'))).ok);
  const once = await messages();
  assert.equal(once - before, 50);
  assert.ok((await deliver(p, 'dmarc@pw.test', mail('first'))).ok);
  assert.ok((await deliver(p, 'dmarc@pw.test', mail('renamed'))).ok);
  assert.equal(await messages(), once, 'neither the resend nor the renamed copy counted again');
  const docs = await p.platform.store.feedback.listDocuments(p.tenantId, { limit: 1 });
  assert.match(JSON.stringify(docs[0]!.summary), /already stored/);
});

test('POST /v1/feedback answers a lying zip within 2 s, and a report past the unpacking limit with 422', async (t) => {
  const p = await platform(t);
  const upload = (body: Uint8Array, filename: string) =>
    fetch(`${p.url}/v1/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/octet-stream', 'x-filename': filename },
      body,
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));
  const bomb = wrappedLyingZip(512 * 1024 * 1024);
  const report = bigDmarcReportGz(100_000);
  const lying = await whileWatchingHealth(p, () => upload(bomb, 'report.zip'));
  assertPrompt(lying, 'uploaded lying zip');
  assert.equal(lying.result.status, 422);
  assert.match(JSON.stringify(lying.result.body), /longer than its declared 1000 bytes/);
  const big = await whileWatchingHealth(p, () => upload(report, 'report.xml.gz'));
  assertPrompt(big, 'uploaded 100,000-record report');
  assert.equal(big.result.status, 422);
  assert.equal(big.result.body.code, 'CONTENT_LIMIT_EXCEEDED');
  assert.match(big.result.body.detail, /feedback\.maxUnpackedBytes/);
});
