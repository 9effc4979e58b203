import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import type { AuditResult } from '../../src/posture/index.js';
import { ids, startLab } from './posture-lab.js';

/**
 * Whole audits of a well-configured and a broken domain against checked-in expected JSON
 * (test/fixtures/posture/, synthesised from the zones in posture-lab.ts). Volatile fields (wall-clock
 * duration, the loopback resolver's port, the test certificate's end date) are normalised.
 * POSTWARDEN_UPDATE_FIXTURES=1 rewrites the files.
 */
function normalise(a: AuditResult): unknown {
  const copy = JSON.parse(JSON.stringify(a)) as AuditResult;
  copy.durationMs = 0;
  copy.resolver = 'RESOLVER';
  const dane = copy.facts['dnssec-dane'];
  if (dane.resolver) dane.resolver = 'RESOLVER';
  const sts = copy.facts['mta-sts'];
  if (sts.certificateValidTo) sts.certificateValidTo = 'VALID_TO';
  return copy;
}

function matchFixture(name: string, actual: unknown): void {
  const file = new URL(`../fixtures/posture/${name}`, import.meta.url);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.POSTWARDEN_UPDATE_FIXTURES === '1') writeFileSync(file, text);
  assert.ok(existsSync(file), `test/fixtures/posture/${name} is missing (POSTWARDEN_UPDATE_FIXTURES=1 writes it)`);
  assert.deepEqual(actual, JSON.parse(readFileSync(file, 'utf8')));
}

test('a well-configured domain has no findings and matches its expected audit', async (t) => {
  const lab = await startLab(t);
  const audit = await lab.audit('good.example', { selectors: ['sel1', 'sel2'], approvedMx: ['*.good.example'] });
  assert.deepEqual(audit.findings, []);
  assert.equal(audit.auditedAt, '2026-11-23T09:00:00.000Z');
  assert.ok(audit.queries.length >= 15, `every query is recorded: ${audit.queries.map((q) => `${q.name} ${q.type}`).join(', ')}`);
  assert.deepEqual(
    audit.senders.map((s) => [s.service, s.mechanism]),
    [
      ['good.example (own servers)', 'mx'],
      ['Google Workspace', 'include:_spf.google.com'],
    ],
  );
  matchFixture('good.example.audit.json', normalise(audit));
});

test('a broken domain has at least 15 distinct findings and matches its expected audit', async (t) => {
  const lab = await startLab(t);
  const audit = await lab.audit('broken.example', { selectors: ['weak', 'old', 'gone'], approvedMx: ['*.good.example'] });
  assert.ok(ids(audit).length >= 15, `distinct findings: ${ids(audit).join(', ')}`);
  for (const f of audit.findings) {
    assert.ok(f.rfc && f.why && f.found && f.severity, `${f.id} is complete`);
    assert.ok(f.controls.length > 0, `${f.id} maps to controls`);
  }
  matchFixture('broken.example.audit.json', normalise(audit));
});
