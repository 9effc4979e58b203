import { domainToASCII } from 'node:url';

/**
 * MTA-STS (RFC 8461) record and policy parsing, and MX pattern matching. Pure functions: the posture
 * auditor reports every problem they find, and the delivery cache uses the same verdicts, so there is
 * one reading of the RFC in the codebase. Problems are values with line numbers, never exceptions.
 */

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  version: 'STSv1';
  mode: MtaStsMode;
  /** Patterns as written (lower-cased): `mail.example.com` or `*.example.net`. */
  mx: string[];
  /** Seconds, capped at 31557600 (RFC 8461 §3.2). */
  maxAge: number;
}

export interface MtaStsProblem {
  /** 1-based line of the policy text; absent when the problem is the absence of a field. */
  line?: number;
  message: string;
}

export type MtaStsPolicyParse =
  | { ok: true; policy: MtaStsPolicy; warnings: MtaStsProblem[]; ignoredKeys: string[] }
  | { ok: false; errors: MtaStsProblem[]; warnings: MtaStsProblem[] };

export type MtaStsTxtParse =
  | { ok: true; id: string; record: string; extensions: Record<string, string>; warnings: string[] }
  | { ok: false; problem: 'no-record' | 'multiple-records' | 'syntax'; message: string; records: string[] };

/** RFC 8461 §3.2: the maximum `max_age`, one year in seconds. */
export const MAX_MAX_AGE = 31_557_600;

const ID = /^[A-Za-z0-9]{1,32}$/;
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
// sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): printable ASCII except ";" and "=".
const TXT_EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;
const POLICY_EXT_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const WSP = /^[ \t]*/;

/**
 * Parses the TXT strings found at `_mta-sts.<domain>` (each record's strings already joined).
 * RFC 8461 §3.1: records not beginning with "v=STSv1;" are discarded; if the rest is not exactly one
 * syntactically valid record, the domain has no available policy.
 */
export function parseMtaStsTxt(records: readonly string[]): MtaStsTxtParse {
  const candidates = records.filter((r) => /^v=STSv1[ \t]*;/.test(r));
  const [record] = candidates;
  if (record === undefined) {
    return {
      ok: false,
      problem: 'no-record',
      records: [...records],
      message: records.length === 0 ? 'no TXT record at _mta-sts' : 'no TXT record at _mta-sts begins with "v=STSv1;" (RFC 8461 §3.1)',
    };
  }
  if (candidates.length > 1) {
    return {
      ok: false,
      problem: 'multiple-records',
      records: [...records],
      message: `${candidates.length} TXT records begin with "v=STSv1;"; exactly one is allowed (RFC 8461 §3.1)`,
    };
  }
  const syntax = (message: string): MtaStsTxtParse => ({ ok: false, problem: 'syntax', message, records: [...records] });
  // sts-text-record = sts-version 1*(*WSP field-delim *WSP sts-field) [field-delim]
  const fields = record
    .slice(record.indexOf(';') + 1)
    .split(';')
    .map((f) => f.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (fields.length > 1 && fields[fields.length - 1] === '') fields.pop(); // the one optional trailing ";"
  let id: string | undefined;
  const extensions: Record<string, string> = {};
  const warnings: string[] = [];
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq <= 0) return syntax(`field "${field}" is not name=value (RFC 8461 §3.1)`);
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'id') {
      if (!ID.test(value)) return syntax(`id "${value}" must be 1 to 32 letters and digits (RFC 8461 §3.1)`);
      if (id !== undefined) {
        warnings.push(`id appears more than once; the first (${id}) is used`);
        continue;
      }
      id = value;
    } else {
      if (!EXT_NAME.test(name)) return syntax(`field name "${name}" is not a valid extension name (RFC 8461 §3.1)`);
      if (!TXT_EXT_VALUE.test(value)) return syntax(`field "${name}" has an invalid value (RFC 8461 §3.1)`);
      extensions[name] ??= value;
    }
  }
  if (id === undefined) return syntax('the record has no id field (RFC 8461 §3.1)');
  return { ok: true, id, record, extensions, warnings };
}

/**
 * Parses the policy body served at `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
 * RFC 8461 §3.2: lines end in LF or CRLF; `version`, `mode` and `max_age` are required once, `mx` at
 * least once unless the mode is `none`; of a repeated field other than `mx` the first counts; unknown
 * fields are ignored. Keys are case-sensitive (`%s` in the ABNF).
 */
