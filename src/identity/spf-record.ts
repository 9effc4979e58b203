import { type IpNetwork, network, parseIpv4Raw, parseIpv6Raw } from './ip-network.js';

/**
 * SPF record syntax (RFC 7208 §4.5, §4.6.1, §5, §6, §7.1) parsed once, before any term is
 * evaluated: §4.6 says a syntax error *anywhere* in the record is a permerror, even after a term
 * that would have matched. Parsing is pure; evaluation lives in spf.ts.
 */
export type SpfQualifier = '+' | '-' | '~' | '?';

export type MacroLetter = 's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'c' | 'r' | 't' | 'v';

export type MacroToken =
  | { kind: 'literal'; text: string }
  | {
      kind: 'macro';
      letter: MacroLetter;
      /** Upper-case letter: the expansion is URL-escaped (RFC 7208 §7.3). */
      escape: boolean;
      /** Keep this many right-hand parts; undefined keeps all. */
      digits?: number;
      reverse: boolean;
      delimiters: string;
    };

export interface MacroString {
  source: string;
  tokens: MacroToken[];
  /** True when a token needs expansion (anything but plain literals). */
  hasMacros: boolean;
  /** The last token is a macro-expand (incl. `%%`, `%_`, `%-`), which may end a domain-spec. */
  endsWithExpand: boolean;
}

export type SpfMechanism =
  | { kind: 'all' }
  | { kind: 'include'; domain: MacroString }
  | { kind: 'a'; domain?: MacroString; cidr4: number; cidr6: number }
  | { kind: 'mx'; domain?: MacroString; cidr4: number; cidr6: number }
  | { kind: 'ptr'; domain?: MacroString }
  | { kind: 'ip4'; network: IpNetwork }
  | { kind: 'ip6'; network: IpNetwork }
  | { kind: 'exists'; domain: MacroString };

export interface SpfDirective {
  type: 'directive';
  qualifier: SpfQualifier;
  mechanism: SpfMechanism;
  /** The term as written, for traces and findings. */
  text: string;
}

export interface SpfModifier {
  type: 'modifier';
  /** Lower-cased name (`redirect`, `exp`, or any unknown one). */
  name: string;
  value: MacroString;
  text: string;
}

export interface SpfRecord {
  text: string;
  terms: (SpfDirective | SpfModifier)[];
  directives: SpfDirective[];
  redirect?: SpfModifier;
  exp?: SpfModifier;
}

export interface SpfSyntaxError {
  /** Offset in the record text where the offending term starts. */
  position: number;
  term: string;
  message: string;
}

export type SpfParseResult = { ok: true; record: SpfRecord } | { ok: false; error: SpfSyntaxError };

/**
 * RFC 7208 §4.5: a record is an SPF record when it begins with the version section `v=spf1`,
 * terminated by a space or the end (so `v=spf10` is not one). ABNF literals are case-insensitive
 * (RFC 5234 §2.3), hence the `i` flag.
 */
export function isSpfRecord(txt: string): boolean {
  return /^v=spf1(?: |$)/i.test(txt);
}

const MACRO_LETTERS = new Set<string>(['s', 'l', 'o', 'd', 'i', 'p', 'h', 'c', 'r', 't', 'v']);
/** RFC 7208 §7.2: c, r and t are allowed only in the explanation text fetched by `exp`. */
const EXP_ONLY_LETTERS = new Set<string>(['c', 'r', 't']);

export type MacroContextKind = 'domain-spec' | 'explain-string' | 'modifier-value';

/**
 * Parse a macro-string (RFC 7208 §7.1). `explain-string` also allows SP and the exp-only letters;
 * an unknown modifier's value allows every letter since it is never expanded.
 */
