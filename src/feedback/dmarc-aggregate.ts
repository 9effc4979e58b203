/**
 * DMARC aggregate reports: RFC 7489 Appendix C and the DMARCbis aggregate schema (RFC 9990:
 * namespace urn:ietf:params:xml:ns:dmarc-2.0, `np`, `testing`, `discovery_method`, `generator`).
 * Reporters are sloppy, so this reads what is there rather than validating against a schema: any or
 * no namespace, BOMs and declared charsets, stray whitespace and case, unescaped ampersands, and
 * reports truncated mid-record (the complete records are kept and the damage is noted).
 */
import { XMLParser } from 'fast-xml-parser';
import { limitExceeded, reportLimits } from './report-limits.js';
import { decodeReportText, type PayloadFile, reportFiles, type UnpackBudget } from './report-payload.js';

export interface DmarcAggregateReport {
  schema: 'rfc7489' | 'dmarcbis';
  version?: string;
  metadata: {
    orgName: string;
    email?: string;
    extraContactInfo?: string;
    reportId: string;
    /** Unix seconds (RFC 7489 Appendix C `date_range`). */
    dateRange: { begin?: number; end?: number };
    errors: string[];
    generator?: string;
  };
  policyPublished: {
    domain: string;
    adkim?: string;
    aspf?: string;
    p?: string;
    sp?: string;
    np?: string;
    pct?: number;
    fo?: string;
    testing?: string;
    discoveryMethod?: string;
  };
  records: DmarcRecord[];
  /** Which file this came from and what was tolerated while reading it. */
  source: { name: string; container: string };
  warnings: string[];
}

export interface DmarcRecord {
  sourceIp: string;
  count: number;
  disposition?: string;
  /** DMARC-aligned results from policy_evaluated. */
  dkim?: string;
  spf?: string;
  reasons: { type: string; comment?: string }[];
  headerFrom?: string;
  envelopeFrom?: string;
  envelopeTo?: string;
  authResults: {
    dkim: { domain?: string; selector?: string; result?: string; humanResult?: string }[];
    spf: { domain?: string; scope?: string; result?: string; humanResult?: string }[];
  };
}

export interface DmarcAggregateParse {
  reports: DmarcAggregateReport[];
  /** Files that could not be read as a report, with the reason. */
  errors: { name: string; error: string }[];
}

type Node = Record<string, unknown>;

/** Parses XML, gzip or zip bytes holding one or more aggregate reports. */
export function parseDmarcAggregate(
  input: Uint8Array | string,
  filename = 'report.xml',
  /** Shared across the attachments of one message; see `UnpackBudget`. */
  budget?: UnpackBudget,
): DmarcAggregateParse {
  const out: DmarcAggregateParse = { reports: [], errors: [] };
  const unpacked = reportFiles(input, filename, budget);
  if ('error' in unpacked) {
    out.errors.push(unpacked.error);
    return out;
  }
  for (const file of unpacked.files) {
    const result = parseDmarcXml(file);
    if ('error' in result) out.errors.push({ name: file.name, error: result.error });
    else out.reports.push(result);
  }
  return out;
}

