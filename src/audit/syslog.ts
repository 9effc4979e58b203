import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import type { AuditEntryRow } from '../store/index.js';
import { canonicalJson } from './canonical.js';
import { auditEntryJson } from './wire.js';

/**
 * Audit entries as RFC 5424 syslog messages, and the two ways to a collector.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [postwarden@32473 chain=".." seq=".." id=".." hash=".."] BOM{json}
 *
 * - PRI: facility 13 "log audit" and severity 5 "notice" (RFC 5424 §6.2.1): 13 × 8 + 5 = 109.
 * - MSGID: the action (RFC 5424 §6.2.7: at most 32 printable US-ASCII characters).
 * - The structured data element carries the chain position and hash, so a SIEM can spot a gap.
 *   32473 is the enterprise number RFC 5612 reserves for documentation; a site with its own PEN may
 *   change nothing else. PARAM-VALUE escapes `"`, `\` and `]` (§6.3.3).
 * - MSG: the BOM and the entry's JSON (the shape of GET /v1/audit), UTF-8 (§6.4).
 * Transports: UDP, one message per datagram (RFC 5426); TCP with octet-counting framing,
 * `MSG-LEN SP SYSLOG-MSG` (RFC 6587 §3.4.1), so a message may hold newlines.
 */
export interface SyslogTarget {
  host: string;
  port: number;
  protocol: 'udp' | 'tcp';
  appName: string;
}

const PRI = 13 * 8 + 5;
const BOM = '\uFEFF';
const SD_ID = 'postwarden@32473';

const printable = (s: string, max: number) => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';
const sdValue = (s: string) => s.replace(/["\\\]]/g, (c) => `\\${c}`);

export function formatSyslog(e: AuditEntryRow, o: { appName: string; hostname: string; procId: string }): string {
  const sd = `[${SD_ID} chain="${sdValue(e.chain)}" seq="${e.seq}" id="${sdValue(e.id)}" hash="${e.hash}"]`;
  return [
    `<${PRI}>1`,
    new Date(e.at).toISOString(),
    printable(o.hostname, 255),
    printable(o.appName, 48),
    printable(o.procId, 128),
    printable(e.action, 32),
    `${sd} ${BOM}${canonicalJson(auditEntryJson(e))}`,
  ].join(' ');
}

/** RFC 6587 §3.4.1 octet counting: the length is in octets of the UTF-8 message. */
export const octetCounted = (msg: string) => `${Buffer.byteLength(msg, 'utf8')} ${msg}`;

export interface SyslogSender {
  /** Resolves when every message has been handed to the network; rejects when the collector is unreachable. */
  send(messages: string[]): Promise<void>;
  close(): Promise<void>;
}

export function createSyslogSender(target: SyslogTarget, timeoutMs = 5000): SyslogSender {
  return target.protocol === 'udp' ? udpSender(target) : tcpSender(target, timeoutMs);
}

function udpSender(target: SyslogTarget): SyslogSender {
  let socket: UdpSocket | undefined;
  return {
    async send(messages) {
      socket ??= createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
      const s = socket;
      for (const m of messages) {
        await new Promise<void>((resolve, reject) =>
          s.send(Buffer.from(m, 'utf8'), target.port, target.host, (err) => (err ? reject(err) : resolve())),
        );
      }
    },
    async close() {
      const s = socket;
      socket = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

function tcpSender(target: SyslogTarget, timeoutMs: number): SyslogSender {
  let socket: Socket | undefined;
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => s.destroy(new Error(`syslog collector ${target.host}:${target.port}: connect timed out`)), timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        // A collector that closes or fails later drops this socket; the next send reconnects.
        s.on('error', () => s.destroy());
        s.on('close', () => {
          if (socket === s) socket = undefined;
        });
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  return {
    async send(messages) {
      socket ??= await open();
      const s = socket;
      const data = messages.map(octetCounted).join('');
      await new Promise<void>((resolve, reject) => s.write(data, 'utf8', (err) => (err ? reject(err) : resolve())));
    },
    async close() {
      const s = socket;
      socket = undefined;
      if (s) await new Promise<void>((resolve) => s.end(() => resolve()));
    },
  };
}