export function parseMacroString(source: string, context: MacroContextKind): MacroString | string {
  const tokens: MacroToken[] = [];
  let literal = '';
  let hasMacros = false;
  let endsWithExpand = false;
  const flush = (): void => {
    if (literal) tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    const code = ch.charCodeAt(0);
    if (ch !== '%') {
      const visible = code >= 0x21 && code <= 0x7e;
      if (!visible && !(context === 'explain-string' && code === 0x20)) {
        return `invalid character ${JSON.stringify(ch)} at offset ${i}`;
      }
      literal += ch;
      endsWithExpand = false;
      continue;
    }
    const next = source[i + 1];
    if (next === '%' || next === '_' || next === '-') {
      // "%%" is "%", "%_" a space, "%-" a URL-encoded space (§7.3); they are macro-expands in
      // the ABNF, so they may end a domain-spec.
      literal += next === '%' ? '%' : next === '_' ? ' ' : '%20';
      flush();
      hasMacros = true;
      endsWithExpand = true;
      i++;
      continue;
    }
    if (next !== '{') return `"%" must be followed by "{", "%", "_" or "-" (offset ${i}; RFC 7208 §7.1)`;
    const close = source.indexOf('}', i + 2);
    if (close < 0) return `unterminated macro at offset ${i}`;
    const body = source.slice(i + 2, close);
    const m = /^([A-Za-z])(\d*)([rR]?)([.\-+,/_=]*)$/.exec(body);
    if (!m || !MACRO_LETTERS.has(m[1]!.toLowerCase())) return `invalid macro "%{${body}}" at offset ${i}`;
    const letter = m[1]!.toLowerCase() as MacroLetter;
    if (EXP_ONLY_LETTERS.has(letter) && context === 'domain-spec') {
      return `macro letter "${letter}" is allowed only in explanation text (RFC 7208 §7.2)`;
    }
    let digits: number | undefined;
    if (m[2]) {
      digits = Number(m[2]);
      // §7.3: "If a DIGIT is specified, the value MUST be nonzero."
      if (digits === 0) return `macro "%{${body}}" has a zero digit transformer (RFC 7208 §7.3)`;
    }
    flush();
    tokens.push({
      kind: 'macro',
      letter,
      escape: m[1] !== m[1]!.toLowerCase(),
      digits,
      reverse: m[3] !== '',
      delimiters: m[4] || '.',
    });
    hasMacros = true;
    endsWithExpand = true;
    i = close;
  }
  flush();
  return { source, tokens, hasMacros, endsWithExpand };
}

const TOPLABEL = /^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9])$/i;

/**
 * domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
 * (RFC 7208 §7.1). So `a:museum`, `a:1.2.3.4` (numeric toplabel) and `a:foo.` are errors.
 */
export function parseDomainSpec(source: string): MacroString | string {
  if (source === '') return 'empty domain-spec';
  const parsed = parseMacroString(source, 'domain-spec');
  if (typeof parsed === 'string') return parsed;
  if (parsed.endsWithExpand) return parsed;
  // A final "." after a macro (`exists:%{d}.`) is read as the absolute-name dot that the ABNF
  // allows after a toplabel; the ABNF omits it after macro-expand, but it names the same FQDN.
  const prev = parsed.tokens[parsed.tokens.length - 2];
  const lastTok = parsed.tokens[parsed.tokens.length - 1];
  if (lastTok?.kind === 'literal' && lastTok.text === '.' && prev?.kind === 'macro') return parsed;
  // The literal run after the last macro-expand must end in "." toplabel [ "." ].
  const last = parsed.tokens[parsed.tokens.length - 1];
  const tail = last?.kind === 'literal' ? last.text : '';
  const m = /\.([^.]*)\.?$/.exec(tail);
  if (!m || !TOPLABEL.test(m[1]!)) {
    return `"${source}" does not end in a valid top-level label or macro (RFC 7208 §7.1 domain-end)`;
  }
  return parsed;
}

const IP4_NETWORK = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)){3}$/;
const CIDR4 = /^(?:0|[1-9]\d?)$/;
const CIDR6 = /^(?:0|[1-9]\d{0,2})$/;

function cidr(text: string | undefined, family: 4 | 6): number | string | undefined {
  if (text === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!(family === 4 ? CIDR4 : CIDR6).test(text) || Number(text) > max) {
    return `invalid ip${family}-cidr-length "/${text}" (RFC 7208 §5.6: 0-${max}, no leading zeros)`;
  }
  return Number(text);
}

