import type { PostureArea } from './finding.js';

/**
 * Compliance mapping as data: which controls a finding evidences. A finding in an area speaks to the
 * area's controls; a few ids add more (an unapproved MX is also a change-management question).
 * Auditors read this table in the evidence report, so wording follows the frameworks' own names.
 */
export interface Control {
  id: string;
  framework: string;
  reference: string;
  title: string;
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
    id: 'sox-itgc-cm',
    framework: 'SOX ITGC',
    reference: 'Change management',
    title: 'Changes to production systems are authorized and tracked',
  },
];

const TRANSPORT = ['gdpr-art32', 'hipaa-164.312e1', 'pci-4.2.1', 'iso27001-a8.21', 'iso27001-a5.14'];
const AUTHENTICATION = ['gdpr-art32', 'iso27001-a8.21', 'iso27001-a5.14'];

export const areaControls: Record<PostureArea, string[]> = {
  mx: ['gdpr-art32', 'iso27001-a8.21', 'iso27001-a5.14'],
  spf: AUTHENTICATION,
  dkim: AUTHENTICATION,
  dmarc: AUTHENTICATION,
  bimi: ['iso27001-a5.14'],
  'mta-sts': TRANSPORT,
  'tls-rpt': ['iso27001-a8.21', 'hipaa-164.312e1'],
  dnssec: TRANSPORT,
  dane: TRANSPORT,
};

/** Extra controls per finding id, on top of its area's. */
export const extraControls: Record<string, string[]> = {
  'mx.unapproved': ['sox-itgc-cm', 'hipaa-164.312e1'],
  'spf.plus-all': ['sox-itgc-cm'],
  'dkim.key-missing': ['sox-itgc-cm'],
  'mta-sts.certificate-expiring': ['sox-itgc-cm'],
};

export function controlsFor(area: PostureArea, id: string): string[] {
  return [...new Set([...areaControls[area], ...(extraControls[id] ?? [])])].sort();
}
