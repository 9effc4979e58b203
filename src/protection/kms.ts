import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Key-encryption keys (KEKs). A tenant's data key is stored only wrapped by a KEK, which lives
 * outside the database: in the node's key files (the local provider) or in an external KMS (Vault
 * transit, a cloud KMS behind a Vault-transit-shaped gateway; http-kms.ts). Rotating a KEK re-wraps
 * the data keys, never the data.
 *
 * `kekId` says which KEK generation wrapped a key, so a rotation knows what is left to re-wrap and a
 * restored database without its key files fails with a name rather than garbage.
 */
export interface WrapContext {
  tenantId: string;
  dataKeyId: string;
  /** The tenant's own key in the external KMS (BYOK); the provider's default when absent. */
  keyRef?: string | null;
}

export interface KekProvider {
  readonly name: 'local' | 'external';
  wrap(dataKey: Buffer, ctx: WrapContext): Promise<{ wrapped: string; kekId: string }>;
  unwrap(wrapped: string, kekId: string, ctx: WrapContext): Promise<Buffer>;
}

/** The local provider, with rotation: the node master key is generation zero. */
export interface LocalKekProvider extends KekProvider {
  readonly name: 'local';
  /** The KEK new wraps use now (re-read from disk, so a rotation by another process is seen). */
  currentKekId(): string;
  /**
   * A rotation in three steps, so the decision can be recorded between them: `create` writes a new
   * generation's key file (not yet used for anything) and returns its id; `use` makes it current once
   * the rotation is recorded; `discard` removes it when the recording failed. Older generations stay
   * for unwrapping.
   */
  create(): string;
  /** Makes generation `kekId` current (idempotent); throws when this node has no such key file. */
  use(kekId: string): void;
  /** Removes a generation nothing can be wrapped by yet (created, never current); refuses the current one. */
  discard(kekId: string): void;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The same fingerprint governance/crypto.ts gives the master key, so both name it alike. */
export function kekFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('postwarden/master-key-id').digest().subarray(0, 6).toString('base64url');
}

const wrapKey = (kek: Buffer) => Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'postwarden/kek-wrap/v1', KEY_BYTES));
const aadOf = (ctx: WrapContext) => Buffer.from(`postwarden/data-key|${ctx.tenantId}|${ctx.dataKeyId}`, 'utf8');

export function wrapWithKey(kek: Buffer, dataKey: Buffer, ctx: WrapContext): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', wrapKey(kek), iv, { authTagLength: TAG_BYTES });
  c.setAAD(aadOf(ctx));
  return Buffer.concat([iv, c.update(dataKey), c.final(), c.getAuthTag()]).toString('base64url');
}

export function unwrapWithKey(kek: Buffer, wrapped: string, ctx: WrapContext): Buffer {
  const b = Buffer.from(wrapped, 'base64url');
  const d = createDecipheriv('aes-256-gcm', wrapKey(kek), b.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  d.setAAD(aadOf(ctx));
  d.setAuthTag(b.subarray(b.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(b.subarray(IV_BYTES, b.length - TAG_BYTES)), d.final()]);
  } catch {
    throw new Error(`data key ${ctx.dataKeyId} of ${ctx.tenantId} does not unwrap: altered, or wrapped for another key`);
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * Generation zero is the node master key (security.masterKeyFile, today's key). Later generations
 * are files `<kekId>.key` (mode 0600) in `dir`, and `dir/current` names the one in use. A generation
 * is written before `current` points at it, so no data key is ever wrapped by a key that is not on
 * disk; a crash between the two leaves at worst an unused key file.
 */
export function createLocalKekProvider(opts: { masterKey: Buffer; dir: string }): LocalKekProvider {
  if (opts.masterKey.length !== KEY_BYTES) throw new TypeError('the master key must be 32 bytes');
  const keys = new Map<string, Buffer>([[kekFingerprint(opts.masterKey), opts.masterKey]]);
  const load = (): void => {
    let names: string[] = [];
    try {
      names = readdirSync(opts.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const n of names) {
      const m = /^([A-Za-z0-9_-]+)\.key$/.exec(n);
      if (!m?.[1] || keys.has(m[1])) continue;
      const file = join(opts.dir, n);
      if ((statSync(file).mode & 0o077) !== 0) throw new Error(`key file ${file} is readable by group or others; run chmod 600 ${file}`);
      const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
      if (key.length === KEY_BYTES && kekFingerprint(key) === m[1]) keys.set(m[1], key);
    }
  };
  const keyFor = (kekId: string): Buffer => {
    if (!keys.has(kekId)) load();
    const k = keys.get(kekId);
    if (!k) throw new Error(`key-encryption key ${kekId} is not among this node's key files (${opts.dir}): restore it`);
    return k;
  };
  const current = (): string => {
    try {
      return readFileSync(join(opts.dir, 'current'), 'utf8').trim() || kekFingerprint(opts.masterKey);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return kekFingerprint(opts.masterKey);
    }
  };
  return {
    name: 'local',
    currentKekId: current,
    async wrap(dataKey, ctx) {
      const kekId = current();
      return { wrapped: wrapWithKey(keyFor(kekId), dataKey, ctx), kekId };
    },
    async unwrap(wrapped, kekId, ctx) {
      return unwrapWithKey(keyFor(kekId), wrapped, ctx);
    },
    create() {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      const key = randomBytes(KEY_BYTES);
      const kekId = kekFingerprint(key);
      writeAtomic(join(opts.dir, `${kekId}.key`), `${key.toString('base64')}\n`);
      keys.set(kekId, key);
      return kekId;
    },
    use(kekId) {
      if (current() === kekId) return;
      keyFor(kekId);
      writeAtomic(join(opts.dir, 'current'), `${kekId}\n`);
    },
    discard(kekId) {
      if (kekId === current() || kekId === kekFingerprint(opts.masterKey)) throw new Error(`key-encryption key ${kekId} is in use`);
      keys.delete(kekId);
      rmSync(join(opts.dir, `${kekId}.key`), { force: true });
    },
  };
}
