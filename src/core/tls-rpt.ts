/**
 * RFC 8460 §4.3 result types: what a TLS-RPT report calls each kind of failure. One union for the
 * sender side (transport-policy judges a handshake) and the receiving side (feedback parses reports).
 */
export type TlsRptResultType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';
