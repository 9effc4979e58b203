import { createPublicKey } from 'node:crypto';
import { dkimDnsName, minRsaBits } from '../../identity/index.js';
import type { CheckContext, CheckOutcome } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';

/**
 * DKIM keys at the selectors given (or known for a managed domain). Selectors cannot be listed from
 * DNS, so without any the check says so instead of guessing. RFC 6376 §3.6.1 tag list: `p=` empty
 * means revoked; `t=y` testing; RSA keys are measured by their modulus (RFC 8301 §3.2).
 */
export interface DkimKeyFacts {
  selector: string;
  state: 'present' | 'missing' | 'revoked' | 'invalid' | 'error';
  keyType?: string;
  bits?: number;
  testing?: boolean;
  /** First 16 characters of p=, enough to tell keys apart in a diff. */
  keyPrefix?: string;
}

export function parseTagList(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (!tags.has(name)) tags.set(name, part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

/** Code-unit order, independent of locale. */
const compareRecords = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function checkSelector(ctx: CheckContext, selector: string, out: RawFinding[]): Promise<DkimKeyFacts> {
  const name = dkimDnsName(selector, ctx.domain);
  const r = await ctx.resolver.lookup(name, 'TXT');
  if (r.kind === 'error') return { selector, state: 'error' };
  // Sorted so that with several records the one parsed (and so the findings and the report digest)
  // does not depend on the order of the DNS answer, which servers may rotate.
  const records = r.kind === 'answer' ? r.records.filter((t) => /(^|;)\s*p\s*=/i.test(t) || /^v=DKIM1/i.test(t)).sort(compareRecords) : [];
  if (records.length === 0) {
    out.push(
      raw(
        'dkim.key-missing',
        name,
        `No DKIM key at ${name} (${r.kind === 'answer' ? 'TXT without a key' : r.kind}).`,
        `${name}. IN TXT "v=DKIM1; k=rsa; p=<base64 public key>"  (postwarden domains add publishes it)`,
      ),
    );
    return { selector, state: 'missing' };
  }
  if (records.length > 1)
    out.push(raw('dkim.multiple-records', name, `${name} has ${records.length} DKIM records.`, `Keep one record at ${name}.`));
  const tags = parseTagList(records[0]!);
  const p = tags.get('p');
  const keyType = (tags.get('k') ?? 'rsa').toLowerCase();
  const testing = (tags.get('t') ?? '').split(':').includes('y');
  if (testing)
    out.push(raw('dkim.testing', name, `${name} carries t=y (testing).`, `${name}. IN TXT "${records[0]!.replace(/;\s*t=[^;]*/i, '')}"`));
  if (p === undefined) {
    out.push(raw('dkim.invalid-record', name, `${name} has no p= tag.`, `${name}. IN TXT "v=DKIM1; k=${keyType}; p=<base64 public key>"`));
    return { selector, state: 'invalid', keyType, testing };
  }
  if (p === '') {
    out.push(
      raw(
        'dkim.key-revoked',
        name,
        `${name} publishes an empty p= (revoked key).`,
        `If ${selector} still signs: ${name}. IN TXT "v=DKIM1; k=${keyType}; p=<base64 public key>"; otherwise stop signing with it.`,
      ),
    );
    return { selector, state: 'revoked', keyType, testing };
  }
  let bits: number | undefined;
  try {
    if (keyType === 'ed25519') {
      if (Buffer.from(p, 'base64').length !== 32) throw new Error('an Ed25519 key is 32 bytes');
      bits = 256;
    } else {
      const key = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
      bits = key.asymmetricKeyDetails?.modulusLength;
    }
  } catch (e) {
    out.push(
      raw(
        'dkim.invalid-record',
        name,
        `${name} has a p= that is not a ${keyType} public key (${(e as Error).message}).`,
        `${name}. IN TXT "v=DKIM1; k=${keyType}; p=<base64 public key>"`,
      ),
    );
    return { selector, state: 'invalid', keyType, testing };
  }
  if (keyType === 'rsa' && bits !== undefined && bits < minRsaBits) {
    out.push(
      raw(
        'dkim.weak-rsa',
        name,
        `${name} publishes a ${bits}-bit RSA key.`,
        `Rotate to a 2048-bit key: ${name.replace(selector, '<new selector>')}. IN TXT "v=DKIM1; k=rsa; p=<2048-bit key>"`,
        { bits },
      ),
    );
  }
  return { selector, state: 'present', keyType, ...(bits !== undefined ? { bits } : {}), testing, keyPrefix: p.slice(0, 16) };
}

export async function checkDkim(ctx: CheckContext): Promise<CheckOutcome> {
  const out: RawFinding[] = [];
  const selectors = [...new Set(ctx.selectors.map((s) => s.toLowerCase()))].sort();
  if (selectors.length === 0) {
    out.push(
      raw(
        'dkim.no-selectors',
        ctx.domain,
        `No DKIM selector was given or is known for ${ctx.domain}.`,
        `postwarden dns audit ${ctx.domain} --selectors <s1,s2>`,
      ),
    );
    return { findings: out, facts: { keys: [] } };
  }
  const keys = await Promise.all(selectors.map((s) => checkSelector(ctx, s, out)));
  return { findings: out, facts: { keys } };
}
