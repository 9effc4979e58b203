import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { tempDir } from '../support/dialects.js';
import { startDnsServer, type Zone } from '../support/dns-server.js';

/** `domains add|verify` and `dkim list|rotate|verify-dns`, in-process against a temp store and the loopback DNS. */
async function cli(args: string[]): Promise<{ code: number; json: any; err: string }> {
  let out = '';
  let err = '';
  const deps: CliDeps = {
    // A qualified host name: on a host named like `vm` the records would otherwise be refused (HOSTNAME_UNQUALIFIED).
    env: { POSTWARDEN_HOSTNAME: 'mail.pw.test' },
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    createPlatform: () => Promise.reject(new Error('not used')),
    onSignal: () => () => undefined,
    exit: () => undefined,
  };
  const code = await runCli([...args, '--json'], deps);
  return { code, json: out ? JSON.parse(out) : null, err };
}

test('domains add lists the records, domains verify reads DNS, dkim rotate adds a pending selector that verify-dns activates', async (t) => {
  const dns = await startDnsServer(t, {});
  const g = ['--data-dir', tempDir(t), '--dns-server', dns.address];
  const tenant = (await cli([...g, 'tenants', 'create', 'Acme'])).json;
  const added = await cli([...g, 'domains', 'add', 'shop.test', '--tenant', tenant.id, '--streams', 'transactional,marketing']);
  assert.equal(added.code, 0, added.err);
  assert.deepEqual(added.json.streams, ['transactional', 'marketing']);
  const kinds = added.json.dns_records.map((r: { kind: string }) => r.kind);
  assert.deepEqual(kinds, ['dkim', 'spf', 'dmarc', 'return-path-mx', 'return-path-spf']);

  const zone: Zone = {};
  for (const r of added.json.dns_records) {
    const e = (zone[r.name] ??= {});
    if (r.type === 'TXT') e.TXT = [...(e.TXT ?? []), r.value];
    else e.MX = [{ priority: 10, exchange: r.value.split(' ')[1] }];
  }
  dns.setZone(zone);
  const verified = await cli([...g, 'domains', 'verify', 'shop.test', '--tenant', tenant.id]);
  assert.equal(verified.code, 0, verified.err);
  assert.equal(verified.json.verified, true, JSON.stringify(verified.json.records));

  const listed = await cli([...g, 'dkim', 'list', '--tenant', tenant.id, '--domain', 'shop.test']);
  assert.deepEqual(
    listed.json.data.map((k: { status: string }) => k.status),
    ['active'],
  );
  const rotated = await cli([...g, 'dkim', 'rotate', '--tenant', tenant.id, '--domain', added.json.id]);
  assert.equal(rotated.code, 0, rotated.err);
  const record = rotated.json.dns_records[0];
  const before = await cli([...g, 'dkim', 'verify-dns', '--tenant', tenant.id, '--domain', 'shop.test']);
  assert.equal(before.json.verified, false);
  assert.equal(before.json.records.find((r: { name: string }) => r.name === record.name).status, 'missing');
  dns.setZone({ ...zone, [record.name]: { TXT: [record.value] } });
  const after = await cli([...g, 'dkim', 'verify-dns', '--tenant', tenant.id, '--domain', 'shop.test']);
  assert.equal(after.json.verified, true);
  const keys = await cli([...g, 'dkim', 'list', '--tenant', tenant.id, '--domain', 'shop.test']);
  assert.deepEqual(
    keys.json.data.map((k: { status: string }) => k.status),
    ['active', 'active'],
  );
  const again = await cli([...g, 'domains', 'add', 'other.test', '--tenant', tenant.id, '--streams', 'bulk']);
  assert.equal(again.code, 65);
  assert.match(again.err, /\/streams/);
});
