/**
 * One DNS exchange with one server: send a query, wait for the matching reply, over UDP or TCP.
 *
 * Each UDP exchange uses its own connected socket, so the kernel picks a fresh random source port and
 * drops datagrams from any other address; together with the random 16-bit id and the question check
 * below, that is the classic defence against off-path spoofing (RFC 5452 §9.1). Replies that do not
 * match are ignored rather than failing the exchange, since they are either late answers to an earlier
 * try or forgeries. TCP frames each message with a two-byte length (RFC 1035 §4.2.2).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { PostwardenError } from '../core/index.js';
import { normaliseName } from './cache.js';

export interface DnsServerAddress {
  host: string;
  port: number;
  family: 4 | 6;
  /** `127.0.0.1:53` or `[::1]:53`, for evidence and logs. */
  label: string;
}

export type Exchange = { ok: true; packet: DecodedPacket } | { ok: false; failure: 'timeout' | 'network'; message: string };

/** What the reply must echo (RFC 5452 §4.3: id, question name, type and class). */
export interface ExpectedReply {
  id: number;
  name: string;
  type: string;
}

/**
 * Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address. Only IP literals are accepted: a
 * resolver that needs DNS to find its own server cannot start.
 */
export function parseServerAddress(spec: string): DnsServerAddress {
  let host = spec.trim();
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (net.isIP(host) === 0) {
    const colon = host.lastIndexOf(':');
    if (colon > 0 && net.isIPv4(host.slice(0, colon))) {
      port = Number(host.slice(colon + 1));
      host = host.slice(0, colon);
    }
  }
  const family = net.isIP(host);
  if ((family !== 4 && family !== 6) || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new PostwardenError('CONFIG_INVALID', `DNS server "${spec}" is not an IP address with an optional port`, {
      errors: [{ path: '/dns/servers', message: `invalid server "${spec}"` }],
    });
  }
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

export function replyMatches(packet: DecodedPacket, expected: ExpectedReply): boolean {
  const question = packet.questions?.[0];
  return (
    packet.flag_qr &&
    packet.id === expected.id &&
    packet.questions?.length === 1 &&
    question !== undefined &&
    question.type === expected.type &&
    normaliseName(question.name) === normaliseName(expected.name)
  );
}

function decodeOrUndefined(buf: Buffer): DecodedPacket | undefined {
  try {
    return dnsPacket.decode(buf);
  } catch {
    return undefined;
  }
}

export function exchangeUdp(server: DnsServerAddress, query: Buffer, expected: ExpectedReply, timeoutMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const finish = (result: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, failure: 'timeout', message: `no UDP reply from ${server.label} in ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('message', (msg) => {
      const packet = decodeOrUndefined(msg);
      if (packet && replyMatches(packet, expected)) finish({ ok: true, packet });
    });
    // A connected UDP socket reports ICMP port-unreachable as ECONNREFUSED: fail fast, try the next server.
    socket.on('error', (e) => finish({ ok: false, failure: 'network', message: `UDP ${server.label}: ${e.message}` }));
    socket.connect(server.port, server.host, () => {
      socket.send(query, (e) => {
        if (e) finish({ ok: false, failure: 'network', message: `UDP ${server.label}: ${e.message}` });
      });
    });
  });
}

export function exchangeTcp(server: DnsServerAddress, query: Buffer, expected: ExpectedReply, timeoutMs: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (result: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, failure: 'timeout', message: `no TCP reply from ${server.label} in ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('connect', () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      // The length prefix caps a message at 65 535 bytes, so `received` stays bounded.
      while (received.length >= 2) {
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) return;
        const packet = decodeOrUndefined(received.subarray(2, 2 + length));
        received = received.subarray(2 + length);
        if (packet && replyMatches(packet, expected)) return finish({ ok: true, packet });
      }
    });
    socket.on('error', (e) => finish({ ok: false, failure: 'network', message: `TCP ${server.label}: ${e.message}` }));
    socket.on('close', () => finish({ ok: false, failure: 'network', message: `TCP ${server.label} closed without a matching reply` }));
  });
}
