export {
  type CertificateInfo,
  certificateInfo,
  generateSelfSigned,
  type KeyAlgorithm,
  loadOrCreateCertificate,
} from './certificate.js';
export { createInboundMx, type InboundMx, type InboundMxLog, type InboundMxOptions } from './inbound-mx.js';
export {
  builtinOverride,
  hasEnhancedCode,
  protocolReplies,
  queuedReply,
  replyFor,
  type SmtpReply,
  type SmtpServerError,
  smtpCodesFor,
  smtpError,
} from './replies.js';
export { createSubmissionServer, type SubmissionLog, type SubmissionOptions, type SubmissionServer } from './submission.js';
