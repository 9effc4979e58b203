import { hostname as osHostname } from 'node:os';
import { canonicalJson, createSyslogSender, type SyslogTarget } from '../audit/index.js';
import type { Clock, SpineEvent } from '../core/index.js';
import { type Consumer, createConsumer } from '../events/index.js';
import type { Store } from '../store/index.js';

/**
 * Compliance alerts to a SIEM collector (compliance.syslog), through the audit log's syslog senders
 * (UDP per RFC 5426, TCP with octet counting per RFC 6587 §3.4.1). A consumer of the spine that
 * forwards the `compliance.alert` events only, from where the spine stood when it first ran.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [postwarden-alert@32473 kind=".." id=".." tenant=".."] BOM{json}
 *
 * - PRI: facility 13 "log audit" (RFC 5424 §6.2.1) with the alert's severity: critical → 2,
 *   warning → 4, info → 6.
 * - MSGID: the alert kind; the structured data names the event id, so a SIEM deduplicates a batch
 *   sent twice after a crash (delivery is at least once).
 * - MSG: the BOM and the event's JSON (the shape of GET /v1/events), or with `format: cef` a CEF line
 *   (`CEF:0|Postwarden|Postwarden|1|<kind>|<message>|<0-10>|ext`), still inside the RFC 5424 frame.
 */
export interface AlertSyslogDeps {
  store: Pick<Store, 'events' | 'consumerCursors' | 'jobLeases' | 'transaction'>;
  clock: Clock;
  owner: string;
  target: SyslogTarget;
  format?: 'json' | 'cef';
  pollMs?: number;
  hostname?: string;
  log?: { warn(obj: object, msg: string): void };
}

const SEVERITY: Record<string, number> = { critical: 2, warning: 4, info: 6 };
const CEF_SEVERITY: Record<string, number> = { critical: 9, warning: 6, info: 3 };
const BOM = '\uFEFF';
const printable = (s: string, max: number) => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';
const sdValue = (s: string) => s.replace(/["\\\]]/g, (c) => `\\${c}`);
// CEF: `|` and `\` escaped in header fields, `=` and `\` in extension values.
const cefHeader = (s: string) => s.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
const cefValue = (s: string) => s.replace(/[\\=]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');

export function formatAlertSyslog(
  e: SpineEvent,
  o: { appName: string; hostname: string; procId: string; format?: 'json' | 'cef' },
): string {
  const severity = String(e.data.severity ?? 'warning');
  const kind = String(e.data.kind ?? 'alert');
  const sd = `[postwarden-alert@32473 kind="${sdValue(kind)}" id="${sdValue(e.id)}" tenant="${sdValue(e.tenantId)}"]`;
  const body =
    o.format === 'cef'
      ? `CEF:0|Postwarden|Postwarden|1|${cefHeader(kind)}|${cefHeader(String(e.data.message ?? kind))}|${CEF_SEVERITY[severity] ?? 5}|` +
        `rt=${Date.parse(e.at)} externalId=${cefValue(e.id)} cs1Label=tenant cs1=${cefValue(e.tenantId)} cs2Label=rule cs2=${cefValue(String(e.data.rule ?? ''))}`
      : `${BOM}${canonicalJson({ id: e.id, type: e.type, tenant_id: e.tenantId, at: e.at, data: e.data })}`;
  return [
    `<${13 * 8 + (SEVERITY[severity] ?? 4)}>1`,
    new Date(Date.parse(e.at)).toISOString(),
    printable(o.hostname, 255),
    printable(o.appName, 48),
    printable(o.procId, 128),
    printable(kind, 32),
    `${sd} ${body}`,
  ].join(' ');
}

export function createAlertSyslog(deps: AlertSyslogDeps): Consumer {
  const sender = createSyslogSender(deps.target);
  const format = {
    appName: deps.target.appName,
    hostname: deps.hostname ?? osHostname(),
    procId: String(process.pid),
    ...(deps.format ? { format: deps.format } : {}),
  };
  const consumer = createConsumer({
    name: 'compliance-syslog',
    store: deps.store,
    clock: deps.clock,
    owner: deps.owner,
    startAt: 'end',
    pollMs: deps.pollMs ?? 1000,
    handle: async (events) => {
      const lines = events.filter((e) => e.type === 'compliance.alert').map((e) => formatAlertSyslog(e, format));
      if (!lines.length) return;
      try {
        await sender.send(lines);
      } catch (err) {
        // The collector may have gone; a fresh connection is tried with the batch at the next tick.
        await sender.close().catch(() => {});
        throw err;
      }
    },
    ...(deps.log ? { log: deps.log } : {}),
  });
  return {
    ...consumer,
    async stop() {
      await consumer.stop();
      await sender.close();
    },
  };
}
