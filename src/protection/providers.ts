import { join } from 'node:path';
import { createHttpKekProvider } from './http-kms.js';
import { createLocalKekProvider, type KekProvider, type LocalKekProvider } from './kms.js';

/** The `encryption.*` settings (config/schema.ts). */
export interface EncryptionSettings {
  enabled: boolean;
  provider: 'local' | 'external';
  keyDir: string;
  cacheMaxKeys: number;
  cacheTtlSeconds: number;
  external: { url: string; authHeader: string; authToken: string; defaultKeyRef: string; timeoutMs: number };
}

/**
 * What the store's encryption needs, from the settings and the node master key: the same for the
 * server and the CLI, so both open the same keys.
 */
export function storeEncryptionFrom(
  s: EncryptionSettings,
  o: { masterKey: Buffer; dataDir: string; now?: () => number },
): {
  enabled: boolean;
  provider: 'local' | 'external';
  local: LocalKekProvider;
  external?: KekProvider;
  cacheMaxKeys: number;
  cacheTtlMs: number;
  now?: () => number;
} {
  if (s.provider === 'external' && !s.external.url) throw new Error('encryption.provider is external but encryption.external.url is empty');
  const local = createLocalKekProvider({ masterKey: o.masterKey, dir: s.keyDir || join(o.dataDir, 'kek') });
  return {
    enabled: s.enabled,
    provider: s.provider,
    local,
    ...(s.external.url ? { external: createHttpKekProvider(s.external) } : {}),
    cacheMaxKeys: s.cacheMaxKeys,
    cacheTtlMs: s.cacheTtlSeconds * 1000,
    ...(o.now ? { now: o.now } : {}),
  };
}
