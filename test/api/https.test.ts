import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { selfSigned } from '../support/certs.js';
import { tempDir } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/** server.tls: the API terminates TLS itself with the configured certificate (docs/deploy.md). */
function getHttps(port: number, path: string, ca: string): Promise<{ status: number; body: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost' }, (res) => {
      let body = '';
      const subject = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '');
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, subject }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('with server.tls the API answers over HTTPS with that certificate, and not over plain HTTP', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = selfSigned(['localhost', '127.0.0.1']);
  writeFileSync(join(dir, 'api.crt'), cert);
  writeFileSync(join(dir, 'api.key'), key, { mode: 0o600 });
  const p = await startPlatform(t, { config: { server: { tls: { certFile: join(dir, 'api.crt'), keyFile: join(dir, 'api.key') } } } });
  const port = Number(new URL(p.url).port);
  const res = await getHttps(port, '/healthz', cert);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.subject, 'localhost');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) }));
});

test('server.tls with only one of its files is a configuration error naming the missing setting', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'api.crt'), selfSigned().cert);
  await assert.rejects(
    startPlatform(t, { config: { server: { tls: { certFile: join(dir, 'api.crt') } } } }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.match(e.message, /server\.tls\.keyFile is not/);
      return true;
    },
  );
});
