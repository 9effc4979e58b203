import { isIP } from 'node:net';

/**
 * Who fetched a pixel or followed a link, from the User-Agent and the client address: a small,
 * documented classifier (docs/tracking.md), not a browser database.
 *
 * - `apple_proxy`: Apple Mail Privacy Protection. Since iOS 15 / macOS 12 Apple Mail fetches remote
 *   content through Apple's proxy when the message is *delivered*, not when it is read. The proxy
 *   sends the bare User-Agent `Mozilla/5.0` and connects from Apple's network (17.0.0.0/8, Apple's
 *   own allocation; IPv6 2620:149::/32 and 2a01:b740::/32). Either sign is enough.
 * - `bot`: link scanners and fetchers (Microsoft Safe Links, Proofpoint, Mimecast, Barracuda, …, and
 *   generic HTTP libraries) by name.
 * - `mail_client`: a mail client's or webmail's image fetcher (Gmail's GoogleImageProxy, Yahoo's,
 *   Outlook, Thunderbird, Apple Mail's WebKit without a Safari token).
 * - `browser`: a desktop or mobile browser.
 * - `unknown`: anything else.
 *
 * Apple proxy and bot fetches are `machine: true`; so is a click within seconds of delivery (a
 * security scanner following every link), decided by the tracking service, which knows the time.
 */
export type UserAgentClass = 'mail_client' | 'browser' | 'bot' | 'apple_proxy' | 'unknown';

const BOT =
  /bot\b|crawler|spider|preview|scan|curl\/|wget\/|python-|go-http-client|java\/|okhttp|headless|phantomjs|barracuda|proofpoint|mimecast|safelinks|symantec|trendmicro|forcepoint|sophos|fortinet|cisco|ironport|zscaler|facebookexternalhit|slackbot|discordbot|linkexpander/i;
const MAIL_CLIENT =
  /googleimageproxy|yahoomailproxy|ymailproxy|outlook|microsoft office|ms-office|thunderbird|airmail|spark\/|postbox|AppleWebKit\/[\d.]+ \(KHTML, like Gecko\)(?: Mobile\/\w+)?$/i;
const BROWSER = /mozilla\/5\.0 .*(chrome|firefox|safari|edg|opera|opr)\//i;

export function isAppleProxyAddress(ip: string): boolean {
  const v = isIP(ip);
  const addr = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (v === 4 || isIP(addr) === 4) return addr.split('.')[0] === '17';
  if (v === 6) {
    const lower = ip.toLowerCase();
    return lower.startsWith('2620:149:') || lower.startsWith('2a01:b740:');
  }
  return false;
}

export function classifyUserAgent(userAgent: string | undefined, ip: string | undefined): UserAgentClass {
  const ua = (userAgent ?? '').trim();
  if (ua === 'Mozilla/5.0' || (ip && isAppleProxyAddress(ip))) return 'apple_proxy';
  if (!ua) return 'unknown';
  if (BOT.test(ua)) return 'bot';
  if (MAIL_CLIENT.test(ua)) return 'mail_client';
  if (BROWSER.test(ua)) return 'browser';
  return 'unknown';
}
