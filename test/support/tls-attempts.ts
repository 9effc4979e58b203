import { newId } from '../../src/core/index.js';
import type { TlsAttemptRow } from '../../src/store/index.js';

/**
 * A stored TLS attempt as delivery writes it: delivered over verified TLS 1.3 to mx.a.test for tenant
 * `ten_a` at `at`; tests override what they count by.
 */
export function tlsAttemptRow(at: number, over: Partial<TlsAttemptRow> = {}): TlsAttemptRow {
  return {
    id: newId('att'),
    tenantId: 'ten_a',
    messageId: newId('msg'),
    recipientId: newId('rcp'),
    stream: 'transactional',
    domain: 'a.test',
    at,
    outcome: 'delivered',
    sessionId: newId('att'),
    mxHost: 'mx.a.test',
    ip: '127.0.0.1',
    tls: true,
    verified: true,
    enforcedBy: null,
    policySource: 'tenant',
    policyMode: 'opportunistic',
    tenantPolicy: 'opportunistic',
    mtaStsId: null,
    mtaStsMode: null,
    dane: null,
    tlsVersion: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    certSha256: 'ab',
    verification: 'pkix-valid',
    rptPolicyType: 'no-policy-found',
    rptPolicyString: [],
    rptMxPatterns: [],
    rptResult: null,
    rptReason: null,
    ...over,
  };
}
