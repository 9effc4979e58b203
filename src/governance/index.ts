export { loadOrCreateMasterKey } from './master-key.js';
