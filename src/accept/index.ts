export { type Accept, type AcceptDeps, type AcceptedMessage, type AcceptedRecipient, createAccept } from './accept.js';
export { instrumentAccept } from './accept-metrics.js';
export { type Attachment, parseSendRequest, type SendParse, type SendRequest } from './send-request.js';
