import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { createHttpsPolicyFetcher, type HttpsPolicyFetcherOptions } from '../../src/transport-policy/index.js';
import { createTestCa, selfSigned } from '../support/certs.js';
import { startPolicyHost } from './policy-host.js';
import { createZoneResolver } from './zone-resolver.js';

const DOMAIN = 'example.com';
const POLICY_HOST = `mta-sts.${DOMAIN}`;
const POLICY = 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 86400\r\n';
const ca = createTestCa('MTA-STS Test CA');

function fetcherFor(port: number, extra: HttpsPolicyFetcherOptions = {}) {
  return createHttpsPolicyFetcher({
    ca: ca.cert,
    timeoutMs: 2000,
    portMap: () => ({ host: '127.0.0.1', port }),
    ...extra,
  });
}

describe('HTTPS policy fetcher (RFC 8461 §3.3) against a loopback policy host', () => {
  test('fetches the policy from a host with a certificate from a trusted CA', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.servePolicy(POLICY);
    const res = await fetcherFor(host.port)(DOMAIN);
    assert.ok(res.ok, JSON.stringify(res));
    assert.equal(res.body, POLICY);
    assert.equal(res.contentType, 'text/plain');
    assert.equal(res.url, 'https://mta-sts.example.com/.well-known/mta-sts.txt');
    assert.match(res.certificate?.subjectAltName ?? '', /mta-sts\.example\.com/);
    assert.deepEqual(
      host.requests.map((r) => [r.url, r.host, r.servername]),
      [['/.well-known/mta-sts.txt', POLICY_HOST, POLICY_HOST]],
    );
  });

  test('accepts text/plain with parameters', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.respond = (_req, res) => void res.writeHead(200, { 'content-type': 'Text/Plain; charset=utf-8' }).end(POLICY);
    const res = await fetcherFor(host.port)(DOMAIN);
    assert.ok(res.ok, JSON.stringify(res));
  });

  const certificateFailures: Array<[string, { cert: string; key: string }, RegExp]> = [
    ['a certificate for another host name', ca.issue({ hostnames: ['mta-sts.other.example'] }), /ERR_TLS_CERT_ALTNAME_INVALID/],
    ['a self-signed certificate', selfSigned([POLICY_HOST]), /SELF_SIGNED/],
    ['an expired certificate', ca.issue({ hostnames: [POLICY_HOST], expired: true }), /CERT_HAS_EXPIRED/],
  ];
  for (const [name, tls, code] of certificateFailures) {
    test(`refuses ${name} and never sends the request`, async (t) => {
      const host = await startPolicyHost(t, tls);
      host.servePolicy(POLICY);
      const res = await fetcherFor(host.port)(DOMAIN);
      assert.ok(!res.ok);
      assert.equal(res.failure, 'certificate', res.message);
      assert.match(res.message, code);
      assert.equal(host.requests.length, 0);
    });
  }

  test('treats a 404 as no policy', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    const res = await fetcherFor(host.port)(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'http-status');
    assert.equal(res.status, 404);
  });

  test('does not follow a redirect', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.respond = (req, res) => {
      if (req.url === '/elsewhere.txt') res.writeHead(200, { 'content-type': 'text/plain' }).end(POLICY);
      else res.writeHead(301, { location: `https://${POLICY_HOST}/elsewhere.txt` }).end();
    };
    const res = await fetcherFor(host.port)(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'redirect');
    assert.equal(res.status, 301);
    assert.equal(res.location, `https://${POLICY_HOST}/elsewhere.txt`);
    assert.deepEqual(
      host.requests.map((r) => r.url),
      ['/.well-known/mta-sts.txt'],
    );
  });

  test('refuses a body that is not text/plain', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.respond = (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end(`<pre>${POLICY}</pre>`);
    const res = await fetcherFor(host.port)(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'content-type');
    assert.equal(res.contentType, 'text/html');
  });

  test('refuses a body larger than the limit when the length is declared', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.respond = (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(4096));
    const res = await fetcherFor(host.port, { maxBytes: 1024 })(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'too-large');
  });

  test('stops reading a chunked body once it passes the limit', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 100; i++) res.write('y'.repeat(1024));
      res.end();
    };
    const res = await fetcherFor(host.port)(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'too-large');
    assert.match(res.message, /65536/);
  });

  test('gives up when the host does not answer in time', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.respond = () => undefined; // never answers; the socket is destroyed when the test ends
    const started = Date.now();
    const res = await fetcherFor(host.port, { timeoutMs: 300 })(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'timeout');
    assert.ok(Date.now() - started < 2000, 'the deadline bounds the fetch');
  });

  test('reports a refused connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const res = await fetcherFor(port)(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'connect', res.message);
  });

  test('resolves the policy host through the injected resolver', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.servePolicy(POLICY);
    const resolver = createZoneResolver({ [POLICY_HOST]: { A: ['127.0.0.1'] } });
    const res = await createHttpsPolicyFetcher({ ca: ca.cert, resolver, port: host.port, timeoutMs: 2000, allowPrivateAddresses: true })(
      DOMAIN,
    );
    assert.ok(res.ok, JSON.stringify(res));
    assert.deepEqual(resolver.lookups, [{ name: POLICY_HOST, type: 'A' }]);
  });

  test('refuses a policy host that resolves to a private, loopback or link-local address (SSRF)', async (t) => {
    const host = await startPolicyHost(t, ca.issue({ hostnames: [POLICY_HOST] }));
    host.servePolicy(POLICY);
    for (const address of ['127.0.0.1', '10.0.0.7', '169.254.169.254']) {
      const resolver = createZoneResolver({ [POLICY_HOST]: { A: [address] } });
      const res = await createHttpsPolicyFetcher({ ca: ca.cert, resolver, port: host.port, timeoutMs: 2000 })(DOMAIN);
      assert.ok(!res.ok, address);
      assert.equal(res.failure, 'dns');
      assert.match(res.message, /not a public address/);
    }
  });

  test('reports a policy host without an address', async () => {
    const resolver = createZoneResolver({});
    const res = await createHttpsPolicyFetcher({ ca: ca.cert, resolver, timeoutMs: 2000 })(DOMAIN);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'dns');
  });
});

test('refuses to build a URL from something that is not a domain name', async () => {
  const fetcher = createHttpsPolicyFetcher({
    portMap: () => {
      throw new Error('must not connect');
    },
  });
  for (const input of ['example.com/evil?', 'user@example.com', 'localhost', '']) {
    const res = await fetcher(input);
    assert.ok(!res.ok);
    assert.equal(res.failure, 'invalid-domain', input);
  }
});
