import type { KekProvider, WrapContext } from './kms.js';

/**
 * An external KMS over HTTP, speaking the Vault transit shape (the de facto one; cloud KMS gateways
 * and Vault-compatible servers such as OpenBao answer it too):
 *
 *     POST {url}/encrypt/{keyRef}  {"plaintext": b64, "context": b64}  → {"data": {"ciphertext": "vault:v3:…"}}
 *     POST {url}/decrypt/{keyRef}  {"ciphertext": "…", "context": b64} → {"data": {"plaintext": b64}}
 *
 * The data key never leaves this process except to the KMS, over the configured URL. The tenant id
 * goes as the derivation context, so one tenant's wrapped key cannot be unwrapped as another's
 * (Vault: a `derived` transit key). BYOK: a tenant's `keyRef` names its own key in that KMS.
 */
export interface HttpKekOptions {
  url: string;
  /** Header carrying the credential, e.g. X-Vault-Token or Authorization. */
  authHeader: string;
  authToken: string;
  defaultKeyRef: string;
  timeoutMs: number;
}

export function createHttpKekProvider(opts: HttpKekOptions): KekProvider {
  const base = opts.url.replace(/\/+$/, '');
  async function call(op: 'encrypt' | 'decrypt', keyRef: string, body: Record<string, string>): Promise<Record<string, unknown>> {
    const url = `${base}/${op}/${encodeURIComponent(keyRef)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(opts.authToken ? { [opts.authHeader]: opts.authToken } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (e) {
      throw new Error(`external KMS at ${base} did not answer ${op} for key ${keyRef}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`external KMS ${op} for key ${keyRef} answered ${res.status}: ${text.slice(0, 200)}`);
    const data = (JSON.parse(text) as { data?: Record<string, unknown> }).data;
    if (!data) throw new Error(`external KMS ${op} for key ${keyRef} answered without a data object`);
    return data;
  }
  const context = (ctx: WrapContext) => Buffer.from(ctx.tenantId, 'utf8').toString('base64');
  return {
    name: 'external',
    async wrap(dataKey, ctx) {
      const keyRef = ctx.keyRef || opts.defaultKeyRef;
      const data = await call('encrypt', keyRef, { plaintext: dataKey.toString('base64'), context: context(ctx) });
      const ciphertext = data.ciphertext;
      if (typeof ciphertext !== 'string') throw new Error(`external KMS encrypt for key ${keyRef} answered no ciphertext`);
      // Vault prefixes the key version (vault:v3:…): the KEK generation, for rotation bookkeeping.
      const version = /^[a-z]+:(v\d+):/.exec(ciphertext)?.[1] ?? 'v0';
      return { wrapped: ciphertext, kekId: `${keyRef}@${version}` };
    },
    async unwrap(wrapped, kekId, ctx) {
      const keyRef = kekId.includes('@') ? kekId.slice(0, kekId.lastIndexOf('@')) : ctx.keyRef || opts.defaultKeyRef;
      const data = await call('decrypt', keyRef, { ciphertext: wrapped, context: context(ctx) });
      const key = typeof data.plaintext === 'string' ? Buffer.from(data.plaintext, 'base64') : undefined;
      if (key?.length !== 32) throw new Error(`external KMS decrypt for key ${keyRef} did not give back a 32-byte data key`);
      return key;
    },
  };
}
