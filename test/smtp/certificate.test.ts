import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { isPostwardenError } from '../../src/core/index.js';
import { certificateInfo, generateSelfSigned, issueCertificate, loadOrCreateCertificate } from '../../src/smtp/certificate.js';

const fixedClock = { now: () => Date.parse('2030-01-15T12:00:00Z') };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postwarden-cert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a self-signed certificate names every hostname and IP as a SAN and is signed by its own key', async () => {
  const { key, cert } = await generateSelfSigned({ hostnames: ['mx.example.test', '127.0.0.1', '::1'], clock: fixedClock });
  const info = certificateInfo(cert);
  assert.deepEqual(info.sans, ['mx.example.test', '127.0.0.1', '::1']);
  assert.equal(info.subject, 'O=Postwarden, CN=mx.example.test');
  assert.equal(info.issuer, info.subject);
  const x = new X509Certificate(cert);
  assert.equal(x.verify(x.publicKey), true);
  assert.equal(x.checkPrivateKey(createPrivateKey(key)), true);
  assert.equal(x.checkHost('mx.example.test'), 'mx.example.test');
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.ca, false);
  assert.equal(createPrivateKey(key).asymmetricKeyType, 'ec');
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8
});

test('an IPv4-mapped IPv6 SAN names the same address (x509 2.2.0 misreads the dotted form)', async () => {
  const { cert } = await generateSelfSigned({ hostnames: ['mx.example.test', '::ffff:192.0.2.1'] });
  assert.deepEqual(certificateInfo(cert).sans, ['mx.example.test', '::ffff:c000:201']);
  assert.equal(new X509Certificate(cert).checkIP('::ffff:c000:201'), '::ffff:c000:201');
});

test('serial numbers are random, positive and 16 octets long', async () => {
  const serials = await Promise.all(
    [1, 2, 3].map(async () => new X509Certificate((await generateSelfSigned({ hostnames: ['mx.example.test'] })).cert).serialNumber),
  );
  for (const serial of serials) assert.match(serial, /^[0-7][0-9A-F]{31}$/);
  assert.equal(new Set(serials).size, 3);
});

test('a CA issues a leaf that chains to it, with the authority key id set to the CA key id', async () => {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await issueCertificate({ hostnames: [], commonName: 'Example CA', ca: true, notBefore, notAfter });
  const leaf = await issueCertificate({ hostnames: ['mx.example.test'], issuer: ca, notBefore, notAfter });
  const caX = new X509Certificate(ca.cert);
  const leafX = new X509Certificate(leaf.cert);
  assert.equal(caX.ca, true);
  assert.equal(leafX.ca, false);
  assert.equal(leafX.issuer, 'CN=Example CA');
  assert.equal(leafX.checkIssued(caX), true);
  assert.equal(leafX.verify(caX.publicKey), true);
  assert.equal(leafX.verify(leafX.publicKey), false);
  const ski = (x: X509Certificate) => new x509.X509Certificate(x.raw).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const aki = new x509.X509Certificate(leafX.raw).getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  assert.ok(aki);
  assert.equal(aki, ski(caX));
  if (spawnSync('openssl', ['version']).status === 0) {
    const dir = await mkdtemp(join(tmpdir(), 'postwarden-ca-'));
    try {
      await writeFile(join(dir, 'ca.pem'), ca.cert);
      await writeFile(join(dir, 'leaf.pem'), leaf.cert);
      const out = execFileSync('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
      assert.match(out.toString(), /leaf\.pem: OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('validity starts an hour before the injected clock and lasts the given days', async () => {
  const { cert } = await generateSelfSigned({ hostnames: ['mx.example.test'], days: 10, clock: fixedClock });
  const info = certificateInfo(cert);
  assert.equal(info.notBefore, '2030-01-15T11:00:00.000Z');
  assert.equal(info.notAfter, '2030-01-25T12:00:00.000Z');
});

test('dates from 2050 on are written as GeneralizedTime and still parse', async () => {
  const clock = { now: () => Date.parse('2049-12-31T00:00:00Z') };
  const { cert } = await generateSelfSigned({ hostnames: ['mx.example.test'], days: 2, clock });
  assert.equal(certificateInfo(cert).notAfter, '2050-01-02T00:00:00.000Z');
  // RFC 5280 §4.1.2.5: GeneralizedTime (tag 0x18, 15 octets) from 2050; UTCTime (0x17) before.
  const raw = new X509Certificate(cert).raw;
  assert.ok(raw.includes(Buffer.from('\x18\x0f20500102000000Z', 'latin1')));
  assert.ok(raw.includes(Buffer.from('\x17\x0d491230230000Z', 'latin1')));
});

test('rsa-2048 is available for peers that only speak RSA suites', async () => {
  const { key, cert } = await generateSelfSigned({ hostnames: ['mx.example.test'], algorithm: 'rsa-2048' });
  const k = createPrivateKey(key);
  assert.equal(k.asymmetricKeyType, 'rsa');
  assert.equal(k.asymmetricKeyDetails?.modulusLength, 2048);
  const x = new X509Certificate(cert);
  assert.equal(x.verify(x.publicKey), true);
});

test('certificateInfo hashes the DER and the SPKI as DANE 3 0 1 and 3 1 1 would', async () => {
  const { cert } = await generateSelfSigned({ hostnames: ['mx.example.test'] });
  const info = certificateInfo(cert);
  const x = new X509Certificate(cert);
  assert.equal(info.sha256, x.fingerprint256.replace(/:/g, '').toLowerCase());
  assert.match(info.spkiSha256, /^[0-9a-f]{64}$/);
  assert.notEqual(info.spkiSha256, info.sha256);
  // openssl, when present, is an independent reader of what we wrote.
  const probe = spawnSync('openssl', ['version']);
  if (probe.status === 0) {
    const spki = execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: cert });
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: spki });
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der }).toString().split(' ')[0];
    assert.equal(info.spkiSha256, digest);
  }
});

