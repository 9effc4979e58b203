import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { createSelfAssessment, type ProbeTarget } from '../../src/self-assessment/index.js';
import { createStore } from '../../src/store/index.js';
import { createTestCa } from '../support/certs.js';
import { tempDir } from '../support/dialects.js';

/**
 * Issue 21, Done 5: the self-assessment probes a deliberately weak listener (an SMTP listener with
 * STARTTLS that still accepts TLS 1.0, a certificate five days from expiry, and relaying for anyone)
 * as a remote would, and reports each weakness as a dated finding; the run before it (against a sound
 * listener) had none, so each is also a regression event. No network beyond loopback; npm audit is
 * replaced by "not reachable", which the run must say.
 */
const ca = createTestCa('Postwarden self-assessment test CA');

async function listen(t: { after(fn: () => unknown): void }, o: { weak: boolean }): Promise<number> {
  const leaf = ca.issue({ hostnames: ['mx.selfcheck.test'], days: o.weak ? 5 : 365 });
  const server = new SMTPServer({
    key: leaf.key,
    cert: leaf.cert,
    authOptional: true,
    // The weakness under test: TLS 1.0 allowed, at the lowest security level.
    ...(o.weak ? { minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } : { minVersion: 'TLSv1.2' }),
    logger: false,
    onRcptTo(address, _session, cb) {
      if (o.weak || address.address.endsWith('@selfcheck.test')) return cb();
      cb(Object.assign(new Error('relay denied'), { responseCode: 550 }));
    },
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => cb());
    },
  } as ConstructorParameters<typeof SMTPServer>[0]);
  // Refused handshakes (the probe asking for TLS 1.0) surface as server errors: expected here.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.server.address() as AddressInfo).port;
}

test('the self-assessment finds a weak listener and reports dated findings', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, 'pw-self-assess-');
  const store = await createStore({ sqliteFile: join(dir, 'pw.db') });
  t.after(() => store.close());
  let now = Date.parse('2026-12-06T16:00:00Z');
  const clock = { now: () => now };
  const target = (port: number): ProbeTarget => ({
    name: 'mx',
    host: '127.0.0.1',
    port,
    mode: 'starttls',
    servername: 'mx.selfcheck.test',
    requireStarttls: true,
    relayCheck: true,
  });
  let targets: ProbeTarget[] = [target(await listen(t, { weak: false }))];
  const sa = createSelfAssessment({
    store,
    clock: clock as never,
    targets: () => targets,
    ca: [ca.cert],
    timeoutMs: 3000,
    dependencyAudit: async () => ({ available: false, reason: 'the registry is not reachable from this network' }),
  });

  const sound = await sa.run();
  assert.deepEqual(
    sound.findings.map((f) => f.check),
    ['dependency-audit-unavailable'],
    JSON.stringify(sound.findings, null, 1),
  );
  assert.equal(sound.status, 'pass');

  now += 86_400_000;
  targets = [target(await listen(t, { weak: true }))];
  const weak = await sa.run();
  const byCheck = new Map(weak.findings.map((f) => [f.check, f]));
  assert.equal(weak.status, 'findings');
  const legacy = byCheck.get('tls-legacy-version');
  assert.ok(legacy, JSON.stringify(weak.findings, null, 1));
  assert.match(legacy.title, /TLSv1\b/);
  assert.equal(legacy.observed_at, '2026-12-07T16:00:00.000Z', 'dated with the run');
  const expiring = byCheck.get('certificate-expiring');
  assert.ok(expiring, JSON.stringify(weak.findings, null, 1));
  assert.equal(expiring.severity, 'high');
  assert.ok(byCheck.get('open-relay'), 'the relay attempt succeeded and is reported');
  assert.match(byCheck.get('dependency-audit-unavailable')!.detail, /not reachable/);

  // History and regression alerts.
  const history = await sa.history({ limit: 10 });
  assert.deepEqual(
    history.map((r) => r.status),
    ['findings', 'pass'],
  );
  assert.deepEqual(weak.regressions.map((f) => f.check).sort(), ['certificate-expiring', 'open-relay', 'tls-legacy-version']);
  const events = await store.events.page({ types: ['self_assessment.regressed'], limit: 10 });
  assert.equal(events.length, 3);
});
