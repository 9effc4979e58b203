import { PostwardenError } from '../core/index.js';
import type { DkimKeyRow } from '../store/index.js';
import { dkimDnsName, dkimTxtValue } from './dkim-keys.js';
import { bounceDomainFor } from './verp.js';

/**
 * The DNS records a sending domain publishes, each with the reason it exists. Pure: the platform's
 * names (report domain, inbound MX, SPF include or sending IPs, tracking host) come in as
 * `PlatformIdentity`, the DKIM keys from the store.
 *
 *   <sel>._domainkey.<domain>  TXT    DKIM public key per selector (RFC 6376 §3.6.2)
 *   <domain>                   TXT    SPF naming the platform (RFC 7208 §3), recommended
 *   _dmarc.<domain>            TXT    v=DMARC1; p=none; rua=mailto:dmarc@<reportDomain> (RFC 7489 §6.3)
 *   <bounce>.<domain>          MX     the platform's inbound MX: async bounces and complaints come back
 *   <bounce>.<domain>          TXT    SPF of the return path, the domain SPF actually checks (VERP)
 *   <track>.<domain>           CNAME  optional click/open tracking host
 */
export interface PlatformIdentity {
  /** Label of the return-path subdomain (identity.bounceLabel). */
  bounceLabel: string;
  /** Domain of the report mailboxes: DMARC rua is mailto:dmarc@<reportDomain>. */
  reportDomain: string;
  /** Inbound MX host the return-path subdomain points at. */
  inboundMxHost: string;
  /** include:<spfInclude> when set; otherwise the sending IPs, or a:<hostname> when none are configured. */
  spfInclude: string;
  sendingIps: readonly string[];
  hostname: string;
  /** Empty: no tracking record. */
  trackingHost: string;
  trackingLabel: string;
  /**
   * Names above that have no dot (a bare OS host name such as `vm`): records built on them cannot
   * work, so they are refused with this list (the setting to set, the name, what uses it).
   */
  unqualified?: readonly { setting: string; name: string; use: string }[];
}

export type DomainRecordKind = 'dkim' | 'spf' | 'dmarc' | 'return-path-mx' | 'return-path-spf' | 'tracking';

export interface DomainRecord {
  /** Stable within a domain: `dkim:<selector>`, `spf`, `dmarc`, … */
  id: string;
  kind: DomainRecordKind;
  type: 'TXT' | 'MX' | 'CNAME';
  name: string;
  /** The value to publish (MX: `10 host`). */
  value: string;
  why: string;
  /** False for records that help but do not gate signing or sending (root SPF, tracking). */
  required: boolean;
  selector?: string;
  algorithm?: DkimKeyRow['algorithm'];
  /** DKIM: the key's lifecycle status. */
  keyStatus?: DkimKeyRow['status'];
  /** `remove`: a retired key's record, no longer needed (its removal is recommended). */
  action: 'publish' | 'remove';
}

