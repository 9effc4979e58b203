/**
 * Is this message a bounce, and who wrote it? Signatures are phrases that bounce templates have
 * carried for decades (Postfix's "This is the mail system at host", qmail's "Hi. This is the
 * qmail-send program", Exchange's "Diagnostic information for administrators"). The vendor label is
 * evidence for humans and for statistics; parsing never depends on it.
 */
import { fieldValue } from './header-fields.js';
import type { MailMessage } from './mail-message.js';

export type BounceVendor =
  | 'exchange'
  | 'postfix'
  | 'exim'
  | 'sendmail'
  | 'qmail'
  | 'courier'
  | 'lotus-domino'
  | 'mdaemon'
  | 'groupwise'
  | 'gmail'
  | 'yahoo'
  | 'amazon-ses'
  | 'hotmail'
  | 'mimecast'
  | 'apache-james'
  | 'kddi'
  | 'mfilter'
  | 'fml'
  | 'opensmtpd'
  | 'generic';

/** In order: MTA templates before providers, since a provider's name appears in relayed replies. */
const SIGNATURES: readonly [BounceVendor, RegExp][] = [
  // Written from each product's public bounce template (see test/fixtures/feedback/README.md).
  ['apache-james', /This is the James mail server|^Subject: \[BOUNCE\]/im],
  ['mfilter', /m-FILTER/],
  ['kddi', /Could not be delivered to:\s*</i],
  ['opensmtpd', /This is the MAILER-DAEMON, please DO NOT REPLY|An error has occurred while attempting to deliver a message for/i],
  [
    'exchange',
    /did not reach some or all of the intended recipients|The following recipient\(s\) could not be reached|Delivery has failed to these recipients|Diagnostic information for administrators|Remote Server returned '|Your message to \S+ couldn.?t be delivered|Microsoft Exchange Server|Original message headers:|#\d{3} \d\.\d+\.\d+ [A-Z]+\.[A-Z]+\./i,
  ],
  ['postfix', /This is the mail system at host|X-Postfix|Undelivered Mail Returned to Sender|Postfix program/i],
  [
    'exim',
    /This message was created automatically by mail delivery software|A message that you sent could not be delivered to one or more of its|SMTP error from remote mail server after|retry timeout exceeded/i,
  ],
  [
    'sendmail',
    /The original message was received at|Transcript of session follows|Returned mail: see transcript|-----\s*The following addresses had (permanent )?fatal errors/i,
  ],
  ['qmail', /This is the qmail-send program|I'm afraid I wasn't able to deliver your message|Below this line is a copy of the message/i],
  ['courier', /Courier mail server|This is a delivery status notification from/i],
  ['lotus-domino', /Lotus Domino|Domino Directory|Delivery Failure Report/i],
  ['mdaemon', /MDaemon/i],
  ['groupwise', /GroupWise/i],
  ['gmail', /Google tried to deliver your message|The response from the remote server was:/i],
  ['yahoo', /Sorry, we were unable to deliver your message to the following address/i],
  ['amazon-ses', /An error occurred while trying to deliver the mail to the following recipients/i],
  ['hotmail', /Delivery to the following recipients failed\./i],
];

/** Providers that send their own bounces, recognised by the bounce's sender domain. */
const SENDER_DOMAINS: readonly [BounceVendor, RegExp][] = [
  ['gmail', /@(googlemail|gmail|google)\.com$/i],
  ['yahoo', /@(yahoo(-inc)?|aol|ymail)\.[a-z.]+$/i],
  ['amazon-ses', /@([\w-]+\.)*amazonses\.com$/i],
  ['hotmail', /@(hotmail|outlook|live|msn)\.[a-z.]+$/i],
  ['mimecast', /@([\w-]+\.)*mimecast\.[a-z.]+$/i],
];

export function bounceVendor(msg: MailMessage): BounceVendor {
  if (isListManager(msg)) return 'fml';
  const haystack = [
    msg.from.join(' '),
    `Subject: ${msg.subject}`,
    msg.text.slice(0, 6000),
    ...msg.headers
      .filter((h) => /^(x-|reporting-mta|received$)/i.test(h.name))
      .map((h) => `${h.name}: ${h.value}`)
      .slice(0, 30),
  ].join('\n');
  if (msg.headers.some((h) => /^x-ms-exchange-message-is-ndr$/i.test(h.name))) return 'exchange';
  for (const [vendor, re] of SENDER_DOMAINS) if (msg.from.some((a) => re.test(a))) return vendor;
  for (const [vendor, re] of SIGNATURES) if (re.test(haystack)) return vendor;
  if (/mimecast/i.test(haystack)) return 'mimecast';
  return 'generic';
}

const BOUNCE_SENDER = /^(mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|mail\.?delivery|double-bounce)@/i;

