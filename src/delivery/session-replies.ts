/**
 * The final reply of each recipient of one SMTP transaction, built from what nodemailer reported
 * (pure; the session owns the connection). The rules: a 2xx to the end of DATA is the only
 * delivery; a refused RCPT is that recipient's final answer; a refused MAIL or DATA answers every
 * recipient still open; a lost connection leaves those with the server's parting 4xx/5xx or a
 * synthetic 451 4.4.2 (RFC 3463 "bad connection"), so they are retried and never assumed sent.
 *
 * Nodemailer reports per-recipient RCPT replies only with a successful send or an all-refused
 * envelope, but it records them as they arrive on the envelope object handed to `send()` (its
 * `SMTPConnectionEnvelope`); a transaction that fails later reads them from there
 * (`envelopeState`), so a 550 at RCPT stays a 550 even when DATA is then cut.
 */
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { parseSmtpResponse, type SmtpResponse } from '../core/index.js';

export type ClientError = SMTPConnection.SMTPError;

export interface OutgoingMessage {
  /** Envelope sender; '' for the null reverse-path. */
  from: string;
  to: string[];
  raw: Buffer;
  /** Declared with SIZE when the server offers it (RFC 1870); default `raw.length`. */
  size?: number;
  /** The message needs SMTPUTF8 (RFC 6531): non-ASCII addresses or UTF-8 header fields. */
  smtputf8?: boolean;
  /** Declare BODY=8BITMIME when offered (RFC 6152). */
  eightBit?: boolean;
}

/** Where a transaction stopped short: `connection` = the session was already unusable. */
export type SendStage = 'connection' | 'reset' | 'mail' | 'rcpt' | 'data' | 'message';

export interface SendResult {
  /** One final reply per recipient, keyed as given in `to`. */
  perRecipient: Map<string, SmtpResponse>;
  /** The reply to the end of DATA, when the server gave one. */
  data?: SmtpResponse;
  durationMs: number;
  stage?: SendStage;
  error?: string;
}

/** A send result before its duration is known. */
export type Transaction = Omit<SendResult, 'durationMs'>;

export function everyone(to: readonly string[], reply: SmtpResponse): Map<string, SmtpResponse> {
  return new Map(to.map((a) => [a, reply]));
}

/** Refusals decided from the EHLO reply before anything is written; the session stays usable. */
export function localRefusal(m: OutgoingMessage, ehlo: readonly string[]): Transaction | null {
  const size = m.size ?? m.raw.length;
  const limit = sizeLimit(ehlo);
  if (limit && size > limit) {
    // RFC 1870 §6.1: a client must not send a message larger than the announced SIZE.
    const why = `message of ${size} bytes exceeds the server's SIZE ${limit}`;
    return { perRecipient: everyone(m.to, synthetic(552, '5.3.4', why, 'MAIL')), stage: 'mail', error: why };
  }
  if (m.smtputf8 && !supports(ehlo, 'SMTPUTF8')) {
    // RFC 6531 §3.2: without the extension the message may not be sent as is; no downgrade here.
    const ascii = [m.from, ...m.to].every((a) => /^[\x20-\x7e]*$/.test(a));
    const why = 'the server does not offer SMTPUTF8 and the message needs it';
    const reply = ascii ? synthetic(554, '5.6.9', why, 'MAIL') : synthetic(553, '5.6.7', why, 'MAIL');
    return { perRecipient: everyone(m.to, reply), stage: 'mail', error: why };
  }
  return null;
}

export function fromInfo(m: OutgoingMessage, info: SMTPConnection.SentMessageInfo): Transaction {
  // Nodemailer calls back without an error only after a 2xx to the final dot.
  const data = parseSmtpResponse(info.response, 'DATA') ?? { code: 250, text: info.response, command: 'DATA' };
  const accepted = new Set(info.accepted);
  const refused = new Map<string, SmtpResponse>();
  for (const e of info.rejectedErrors ?? []) {
    const r = replyOf(e, 'RCPT');
    const who = (e as ClientError).recipient;
    if (r && who) refused.set(who, r);
  }
  const perRecipient = new Map<string, SmtpResponse>();
  for (const a of m.to) {
    const key = a.trim();
    perRecipient.set(
      a,
      accepted.has(key) ? data : (refused.get(key) ?? synthetic(451, '4.4.2', 'no reply recorded for this recipient', 'RCPT')),
    );
  }
  return { perRecipient, data };
}

/**
 * A failed transaction with a server reply: MAIL refused, every RCPT refused, DATA refused, or the
 * final dot answered 4xx/5xx. Anything else is a lost connection.
 */
