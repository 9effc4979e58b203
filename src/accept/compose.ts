import MailComposer from 'nodemailer/lib/mail-composer';
import type { Mailbox } from '../core/index.js';
import type { SendRequest } from './send-request.js';

/**
 * Builds the RFC 5322 message for an API send with nodemailer's composer (MIME structure, encodings,
 * line lengths, attachments). Bcc is left out of the headers; it only lives in the envelope.
 */
const fmt = (m: Mailbox) => (m.name ? { name: m.name, address: m.address } : m.address);

export async function composeMessage(req: SendRequest, ids: { messageIdHeader: string; date: Date }): Promise<Buffer> {
  const composer = new MailComposer({
    from: fmt(req.from),
    to: req.to.map(fmt),
    cc: req.cc.map(fmt),
    replyTo: req.replyTo.map(fmt),
    subject: req.subject,
    ...(req.text !== undefined ? { text: req.text } : {}),
    ...(req.html !== undefined ? { html: req.html } : {}),
    headers: req.headers,
    messageId: ids.messageIdHeader,
    date: ids.date,
    attachments: req.attachments.map((a) => ({
      filename: a.filename,
      content: a.content,
      ...(a.contentType ? { contentType: a.contentType } : {}),
      ...(a.contentId ? { cid: a.contentId } : {}),
    })),
  });
  return composer.compile().build();
}
