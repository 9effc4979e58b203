import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, runPostwarden } from '../cli/postwarden-process.js';
import { tempDir } from '../support/dialects.js';
import { brokenZone, goodZone, startLab } from './posture-lab.js';

/** The `postwarden dns` commands as operators run them, against the loopback DNS (--dns-server). */
test('dns audit --json reports findings and every query through the given DNS server', async (t) => {
  const lab = await startLab(t, { zone: { ...goodZone(), ...brokenZone() } });
  const r = await runPostwarden(['dns', 'audit', 'broken.example', '--dns-server', lab.dns.address, '--selectors', 'weak,old', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const audit = json(r);
  assert.equal(audit.domain, 'broken.example');
  assert.match(audit.resolver, new RegExp(lab.dns.address));
  const found = new Set((audit.findings as { id: string }[]).map((f) => f.id));
  for (const id of ['mx.ip-literal', 'spf.loop', 'dkim.key-revoked', 'dmarc.external-unauthorized', 'tls-rpt.bad-rua'])
    assert.ok(found.has(id), id);
  assert.ok(lab.dns.queries.some((q) => q.name === 'old._domainkey.broken.example'));

  const bad = await runPostwarden(['dns', 'audit', 'not_a_domain', '--dns-server', lab.dns.address]);
  assert.equal(bad.code, 65);
  assert.match(bad.stderr, /\/domain: must be a domain name/);
});

test('dns report --format html writes a self-contained report with its digest', async (t) => {
  const lab = await startLab(t, { zone: goodZone() });
  const r = await runPostwarden([
    'dns',
    'report',
    'good.example',
    '--dns-server',
    lab.dns.address,
    '--format',
    'html',
    '--selectors',
    'sel1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^<!DOCTYPE html>/);
  assert.match(r.stdout, /<code id="digest">[0-9a-f]{64}<\/code>/);
  assert.equal(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(r.stdout), false);
});

test('dns watch, approved-mx and history work on the store', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme', '--json']));
  const r = await runPostwarden([...store, 'dns', 'watch', 'Good.Example', '--tenant', tenant.id, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(json(r), { domain: 'good.example', added: true });
  const history = await runPostwarden([...store, 'dns', 'history', 'good.example', '--tenant', tenant.id]);
  assert.equal(history.code, 0, history.stderr);
  assert.match(history.stdout, /No snapshots of good\.example yet/);
  const missing = await runPostwarden([...store, 'dns', 'history', 'good.example', '--tenant', 'ten_nope']);
  assert.notEqual(missing.code, 0);
});
