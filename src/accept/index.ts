export { type Accept, type AcceptContent, type AcceptDeps, type AcceptedMessage, type AcceptedRecipient, createAccept } from './accept.js';
export { type Attachment, parseSendRequest, type SendParse, type SendRequest } from './send-request.js';