function parseMechanism(name: string, rest: string): SpfMechanism | string {
  switch (name) {
    case 'all':
      return rest === '' ? { kind: 'all' } : '"all" takes no argument';
    case 'include':
    case 'exists': {
      if (!rest.startsWith(':')) return `"${name}" requires ":domain-spec"`;
      const domain = parseDomainSpec(rest.slice(1));
      return typeof domain === 'string' ? domain : { kind: name, domain };
    }
    case 'ptr': {
      if (rest === '') return { kind: 'ptr' };
      if (!rest.startsWith(':')) return '"ptr" takes only ":domain-spec"';
      const domain = parseDomainSpec(rest.slice(1));
      return typeof domain === 'string' ? domain : { kind: 'ptr', domain };
    }
    case 'a':
    case 'mx': {
      // The dual-cidr-length sits at the end (§5.3); anything before it is the domain-spec, which
      // may itself contain ":" and "/" (macro-literal allows them).
      const m = /^(.*?)(?:\/(\d+))?(?:\/\/(\d+))?$/s.exec(rest)!;
      const [, spec, c4, c6] = m;
      const cidr4 = cidr(c4, 4);
      const cidr6 = cidr(c6, 6);
      if (typeof cidr4 === 'string') return cidr4;
      if (typeof cidr6 === 'string') return cidr6;
      let domain: MacroString | undefined;
      if (spec !== '') {
        if (!spec!.startsWith(':')) return `"${name}" argument must start with ":" or "/"`;
        const parsed = parseDomainSpec(spec!.slice(1));
        if (typeof parsed === 'string') return parsed;
        domain = parsed;
      }
      return { kind: name, domain, cidr4: cidr4 ?? 32, cidr6: cidr6 ?? 128 };
    }
    case 'ip4': {
      if (!rest.startsWith(':')) return '"ip4" requires ":ip4-network"';
      const [addr, len, extra] = rest.slice(1).split('/');
      if (extra !== undefined || !IP4_NETWORK.test(addr!)) return `invalid ip4-network "${rest.slice(1)}"`;
      const prefix = cidr(len, 4);
      if (typeof prefix === 'string') return prefix;
      return { kind: 'ip4', network: network(4, parseIpv4Raw(addr!)!, prefix ?? 32) };
    }
    case 'ip6': {
      if (!rest.startsWith(':')) return '"ip6" requires ":ip6-network"';
      const body = rest.slice(1);
      const slash = body.indexOf('/');
      const addr = slash < 0 ? body : body.slice(0, slash);
      const value = parseIpv6Raw(addr);
      if (value === null) return `invalid ip6-network "${body}"`;
      const prefix = cidr(slash < 0 ? undefined : body.slice(slash + 1), 6);
      if (typeof prefix === 'string') return prefix;
      return { kind: 'ip6', network: network(6, value, prefix ?? 128) };
    }
    default:
      return `unknown mechanism "${name}"`;
  }
}

const QUALIFIERS = new Set(['+', '-', '~', '?']);

/** Parse a full record (it must already be an SPF record per `isSpfRecord`). */
export function parseSpfRecord(text: string): SpfParseResult {
  if (!isSpfRecord(text)) return { ok: false, error: { position: 0, term: text.slice(0, 6), message: 'not a v=spf1 record' } };
  const terms: (SpfDirective | SpfModifier)[] = [];
  const directives: SpfDirective[] = [];
  let redirect: SpfModifier | undefined;
  let exp: SpfModifier | undefined;
  const re = / +([^ ]+)/g;
  const body = text.slice(6);
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = re.exec(body)) !== null) {
    if (match.index !== consumed) break;
    consumed = match.index + match[0].length;
    const term = match[1]!;
    const position = 6 + match.index + match[0].length - term.length;
    const fail = (message: string): SpfParseResult => ({ ok: false, error: { position, term, message } });
    const m = /^([+\-~?]?)([A-Za-z][A-Za-z0-9_.-]*)(.*)$/s.exec(term);
    if (!m) return fail(`"${term}" is neither a mechanism nor a modifier`);
    const [, qualifier, rawName, rest] = m as unknown as [string, string, string, string];
    const name = rawName.toLowerCase();
    if (rest.startsWith('=')) {
      if (qualifier) return fail('a modifier cannot carry a qualifier');
      const raw = rest.slice(1);
      const known = name === 'redirect' || name === 'exp';
      const value = known ? parseDomainSpec(raw) : parseMacroString(raw, 'modifier-value');
      if (typeof value === 'string') return fail(value);
      const modifier: SpfModifier = { type: 'modifier', name, value, text: term };
      // §6: redirect and exp MUST NOT appear more than once each.
      if (name === 'redirect') {
        if (redirect) return fail('"redirect" appears more than once (RFC 7208 §6)');
        redirect = modifier;
      } else if (name === 'exp') {
        if (exp) return fail('"exp" appears more than once (RFC 7208 §6)');
        exp = modifier;
      }
      terms.push(modifier);
      continue;
    }
    const mechanism = parseMechanism(name, rest);
    if (typeof mechanism === 'string') return fail(mechanism);
    const directive: SpfDirective = {
      type: 'directive',
      qualifier: (QUALIFIERS.has(qualifier) ? qualifier : '+') as SpfQualifier,
      mechanism,
      text: term,
    };
    terms.push(directive);
    directives.push(directive);
  }
  // Whatever is left must be trailing spaces only (record = version terms *SP).
  if (!/^ *$/.test(body.slice(consumed))) {
    return { ok: false, error: { position: 6 + consumed, term: body.slice(consumed), message: 'unexpected text' } };
  }
  return { ok: true, record: { text, terms, directives, redirect, exp } };
}

/** Parse fetched explanation text (RFC 7208 §6.2: explain-string = *( macro-string / SP )). */
export function parseExplainString(text: string): MacroString | string {
  return parseMacroString(text, 'explain-string');
}