/** The SPF mechanism that authorises the platform: `include:…`, the IPs, or `a:<hostname>`. */
export function platformSpfTerms(p: PlatformIdentity): string[] {
  if (p.spfInclude) return [`include:${p.spfInclude}`];
  if (p.sendingIps.length) return p.sendingIps.map((ip) => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`));
  return [`a:${p.hostname}`];
}

export function platformSpfRecord(p: PlatformIdentity): string {
  return `v=spf1 ${platformSpfTerms(p).join(' ')} ~all`;
}

export function dmarcRecordValue(p: PlatformIdentity): string {
  return `v=DMARC1; p=none; rua=mailto:dmarc@${p.reportDomain}`;
}

/** Every record to publish for `domain`: DKIM for each key that is not retired, then the rest. */
export function domainRecords(domain: string, keys: readonly DkimKeyRow[], p: PlatformIdentity): DomainRecord[] {
  const bounce = bounceDomainFor(domain, p.bounceLabel);
  const out: DomainRecord[] = keys.map((k) =>
    k.status === 'retired'
      ? {
          id: `dkim:${k.selector}`,
          kind: 'dkim' as const,
          type: 'TXT' as const,
          name: dkimDnsName(k.selector, domain),
          value: dkimTxtValue(k.algorithm, k.publicKey),
          why: `Retired DKIM key (selector ${k.selector}, retired ${new Date(k.retiredAt ?? 0).toISOString()}): nothing signs with it any more; remove this record`,
          required: false,
          selector: k.selector,
          algorithm: k.algorithm,
          keyStatus: k.status,
          action: 'remove' as const,
        }
      : {
          id: `dkim:${k.selector}`,
          kind: 'dkim' as const,
          type: 'TXT' as const,
          name: dkimDnsName(k.selector, domain),
          value: dkimTxtValue(k.algorithm, k.publicKey),
          why:
            k.status === 'pending'
              ? `DKIM public key (${k.algorithm}) for selector ${k.selector}; signing with it starts once this record is found in DNS (RFC 6376 §3.6.2)`
              : `DKIM public key (${k.algorithm}) for selector ${k.selector}: receivers fetch it to verify signatures with d=${domain} (RFC 6376 §3.6.2)`,
          required: true,
          selector: k.selector,
          algorithm: k.algorithm,
          keyStatus: k.status,
          action: 'publish' as const,
        },
  );
  out.push(
    {
      id: 'spf',
      kind: 'spf',
      type: 'TXT',
      name: domain,
      value: platformSpfRecord(p),
      why: `SPF for ${domain} naming the platform (RFC 7208 §3); if ${domain} already has an SPF record, add ${platformSpfTerms(p).join(' ')} to it instead of publishing a second one (§3.2)`,
      required: false,
      action: 'publish',
    },
    {
      id: 'dmarc',
      kind: 'dmarc',
      type: 'TXT',
      name: `_dmarc.${domain}`,
      value: dmarcRecordValue(p),
      why: `DMARC policy starting at p=none (monitor), with aggregate reports to the platform so the advisor can recommend quarantine, then reject (RFC 7489 §6.3)`,
      required: true,
      action: 'publish',
    },
    {
      id: 'return-path-mx',
      kind: 'return-path-mx',
      type: 'MX',
      name: bounce,
      value: `10 ${p.inboundMxHost}`,
      why: `Return path: every message's envelope sender is a VERP address at ${bounce}, so asynchronous bounces and complaints come back to the platform's inbound MX`,
      required: true,
      action: 'publish',
    },
    {
      id: 'return-path-spf',
      kind: 'return-path-spf',
      type: 'TXT',
      name: bounce,
      value: platformSpfRecord(p),
      why: `SPF of the return-path domain, the identity receivers check (RFC 7208 §2.4); ${bounce} shares ${domain}'s organizational domain, so SPF aligns under relaxed DMARC (RFC 7489 §3.1.2)`,
      required: true,
      action: 'publish',
    },
  );
  if (p.trackingHost) {
    out.push({
      id: 'tracking',
      kind: 'tracking',
      type: 'CNAME',
      name: `${p.trackingLabel}.${domain}`,
      value: p.trackingHost,
      why: 'Optional: open and click tracking links on your own domain instead of the platform host',
      required: false,
      action: 'publish',
    });
  }
  return out;
}

/** HOSTNAME_UNQUALIFIED when the platform names the records need have no dot; undefined when fine. */
export function unpublishableProblem(p: PlatformIdentity): PostwardenError | undefined {
  const bad = p.unqualified ?? [];
  if (!bad.length) return undefined;
  const settings = [...new Set(bad.map((b) => b.setting))].join('; ');
  return new PostwardenError(
    'HOSTNAME_UNQUALIFIED',
    `DNS records are not offered: they would name "${bad[0]?.name}", which has no dot and which no one else can resolve. Set ${settings} to a fully qualified name and restart.`,
    {
      errors: bad.map((b) => ({
        path: `/${(b.setting.split(/[ ,]/)[0] ?? '').replaceAll('.', '/')}`,
        message: `"${b.name}" has no dot; it would be used in ${b.use}; set ${b.setting}`,
      })),
    },
  );
}