function parseDmarcXml(file: PayloadFile): DmarcAggregateReport | { error: string } {
  const warnings: string[] = [];
  let xml = decodeReportText(file.bytes, warnings).trim();
  if (!/<feedback[\s>]|<(\w+:)?feedback[\s>]/i.test(xml)) return { error: 'not a DMARC aggregate report (no <feedback> element)' };
  checkRecordCount(xml, file.name);
  // Unescaped "&" (org names like "AT&T") breaks strict parsers; escape any that start no entity.
  const fixed = xml.replace(/&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)/g, '&amp;');
  if (fixed !== xml) warnings.push('unescaped ampersand');
  xml = fixed;
  if (!/<\/(\w+:)?feedback\s*>\s*$/i.test(xml)) {
    // Truncated: keep every complete record and close the document.
    const lastRecord = xml.search(/<\/(\w+:)?record\s*>(?![\s\S]*<\/(\w+:)?record\s*>)/i);
    const cut = lastRecord >= 0 ? xml.indexOf('>', lastRecord) + 1 : xml.length;
    xml = `${xml.slice(0, cut)}</feedback>`;
    warnings.push('document truncated; incomplete trailing data dropped');
  }
  let doc: Node;
  try {
    doc = new XMLParser({
      ignoreAttributes: true,
      removeNSPrefix: true,
      parseTagValue: false,
      trimValues: true,
      processEntities: true,
      ignoreDeclaration: true,
      ignorePiTags: true,
    }).parse(xml) as Node;
  } catch (e) {
    return { error: `malformed XML: ${(e as Error).message}` };
  }
  const feedback = findFeedback(doc);
  if (!feedback) return { error: 'no <feedback> element' };
  const meta = obj(get(feedback, 'report_metadata'));
  const policy = obj(get(feedback, 'policy_published'));
  const namespace = /xmlns\s*=\s*["']([^"']+)["']/.exec(xml.slice(0, 2000))?.[1];
  const bis =
    namespace === 'urn:ietf:params:xml:ns:dmarc-2.0' ||
    ['np', 'testing', 'discovery_method'].some((k) => get(policy, k) !== undefined) ||
    get(meta, 'generator') !== undefined;
  if (!namespace) warnings.push('no XML namespace');
  const dateRange = obj(get(meta, 'date_range'));
  const report: DmarcAggregateReport = {
    schema: bis ? 'dmarcbis' : 'rfc7489',
    metadata: {
      orgName: text(get(meta, 'org_name')) ?? '',
      reportId: text(get(meta, 'report_id')) ?? '',
      dateRange: {},
      errors: list(get(meta, 'error'))
        .map(text)
        .filter((e): e is string => e !== undefined),
    },
    policyPublished: { domain: (text(get(policy, 'domain')) ?? '').toLowerCase() },
    records: [],
    source: { name: file.name, container: file.container },
    warnings,
  };
  setText(report, 'version', get(feedback, 'version'));
  setText(report.metadata, 'email', get(meta, 'email'));
  setText(report.metadata, 'extraContactInfo', get(meta, 'extra_contact_info'));
  setText(report.metadata, 'generator', get(meta, 'generator'));
  const begin = int(get(dateRange, 'begin'));
  const end = int(get(dateRange, 'end'));
  if (begin !== undefined) report.metadata.dateRange.begin = begin;
  if (end !== undefined) report.metadata.dateRange.end = end;
  const pp = report.policyPublished;
  for (const [key, tag] of [
    ['adkim', 'adkim'],
    ['aspf', 'aspf'],
    ['p', 'p'],
    ['sp', 'sp'],
    ['np', 'np'],
    ['fo', 'fo'],
    ['testing', 'testing'],
    ['discoveryMethod', 'discovery_method'],
  ] as const) {
    const v = text(get(policy, tag));
    if (v !== undefined) pp[key] = v.toLowerCase();
  }
  const pct = int(get(policy, 'pct'));
  if (pct !== undefined) pp.pct = pct;
  if (!report.metadata.orgName) warnings.push('missing org_name');
  if (!report.metadata.reportId) warnings.push('missing report_id');
  if (!pp.domain) warnings.push('missing policy_published/domain');

  for (const r of list(get(feedback, 'record'))) {
    const rec = record(obj(r));
    if (rec) report.records.push(rec);
    else warnings.push('record without source_ip skipped');
  }
  return report;
}

/**
 * Records are counted before the XML is parsed: a tree of 100,000 records costs a gigabyte and tens
 * of seconds, and the rows it would write are worth nothing to anyone. Past the limit the report is
 * refused whole (CONTENT_LIMIT_EXCEEDED), never truncated: a summary built from part of a report
 * would undercount without saying so.
 */
function checkRecordCount(xml: string, name: string): void {
  const max = reportLimits().maxRecords;
  const closing = /<\/(?:\w+:)?record\s*>/gi;
  let n = 0;
  while (closing.exec(xml)) {
    if (++n > max) throw limitExceeded('maxRecords', `DMARC report ${name} has more than ${max} records`, max);
  }
}

