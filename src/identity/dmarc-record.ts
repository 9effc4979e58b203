/**
 * DMARC policy record parsing: RFC 7489 §6.3/§6.4 plus the DMARCbis tags `np`, `psd` and `t`.
 * `pct`, `rf` and `ri` are still parsed (published records carry them) but reported as removed,
 * since DMARCbis drops them. Problems are values with the offset of the tag they concern, so an
 * editor can point at them; only a record that is not DMARC at all (`v=DMARC1` missing or not
 * first) fails to parse.
 */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';
export type AlignmentMode = 'r' | 's';

export interface DmarcUri {
  uri: string;
  scheme: string;
  /** For mailto: the address and its domain (lower-cased). */
  address?: string;
  domain?: string;
  /** RFC 7489 §6.2 size limit suffix (`!10m`), as written. */
  maxSize?: string;
}

export interface DmarcRecord {
  text: string;
  /** `p` as published; `effectivePolicy` is what applies (`none` when p is absent or invalid). */
  p?: DmarcPolicy;
  effectivePolicy: DmarcPolicy;
  sp?: DmarcPolicy;
  np?: DmarcPolicy;
  adkim: AlignmentMode;
  aspf: AlignmentMode;
  fo: string[];
  rua: DmarcUri[];
  ruf: DmarcUri[];
  /** DMARCbis: y = this is a public suffix domain, n = an organizational domain, u = unknown. */
  psd: 'y' | 'n' | 'u';
  /** DMARCbis t=y: the policy is being tested and receivers apply one level less. */
  testing: boolean;
  /** Removed in DMARCbis; kept for reporting what is published. */
  pct?: number;
  rf?: string[];
  ri?: number;
  tags: { name: string; value: string; position: number }[];
}

export type DmarcIssueSeverity = 'error' | 'warning' | 'removed' | 'info';

export interface DmarcIssue {
  /** Offset in the record of the tag (or of the problem). */
  position: number;
  tag?: string;
  severity: DmarcIssueSeverity;
  message: string;
}

export type DmarcParseResult = { ok: true; record: DmarcRecord; issues: DmarcIssue[] } | { ok: false; issues: DmarcIssue[] };

/** RFC 7489 §6.4: the record starts with `v=DMARC1` (exact value, spaces allowed around "="). */
export function isDmarcRecord(txt: string): boolean {
  return /^v[ \t]*=[ \t]*DMARC1[ \t]*(;|$)/.test(txt);
}

const POLICIES = new Set<string>(['none', 'quarantine', 'reject']);
const KNOWN = new Set(['v', 'p', 'sp', 'np', 'adkim', 'aspf', 'fo', 'rua', 'ruf', 'psd', 't', 'pct', 'rf', 'ri']);

/** RFC 7489 §6.4 dmarc-uri: a URI with an optional `!size[kmgt]`. Commas separate URIs, so none inside. */
export function parseDmarcUri(raw: string): DmarcUri | string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):([^!,\s]+)(?:!(\d+[kmgtKMGT]?))?$/.exec(raw);
  if (!m) return `"${raw}" is not a valid DMARC URI`;
  const scheme = m[1]!.toLowerCase();
  const uri: DmarcUri = { uri: raw, scheme, ...(m[3] ? { maxSize: m[3] } : {}) };
  if (scheme === 'mailto') {
    const address = decodeURIComponent(m[2]!.split('?')[0]!);
    const at = address.lastIndexOf('@');
    if (at <= 0 || at === address.length - 1) return `"${raw}" has no mailbox`;
    uri.address = address;
    uri.domain = address
      .slice(at + 1)
      .toLowerCase()
      .replace(/\.$/, '');
  }
  return uri;
}

