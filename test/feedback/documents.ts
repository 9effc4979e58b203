import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { deriveVerpKey, encodeVerp } from '../../src/identity/index.js';
import type { SuppressionRow } from '../../src/store/index.js';
import type { TestPlatform } from '../support/platform.js';

/**
 * Feedback documents for end-to-end tests, written from the RFCs (RFC 3464 DSN, RFC 5965 ARF,
 * RFC 3834 auto-reply) around a message the test platform really sent, so attribution works.
 */
export interface Sent {
  id: string;
  messageIdHeader: string;
  recipients: { id: string; email: string }[];
}

/** Sends through the API (sandbox) and waits until every recipient is delivered. */
export async function sendAndDeliver(p: TestPlatform, to: string[], from = 'News <news@example.com>'): Promise<Sent> {
  const res = await p.request('POST', '/v1/messages', { from, to, subject: 'November update', text: 'Hello' });
  if (res.status !== 202) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
  for (let i = 0; i < 200; i++) {
    const view = (await p.request('GET', `/v1/messages/${res.body.id}`)).body;
    if (view.recipients.every((r: { state: string }) => r.state === 'delivered')) {
      return {
        id: res.body.id,
        messageIdHeader: view.message_id_header,
        recipients: view.recipients.map((r: { id: string; email: string }) => ({ id: r.id, email: r.email })),
      };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('message was not delivered to the sandbox in time');
}

/** The id of the recipient with this address (recipient order is not the order of `to`). */
export function rcpt(sent: Sent, email: string): string {
  const r = sent.recipients.find((x) => x.email === email);
  if (!r) throw new Error(`${email} is not a recipient of ${sent.id}`);
  return r.id;
}

export function verpOf(p: TestPlatform, sent: Sent, email: string, domain = 'bounces.example.com'): string {
  return encodeVerp({ messageId: sent.id, recipientId: rcpt(sent, email), bounceDomain: domain }, deriveVerpKey(p.platform.masterKey));
}

/** A verifying-looking VERP address whose MAC is wrong in one character. */
export function forge(verp: string): string {
  const at = verp.indexOf('@');
  const last = verp[at - 1] === 'a' ? 'b' : 'a';
  return `${verp.slice(0, at - 1)}${last}${verp.slice(at)}`;
}

const originalPart = (sent: Sent, verp: string, to: string) =>
  [
    `Return-Path: <${verp}>`,
    'From: News <news@example.com>',
    `To: ${to}`,
    'Subject: November update',
    `Message-ID: ${sent.messageIdHeader}`,
    'Date: Mon, 23 Nov 2026 09:00:00 +0000',
    '',
    'Hello',
  ].join('\r\n');

export function dsn(sent: Sent, verp: string, rcpt: string, o: { status?: string; diagnostic?: string; action?: string } = {}): string {
  const status = o.status ?? '5.1.1';
  const diagnostic = o.diagnostic ?? `550 ${status} <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table`;
  return [
    'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
    `To: ${verp}`,
    'Subject: Undelivered Mail Returned to Sender',
    'Date: Mon, 23 Nov 2026 09:00:05 +0000',
    'Message-ID: <dsn-1@mx.example.org>',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    `<${rcpt}>: host mx.example.org said: ${diagnostic}`,
    '',
    '--b1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    '',
    `Final-Recipient: rfc822; ${rcpt}`,
    `Action: ${o.action ?? 'failed'}`,
    `Status: ${status}`,
    'Remote-MTA: dns; mx.example.org',
    `Diagnostic-Code: smtp; ${diagnostic}`,
    '',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    originalPart(sent, verp, rcpt),
    '--b1--',
    '',
  ].join('\r\n');
}

export function arf(sent: Sent, verp: string, rcpt: string, feedbackType = 'abuse'): string {
  return [
    'From: <feedback@fbl.example.net>',
    'To: fbl@pw.test',
    'Subject: FW: November update',
    'Date: Mon, 23 Nov 2026 10:00:00 +0000',
    'Message-ID: <arf-1@fbl.example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="a1"',
    '',
    '--a1',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report for an email message received from IP 192.0.2.1.',
    '',
    '--a1',
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${feedbackType}`,
    'User-Agent: ExampleFBL/1.0',
    'Version: 1',
    'Source-IP: 192.0.2.1',
    `Original-Rcpt-To: <${rcpt}>`,
    'Reported-Domain: example.com',
    '',
    '--a1',
    'Content-Type: message/rfc822',
    '',
    originalPart(sent, verp, rcpt),
    '--a1--',
    '',
  ].join('\r\n');
}

export function autoReply(sent: Sent, verp: string, from: string): string {
  return [
    `From: ${from}`,
    `To: ${verp}`,
    'Subject: Out of office: November update',
    'Date: Mon, 23 Nov 2026 10:00:00 +0000',
    'Message-ID: <oof-1@example.org>',
    `In-Reply-To: ${sent.messageIdHeader}`,
    'Auto-Submitted: auto-replied',
    '',
    'I am out of the office until Monday.',
    '',
  ].join('\r\n');
}

/** The fixture DMARCbis report moved to yesterday, so it falls inside any recent window. */
export function recentDmarcXml(now = Date.now()): string {
  const xml = readFileSync(join(import.meta.dirname, '../fixtures/feedback/dmarc/dmarcbis.xml'), 'utf8');
  const begin = Math.floor(now / 86_400_000 - 1) * 86_400;
  return xml.replace(/<begin>\d+<\/begin>/, `<begin>${begin}</begin>`).replace(/<end>\d+<\/end>/, `<end>${begin + 86_399}</end>`);
}

/** RFC 7489 §7.2.1.1: the report zipped and attached to a message to the rua mailbox. */
export function dmarcZipEmail(xml: string, to = 'dmarc@pw.test'): Buffer {
  const name = 'receiver.example.net!example.com!report';
  const zip = Buffer.from(zipSync({ [`${name}.xml`]: strToU8(xml) }));
  const b64 = zip.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: noreply-dmarc@receiver.example.net',
      `To: ${to}`,
      'Subject: Report domain: example.com Submitter: receiver.example.net Report-ID: <r1>',
      'Date: Mon, 23 Nov 2026 01:00:00 +0000',
      'Message-ID: <dmarc-agg-recent@receiver.example.net>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="agg1"',
      '',
      '--agg1',
      'Content-Type: text/plain',
      '',
      'This is an aggregate report from receiver.example.net.',
      '',
      '--agg1',
      `Content-Type: application/zip; name="${name}.zip"`,
      `Content-Disposition: attachment; filename="${name}.zip"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--agg1--',
      '',
    ].join('\r\n'),
  );
}

/** Address → its suppression entry in the tenant's list (every scope), for the addresses given. */
export async function suppressionsOf(p: TestPlatform, addresses: string[]): Promise<Map<string, SuppressionRow>> {
  const out = new Map<string, SuppressionRow>();
  for (const address of addresses) {
    const [row] = await p.platform.store.suppressions.list(p.tenantId, { address });
    if (row) out.set(address, row);
  }
  return out;
}
