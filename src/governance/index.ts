export { masterKeyId, openSecret, SecretOpenError, type SecretOpenFailure, sealSecret } from './crypto.js';
export { loadOrCreateMasterKey } from './master-key.js';
