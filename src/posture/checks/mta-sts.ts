import { isTextPlain, MAX_MAX_AGE, parseMtaStsPolicy, parseMtaStsTxt, policyAllowsMx, policyUrl } from '../../transport-policy/index.js';
import type { CheckContext, CheckOutcome } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';

/** A policy host certificate closer than this to its end is reported (and alerted on by the monitor). */
export const CERT_EXPIRY_WARNING_DAYS = 14;
/** RFC 8461 §3.2 suggests weeks or more; under a day the policy barely outlives one delivery. */
const MIN_SENSIBLE_MAX_AGE = 86_400;

/**
 * MTA-STS (RFC 8461): the `_mta-sts` TXT record, the HTTPS policy fetched with PKIX validation and
 * the text/plain check (transport-policy's fetcher, the one delivery uses), the policy's syntax,
 * mode and max_age, and whether every MX host is covered by its patterns.
 */
export async function checkMtaSts(ctx: CheckContext): Promise<CheckOutcome> {
  const { domain } = ctx;
  const name = `_mta-sts.${domain}`;
  const out: RawFinding[] = [];
  const facts: Record<string, unknown> = {};
  const txt = await ctx.resolver.lookup(name, 'TXT');
  if (txt.kind === 'error') {
    out.push(raw('mta-sts.txt-invalid', name, `The ${name} lookup failed (${txt.failure}).`));
    return { findings: out, facts };
  }
  const parsed = parseMtaStsTxt(txt.kind === 'answer' ? txt.records : []);
  const template = `${name}. IN TXT "v=STSv1; id=<yyyymmddnn>"  and serve ${policyUrl(domain)}:\nversion: STSv1\nmode: enforce\nmx: <each MX host>\nmax_age: 1209600`;
  if (!parsed.ok) {
    if (parsed.problem === 'no-record') out.push(raw('mta-sts.missing', name, `${parsed.message}.`, template));
    else
      out.push(
        raw('mta-sts.txt-invalid', name, `${parsed.message}.`, `${name}. IN TXT "v=STSv1; id=<yyyymmddnn>"`, { records: parsed.records }),
      );
    return { findings: out, facts };
  }
  facts.id = parsed.id;
  const [fetched, mx] = await Promise.all([ctx.fetchPolicy(domain), ctx.mx()]);
  const url = policyUrl(domain);
  if (fetched.certificate) facts.certificateValidTo = fetched.certificate.validTo;
  if (!fetched.ok) {
    out.push(
      raw(
        'mta-sts.policy-fetch-failed',
        url,
        `Fetching ${url} failed (${fetched.failure}): ${fetched.message}.`,
        `Serve ${url} over HTTPS with a certificate valid for mta-sts.${domain}, status 200 and Content-Type text/plain.`,
        { failure: fetched.failure, ...(fetched.status ? { status: fetched.status } : {}) },
      ),
    );
    return { findings: out, facts };
  }
  if (!isTextPlain(fetched.contentType)) {
    out.push(
      raw(
        'mta-sts.policy-fetch-failed',
        url,
        `${url} is served as "${fetched.contentType}", not text/plain.`,
        `Serve ${url} with Content-Type: text/plain.`,
        { failure: 'content-type' },
      ),
    );
  }
  if (fetched.certificate) {
    const validTo = Date.parse(fetched.certificate.validTo);
    const days = Math.floor((validTo - ctx.now) / 86_400_000);
    if (Number.isFinite(validTo) && days < CERT_EXPIRY_WARNING_DAYS) {
      out.push(
        raw(
          'mta-sts.certificate-expiring',
          `mta-sts.${domain}`,
          `The certificate of mta-sts.${domain} expires in ${days} day(s) (${fetched.certificate.validTo}).`,
          `Renew the certificate of mta-sts.${domain}.`,
          { validTo: fetched.certificate.validTo, days },
        ),
      );
    }
  }
  const policy = parseMtaStsPolicy(fetched.body);
  if (!policy.ok) {
    const problems = policy.errors.map((e) => (e.line ? `line ${e.line}: ${e.message}` : e.message));
    out.push(
      raw(
        'mta-sts.policy-invalid',
        url,
        `The policy is invalid: ${problems.join('; ')}.`,
        `version: STSv1\nmode: enforce\nmx: <each MX host>\nmax_age: 1209600`,
        { errors: policy.errors },
      ),
    );
    return { findings: out, facts };
  }
  const p = policy.policy;
  facts.mode = p.mode;
  facts.mx = p.mx;
  facts.maxAge = p.maxAge;
  const body = (mode: string, maxAge: number, patterns = p.mx) =>
    `version: STSv1\nmode: ${mode}\n${patterns.map((m) => `mx: ${m}`).join('\n')}\nmax_age: ${maxAge}`;
  if (policy.ignoredKeys.length > 0)
    out.push(
      raw(
        'mta-sts.unknown-keys',
        url,
        `The policy has keys RFC 8461 does not define, which are ignored: ${policy.ignoredKeys.join(', ')}.`,
        undefined,
        { keys: policy.ignoredKeys },
      ),
    );
  if (p.mode === 'testing')
    out.push(
      raw(
        'mta-sts.mode-testing',
        url,
        'The policy mode is testing.',
        `${body('enforce', Math.max(p.maxAge, 1_209_600))}  (and change the id in ${name})`,
      ),
    );
  if (p.mode === 'none') out.push(raw('mta-sts.mode-none', url, 'The policy mode is none.', body('enforce', 1_209_600)));
  if (policy.warnings.some((w) => /exceeds/.test(w.message)))
    out.push(raw('mta-sts.max-age-capped', url, `max_age exceeds ${MAX_MAX_AGE}; it is capped.`, body(p.mode, MAX_MAX_AGE)));
  if (p.maxAge < MIN_SENSIBLE_MAX_AGE)
    out.push(raw('mta-sts.max-age-short', url, `max_age is ${p.maxAge} seconds.`, body(p.mode, 1_209_600)));
  if (p.mode !== 'none') {
    for (const host of mx.hosts) {
      if (!policyAllowsMx(p, host))
        out.push(
          raw(
            'mta-sts.mx-not-covered',
            host,
            `MX ${host} matches none of the policy's patterns (${p.mx.join(', ')}).`,
            body(p.mode, p.maxAge, [...p.mx, host]),
          ),
        );
    }
  }
  return { findings: out, facts };
}
