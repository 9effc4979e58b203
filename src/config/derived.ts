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
  };
}