function record(r: Node): DmarcRecord | undefined {
  const row = obj(get(r, 'row'));
  const sourceIp = text(get(row, 'source_ip'));
  if (!sourceIp) return undefined;
  const pe = obj(get(row, 'policy_evaluated'));
  const ids = obj(get(r, 'identifiers'));
  const auth = obj(get(r, 'auth_results'));
  const rec: DmarcRecord = {
    sourceIp,
    count: int(get(row, 'count')) ?? 0,
    reasons: list(get(pe, 'reason')).map((x) => {
      const n = obj(x);
      const reason: { type: string; comment?: string } = { type: (text(get(n, 'type')) ?? text(x) ?? '').toLowerCase() };
      const comment = text(get(n, 'comment'));
      if (comment) reason.comment = comment;
      return reason;
    }),
    authResults: {
      dkim: list(get(auth, 'dkim')).map((x) =>
        pick(obj(x), { domain: 'domain', selector: 'selector', result: 'result', humanResult: 'human_result' }),
      ),
      spf: list(get(auth, 'spf')).map((x) =>
        pick(obj(x), { domain: 'domain', scope: 'scope', result: 'result', humanResult: 'human_result' }),
      ),
    },
  };
  for (const [key, node, tag] of [
    ['disposition', pe, 'disposition'],
    ['dkim', pe, 'dkim'],
    ['spf', pe, 'spf'],
  ] as const) {
    const v = text(get(node, tag));
    if (v) rec[key] = v.toLowerCase();
  }
  for (const [key, tag] of [
    ['headerFrom', 'header_from'],
    ['envelopeFrom', 'envelope_from'],
    ['envelopeTo', 'envelope_to'],
  ] as const) {
    const v = text(get(ids, tag));
    if (v) rec[key] = v.toLowerCase();
  }
  return rec;
}

function findFeedback(doc: Node): Node | undefined {
  const direct = get(doc, 'feedback');
  if (direct !== undefined) return obj(Array.isArray(direct) ? direct[0] : direct);
  // A wrapper element around <feedback>, or a root that is the report itself.
  for (const v of Object.values(doc)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const inner = findFeedback(v as Node);
      if (inner) return inner;
    }
  }
  return get(doc, 'report_metadata') !== undefined ? doc : undefined;
}

/** Case-insensitive child lookup (some reporters capitalise tags). */
function get(node: Node | undefined, key: string): unknown {
  if (!node || typeof node !== 'object') return undefined;
  if (key in node) return node[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(node)) if (k.toLowerCase() === lower) return node[k];
  return undefined;
}

function obj(v: unknown): Node {
  if (Array.isArray(v)) return obj(v[0]);
  return v && typeof v === 'object' ? (v as Node) : {};
}

function list(v: unknown): unknown[] {
  return v === undefined || v === null || v === '' ? [] : Array.isArray(v) ? v : [v];
}

function text(v: unknown): string | undefined {
  if (Array.isArray(v)) return text(v[0]);
  if (typeof v === 'string' || typeof v === 'number') return String(v).trim() || undefined;
  if (v && typeof v === 'object' && '#text' in v) return text((v as Node)['#text']);
  return undefined;
}

function int(v: unknown): number | undefined {
  const t = text(v);
  if (t === undefined || !/^-?\d+(\.0+)?$/.test(t)) return undefined;
  return Number.parseInt(t, 10);
}

function setText<T extends object>(o: T, key: keyof T, v: unknown): void {
  const t = text(v);
  if (t !== undefined) (o as Record<string, unknown>)[key as string] = t;
}

function pick<K extends string>(node: Node, keys: Record<K, string>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [key, tag] of Object.entries(keys) as [K, string][]) {
    const v = text(get(node, tag));
    if (v !== undefined) out[key] = key === 'humanResult' || key === 'selector' ? v : v.toLowerCase();
  }
  return out;
}
