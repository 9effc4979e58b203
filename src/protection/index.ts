export { addressHash } from './address-hash.js';
export {
  bytesKeyId,
  ENVELOPE_BYTES_MAGIC_HEX,
  ENVELOPE_TEXT_PREFIX,
  EnvelopeError,
  openBytes,
  openText,
  sealBytes,
  sealText,
  textKeyId,
} from './envelope.js';
export { createHttpKekProvider, type HttpKekOptions } from './http-kms.js';
export { createKeyCache, type KeyCache } from './key-cache.js';
export { createLocalKekProvider, type KekProvider, kekFingerprint, type LocalKekProvider, type WrapContext } from './kms.js';
export { type EncryptionSettings, storeEncryptionFrom } from './providers.js';
