import { controlsFor } from './controls.js';
import type { PostureArea, PostureFinding, PostureSeverity, RawFinding } from './finding.js';

/**
 * Every finding id the auditor can report, with its severity, the section it rests on, a title and
 * why it matters. docs/posture.md carries the same table; a test keeps the two in step.
 */
export interface CatalogueEntry {
  severity: PostureSeverity;
  rfc: string;
  title: string;
  why: string;
}

const e = (severity: PostureSeverity, rfc: string, title: string, why: string): CatalogueEntry => ({ severity, rfc, title, why });

export const catalogue: Record<string, CatalogueEntry> = {
  'mx.missing': e(
    'medium',
    'RFC 5321 §5.1',
    'No MX record',
    'Senders fall back to the address record (implicit MX), which is rarely the intended mail host.',
  ),
  'mx.lookup-failed': e(
    'medium',
    'RFC 5321 §5.1',
    'MX lookup failed',
    'Senders that cannot read the MX set defer mail; the audit cannot vouch for routing.',
  ),
  'mx.null': e(
    'info',
    'RFC 7505 §3',
    'Null MX: the domain accepts no mail',
    'Correct for domains that never receive mail; senders bounce at once instead of retrying.',
  ),
  'mx.null-mixed': e(
    'high',
    'RFC 7505 §3',
    'Null MX published beside other MX records',
    'RFC 7505 says a Null MX must be the only MX record; receivers may treat the domain as not accepting mail.',
  ),
  'mx.cname-target': e(
    'medium',
    'RFC 5321 §5.1, RFC 2181 §10.3',
    'MX target is a CNAME',
    'MX targets must be host names with address records; a CNAME target is a protocol violation some senders refuse.',
  ),
  'mx.ip-literal': e(
    'high',
    'RFC 5321 §5.1, RFC 1035 §3.3.9',
    'MX target is an IP literal',
    'An MX names a host, never an address; senders look up "192.0.2.1" as a name and fail.',
  ),
  'mx.unresolvable': e(
    'high',
    'RFC 5321 §5.1',
    'MX target has no address',
    'A host without A/AAAA records cannot receive mail; senders skip it or bounce.',
  ),
  'mx.unapproved': e(
    'high',
    'RFC 5321 §5.1 (tenant policy)',
    'MX target is not an approved server',
    'Mail for the domain is routed to a server outside the approved list: a misconfiguration or a hijack.',
  ),

  'spf.missing': e(
    'high',
    'RFC 7208 §4.5',
    'No SPF record',
    'Receivers get "none" and cannot tell the domain\'s servers from forgers; DMARC cannot pass on SPF.',
  ),
  'spf.multiple-records': e(
    'high',
    'RFC 7208 §4.5',
    'More than one SPF record',
    'Receivers return permerror, so SPF fails for every message.',
  ),
  'spf.syntax': e('high', 'RFC 7208 §4.6', 'SPF syntax error', 'A syntax error anywhere makes the whole record a permerror.'),
  'spf.dns-error': e('medium', 'RFC 7208 §4.4', 'SPF record could not be read', 'Receivers get temperror and may defer or ignore SPF.'),
  'spf.plus-all': e('critical', 'RFC 7208 §5.1', 'SPF "+all" authorizes every host', 'Any host on the internet passes SPF for the domain.'),
  'spf.neutral-all': e('medium', 'RFC 7208 §8.2', 'SPF "?all"', 'Unlisted hosts get neutral, which protects nothing.'),
  'spf.missing-all': e('medium', 'RFC 7208 §4.7', 'SPF has no "all" and no redirect', 'Unlisted hosts get neutral by default.'),
  'spf.redirect-ignored': e(
    'low',
    'RFC 7208 §6.1',
    'SPF redirect ignored',
    'A redirect beside "all" is never used, which usually hides a mistake.',
  ),
  'spf.terms-after-all': e('low', 'RFC 7208 §5.1', 'SPF terms after "all"', 'Terms after "all" are never evaluated.'),
  'spf.ptr': e(
    'medium',
    'RFC 7208 §5.5',
    'SPF uses "ptr"',
    'ptr is slow and unreliable; many receivers skip it, so hosts it should authorize fail.',
  ),
  'spf.duplicate-mechanism': e('low', 'RFC 7208 §4.6.4', 'SPF repeats a mechanism', 'Duplicates cost lookups or bytes for nothing.'),
  'spf.loop': e('high', 'RFC 7208 §4.6.4, §5.2', 'SPF include loop', 'An include that leads back to itself ends in permerror.'),
  'spf.target-without-record': e(
    'high',
    'RFC 7208 §5.2, §6.1',
    'SPF include or redirect without a record',
    'An include of a domain without SPF is a permerror.',
  ),
  'spf.lookup-limit': e(
    'high',
    'RFC 7208 §4.6.4',
    'More than 10 SPF DNS lookups',
    'Receivers stop at 10 DNS-querying terms and return permerror.',
  ),
  'spf.lookup-near-limit': e(
    'low',
    'RFC 7208 §4.6.4',
    'SPF close to the 10-lookup limit',
    'One more provider include may break SPF for every message.',
  ),
  'spf.void-limit': e(
    'high',
    'RFC 7208 §4.6.4',
    'More than 2 void SPF lookups',
    'Receivers may return permerror after two lookups that find nothing.',
  ),
  'spf.mx-too-many-hosts': e(
    'high',
    'RFC 7208 §4.6.4',
    'SPF "mx" names more than 10 hosts',
    'Receivers return permerror for an mx mechanism with more than 10 hosts.',
  ),
  'spf.multi-string': e(
    'info',
    'RFC 7208 §3.3',
    'SPF record longer than one 255-byte string',
    'It must be published as several character-strings joined without spaces; some DNS consoles get this wrong.',
  ),
  'spf.udp-512': e('medium', 'RFC 7208 §3.4', 'TXT answer over 512 bytes', 'Receivers must retry over TCP or EDNS, and some fail to.'),
  'spf.parked-not-locked': e(
    'medium',
    'RFC 7208 §4.7, RFC 7505',
    'Domain without mail is not locked by SPF',
    'A domain that sends no mail should publish "v=spf1 -all" so forgers get a hard fail.',
  ),

  'dkim.no-selectors': e(
    'info',
    'RFC 6376 §3.6.2.1',
    'No DKIM selector to check',
    'Selectors are not discoverable in DNS; pass --selectors to check the keys in use.',
  ),
  'dkim.key-missing': e(
    'high',
    'RFC 6376 §3.6.2.2',
    'DKIM key not published',
    'Signatures made with this selector fail verification (permfail, no key).',
  ),
  'dkim.multiple-records': e(
    'medium',
    'RFC 6376 §3.6.2.2',
    'Several DKIM records at one selector',
    'Verifiers may pick either; results become unpredictable.',
  ),
  'dkim.invalid-record': e('high', 'RFC 6376 §3.6.1', 'DKIM key record is malformed', 'Verifiers cannot read the key, so signatures fail.'),
  'dkim.key-revoked': e(
    'medium',
    'RFC 6376 §3.6.1',
    'DKIM key revoked (empty p=)',
    'Signatures with this selector fail; fine for a retired key, wrong for one in use.',
  ),
  'dkim.testing': e(
    'medium',
    'RFC 6376 §3.6.1',
    'DKIM key in testing mode (t=y)',
    'Verifiers may treat failures as if unsigned, and DMARC gains nothing.',
  ),
  'dkim.weak-rsa': e(
    'high',
    'RFC 8301 §3.2',
    'DKIM RSA key shorter than 2048 bits',
    'Short RSA keys are factorable; receivers increasingly ignore keys under 2048 bits.',
  ),

  'dmarc.missing': e(
    'high',
    'RFC 7489 §6.1',
    'No DMARC record',
    'Receivers apply no policy to mail that fails authentication, and no reports are sent.',
  ),
  'dmarc.lookup-failed': e('medium', 'RFC 7489 §6.6.3', 'DMARC lookup failed', 'Receivers get a temporary error and apply no policy.'),
  'dmarc.inherited': e(
    'info',
    'RFC 7489 §6.6.3',
    'DMARC policy comes from the organizational domain',
    "The domain has no record of its own; the organizational domain's policy (sp=) applies.",
  ),
  'dmarc.wrong-location': e(
    'high',
    'RFC 7489 §6.1',
    'DMARC record published at the wrong name',
    'Receivers only query _dmarc.<domain>; a v=DMARC1 record elsewhere is never read.',
  ),
  'dmarc.multiple-records': e('high', 'RFC 7489 §6.6.3', 'Several DMARC records', 'Receivers discard all of them, as if there were none.'),
  'dmarc.syntax': e('high', 'RFC 7489 §6.3', 'DMARC syntax problem', 'Invalid tags are ignored or make the record unusable.'),
  'dmarc.policy-none': e('high', 'RFC 7489 §6.3', 'DMARC policy p=none', 'Monitoring only: forged mail is delivered as usual.'),
  'dmarc.policy-quarantine': e(
    'low',
    'RFC 7489 §6.3',
    'DMARC policy p=quarantine',
    'Forged mail goes to spam rather than being refused; reject is the goal.',
  ),
  'dmarc.subdomain-weaker': e(
    'medium',
    'RFC 7489 §6.3',
    'Subdomain policy (sp=) weaker than p=',
    'Forgers use any subdomain to escape the policy.',
  ),
  'dmarc.np-weaker': e(
    'low',
    'DMARCbis §4.7 (np)',
    'Non-existent subdomain policy (np=) weaker than p=',
    'Mail from made-up subdomains gets the weaker policy.',
  ),
  'dmarc.testing': e(
    'medium',
    'DMARCbis §4.7 (t)',
    'DMARC policy in testing mode (t=y)',
    'Receivers apply one level less than the published policy.',
  ),
  'dmarc.pct-partial': e('medium', 'RFC 7489 §6.3 (pct)', 'DMARC pct below 100', 'Only part of the failing mail gets the policy.'),
  'dmarc.removed-tag': e(
    'low',
    'DMARCbis §4.7',
    'DMARC tag removed in DMARCbis',
    'pct, rf and ri are gone in DMARCbis; receivers will ignore them.',
  ),
  'dmarc.no-rua': e(
    'medium',
    'RFC 7489 §6.3 (rua), §7.2',
    'No DMARC aggregate report address',
    'Without reports nobody sees who sends as the domain or what fails.',
  ),
  'dmarc.invalid-uri': e('medium', 'RFC 7489 §6.4', 'Invalid DMARC report URI', 'Receivers cannot send reports to an invalid URI.'),
  'dmarc.external-unauthorized': e(
    'medium',
    'RFC 7489 §7.1',
    'External report destination not authorized',
    'The destination does not publish <domain>._report._dmarc, so receivers will not send it reports.',
  ),

  'mta-sts.missing': e('medium', 'RFC 8461 §3.1', 'No MTA-STS', 'Senders deliver over opportunistic TLS that an attacker can strip.'),
  'mta-sts.txt-invalid': e('high', 'RFC 8461 §3.1', 'MTA-STS TXT record invalid', 'Senders treat the domain as having no policy.'),
  'mta-sts.policy-fetch-failed': e(
    'high',
    'RFC 8461 §3.3',
    'MTA-STS policy could not be fetched',
    'Without the policy (valid certificate, 200, text/plain) senders fall back to opportunistic TLS.',
  ),
  'mta-sts.policy-invalid': e('high', 'RFC 8461 §3.2', 'MTA-STS policy invalid', 'Senders ignore a policy they cannot parse.'),
  'mta-sts.unknown-keys': e(
    'info',
    'RFC 8461 §3.2',
    'MTA-STS policy has unknown keys',
    'Unknown keys are ignored; harmless, but often a typo of a real key.',
  ),
  'mta-sts.mode-testing': e(
    'medium',
    'RFC 8461 §5',
    'MTA-STS in testing mode',
    'Failures are only reported; mail is still delivered without verified TLS.',
  ),
  'mta-sts.mode-none': e('medium', 'RFC 8461 §5', 'MTA-STS mode none', 'The policy is withdrawn; senders do not require TLS.'),
  'mta-sts.max-age-short': e(
    'low',
    'RFC 8461 §3.2',
    'MTA-STS max_age under a day',
    'A short max_age leaves senders without a cached policy, so a downgrade on first contact succeeds.',
  ),
  'mta-sts.max-age-capped': e('low', 'RFC 8461 §3.2', 'MTA-STS max_age above one year', 'Values above 31557600 are capped.'),
  'mta-sts.mx-not-covered': e(
    'high',
    'RFC 8461 §4.1',
    'MX host not covered by the MTA-STS policy',
    'In enforce mode senders refuse to deliver to an MX the policy does not list.',
  ),
  'mta-sts.certificate-expiring': e(
    'high',
    'RFC 8461 §3.3',
    'MTA-STS policy host certificate expires soon',
    'When it expires senders cannot refresh the policy.',
  ),

  'tls-rpt.missing': e(
    'low',
    'RFC 8460 §3',
    'No TLS-RPT record',
    'Senders cannot report TLS failures, so MTA-STS or DANE problems go unseen.',
  ),
  'tls-rpt.multiple-records': e('medium', 'RFC 8460 §3', 'Several TLS-RPT records', 'Senders ignore them all.'),
  'tls-rpt.invalid': e('medium', 'RFC 8460 §3', 'TLS-RPT record invalid', 'Senders cannot read where to report.'),
  'tls-rpt.bad-rua': e('medium', 'RFC 8460 §3', 'TLS-RPT rua is not mailto: or https:', 'Reports can only go to mailto: or https: URIs.'),

  'dnssec.unsigned': e(
    'medium',
    'RFC 4035 §3.2.3, RFC 6840 §5.8',
    'Domain does not validate with DNSSEC',
    'Answers can be forged on path; DANE is impossible for the domain.',
  ),
  'dnssec.mx-unsigned': e(
    'medium',
    'RFC 7672 §2.2',
    'MX host zone does not validate with DNSSEC',
    'DANE cannot protect delivery to this MX.',
  ),

  'dane.missing': e(
    'low',
    'RFC 7672 §2.2',
    'No TLSA for a signed MX host',
    'The zone is signed, so DANE would give verified TLS at no extra trust cost.',
  ),
  'dane.lookup-failed': e(
    'high',
    'RFC 7672 §2.2',
    'TLSA lookup failed for a signed MX host',
    'DANE senders must not deliver to this host while the lookup fails.',
  ),
  'dane.insecure-tlsa': e(
    'medium',
    'RFC 7672 §2.2',
    'TLSA records not DNSSEC-validated',
    'Senders ignore TLSA records that are not secure.',
  ),
  'dane.pkix-usage': e(
    'medium',
    'RFC 7672 §3.1.3',
    'TLSA uses PKIX usage 0 or 1 on port 25',
    'SMTP DANE ignores PKIX-TA/PKIX-EE records; use DANE-EE (3) or DANE-TA (2).',
  ),
  'dane.unusable-record': e(
    'high',
    'RFC 7671 §4, RFC 6698 §2.1',
    'TLSA record unusable',
    'Unknown selector or matching type, or a digest of the wrong length: senders cannot use it.',
  ),
  'dane.no-rollover': e(
    'low',
    'RFC 7671 §8.1',
    'TLSA not ready for key rollover',
    'With one key only, a certificate change breaks delivery until DNS catches up; publish the next key too, or 3 1 1 with 2 1 1.',
  ),

  'bimi.missing': e('info', 'BIMI draft §4', 'No BIMI record', 'No brand logo is shown; optional.'),
  'bimi.invalid': e('medium', 'BIMI draft §4.2', 'BIMI record invalid', 'Receivers ignore a record they cannot parse.'),
  'bimi.logo-not-https': e('medium', 'BIMI draft §4.2 (l=)', 'BIMI logo URL is not HTTPS', 'The l= tag must be an https URL.'),
  'bimi.logo-fetch-failed': e(
    'medium',
    'BIMI draft §4.2 (l=)',
    'BIMI logo could not be fetched as SVG',
    'Receivers show no logo when the SVG is missing or not image/svg+xml.',
  ),
  'bimi.no-certificate': e(
    'low',
    'BIMI draft §4.2 (a=)',
    'BIMI has no mark certificate (a=)',
    'Major mailbox providers show logos only with a verified mark certificate.',
  ),
  'bimi.certificate-fetch-failed': e(
    'medium',
    'BIMI draft §4.2 (a=)',
    'BIMI certificate could not be fetched',
    'Receivers cannot verify the mark.',
  ),
  'bimi.dmarc-not-enforced': e(
    'high',
    'BIMI draft §3.3',
    'BIMI without an enforced DMARC policy',
    'BIMI requires p=quarantine or p=reject at 100%; otherwise receivers ignore it.',
  ),

  'third-party.on-apex': e(
    'info',
    'RFC 7208 §4.6.4, RFC 7489 §3.1',
    'A register third party sends as the organisational domain',
    "On a subdomain of its own the service aligns, reports and is revoked apart from the organisation's mail, and frees SPF lookups of the apex.",
  ),
};

export function findingIds(): string[] {
  return Object.keys(catalogue).sort();
}

/** Completes a check's raw finding from the catalogue; an unknown id is a programming error. */
export function complete(r: RawFinding): PostureFinding {
  const entry = catalogue[r.id];
  if (!entry) throw new Error(`posture finding ${r.id} is not in the catalogue`);
  const area = r.id.slice(0, r.id.indexOf('.')) as PostureArea;
  return {
    id: r.id,
    area,
    severity: entry.severity,
    rfc: entry.rfc,
    title: entry.title,
    subject: r.subject,
    found: r.found,
    why: entry.why,
    ...(r.fix !== undefined ? { fix: r.fix } : {}),
    controls: controlsFor(area, r.id),
    evidence: r.evidence ?? {},
  };
}
