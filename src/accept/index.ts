export { type Accept, type AcceptDeps, type AcceptedMessage, type AcceptedRecipient, createAccept } from './accept.js';
export { type Attachment, metadataFrom, parseSendRequest, type SendParse, type SendRequest, tagsFrom } from './send-request.js';
export type { SendWarning } from './send-variants.js';
