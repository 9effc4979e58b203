import type { SMTPServerOptions } from 'smtp-server';
import { EnhancedSmtpServer } from './enhanced-server.js';

/**
 * The setup every SMTP listener shares (submission and the inbound MX differ only in their handlers
 * and a few extensions): STARTTLS with our certificate, no reverse lookups, the extensions we
 * advertise, the connection limits and timeouts, an 'error' listener, and listen/close as promises.
 */
export interface ListenerLimits {
  /** Concurrent connections; more are answered 421 and closed. */
  maxClients: number;
  /** Concurrent connections from one remote address; more are answered 421 4.7.0. 0: no limit. */
  maxClientsPerIp: number;
  /** Idle time before a session is dropped with 421 (while the client owes us a command). */
  idleTimeoutMs: number;
  /** Time from connect to EHLO/HELO before the client is dropped with 421 4.4.2. 0: only the idle timeout. */
  helloTimeoutMs: number;
  /** How long close() lets open sessions finish before cutting them. */
  closeTimeoutMs: number;
}

export const defaultListenerLimits: Omit<ListenerLimits, 'maxClients' | 'maxClientsPerIp'> = {
  idleTimeoutMs: 120_000,
  helloTimeoutMs: 30_000,
  closeTimeoutMs: 30_000,
};

export interface ListenerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ListenerSpec {
  /** `submission` or `inbound MX`: names the listener in its log lines. */
  label: string;
  hostname: string;
  banner: string;
  tls: { key: string; cert: string };
  /** Largest message, declared as SIZE in EHLO (RFC 1870). */
  size: number;
  limits: ListenerLimits;
  log: ListenerLog;
  /** The handlers and the options that differ per listener (AUTH, disabled commands). */
  options: SMTPServerOptions;
}

export interface SmtpListener {
  server: EnhancedSmtpServer;
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

export function createSmtpListener(spec: ListenerSpec): SmtpListener {
  const { log, label, limits } = spec;
  const server = new EnhancedSmtpServer(
    {
      name: spec.hostname,
      banner: spec.banner,
      // The client's PTR name is used for nothing here; skipping it saves a DNS query per connection.
      disableReverseLookup: true,
      secure: false,
      key: spec.tls.key,
      cert: spec.tls.cert,
      minVersion: 'TLSv1.2',
      hideSTARTTLS: false,
      size: spec.size,
      hideSize: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      hidePIPELINING: false,
      hideENHANCEDSTATUSCODES: false,
      // We do not generate DSNs for clients (the events spine tells the story), so NOTIFY/RET would be
      // promises we do not keep; REQUIRETLS (RFC 8689) is not enforced downstream yet.
      hideDSN: true,
      hideREQUIRETLS: true,
      maxClients: limits.maxClients,
      socketTimeout: limits.idleTimeoutMs,
      closeTimeout: limits.closeTimeoutMs,
      logger: false,
      ...spec.options,
    },
    {
      name: spec.hostname,
      maxClientsPerIp: limits.maxClientsPerIp,
      helloTimeoutMs: limits.helloTimeoutMs,
      onRefused: (remote, open) =>
        log.warn({ remote, open, limit: limits.maxClientsPerIp }, `${label} refused a connection: per-address limit`),
    },
  );

  // Without a listener an 'error' event (a reset socket, a failed handshake) would end the process.
  server.on('error', (err: Error) =>
    log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, `${label} connection error`),
  );

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.server.once('error', onError);
        server.listen(port, host, () => {
          server.server.off('error', onError);
          const addr = server.server.address();
          const bound = typeof addr === 'object' && addr ? addr.port : port;
          log.info({ host, port: bound }, `${label} listening`);
          resolve({ port: bound });
        });
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
