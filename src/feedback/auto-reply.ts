/**
 * Automatic responses (RFC 3834): vacation notices, out-of-office replies, autoresponders and
 * challenge-response systems. They are recognised so they are never counted as bounces. Signals,
 * strongest first: Auto-Submitted: auto-replied (§5), the de-facto X-Autoreply/X-Autorespond and
 * Precedence: auto_reply headers, Exchange's X-MS-Exchange-Inbox-Rules-Loop and OOF markers, then
 * subjects in common languages. A bounce also says Auto-Submitted: auto-replied (RFC 3464 §2), so
 * callers test for a DSN first (detect.ts does).
 */
import { isMailSystemSender } from './bounce-vendor.js';
import { fieldValue } from './header-fields.js';
import { type MailMessage, readMessage } from './mail-message.js';

export interface AutoReply {
  /** `vacation` for out-of-office notices, `challenge` for sender verification, else `auto-reply`. */
  type: 'vacation' | 'challenge' | 'auto-reply';
  /** The message it answers (In-Reply-To), to link it to what we sent. */
  inReplyTo?: string;
  from?: string;
  subject: string;
  evidence: string[];
}

const SUBJECT =
  /^(auto(matic|matische|matisch)?[ -]?(reply|response|antwort|antwoord|svar|vastaus)|auto:|autoreply|out of (the )?office|abwesen(d|heit)(snotiz)?|r[ée]ponse automatique|absent|respuesta autom[aá]tica|fuera de la oficina|risposta automatica|fuori sede|resposta autom[aá]tica|automatisch antwoord|afwezig|odpowied[zź] automatyczna|autosvar|on vacation|vacation|自动回复|自動回覆|自動応答)/i;
const VACATION =
  /out of (the )?office|vacation|holiday|on leave|away from|abwesen|urlaub|cong[ée]s?|absent|vacaciones|ferie|fuori (sede|ufficio)|afwezig|verlof|自动回复|不在/i;
const CHALLENGE =
  /please (confirm|verify) (that )?(you|your)|verify (that )?you are (a )?human|challenge[- ]response|spam ?arrest|boxbe|mailchannels sender verification|awaiting your (confirmation|verification)/i;

/** Recognises an automatic response; null when the message shows no sign of one. */
export function detectAutoReply(msg: MailMessage): AutoReply | null {
  // A mail system (MAILER-DAEMON, postmaster) answers with delivery reports, and a message carrying
  // feedback-report fields is a complaint or unsubscribe report: neither is a person's auto-reply,
  // although both say Auto-Submitted: auto-replied.
  if (isMailSystemSender(msg) || /^Feedback-Type\s*:/im.test(msg.text)) return null;
  const evidence: string[] = [];
  const autoSubmitted = fieldValue(msg.headers, 'auto-submitted')?.toLowerCase();
  if (autoSubmitted?.startsWith('auto-replied')) evidence.push(`Auto-Submitted: ${autoSubmitted}`);
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-vacation']) {
    const v = fieldValue(msg.headers, name);
    if (v !== undefined && !/^(no|false|0)$/i.test(v.trim())) evidence.push(`${name}: ${v}`);
  }
  const precedence = fieldValue(msg.headers, 'precedence')?.toLowerCase();
  if (precedence === 'auto_reply') evidence.push('Precedence: auto_reply');
  if (fieldValue(msg.headers, 'x-ms-exchange-inbox-rules-loop') !== undefined) evidence.push('X-MS-Exchange-Inbox-Rules-Loop');
  const subjectHit = SUBJECT.test(msg.subject.trim());
  if (subjectHit) evidence.push(`subject "${msg.subject.slice(0, 80)}"`);
  // Auto-Submitted: auto-generated alone marks notifications and reports, not replies; it only
  // counts together with another signal.
  if (autoSubmitted?.startsWith('auto-generated') && evidence.length > 0) evidence.push(`Auto-Submitted: ${autoSubmitted}`);
  const challenge = CHALLENGE.test(`${msg.subject}\n${msg.text.slice(0, 2000)}`);
  if (evidence.length === 0 && !(challenge && (autoSubmitted || precedence))) return null;
  if (evidence.length === 0) evidence.push('challenge-response text');
  const reply: AutoReply = {
    type: challenge ? 'challenge' : VACATION.test(`${msg.subject}\n${msg.text.slice(0, 2000)}`) ? 'vacation' : 'auto-reply',
    subject: msg.subject,
    evidence,
  };
  if (msg.inReplyTo) reply.inReplyTo = msg.inReplyTo;
  if (msg.from[0]) reply.from = msg.from[0];
  return reply;
}

/** `detectAutoReply` over raw bytes. */
export async function parseAutoReply(raw: Buffer | string): Promise<AutoReply | null> {
  return detectAutoReply(await readMessage(raw));
}
