/**
 * RFC 5322 §2.2-style field blocks as they appear inside reports: DSN per-message and per-recipient
 * groups (RFC 3464 §2.1), ARF feedback-report fields (RFC 5965 §3.1), and returned original headers.
 * Parsing is tolerant: folded lines are unfolded (§2.2.3), lines that are not fields are skipped.
 */

export interface HeaderField {
  /** As written (case preserved). */
  name: string;
  /** Unfolded value, trimmed. */
  value: string;
}

const FIELD_LINE = /^([!-9;-~]+)[ \t]*:(.*)$/;

/** Parses one block of fields (stops at nothing: blank lines are skipped, not separators). */
export function parseFields(text: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      last.value = `${last.value} ${line.trim()}`.trim();
      continue;
    }
    const m = FIELD_LINE.exec(line);
    if (m) fields.push({ name: m[1]!, value: m[2]!.trim() });
  }
  return fields;
}

/** Splits text into groups of fields separated by blank lines (RFC 3464 §2.1 layout). */
export function parseFieldGroups(text: string): HeaderField[][] {
  return text
    .split(/\r?\n[ \t]*\r?\n/)
    .map(parseFields)
    .filter((g) => g.length > 0);
}

/** The header section of a message (up to the first empty line), parsed. */
export function parseHeaderSection(message: string): HeaderField[] {
  const end = message.search(/\r?\n\r?\n/);
  return parseFields(end >= 0 ? message.slice(0, end) : message);
}

export function fieldValue(fields: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

export function fieldValues(fields: readonly HeaderField[], name: string): string[] {
  const lower = name.toLowerCase();
  return fields.filter((f) => f.name.toLowerCase() === lower).map((f) => f.value);
}

/**
 * The address part of a typed field (`rfc822; user@example.org`, RFC 3464 §2.3.2) or of an address
 * header (`"Name" <user@example.org>`), without angle brackets.
 */
export function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const typed = /^\s*[\w-]+\s*;\s*(.*)$/.exec(value);
  const v = (typed ? typed[1]! : value).trim();
  const angle = /<([^<>\s]*@[^<>\s]*)>/.exec(v);
  if (angle) return angle[1];
  const bare = /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(v);
  return bare ? bare[0].replace(/\.$/, '') : v.replace(/^<|>$/g, '') || undefined;
}

/** A Message-ID value with its angle brackets (`<id@host>`), or undefined. */
export function messageIdOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /<[^<>\s]+>/.exec(value);
  if (m) return m[0];
  const bare = value.trim();
  return bare && !/\s/.test(bare) ? `<${bare}>` : undefined;
}

/** `type; text` fields (Diagnostic-Code, Remote-MTA, Reporting-MTA): the type and the rest. */
export function typedValue(value: string | undefined): { type?: string; text: string } | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*([\w.-]+)\s*;\s*([\s\S]*)$/.exec(value);
  return m ? { type: m[1]!.toLowerCase(), text: m[2]!.trim() } : { text: value.trim() };
}
