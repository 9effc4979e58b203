import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { fakeClock } from '../support/clock.js';
import { tempDir } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/**
 * An incident with a GDPR clock reminds at the configured offsets as the (fake) clock passes them,
 * and its message trace bundle verifies with `postwarden trace verify`; one altered byte fails it
 * (issue #21, Done 2).
 */
const H = 3_600_000;

test('a GDPR clock reminds 24 h and 4 h before its 72 h deadline and at it; the trace bundle verifies and one changed byte fails', async (t) => {
  const clock = fakeClock(Date.UTC(2026, 11, 6, 10, 0, 0));
  const p = await startPlatform(t, { clock, config: { compliance: { enabled: false } } });
  const sent = await p.request('POST', '/v1/messages', {
    from: 'payroll@example.com',
    to: ['ada@example.org'],
    subject: 'Payroll export',
    text: 'attached',
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const { incidents } = p.platform.compliance;
  const incident = await incidents.open(p.tenantId, {
    kind: 'breach',
    severity: 'high',
    title: 'Payroll export sent to the wrong address',
    openedBy: 'usr_dpo',
    clocks: ['gdpr'],
    links: { messages: [sent.body.id] },
  });
  assert.equal(incident.clocks[0]!.deadline_at, '2026-12-09T10:00:00.000Z');

  const reminded = async () =>
    (await p.platform.spine.page({ tenantId: p.tenantId, types: ['incident.reminded'], limit: 50 })).data.map((e) => [
      e.data.kind,
      e.data.remaining_seconds,
      e.at,
    ]);
  clock.advance(47 * H);
  assert.equal(await incidents.remindDue(), 0);
  clock.advance(1 * H); // 48 h: 24 h before the deadline
  assert.equal(await incidents.remindDue(), 1);
  assert.equal(await incidents.remindDue(), 0, 'a reminder is announced once');
  clock.advance(20 * H); // 68 h: 4 h before
  assert.equal(await incidents.remindDue(), 1);
  clock.advance(4 * H); // 72 h: the deadline
  assert.equal(await incidents.remindDue(), 1);
  assert.deepEqual(await reminded(), [
    ['reminder', 86400, '2026-12-08T10:00:00.000Z'],
    ['reminder', 14400, '2026-12-09T06:00:00.000Z'],
    ['deadline', 0, '2026-12-09T10:00:00.000Z'],
  ]);

  const dir = tempDir(t, 'pw-trace-');
  const bundle = join(dir, 'trace.json');
  writeFileSync(bundle, await incidents.traceBundle(p.tenantId, { message_id: sent.body.id }));
  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { env: {}, stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) } as never);
    return { code, out, err };
  };
  const ok = await cli('trace', 'verify', bundle);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /intact, 1 message\(s\)/);
  const doc = JSON.parse(readFileSync(bundle, 'utf8'));
  assert.match(doc.files['trace.html'], /Payroll export/);
  assert.ok(JSON.parse(doc.files['trace.json']).messages[0].events.some((e: { type: string }) => e.type === 'message.accepted'));

  const pinnedWrong = await cli('trace', 'verify', bundle, '--key-sha256', '0'.repeat(64));
  assert.equal(pinnedWrong.code, 65);

  // One byte changed, in the trace, the manifest and the signature in turn: each fails.
  const text = readFileSync(bundle, 'utf8');
  for (const anchor of ['ada@example.org', '"created_at":"', '"signature":"']) {
    const at = text.indexOf(anchor) + anchor.length - 1 + (anchor.endsWith('"') ? 2 : 0);
    const altered = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const file = join(dir, 'altered.json');
    writeFileSync(file, altered);
    const bad = await cli('trace', 'verify', file);
    assert.equal(bad.code, 65, `${anchor}: ${bad.out}`);
    assert.match(bad.err, /does not verify/);
  }
});
