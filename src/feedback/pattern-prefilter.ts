/**
 * A literal prefilter for the classifier's regexes (the idea of RE2's FilteredRE2 and Hyperscan):
 * from each pattern we derive a set of ASCII literals of which every match must contain at least one,
 * put all of them into one Aho-Corasick automaton, and scan each reply once. A rule whose literals
 * are all absent cannot match and its regexes are never run. Rules we cannot analyse are always run,
 * so the prefilter only ever skips work; it never changes a result.
 *
 * Why: running every rule's regexes over every reply made the cost grow with the ruleset (76 rules
 * took ~400 ms for 10k replies); with the prefilter a reply runs only the few rules it could match.
 *
 * Case: patterns run with the `i` flag and without `u`. In that mode a non-ASCII character never
 * matches an ASCII one (ECMA-262 Canonicalize), so ASCII literals compared against the lower-cased
 * reply are sound; non-ASCII pattern characters simply end a literal.
 */

/** Literals shorter than this filter almost nothing; such requirements are dropped. */
const MIN_LITERAL = 3;
const MAX_LITERALS = 256;
/** Largest set of exact strings kept before it is turned into a requirement (RE2's prefilter cap). */
const MAX_EXACT = 16;

/**
 * Lower-case literals, one of which occurs in every match of `source`; null when none can be derived.
 * The text it is checked against has its whitespace collapsed to single spaces, so `\s` is a space.
 */
export function requiredLiterals(source: string): string[] | null {
  const parser = new Parser(source);
  try {
    const info = parser.alternation();
    return parser.atEnd() ? requirement(info) : null;
  } catch {
    return null;
  }
}

/**
 * What a sub-pattern tells us: `exact`, every string it can match (when few and known), and `req`,
 * literals one of which every match contains. Concatenating exact sets builds longer literals
 * (`(user|recipient) (is )?unknown` gives `user unknown`, `user is unknown`, …), which filter far
 * better than the single words.
 */
interface Info {
  exact: string[] | null;
  req: string[] | null;
}

const ANY: Info = { exact: null, req: null };

function requirement(info: Info): string[] | null {
  const lits = info.exact ?? info.req;
  if (!lits || lits.length === 0 || lits.length > MAX_LITERALS) return null;
  // A shorter literal contained in a longer one makes the longer one redundant; drop it.
  const minimal = lits.filter((l) => !lits.some((o) => o !== l && o.length < l.length && l.includes(o)));
  return minimal.every((l) => l.length >= MIN_LITERAL) ? [...new Set(minimal)] : null;
}

/** The better of two requirements: the one whose shortest literal is longest. */
function better(a: string[] | null, b: string[] | null): string[] | null {
  const score = (x: string[] | null) =>
    x && requirement({ exact: null, req: x }) ? Math.min(...x.map((l) => l.length)) * 1000 - x.length : -1;
  return score(a) >= score(b) ? (score(a) < 0 ? null : a) : b;
}

function concat(a: Info, b: Info): Info {
  if (a.exact && b.exact && a.exact.length * b.exact.length <= MAX_EXACT) {
    return { exact: [...new Set(a.exact.flatMap((x) => b.exact!.map((y) => x + y)))], req: null };
  }
  // Too many combinations (or one side unknown): keep only what each side requires.
  return { exact: null, req: better(a.exact ?? a.req, b.exact ?? b.req) };
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  alternation(): Info {
    const alts: Info[] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    if (alts.length === 1) return alts[0]!;
    if (alts.every((a) => a.exact)) {
      const exact = [...new Set(alts.flatMap((a) => a.exact!))];
      if (exact.length <= MAX_EXACT) return { exact, req: null };
      return { exact: null, req: exact.length <= MAX_LITERALS ? exact : null };
    }
    const reqs = alts.map((a) => requirement(a));
    if (reqs.some((r) => r === null)) return ANY;
    const all = [...new Set(reqs.flat() as string[])];
    return { exact: null, req: all.length <= MAX_LITERALS ? all : null };
  }

  private sequence(): Info {
    let acc: Info = { exact: [''], req: null };
    let kept: string[] | null = null;
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.atom();
      const item = this.quantified(atom);
      const next = concat(acc, item);
      if (next.exact) acc = next;
      else {
        // The exact prefix ends here: remember its requirement and start a new one.
        kept = better(kept, better(requirement(acc), requirement(item)));
        acc = item.exact ? item : { exact: [''], req: null };
      }
    }
    if (kept === null) return acc;
    return { exact: null, req: better(kept, requirement(acc)) };
  }

  private quantified(atom: Info): Info {
    const c = this.s[this.i];
    let min = 1;
    let max = 1;
    if (c === '?') [min, max] = [0, 1];
    else if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.s.slice(this.i));
      if (!m) throw new Error('bad quantifier');
      min = Number(m[1] || 0);
      max = m[2] ? (m[3] ? Number(m[3]) : Infinity) : min;
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    if (this.s[this.i] === '?') this.i++;
    if (min === 0 && max === 1 && atom.exact) return { exact: [...new Set(['', ...atom.exact])], req: null };
    if (min === 1 && max === 1) return atom;
    if (min >= 1) return { exact: null, req: requirement(atom) };
    return ANY;
  }

  private atom(): Info {
    const c = this.s[this.i++]!;
    if (c === '\\') return this.escape();
    if (c === '^' || c === '$') return { exact: [''], req: null };
    if (c === '.') return ANY;
    if (c === '[') return this.charClass();
    if (c === '(') {
      let lookaround = false;
      if (this.s.startsWith('?:', this.i)) this.i += 2;
      else if (/^\?<?[=!]/.test(this.s.slice(this.i, this.i + 3))) {
        lookaround = true;
        this.i += this.s[this.i + 1] === '<' ? 3 : 2;
      } else if (this.s.startsWith('?<', this.i)) this.i = this.s.indexOf('>', this.i) + 1;
      const inner = this.alternation();
      if (this.s[this.i++] !== ')') throw new Error('unbalanced group');
      // A lookaround consumes nothing: as far as literals go it is the empty string.
      return lookaround ? { exact: [''], req: null } : inner;
    }
    if (c === ')' || c === '|' || '*+?{'.includes(c)) throw new Error(`unexpected ${c}`);
    return literal(c);
  }

  private escape(): Info {
    const c = this.s[this.i++];
    if (c === undefined) throw new Error('trailing backslash');
    if (c === 'b' || c === 'B') return { exact: [''], req: null };
    if (c === 's') return { exact: [' '], req: null };
    if ('.\\[](){}|^$*+?/-'.includes(c)) return literal(c);
    if (c === 'x') this.i += 2;
    else if (c === 'u') this.i += this.s[this.i] === '{' ? this.s.indexOf('}', this.i) - this.i + 1 : 4;
    else if (c === 'p' || c === 'P') this.i = this.s.indexOf('}', this.i) + 1;
    else if (c === 'k') this.i = this.s.indexOf('>', this.i) + 1;
    return ANY;
  }

  /** Small classes of plain ASCII characters (`[ -]`, `[ae]`, `[sz]`) become exact sets. */
  private charClass(): Info {
    const chars: string[] = [];
    let simple = this.s[this.i] !== '^';
    for (; this.i < this.s.length && this.s[this.i] !== ']'; this.i++) {
      let ch = this.s[this.i]!;
      if (ch === '\\') {
        ch = this.s[++this.i] ?? '';
        if (ch === 's') ch = ' ';
        else if (!'.\\[]-^$/'.includes(ch)) simple = false;
      } else if (ch === '-' && chars.length > 0 && this.s[this.i + 1] !== ']') simple = false;
      if (ch.charCodeAt(0) >= 128) simple = false;
      chars.push(ch.toLowerCase());
    }
    if (this.s[this.i++] !== ']') throw new Error('unterminated class');
    const set = [...new Set(chars)];
    return simple && set.length > 0 && set.length <= 8 ? { exact: set, req: null } : ANY;
  }
}