export function parseMtaStsPolicy(text: string): MtaStsPolicyParse {
  const errors: MtaStsProblem[] = [];
  const warnings: MtaStsProblem[] = [];
  const ignoredKeys: string[] = [];
  const first = new Map<string, { value: string; line: number }>();
  const mx: string[] = [];
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the optional final terminator
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.includes('\r')) {
      errors.push({ line, message: 'a bare CR is not a line terminator (RFC 8461 §3.2: LF or CRLF)' });
      return;
    }
    if (raw.trim() === '') {
      warnings.push({ line, message: 'empty line ignored' });
      return;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) {
      errors.push({ line, message: `"${raw}" is not a "key: value" field` });
      return;
    }
    const key = raw.slice(0, colon);
    const value = raw
      .slice(colon + 1)
      .replace(WSP, '')
      .replace(/[ \t]+$/, '');
    if (!EXT_NAME.test(key)) {
      errors.push({ line, message: `"${key}" is not a valid field name` });
      return;
    }
    if (value === '' || !POLICY_EXT_VALUE.test(value)) {
      errors.push({ line, message: `field "${key}" has an empty or non-printable value` });
      return;
    }
    if (key === 'mx') {
      const pattern = normaliseMxPattern(value);
      if (pattern === null) errors.push({ line, message: `mx "${value}" is not a host name or "*." followed by one` });
      else mx.push(pattern);
      return;
    }
    if (key !== 'version' && key !== 'mode' && key !== 'max_age') {
      ignoredKeys.push(key);
      return;
    }
    const seen = first.get(key);
    if (seen) {
      warnings.push({ line, message: `${key} repeats line ${seen.line}; only the first counts (RFC 8461 §3.2)` });
      return;
    }
    first.set(key, { value, line });
  });

  const version = first.get('version');
  if (!version) errors.push({ message: 'version is missing (RFC 8461 §3.2)' });
  else if (version.value !== 'STSv1') errors.push({ line: version.line, message: `version "${version.value}" is not STSv1` });

  const modeField = first.get('mode');
  let mode: MtaStsMode | undefined;
  if (!modeField) errors.push({ message: 'mode is missing (RFC 8461 §3.2)' });
  else if (modeField.value === 'enforce' || modeField.value === 'testing' || modeField.value === 'none') mode = modeField.value;
  else errors.push({ line: modeField.line, message: `mode "${modeField.value}" is not enforce, testing or none` });

  const maxAgeField = first.get('max_age');
  let maxAge: number | undefined;
  if (!maxAgeField) errors.push({ message: 'max_age is missing (RFC 8461 §3.2)' });
  else if (!/^[0-9]{1,10}$/.test(maxAgeField.value)) {
    errors.push({ line: maxAgeField.line, message: `max_age "${maxAgeField.value}" is not 1 to 10 digits` });
  } else {
    maxAge = Number(maxAgeField.value);
    if (maxAge > MAX_MAX_AGE) {
      warnings.push({ line: maxAgeField.line, message: `max_age ${maxAge} exceeds ${MAX_MAX_AGE}; capped (RFC 8461 §3.2)` });
      maxAge = MAX_MAX_AGE;
    }
  }

  if (mx.length === 0 && mode !== undefined && mode !== 'none') {
    errors.push({ message: `mode ${mode} needs at least one mx pattern (RFC 8461 §3.2)` });
  }
  if (errors.length > 0 || mode === undefined || maxAge === undefined) return { ok: false, errors, warnings };
  return { ok: true, policy: { version: 'STSv1', mode, mx, maxAge }, warnings, ignoredKeys };
}

/** `["*."] Domain` (RFC 8461 §3.2), lower-cased ASCII; null when it is not one. */
export function normaliseMxPattern(value: string): string | null {
  const wildcard = value.startsWith('*.');
  const host = normaliseHost(wildcard ? value.slice(2) : value);
  if (host === null) return null;
  return wildcard ? `*.${host}` : host;
}

function normaliseHost(input: string): string | null {
  const raw = input.replace(/\.$/, '').toLowerCase();
  if (raw === '' || raw.length > 253) return null;
  const ascii = domainToASCII(raw);
  if (!ascii) return null;
  const labels = ascii.split('.');
  return labels.every((l) => LABEL.test(l)) ? ascii : null;
}

/**
 * RFC 8461 §4.1: a pattern matches the MX host exactly, or `*.` followed by a domain matches a host
 * with exactly one more label in front (so `*.example.net` matches `mx1.example.net` but neither
 * `example.net` nor `a.b.example.net`). Comparison is case-insensitive on A-labels.
 */
export function mxMatches(pattern: string, host: string): boolean {
  const p = normaliseMxPattern(pattern);
  const h = normaliseHost(host);
  if (p === null || h === null) return false;
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** True when any of the policy's patterns matches `host`. */
export function policyAllowsMx(policy: Pick<MtaStsPolicy, 'mx'>, host: string): boolean {
  return policy.mx.some((p) => mxMatches(p, host));
}
