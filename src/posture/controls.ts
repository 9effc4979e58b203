import type { PostureArea } from './finding.js';

/**
 * Compliance mapping as data: which controls a finding evidences. A finding in an area speaks to the
 * area's controls; a few ids add more (an unapproved MX is also a change-management question).
 * Auditors read this table in the evidence report, so wording follows the frameworks' own names.
 *
 * The SOC 2 criteria (AICPA Trust Services Criteria, 2017, revised points of focus 2022) rest on more
 * than DNS: each names the evidence the platform keeps for it (`evidence`), and the findings of the
 * platform's self-assessment map to them too (`selfAssessmentControls`).
 */
export interface Control {
  id: string;
  framework: string;
  reference: string;
  title: string;
  /** What the platform keeps that supports the control, beyond the findings mapped to it. */
  evidence?: string[];
}

export const controls: readonly Control[] = [
  { id: 'gdpr-art32', framework: 'GDPR', reference: 'Art. 32', title: 'Security of processing (encryption, integrity of systems)' },
  {
    id: 'hipaa-164.312e1',
    framework: 'HIPAA',
    reference: '§164.312(e)(1)',
    title: 'Transmission security: guard against unauthorized access to ePHI in transit',
  },
  {
    id: 'pci-4.2.1',
    framework: 'PCI DSS 4.0',
    reference: 'Req. 4.2.1',
    title: 'Strong cryptography with trusted certificates protects data over open, public networks',
  },
  { id: 'iso27001-a8.21', framework: 'ISO/IEC 27001:2022', reference: 'A.8.21', title: 'Security of network services' },
  { id: 'iso27001-a5.14', framework: 'ISO/IEC 27001:2022', reference: 'A.5.14', title: 'Information transfer' },
  {
    id: 'iso27001-a5.19',
    framework: 'ISO/IEC 27001:2022',
    reference: 'A.5.19',
    title: 'Information security in supplier relationships',
  },
  {
    id: 'sox-itgc-cm',
    framework: 'SOX ITGC',
    reference: 'Change management',
    title: 'Changes to production systems are authorized and tracked',
  },
  {
    id: 'soc2-cc6.1',
    framework: 'SOC 2',
    reference: 'CC6.1',
    title: 'Logical access security software, infrastructure and architectures protect information assets',
    evidence: [
      'Role-based access: every /v1 route and every CLI command needs one permission from one table, and is refused when it has none (docs/access.md)',
      'API keys kept only as SHA-256 hashes, scoped and revocable; user sessions with TOTP or single sign-on (docs/access.md)',
      'Hash-chained audit log of sensitive actions, written in the same transaction as the change, with signed checkpoints: postwarden audit verify (docs/governance.md)',
    ],
  },
  {
    id: 'soc2-cc6.7',
    framework: 'SOC 2',
    reference: 'CC6.7',
    title: 'The transmission, movement and removal of information is restricted to authorized parties and protected',
    evidence: [
      'TLS evidence of every delivery attempt (version, cipher, certificate, PKIX or DANE verdict), MTA-STS and DANE enforcement, the tenant TLS policy (docs/transport-security.md)',
      'Classification policies that hold classified mail to verified or DANE-authenticated TLS, never opportunistic (docs/classification.md)',
      'Records of processing: deliveries per classification by TLS evidence (this report)',
      'Envelope encryption of message content at rest (docs/encryption.md)',
      "Self-assessment of the platform's own listeners: TLS versions and suites, certificates, STARTTLS (this report)",
    ],
  },
  {
    id: 'soc2-cc7.2',
    framework: 'SOC 2',
    reference: 'CC7.2',
    title: 'System components are monitored for anomalies indicative of malicious acts, natural disasters and errors',
    evidence: [
      'Anomaly alerts from the events spine (volume, bounce and complaint spikes, a key sending from a new address, failed authentication bursts, DMARC failures), thresholds in rules/anomalies.yaml, forwarded to a SIEM as syslog or CEF (docs/compliance.md)',
      'DNS posture monitoring of managed and watched domains, changes raised as dns.alert events (docs/posture.md)',
      'Continuous self-assessment on a schedule, regressions raised as self_assessment.regressed events (this report)',
    ],
  },
  {
    id: 'soc2-cc7.3',
    framework: 'SOC 2',
    reference: 'CC7.3',
    title: 'Security events are evaluated to determine whether they are incidents, and incidents are responded to',
    evidence: [
      'Incident records with a timeline, linked messages, events, DNS changes and keys, and a notification clock per regime (GDPR Art. 33: 72 hours; HIPAA §164.404: 60 days) with reminders before each deadline (docs/compliance.md)',
      'Signed message trace bundles that an investigator verifies offline: postwarden trace verify (docs/compliance.md)',
    ],
  },
];

const TRANSPORT = ['gdpr-art32', 'hipaa-164.312e1', 'pci-4.2.1', 'iso27001-a8.21', 'iso27001-a5.14', 'soc2-cc6.7'];
const AUTHENTICATION = ['gdpr-art32', 'iso27001-a8.21', 'iso27001-a5.14'];

export const areaControls: Record<PostureArea, string[]> = {
  mx: ['gdpr-art32', 'iso27001-a8.21', 'iso27001-a5.14'],
  spf: AUTHENTICATION,
  dkim: AUTHENTICATION,
  dmarc: AUTHENTICATION,
  bimi: ['iso27001-a5.14'],
  'mta-sts': TRANSPORT,
  // TLS-RPT is how failures of transport encryption get reported to the domain: monitoring (CC7.2).
  'tls-rpt': ['iso27001-a8.21', 'hipaa-164.312e1', 'soc2-cc7.2'],
  dnssec: TRANSPORT,
  dane: TRANSPORT,
  // A supplier sending as the organisation's own name is a supplier-relationship question first.
  'third-party': ['iso27001-a5.19', 'iso27001-a5.14'],
};

/** Extra controls per finding id, on top of its area's. */
export const extraControls: Record<string, string[]> = {
  'mx.unapproved': ['sox-itgc-cm', 'hipaa-164.312e1'],
  'spf.plus-all': ['sox-itgc-cm'],
  'dkim.key-missing': ['sox-itgc-cm'],
  'mta-sts.certificate-expiring': ['sox-itgc-cm'],
};

/**
 * Controls per check of the platform's self-assessment (src/self-assessment): weak transport on our
 * own listeners is a transmission-security matter, an open relay an access-control one. Checks not
 * listed (an unreachable listener, the dependency audit) map to none of the controls above.
 */
export const selfAssessmentControls: Record<string, string[]> = {
  'tls-legacy-version': ['gdpr-art32', 'pci-4.2.1', 'soc2-cc6.7'],
  'tls-weak-cipher': ['gdpr-art32', 'pci-4.2.1', 'soc2-cc6.7'],
  'certificate-expired': ['pci-4.2.1', 'soc2-cc6.7'],
  'certificate-expiring': ['soc2-cc6.7'],
  'certificate-untrusted': ['pci-4.2.1', 'soc2-cc6.7'],
  'starttls-missing': ['gdpr-art32', 'hipaa-164.312e1', 'soc2-cc6.7'],
  'open-relay': ['soc2-cc6.1'],
};

export function controlsFor(area: PostureArea, id: string): string[] {
  return [...new Set([...areaControls[area], ...(extraControls[id] ?? [])])].sort();
}