function literal(c: string): Info {
  return c.charCodeAt(0) < 128 ? { exact: [c.toLowerCase()], req: null } : ANY;
}

/** Which rules may match a reply: Aho-Corasick over every rule's required literals. */
export interface Prefilter {
  /** Flags per rule index: 1 = the rule's regexes must run for this text. */
  candidates(lowerText: string): Uint8Array;
}

/** `literalsByRule[i]` is null for a rule that must always run (or has no patterns: never asked). */
export function buildPrefilter(literalsByRule: (string[] | null)[]): Prefilter {
  // Only the finished tables are in scope of the closure: a closure keeps every variable its
  // scope shares with other closures alive, and the trie built on the way (one holey array per
  // state, 12 MB for the default ruleset) stayed on the heap for the life of the process, where
  // every full collection marked it again.
  const { always, delta, outputs } = automaton(literalsByRule);
  return {
    candidates(lowerText: string): Uint8Array {
      const flags = always.slice();
      let s = 0;
      for (let k = 0; k < lowerText.length; k++) {
        const ch = lowerText.charCodeAt(k);
        s = ch < 128 ? delta[s * 128 + ch]! : 0;
        const o = outputs[s];
        if (o) for (let j = 0; j < o.length; j++) flags[o[j]!] = 1;
      }
      return flags;
    },
  };
}

function automaton(literalsByRule: (string[] | null)[]): { always: Uint8Array; delta: Int32Array; outputs: (Int32Array | null)[] } {
  const always = Uint8Array.from(literalsByRule, (l) => (l === null ? 1 : 0));
  const goto: number[][] = [[]];
  const out: number[][] = [[]];
  for (const [rule, lits] of literalsByRule.entries()) {
    for (const lit of lits ?? []) {
      let s = 0;
      for (let k = 0; k < lit.length; k++) {
        const ch = lit.charCodeAt(k);
        let next = goto[s]![ch];
        if (next === undefined) {
          next = goto.length;
          goto.push([]);
          out.push([]);
          goto[s]![ch] = next;
        }
        s = next;
      }
      if (!out[s]!.includes(rule)) out[s]!.push(rule);
    }
  }
  // Breadth-first: fail links, then a dense DFA table over ASCII (non-ASCII resets to the root).
  const n = goto.length;
  const delta = new Int32Array(n * 128);
  const fail = new Int32Array(n);
  const queue: number[] = [];
  for (let ch = 0; ch < 128; ch++) {
    const t = goto[0]![ch];
    if (t !== undefined) {
      delta[ch] = t;
      queue.push(t);
    }
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const s = queue[qi]!;
    for (const r of out[fail[s]!]!) if (!out[s]!.includes(r)) out[s]!.push(r);
    for (let ch = 0; ch < 128; ch++) {
      const t = goto[s]![ch];
      if (t !== undefined) {
        fail[t] = delta[fail[s]! * 128 + ch]!;
        delta[s * 128 + ch] = t;
        queue.push(t);
      } else {
        delta[s * 128 + ch] = delta[fail[s]! * 128 + ch]!;
      }
    }
  }
  return { always, delta, outputs: out.map((o) => (o.length ? Int32Array.from(o) : null)) };
}
