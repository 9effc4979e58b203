import { hostname as osHostname } from 'node:os';
import type { Config } from './schema.js';

/**
 * Values derived from the config that more than one place needs (the server and the admin CLI), so
 * both announce the same names and publish the same DNS records.
 */

/** The name this node uses in SMTP and in the records it asks tenants to publish. */
export function nodeHostname(config: Config): string {
  return config.server.hostname === 'localhost' ? osHostname() || 'localhost' : config.server.hostname;
}

/**
 * A platform name that has no dot (`vm`, `localhost`, the OS host name of a laptop): the rest of the
 * Internet cannot resolve it, so a record, a mailbox or a link built on it cannot work. `setting` is
 * what the operator sets to fix it.
 */
export interface UnqualifiedName {
  /** The config path(s) to set, e.g. `feedback.reportDomain or server.hostname`. */
  setting: string;
  name: string;
  /** What is built on it. */
  use: string;
}

const qualified = (name: string) => /^[^.]+\.[^.]/.test(name.replace(/\.$/, ''));

/** Every name built on a dotless host name: records and mailboxes (refused) and links (warned about). */
export function unqualifiedNames(
  config: Config,
  hostname = nodeHostname(config),
): { records: UnqualifiedName[]; links: UnqualifiedName[] } {
  const hostSetting = config.server.hostname === 'localhost' ? 'server.hostname (now the OS host name)' : 'server.hostname';
  const records: UnqualifiedName[] = [];
  const id = config.identity;
  const reportDomain = config.feedback.reportDomain || hostname;
  if (!qualified(reportDomain)) {
    const setting = config.feedback.reportDomain ? 'feedback.reportDomain' : `feedback.reportDomain or ${hostSetting}`;
    records.push({ setting, name: reportDomain, use: `DMARC rua=mailto:dmarc@${reportDomain} and the report mailboxes` });
  }
  const mx = id.inboundMxHost || hostname;
  if (!qualified(mx)) {
    const setting = id.inboundMxHost ? 'identity.inboundMxHost' : `identity.inboundMxHost or ${hostSetting}`;
    records.push({ setting, name: mx, use: `the return-path MX record (MX 10 ${mx})` });
  }
  if (!id.spfInclude && !id.sendingIps.length && !qualified(hostname)) {
    records.push({ setting: `identity.spfInclude, identity.sendingIps or ${hostSetting}`, name: hostname, use: `SPF (a:${hostname})` });
  }
  if (id.spfInclude && !qualified(id.spfInclude)) {
    records.push({ setting: 'identity.spfInclude', name: id.spfInclude, use: `SPF (include:${id.spfInclude})` });
  }
  const links: UnqualifiedName[] = [];
  if (!config.server.publicUrl && !qualified(hostname)) {
    links.push({
      setting: `server.publicUrl or ${hostSetting}`,
      name: hostname,
      use: `one-click unsubscribe links (http://${hostname}:${config.server.httpPort})`,
    });
  }
  return { records, links };
}

/** The platform's side of every sending domain's DNS records (bounce MX, report mailboxes, SPF). */
export function platformIdentityOf(config: Config, hostname = nodeHostname(config)) {
  const id = config.identity;
  return {
    bounceLabel: id.bounceLabel,
    reportDomain: config.feedback.reportDomain || hostname,
    inboundMxHost: id.inboundMxHost || hostname,
    spfInclude: id.spfInclude,
    sendingIps: id.sendingIps,
    hostname,
    trackingHost: id.trackingHost,
    trackingLabel: id.trackingLabel,
    unqualified: unqualifiedNames(config, hostname).records,
  };
}

/** Where this node listens, for the self-assessment's probes (docs/posture.md, "Continuous self-assessment"). */
export function selfAssessmentListeners(config: Config, hostname = nodeHostname(config)) {
  return {
    host: config.server.host,
    hostname,
    roles: config.server.roles,
    smtpPort: config.server.smtpPort,
    mxPort: config.server.mxPort,
    httpPort: config.server.httpPort,
    httpsTls: Boolean(config.server.tls.certFile || config.server.tls.keyFile),
  };
}