export function fromError(
  m: OutgoingMessage,
  env: EnvelopeState | null,
  err: ClientError,
  bodyStarted: boolean,
): { connection: true } | { connection: false; needsReset: boolean; result: Transaction } {
  const command = err.command === 'MAIL FROM' ? 'MAIL' : err.command === 'RCPT TO' ? 'RCPT' : 'DATA';
  const reply = replyOf(err, command);
  if (!reply || reply.code < 400 || !(err.code === 'EENVELOPE' || err.code === 'EMESSAGE')) return { connection: true };
  const error = errorText(err);
  const perRecipient = new Map<string, SmtpResponse>();
  const rcpt = (a: string): SmtpResponse | undefined => env?.refused.get(a.trim());
  if (command === 'MAIL') {
    for (const a of m.to) perRecipient.set(a, reply);
    return { connection: false, needsReset: true, result: { perRecipient, stage: 'mail', error } };
  }
  if (command === 'RCPT') {
    for (const a of m.to) perRecipient.set(a, rcpt(a) ?? reply);
    return { connection: false, needsReset: true, result: { perRecipient, stage: 'rcpt', error } };
  }
  // DATA refused (no body sent; the transaction is still open) or the final dot refused (closed).
  for (const a of m.to) perRecipient.set(a, rcpt(a) ?? reply);
  const result: Transaction = { perRecipient, stage: bodyStarted ? 'message' : 'data', error };
  if (bodyStarted) result.data = reply;
  return { connection: false, needsReset: !bodyStarted, result };
}

/** Recipients with a final RCPT refusal keep it; everyone else gets the server's parting 4xx/5xx or 451 4.4.2. */
export function connectionLost(
  m: OutgoingMessage,
  env: EnvelopeState | null,
  o: { bodyStarted: boolean; why: string; err?: ClientError },
): Transaction {
  const answered = env ? env.accepted.size + env.refused.size : 0;
  const stage: SendStage = o.bodyStarted ? 'message' : answered === 0 ? 'mail' : answered < m.to.length ? 'rcpt' : 'data';
  const parting = o.err ? replyOf(o.err, stage === 'mail' ? 'MAIL' : stage === 'rcpt' ? 'RCPT' : 'DATA') : null;
  const timedOut = o.err?.code === 'ETIMEDOUT' || /exceeded/.test(o.why);
  const where = o.bodyStarted ? 'during DATA' : 'before DATA';
  const fallback = synthetic(451, '4.4.2', `${timedOut ? 'timed out' : 'connection lost'} ${where}`, o.bodyStarted ? 'DATA' : 'RCPT');
  const reply = parting && parting.code >= 400 ? parting : fallback;
  const perRecipient = new Map<string, SmtpResponse>();
  for (const a of m.to) perRecipient.set(a, env?.refused.get(a.trim()) ?? reply);
  return { perRecipient, stage, error: o.why };
}

export function replyOf(err: { response?: string | undefined }, command: string): SmtpResponse | null {
  return typeof err.response === 'string' ? parseSmtpResponse(err.response, command) : null;
}

export function errorText(err: ClientError): string {
  const code = err.originalCode ?? err.code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

export function synthetic(code: number, enhanced: string, text: string, command: string): SmtpResponse {
  return { code, enhanced, text, command };
}

/** EHLO keywords and parameters (RFC 5321 §4.1.1.1), without the greeting line. */
export function ehloExtensions(reply: string): string[] {
  if (!reply.startsWith('250')) return [];
  return reply
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.replace(/^\d{3}[ -]?/, '').trim())
    .filter(Boolean);
}

export function supports(ehlo: readonly string[], keyword: string): boolean {
  return ehlo.some((l) => l.split(/\s+/)[0]?.toUpperCase() === keyword);
}

/** RFC 1870 §4: `SIZE 0` or no number means no fixed limit. */
export function sizeLimit(ehlo: readonly string[]): number | null {
  const n = Number(ehlo.find((l) => /^SIZE\b/i.test(l))?.split(/\s+/)[1]);
  return Number.isFinite(n) && n > 0 ? n : null;
}

export interface EnvelopeState {
  accepted: Set<string>;
  refused: Map<string, SmtpResponse>;
}

/** RCPT outcomes nodemailer recorded on the envelope object we handed to send(); null before MAIL. */
export function envelopeState(envelope: object): EnvelopeState | null {
  const { accepted, rejectedErrors } = envelope as { accepted?: unknown; rejectedErrors?: unknown };
  if (!Array.isArray(accepted) || !Array.isArray(rejectedErrors)) return null;
  const refused = new Map<string, SmtpResponse>();
  for (const e of rejectedErrors as ClientError[]) {
    const r = replyOf(e, 'RCPT');
    if (r && e.recipient) refused.set(e.recipient, r);
  }
  return { accepted: new Set(accepted.filter((a): a is string => typeof a === 'string')), refused };
}