test('no hostnames, or a hostname that is not ASCII, is a validation error', async () => {
  await assert.rejects(generateSelfSigned({ hostnames: [] }), (e) => isPostwardenError(e) && e.code === 'VALIDATION_FAILED');
  await assert.rejects(
    generateSelfSigned({ hostnames: ['mx.example.test', 'bücher.example'] }),
    (e) => isPostwardenError(e) && e.code === 'VALIDATION_FAILED' && e.details.errors?.[0]?.path === '/hostnames/1',
  );
});

test('loadOrCreateCertificate writes a 0600 key and a certificate, then reuses them', async (t) => {
  const dir = await tempDir(t);
  const first = await loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'], clock: fixedClock });
  assert.equal(first.created, true);
  assert.equal((await stat(join(dir, 'smtp-tls.key'))).mode & 0o777, 0o600);
  assert.equal(await readFile(join(dir, 'smtp-tls.crt'), 'utf8'), first.cert);
  const second = await loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'], clock: fixedClock });
  assert.equal(second.created, false);
  assert.equal(second.cert, first.cert);
  assert.equal(second.key, first.key);
  assert.deepEqual((await readdir(dir)).sort(), ['smtp-tls.crt', 'smtp-tls.key']);
});

test('concurrent callers on one directory end up with a single pair', async (t) => {
  const dir = await tempDir(t);
  const results = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'] })));
  assert.equal(results.filter((r) => r.created).length, 1);
  assert.equal(new Set(results.map((r) => r.cert)).size, 1);
  const onDisk = await readFile(join(dir, 'smtp-tls.crt'), 'utf8');
  assert.equal(onDisk, results[0]!.cert);
});

test('concurrent processes on one directory end up with a single pair', async (t) => {
  const dir = await tempDir(t);
  const module = new URL('../../src/smtp/certificate.ts', import.meta.url).href;
  const script = `const { loadOrCreateCertificate } = await import(${JSON.stringify(module)});
    const r = await loadOrCreateCertificate({ dir: ${JSON.stringify(dir)}, hostnames: ['mx.example.test'] });
    process.stdout.write(JSON.stringify(r));`;
  const run = () =>
    new Promise<{ cert: string; created: boolean }>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000 }, (err, out) =>
        err ? reject(err) : resolve(JSON.parse(out) as { cert: string; created: boolean }),
      );
    });
  const results = await Promise.all([run(), run(), run()]);
  assert.equal(results.filter((r) => r.created).length, 1);
  assert.equal(new Set(results.map((r) => r.cert)).size, 1);
  const x = new X509Certificate(await readFile(join(dir, 'smtp-tls.crt'), 'utf8'));
  assert.equal(x.checkPrivateKey(createPrivateKey(await readFile(join(dir, 'smtp-tls.key'), 'utf8'))), true);
  assert.equal(x.toString(), new X509Certificate(results[0]!.cert).toString());
});

test('a caller waits while another holds the lock, then reads the pair it wrote', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'smtp-tls.lock'), '');
  const waiting = loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'] });
  const theirs = await generateSelfSigned({ hostnames: ['mx.example.test'] });
  await writeFile(join(dir, 'smtp-tls.key'), theirs.key);
  await writeFile(join(dir, 'smtp-tls.crt'), theirs.cert);
  await unlink(join(dir, 'smtp-tls.lock'));
  const r = await waiting;
  assert.equal(r.created, false);
  assert.equal(r.cert, theirs.cert);
});

test('a lock older than any generation (left by a crash) is removed and the pair created', async (t) => {
  const dir = await tempDir(t);
  const lock = join(dir, 'smtp-tls.lock');
  await writeFile(lock, '');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  const r = await loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'] });
  assert.equal(r.created, true);
  assert.deepEqual((await readdir(dir)).sort(), ['smtp-tls.crt', 'smtp-tls.key']);
});

test('a key without its certificate (a crash between the two writes) is replaced', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'smtp-tls.key'), 'half-written');
  const r = await loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'] });
  assert.equal(r.created, true);
  assert.equal(await readFile(join(dir, 'smtp-tls.key'), 'utf8'), r.key);
});

test('a certificate without its key is a configuration error, not overwritten', async (t) => {
  const dir = await tempDir(t);
  const { cert } = await generateSelfSigned({ hostnames: ['mx.example.test'] });
  await writeFile(join(dir, 'smtp-tls.crt'), cert);
  await assert.rejects(
    loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'] }),
    (e) => isPostwardenError(e) && e.code === 'CONFIG_INVALID',
  );
  assert.equal(await readFile(join(dir, 'smtp-tls.crt'), 'utf8'), cert);
});

test('a key that does not belong to the certificate is a configuration error', async (t) => {
  const dir = await tempDir(t);
  const a = await generateSelfSigned({ hostnames: ['mx.example.test'] });
  const b = await generateSelfSigned({ hostnames: ['mx.example.test'] });
  await writeFile(join(dir, 'smtp-tls.crt'), a.cert);
  await writeFile(join(dir, 'smtp-tls.key'), b.key);
  await assert.rejects(
    loadOrCreateCertificate({ dir, hostnames: ['mx.example.test'] }),
    (e) => isPostwardenError(e) && e.code === 'CONFIG_INVALID' && /does not belong/.test(e.message),
  );
});
