import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * A loopback stand-in for Vault transit: its own AES-256-GCM key per key name, the derivation
 * context bound as associated data, a token required. Deleting a key name is what a tenant revoking
 * its BYOK key looks like.
 */
export async function startTransitStub(t: TestContext, token: string) {
  const keys = new Map<string, Buffer>();
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const reply = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.headers['x-vault-token'] !== token) return reply(403, { errors: ['permission denied'] });
      const m = /^\/v1\/transit\/(encrypt|decrypt)\/([\w-]+)$/.exec(req.url ?? '');
      if (!m) return reply(404, { errors: ['no route'] });
      const [, op, name] = m as unknown as [string, 'encrypt' | 'decrypt', string];
      calls.push(`${op} ${name}`);
      const input = JSON.parse(body) as { plaintext?: string; ciphertext?: string; context: string };
      if (op === 'encrypt' && !keys.has(name)) keys.set(name, randomBytes(32));
      const key = keys.get(name);
      if (!key) return reply(400, { errors: [`encryption key not found: ${name}`] });
      const aad = Buffer.from(input.context, 'base64');
      if (op === 'encrypt') {
        const iv = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
        const ct = Buffer.concat([iv, c.update(Buffer.from(input.plaintext ?? '', 'base64')), c.final(), c.getAuthTag()]);
        return reply(200, { data: { ciphertext: `vault:v1:${ct.toString('base64')}` } });
      }
      try {
        const b = Buffer.from((input.ciphertext ?? '').replace(/^vault:v\d+:/, ''), 'base64');
        const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12)).setAAD(aad);
        d.setAuthTag(b.subarray(b.length - 16));
        const plain = Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
        return reply(200, { data: { plaintext: plain.toString('base64') } });
      } catch {
        return reply(400, { errors: ['cipher: message authentication failed'] });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r(undefined))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/transit`, keys, calls };
}
