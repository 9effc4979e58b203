/**
 * Known sending services by the SPF include they publish. Data, not code: a match names the service
 * in the third-party sender inventory; an unknown include is listed under its own domain. `mailbox`
 * marks hosts of people's mailboxes (not bulk or application senders). Sources:
 * each provider's public SPF setup documentation.
 */
export const knownSenders: readonly { suffix: string; service: string; mailbox?: true }[] = [
  { suffix: '_spf.google.com', service: 'Google Workspace', mailbox: true },
  { suffix: 'spf.protection.outlook.com', service: 'Microsoft 365', mailbox: true },
  { suffix: 'amazonses.com', service: 'Amazon SES' },
  { suffix: 'sendgrid.net', service: 'SendGrid' },
  { suffix: 'mailgun.org', service: 'Mailgun' },
  { suffix: 'servers.mcsv.net', service: 'Mailchimp' },
  { suffix: 'mandrillapp.com', service: 'Mailchimp Transactional (Mandrill)' },
  { suffix: 'spf.mtasv.net', service: 'Postmark' },
  { suffix: '_spf.salesforce.com', service: 'Salesforce' },
  { suffix: 'zendesk.com', service: 'Zendesk' },
  { suffix: 'spf.brevo.com', service: 'Brevo' },
  { suffix: 'sparkpostmail.com', service: 'SparkPost' },
  { suffix: 'mail.zendesk.com', service: 'Zendesk' },
  { suffix: '_spf.hubspotemail.net', service: 'HubSpot' },
  { suffix: 'spf.messagingengine.com', service: 'Fastmail', mailbox: true },
  { suffix: 'zoho.com', service: 'Zoho Mail', mailbox: true },
];

function knownSender(domain: string): (typeof knownSenders)[number] | undefined {
  const d = domain.toLowerCase();
  let best: (typeof knownSenders)[number] | undefined;
  for (const k of knownSenders) {
    if ((d === k.suffix || d.endsWith(`.${k.suffix}`)) && (!best || k.suffix.length > best.suffix.length)) best = k;
  }
  return best;
}

export function serviceFor(domain: string): string | undefined {
  return knownSender(domain)?.service;
}

/**
 * A mailbox host (`mailbox: true`): where the organisation's people send from, as the organisational
 * domain by design; subdomain delegation proposals leave it alone.
 */
export function isMailboxHost(domain: string): boolean {
  return knownSender(domain)?.mailbox === true;
}
