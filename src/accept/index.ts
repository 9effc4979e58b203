export {
  type Accept,
  type AcceptClassification,
  type AcceptContent,
  type AcceptDeps,
  type AcceptedMessage,
  type AcceptedRecipient,
  createAccept,
} from './accept.js';
export { instrumentAccept } from './accept-metrics.js';
export { type CancelInput, type CancelOutcome, createMessageChanges, type LabelsInput, type MessageChanges } from './message-changes.js';
export { type Attachment, metadataFrom, parseSendRequest, type SendParse, type SendRequest, tagsFrom } from './send-request.js';
export type { SendWarning } from './send-variants.js';
export { createSendingPolicy, type SendingPolicy, type SendingPolicyDeps } from './sending-policy.js';