/** The sender is a mail system (MAILER-DAEMON, postmaster): it writes bounces, never vacation notices. */
export function isMailSystemSender(msg: MailMessage): boolean {
  const fromHeader = fieldValue(msg.headers, 'from') ?? '';
  return msg.from.some((a) => BOUNCE_SENDER.test(a)) || BOUNCE_NAME.test(fromHeader.replace(/^["\s]+/, ''));
}

/** fml (and lists built like it) mark their own notices with X-MLServer / X-ML-Name. */
function isListManager(msg: MailMessage): boolean {
  return /^\s*fml\b/i.test(fieldValue(msg.headers, 'x-mlserver') ?? '');
}
const LIST_REJECTION =
  /not a member|only members (are|may)|(posting|message|mail) (was |has been )?(rejected|refused|denied)|not (permitted|allowed) to post/i;
const BOUNCE_NAME =
  /^(Mail Delivery (System|Subsystem|Service)|Mail Administrator|Microsoft Outlook|Postmaster|MAILER-DAEMON|Mail Delivery Subsystem)/i;
const BOUNCE_SUBJECT =
  /\[BOUNCE\]|Delivery Status Notification|non-?deliverable|could not (send|deliver)|error (sending|delivering)|delivery error|Final Failure|Notification d.[ée]tat|[ée]chec de (la )?(remise|distribution)|Mail (System )?Error|Warning: message \S+ delayed|failure notice|Mail failure|Returned mail|配信エラー|送信エラー|undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem|report|notification)|returned mail|failure notice|could not be delivered|non-?delivery|mail delivery failed|delivery (incomplete|delayed)|Unzustellbar|Nicht zustellbar|Zustellung (fehlgeschlagen|verzögert)|Non remis|Non distribuable|Non recapitabile|No se puede entregar|No entregado|Onbestelbaar|Não entregue|Mail System Error|Returned to Sender|message not delivered|Warning: could not send/i;
const FAILURE_TEXT =
  /could not be delivered|couldn.?t be delivered|wasn.?t delivered|was not delivered|delivery (has )?failed|failed permanently|permanent (fatal )?errors?|unable to deliver|undeliverable|not able to deliver|konnte nicht zugestellt|nicht zugestellt werden|n'a pas pu être remis|no se pudo entregar|non è stato possibile recapitare|user unknown|mailbox (unavailable|full)|temporarily deferred|will be retried|delayed|did not reach|could not be reached|Could not be delivered to|has not yet been delivered|wasn.?t able to deliver|error has occurred while attempting to deliver|n.a pas (été|pu être) (distribu|remis|livr)|adresse (est )?introuvable|no se (ha )?pudo entregar|no ha podido ser entregado|non (è stato|e.) (possibile )?(recapitat|consegnat)|送信に失敗|送信できませんでした|配信できませんでした|届きませんでした/i;

/** Reasons to treat a message as a bounce; empty when there are none. */
export function bounceEvidence(msg: MailMessage): string[] {
  const evidence: string[] = [];
  const fromHeader = fieldValue(msg.headers, 'from') ?? '';
  if (msg.contentType === 'multipart/report' && /delivery-status/i.test(msg.contentTypeParams['report-type'] ?? '')) {
    evidence.push('multipart/report; report-type=delivery-status');
  }
  if (fieldValue(msg.headers, 'x-failed-recipients')) evidence.push('X-Failed-Recipients header');
  if (msg.headers.some((h) => /^x-ms-exchange-message-is-ndr$/i.test(h.name))) evidence.push('X-MS-Exchange-Message-Is-Ndr header');
  const senderLooksLikeDaemon = isMailSystemSender(msg);
  const subjectLooksLikeBounce = BOUNCE_SUBJECT.test(msg.subject);
  const textLooksLikeFailure = FAILURE_TEXT.test(msg.text.slice(0, 4000));
  // RFC 3834 §2: a mail system's automatic message marks itself Auto-Submitted; from MAILER-DAEMON
  // that is a delivery report, whatever language its subject is in.
  const autoSubmitted = /^auto-(replied|generated)/i.test(fieldValue(msg.headers, 'auto-submitted') ?? '');
  if (senderLooksLikeDaemon && (subjectLooksLikeBounce || textLooksLikeFailure || autoSubmitted))
    evidence.push(`sender ${msg.from[0] ?? fromHeader} is a mail system`);
  if (subjectLooksLikeBounce && textLooksLikeFailure) evidence.push(`subject "${msg.subject.slice(0, 80)}"`);
  if (isListManager(msg) && LIST_REJECTION.test(`${msg.subject}\n${msg.text.slice(0, 2000)}`))
    evidence.push('mailing-list manager refused the message');
  return evidence;
}
