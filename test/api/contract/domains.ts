import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { startPlatform } from '../../support/platform.js';
import { type Contract, caller } from './harness.js';

/** Sending domains, keys, the tenant and its TLS policy, DNS posture, the reputation ledger. */
export async function driveDomains(c: Contract, t: TestContext): Promise<void> {
  const { expect } = c;
  const { domain } = c.fixtures;
  await expect(201, 'POST', '/v1/domains', { body: { name: 'news.example.com', streams: ['marketing'] } });
  await expect(409, 'POST', '/v1/domains', { body: { name: 'example.com' } });
  await expect(422, 'POST', '/v1/domains', { body: { name: '' } });
  await expect(200, 'GET', `/v1/domains/${domain}`);
  await expect(404, 'GET', '/v1/domains/dom_missing');
  await expect(200, 'PATCH', `/v1/domains/${domain}`, { body: { streams: null } });
  await expect(404, 'PATCH', '/v1/domains/dom_missing', { body: { streams: null } });
  await expect(422, 'PATCH', `/v1/domains/${domain}`, { body: { streams: ['bulk'] } });
  await expect(200, 'POST', `/v1/domains/${domain}/verify`);
  await expect(404, 'POST', '/v1/domains/dom_missing/verify');
  await expect(200, 'GET', `/v1/domains/${domain}/dkim`);
  await expect(404, 'GET', '/v1/domains/dom_missing/dkim');
  await expect(201, 'POST', `/v1/domains/${domain}/dkim/rotate`);
  await expect(409, 'POST', `/v1/domains/${domain}/dkim/rotate`);
  await expect(404, 'POST', '/v1/domains/dom_missing/dkim/rotate');
  await expect(200, 'GET', `/v1/domains/${domain}/dmarc?days=7`);
  await expect(404, 'GET', '/v1/domains/dom_missing/dmarc');
  await expect(422, 'GET', `/v1/domains/${domain}/dmarc?days=0`);
  const extra = (await expect(201, 'POST', '/v1/domains', { body: { name: 'gone.example.com' } })).json().id as string;
  await expect(204, 'DELETE', `/v1/domains/${extra}`);
  await expect(404, 'DELETE', `/v1/domains/${extra}`);
  c.input('POST /v1/domains', { body: { name: 'idem.example.com' } });

  const created = (await expect(201, 'POST', '/v1/keys', { body: { name: 'ci', scopes: ['read'] } })).json();
  assert.match(created.secret, /^pw_/);
  await expect(422, 'POST', '/v1/keys', { body: { scopes: [] } });
  await expect(200, 'GET', '/v1/keys');
  await expect(204, 'DELETE', `/v1/keys/${created.id}`);
  await expect(404, 'DELETE', '/v1/keys/key_missing');
  c.input('POST /v1/keys', { body: { scopes: ['read'] } });

  await expect(200, 'GET', '/v1/tenant');
  await expect(200, 'GET', '/v1/reputation?provider=gmail&stream=marketing');
  await expect(200, 'PATCH', '/v1/tenant', { body: { alignment: 'warn' } });
  await expect(422, 'PATCH', '/v1/tenant', { body: { alignment: 'never' } });
  await expect(200, 'GET', '/v1/tenant/tls-policy');
  await expect(200, 'PUT', '/v1/tenant/tls-policy', { body: { default: 'opportunistic' } });
  await expect(422, 'PUT', '/v1/tenant/tls-policy', { body: { default: 'always' } });
  await expect(200, 'GET', '/v1/stats/tls');
  await expect(422, 'GET', '/v1/stats/tls?from=yesterday');

  await expect(200, 'GET', '/v1/audits?domain=example.com');
  await expect(422, 'GET', '/v1/audits');
  await expect(200, 'GET', '/v1/audits/report?domain=example.com&format=md');
  await expect(200, 'GET', '/v1/audits/report?domain=example.com&format=json');
  await expect(200, 'GET', '/v1/audits/report?domain=example.com');
  await expect(422, 'GET', '/v1/audits/report?domain=example.com&format=pdf');
  await expect(200, 'GET', `/v1/domains/${domain}/dns-history`);
  await expect(404, 'GET', '/v1/domains/dom_missing/dns-history');
  await expect(422, 'GET', `/v1/domains/${domain}/dns-history?limit=0`);
  await expect(201, 'POST', '/v1/dns-watch', { body: { domain: 'partner.example' } });
  await expect(200, 'POST', '/v1/dns-watch', { body: { domain: 'partner.example' } });
  await expect(200, 'GET', '/v1/dns-watch');
  await expect(200, 'GET', '/v1/dns-history?domain=partner.example');
  await expect(422, 'GET', '/v1/dns-history');
  await expect(204, 'DELETE', '/v1/dns-watch/partner.example');
  await expect(404, 'DELETE', '/v1/dns-watch/partner.example');
  await expect(422, 'DELETE', `/v1/dns-watch/${'a'.repeat(254)}`);
  await expect(200, 'GET', '/v1/posture/settings');
  await expect(200, 'PUT', '/v1/posture/settings', { body: { approved_mx: ['mx.example.com'] } });
  await expect(422, 'PUT', '/v1/posture/settings', { body: { approved_mx: [''] } });
  c.input('POST /v1/dns-watch', { body: { domain: 'idem.example' } });

  // A dotless host name: the records of a domain cannot be built (409).
  const vm = await startPlatform(t, { config: { server: { hostname: 'vm' } } });
  const shop = await caller(vm.url, vm.key)('POST', '/v1/domains', { body: { name: 'shop.example' } });
  assert.equal(shop.status, 201);
  assert.equal((await caller(vm.url, vm.key)('GET', `/v1/domains/${shop.json().id}`)).status, 409);
  c.checks.push(vm.platform.api.responseCheck!);
}
