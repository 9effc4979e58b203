/**
 * The system's resolvers, read from resolv.conf (resolv.conf(5)) the way the C library reads them, so
 * an empty `dns.servers` means what it means for every other program on the host.
 *
 * - `nameserver <ip>` lines, IPv4 or IPv6, in order; the C library uses at most three (MAXNS), so do
 *   we. An IPv6 zone (`fe80::1%eth0`) is kept for the socket. As an extension (OpenBSD's syntax) a port
 *   may be given as `[addr]:port`; otherwise the port is 53.
 * - `options attempts:n` sets how many times the list is walked (the C library caps it at 5);
 *   `options timeout:n` is read but `dns.timeoutMs` stays the per-query bound. Other options
 *   (`rotate`, `ndots`, `edns0`, …) do not change a stub that always asks fully qualified names.
 * - No `nameserver` line, or no file at all: the server on the local machine (127.0.0.1), as
 *   resolv.conf(5) specifies.
 * - `search`, `domain`, `sortlist` and comments (`#`, `;`) are ignored: every name we ask is absolute.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

export interface ResolvConf {
  /** `host`, `[v6]:port` or `host:port` strings for `parseServerAddress`. */
  servers: string[];
  /** `options attempts:n` (1–5), when given. */
  attempts?: number;
  /** `options timeout:n` in seconds (1–30), when given. */
  timeoutSeconds?: number;
  /** Lines that were not understood, for a warning. */
  ignored: string[];
}

/** The C library's limits (resolv.h: MAXNS, RES_MAXRETRY, RES_MAXRETRANS). */
const MAX_SERVERS = 3;
const MAX_ATTEMPTS = 5;
const MAX_TIMEOUT_S = 30;
const LOCAL_SERVER = '127.0.0.1';

export const defaultResolvConfPath = '/etc/resolv.conf';

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { servers: [], ignored: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === 'nameserver') {
      const server = nameserverOf(args[0] ?? '');
      if (server === undefined) out.ignored.push(raw.trim());
      else if (out.servers.length < MAX_SERVERS) out.servers.push(server);
    } else if (keyword === 'options') {
      for (const option of args) {
        const [name, value] = option.split(':');
        const n = Number(value);
        if (name === 'attempts' && Number.isInteger(n) && n >= 0) out.attempts = Math.min(Math.max(n, 1), MAX_ATTEMPTS);
        if (name === 'timeout' && Number.isInteger(n) && n >= 0) out.timeoutSeconds = Math.min(Math.max(n, 1), MAX_TIMEOUT_S);
      }
    } else if (keyword !== 'search' && keyword !== 'domain' && keyword !== 'sortlist') {
      out.ignored.push(raw.trim());
    }
  }
  if (out.servers.length === 0) out.servers.push(LOCAL_SERVER);
  return out;
}

/** An IP literal (IPv6 with an optional zone), or `[addr]:port`; undefined when it is neither. */
function nameserverOf(spec: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(spec);
  const host = bracketed ? (bracketed[1] ?? '') : spec;
  if (net.isIP(host.replace(/%.*$/, '')) === 0) return undefined;
  if (!bracketed) return net.isIPv6(host.replace(/%.*$/, '')) ? `[${host}]:53` : host;
  const port = bracketed[2] === undefined ? 53 : Number(bracketed[2]);
  return port >= 1 && port <= 65_535 ? `[${host}]:${port}` : undefined;
}

/**
 * Reads and parses `path`. A file that cannot be read gives the local server, as the C library does,
 * with the reason in `unreadable` so the caller can say so.
 */
export function readResolvConf(path: string = defaultResolvConfPath): ResolvConf & { path: string; unreadable?: string } {
  try {
    return { path, ...parseResolvConf(readFileSync(path, 'utf8')) };
  } catch (e) {
    return { path, servers: [LOCAL_SERVER], ignored: [], unreadable: (e as Error).message };
  }
}
