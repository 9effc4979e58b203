import { isIP } from 'node:net';
import { mxMatches } from '../../transport-policy/index.js';
import type { CheckContext, CheckOutcome, MxView } from '../check-context.js';
import { type RawFinding, raw } from '../finding.js';

/** Reads the MX set once per audit (the other checks share it). RFC 7505 §3: "0 ." is Null MX. */
export async function readMx(ctx: Pick<CheckContext, 'domain' | 'resolver'>): Promise<MxView> {
  const r = await ctx.resolver.lookup(ctx.domain, 'MX');
  if (r.kind === 'error') return { kind: 'error', records: [], hosts: [], detail: `${r.failure}: ${r.message}` };
  if (r.kind !== 'answer') return { kind: 'none', records: [], hosts: [], detail: r.kind };
  const records = [...r.records].sort((a, b) => a.priority - b.priority || a.exchange.localeCompare(b.exchange));
  const hosts = records.map((m) => m.exchange.toLowerCase().replace(/\.$/, '')).filter((h) => h !== '' && h !== '.');
  const isNull = records.some((m) => m.exchange === '' || m.exchange === '.');
  return { kind: isNull && hosts.length === 0 ? 'null' : 'hosts', records, hosts };
}

export async function checkMx(ctx: CheckContext): Promise<CheckOutcome> {
  const { domain } = ctx;
  const mx = await ctx.mx();
  const out: RawFinding[] = [];
  const facts: Record<string, unknown> = { kind: mx.kind, hosts: mx.records.map((m) => `${m.priority} ${m.exchange || '.'}`) };
  if (mx.kind === 'error') {
    out.push(raw('mx.lookup-failed', domain, `The MX lookup for ${domain} failed (${mx.detail}).`, undefined, { detail: mx.detail }));
    return { findings: out, facts };
  }
  if (mx.kind === 'none') {
    out.push(
      raw(
        'mx.missing',
        domain,
        `${domain} publishes no MX record (${mx.detail}).`,
        `${domain}. IN MX 10 mx.${domain}.  (or "0 ." if the domain takes no mail)`,
      ),
    );
    return { findings: out, facts };
  }
  if (mx.kind === 'null') {
    out.push(raw('mx.null', domain, `${domain} publishes a Null MX ("0 ."): it accepts no mail.`));
    return { findings: out, facts };
  }
  if (mx.records.some((m) => m.exchange === '' || m.exchange === '.')) {
    out.push(
      raw(
        'mx.null-mixed',
        domain,
        `${domain} publishes "0 ." beside ${mx.hosts.join(', ')}.`,
        `Remove either the "0 ." record or the other MX records at ${domain}.`,
      ),
    );
  }
  const resolved: Record<string, string[]> = {};
  await Promise.all(
    mx.hosts.map(async (host) => {
      if (isIP(host) !== 0 || /^\[.*\]$/.test(host)) {
        out.push(
          raw(
            'mx.ip-literal',
            host,
            `${domain} MX points at the address ${host}, not a host name.`,
            `${domain}. IN MX 10 <hostname>.  with <hostname>. IN A ${host}`,
          ),
        );
        return;
      }
      const [cname, a, aaaa] = await Promise.all([
        ctx.resolver.lookup(host, 'CNAME'),
        ctx.resolver.lookup(host, 'A'),
        ctx.resolver.lookup(host, 'AAAA'),
      ]);
      if (cname.kind === 'answer') {
        const target = cname.records[0] ?? '';
        out.push(raw('mx.cname-target', host, `MX target ${host} is a CNAME to ${target}.`, `${domain}. IN MX 10 ${target}.`, { target }));
      }
      const addresses = [...(a.kind === 'answer' ? a.records : []), ...(aaaa.kind === 'answer' ? aaaa.records : [])];
      resolved[host] = addresses.sort();
      if (addresses.length === 0) {
        out.push(
          raw(
            'mx.unresolvable',
            host,
            `MX target ${host} has no A or AAAA record (${a.kind}/${aaaa.kind}).`,
            `${host}. IN A <address of the mail server>`,
          ),
        );
      }
    }),
  );
  if (ctx.approvedMx) {
    const approved = ctx.approvedMx;
    for (const host of mx.hosts) {
      if (!approved.some((p) => mxMatches(p, host) || p.toLowerCase() === host)) {
        out.push(
          raw(
            'mx.unapproved',
            host,
            `MX target ${host} of ${domain} is not on the approved list (${approved.join(', ') || 'empty'}).`,
            `Point ${domain}'s MX at an approved server (${approved.join(', ')}) or approve ${host}.`,
            { approved },
          ),
        );
      }
    }
  }
  facts.addresses = resolved;
  return { findings: out, facts };
}