export function parseDmarcRecord(text: string): DmarcParseResult {
  const issues: DmarcIssue[] = [];
  if (!isDmarcRecord(text)) {
    return {
      ok: false,
      issues: [{ position: 0, tag: 'v', severity: 'error', message: 'a DMARC record must start with "v=DMARC1" (RFC 7489 §6.3)' }],
    };
  }
  const tags: DmarcRecord['tags'] = [];
  let offset = 0;
  for (const part of text.split(';')) {
    const start = offset;
    offset += part.length + 1;
    if (part.trim() === '') {
      // Only a trailing separator may be empty (tag-list allows a final ";").
      if (offset < text.length) issues.push({ position: start, severity: 'warning', message: 'empty tag (";;")' });
      continue;
    }
    const m = /^[ \t]*([A-Za-z][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*?)[ \t]*$/s.exec(part);
    if (!m) {
      issues.push({
        position: start + (part.length - part.trimStart().length),
        severity: 'error',
        message: `"${part.trim()}" is not a tag=value pair`,
      });
      continue;
    }
    const name = m[1]!.toLowerCase();
    const position = start + part.indexOf(m[1]!);
    if (tags.some((t) => t.name === name)) {
      issues.push({ position, tag: name, severity: 'error', message: `tag "${name}" appears more than once; the first is used` });
      continue;
    }
    tags.push({ name, value: m[2]!, position });
  }
  const record: DmarcRecord = {
    text,
    effectivePolicy: 'none',
    adkim: 'r',
    aspf: 'r',
    fo: ['0'],
    rua: [],
    ruf: [],
    psd: 'u',
    testing: false,
    tags,
  };
  const bad = (t: { name: string; position: number }, message: string, severity: DmarcIssueSeverity = 'error') =>
    issues.push({ position: t.position, tag: t.name, severity, message });
  for (const t of tags) {
    const value = t.value.toLowerCase();
    switch (t.name) {
      case 'v':
        break;
      case 'p':
      case 'sp':
      case 'np':
        if (POLICIES.has(value)) record[t.name] = value as DmarcPolicy;
        else bad(t, `${t.name}=${t.value} is not none, quarantine or reject${t.name === 'p' ? '' : '; the tag is ignored'}`);
        break;
      case 'adkim':
      case 'aspf':
        if (value === 'r' || value === 's') record[t.name] = value;
        else bad(t, `${t.name}=${t.value} must be r or s; relaxed applies`);
        break;
      case 'fo': {
        const opts = value.split(':').map((o) => o.trim());
        if (opts.every((o) => ['0', '1', 'd', 's'].includes(o))) record.fo = opts;
        else bad(t, `fo=${t.value} must be a colon-separated list of 0, 1, d, s`);
        break;
      }
      case 'rua':
      case 'ruf': {
        for (const raw of t.value
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean)) {
          const uri = parseDmarcUri(raw);
          if (typeof uri === 'string') bad(t, uri);
          else {
            record[t.name].push(uri);
            if (uri.scheme !== 'mailto') bad(t, `${uri.scheme}: report URIs are rarely supported; use mailto:`, 'warning');
          }
        }
        break;
      }
      case 'psd':
        if (value === 'y' || value === 'n' || value === 'u') record.psd = value;
        else bad(t, `psd=${t.value} must be y, n or u`);
        break;
      case 't':
        if (value === 'y' || value === 'n') record.testing = value === 'y';
        else bad(t, `t=${t.value} must be y or n`);
        break;
      case 'pct': {
        const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
        if (n >= 0 && n <= 100) record.pct = n;
        else bad(t, `pct=${t.value} must be 0-100`);
        bad(t, `pct is removed in DMARCbis; use t=y to test a policy${record.pct === 0 ? ' (pct=0 means the same)' : ''}`, 'removed');
        break;
      }
      case 'rf':
        record.rf = value.split(':').map((x) => x.trim());
        bad(t, 'rf is removed in DMARCbis (failure report format is fixed)', 'removed');
        break;
      case 'ri':
        if (/^\d+$/.test(value)) record.ri = Number(value);
        else bad(t, `ri=${t.value} must be a number of seconds`);
        bad(t, 'ri is removed in DMARCbis (aggregate reports are daily)', 'removed');
        break;
      default:
        if (!KNOWN.has(t.name)) bad(t, `unknown tag "${t.name}" is ignored`, 'warning');
    }
  }
  if (record.p) record.effectivePolicy = record.p;
  else if (!tags.some((t) => t.name === 'p')) {
    issues.push({
      position: text.length,
      tag: 'p',
      severity: 'error',
      message: 'no p tag; receivers treat the record as p=none (RFC 7489 §6.6.3)',
    });
  }
  return { ok: true, record, issues };
}

/** Serialise tags in the conventional order, `v=DMARC1` first, for records we propose. */
export function formatDmarcRecord(tags: Record<string, string | undefined>): string {
  const order = ['p', 'sp', 'np', 'psd', 't', 'adkim', 'aspf', 'fo', 'rua', 'ruf'];
  const rest = Object.keys(tags).filter((n) => n !== 'v' && !order.includes(n));
  const names = [...order, ...rest].filter((n) => tags[n] !== undefined);
  return ['v=DMARC1', ...names.map((n) => `${n}=${tags[n]}`)].join('; ');
}
