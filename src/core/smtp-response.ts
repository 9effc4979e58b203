/**
 * A remote (or our own) SMTP reply, parsed once before anything classifies it.
 * RFC 5321 §4.2 reply codes; RFC 3463 enhanced status codes (class.subject.detail).
 */
export interface SmtpResponse {
  code: number;
  /** `5.1.1` etc. when the reply carried one (RFC 2034). */
  enhanced?: string;
  /** The human text, continuation lines joined with a space, without code prefixes. */
  text: string;
  /** The command the reply answered (`RCPT`, `DATA`, `CONNECT`, …), when known. */
  command?: string;
}

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** Parses `550-5.1.1 line one\r\n550 5.1.1 line two` or a single line. Returns null when no code. */
export function parseSmtpResponse(raw: string, command?: string): SmtpResponse | null {
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  let code: number | undefined;
  let enhanced: string | undefined;
  const texts: string[] = [];
  for (const line of lines) {
    const m = /^([2-5]\d\d)(?:[ -]|$)(.*)$/.exec(line);
    if (!m) {
      texts.push(line);
      continue;
    }
    code ??= Number(m[1]);
    let rest = m[2]!.trim();
    const e = ENHANCED.exec(rest);
    if (e) {
      enhanced ??= `${e[1]}.${e[2]}.${e[3]}`;
      rest = rest.slice(e[0].length).trim();
    }
    if (rest) texts.push(rest);
  }
  if (code === undefined) return null;
  const res: SmtpResponse = { code, text: texts.join(' ') };
  if (enhanced) res.enhanced = enhanced;
  if (command) res.command = command;
  return res;
}

export function formatSmtpResponse(r: SmtpResponse): string {
  return [r.code, r.enhanced, r.text].filter((x) => x !== undefined && x !== '').join(' ');
}

export type ReplyClass = 'success' | 'transient' | 'permanent';

export function replyClass(code: number): ReplyClass {
  if (code < 400) return 'success';
  if (code < 500) return 'transient';
  return 'permanent';
}
