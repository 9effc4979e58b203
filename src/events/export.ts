import type { EventType, SpineEvent } from '../core/index.js';
import type { Store } from '../store/index.js';

/**
 * Exports of the spine for data warehouses (docs/exports.md): one row per event, the same stable
 * column names in NDJSON and CSV, streamed page by page so memory stays flat whatever the size.
 *
 * An export fixes its end when it starts (the spine's last cursor then), so its announced count and
 * its rows agree, and an export of a busy tenant finishes. Pages are read by cursor, never by offset,
 * and the caller pulls them: a slow reader slows the reads (backpressure) instead of buffering.
 */
export const exportColumns = [
  'event_id',
  'cursor',
  'type',
  'schema_version',
  'occurred_at',
  'tenant_id',
  'message_id',
  'recipient_id',
  'seq',
  'data',
] as const;
export type ExportColumn = (typeof exportColumns)[number];
export type ExportFormat = 'ndjson' | 'csv';

export interface ExportQuery {
  tenantId: string;
  /** Appended at or after (ms). */
  from?: number;
  /** Appended before (ms). */
  to?: number;
  types?: EventType[];
}

export interface OpenedExport {
  /** Rows the export will write. */
  count: number;
  /** The last cursor it covers. */
  upTo: number;
  /** The body, one chunk per page: header first for CSV. */
  chunks: AsyncGenerator<string>;
}

/** One export row; `cursor` is a number here (warehouses load it as an integer). */
export function exportRow(e: SpineEvent): Record<ExportColumn, unknown> {
  return {
    event_id: e.id,
    cursor: Number(e.cursor),
    type: e.type,
    schema_version: e.schemaVersion,
    occurred_at: e.at,
    tenant_id: e.tenantId,
    message_id: e.messageId,
    recipient_id: e.recipientId,
    seq: e.seq,
    data: e.data,
  };
}

export function ndjsonLine(e: SpineEvent): string {
  return `${JSON.stringify(exportRow(e))}\n`;
}

/** RFC 4180 §2: a field holding a comma, a quote or a line break is quoted, its quotes doubled. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const csvHeader = `${exportColumns.join(',')}\r\n`;

export function csvLine(e: SpineEvent): string {
  const row = exportRow(e);
  return `${exportColumns.map((c) => csvField(row[c])).join(',')}\r\n`;
}

export function createEventExport({ store, pageSize = 1000 }: { store: Pick<Store, 'events'>; pageSize?: number }) {
  return {
    async open(q: ExportQuery, format: ExportFormat): Promise<OpenedExport> {
      const upTo = await store.events.lastCursor();
      const filter = { tenantId: q.tenantId, upTo, since: q.from, before: q.to, types: q.types };
      const count = await store.events.count(filter);
      const line = format === 'csv' ? csvLine : ndjsonLine;
      async function* chunks(): AsyncGenerator<string> {
        if (format === 'csv') yield csvHeader;
        let after = 0;
        // Bounded: each page moves the cursor forward, and the range ends at upTo.
        for (;;) {
          const page = await store.events.page({ ...filter, after, limit: pageSize });
          if (!page.length) return;
          yield page.map(line).join('');
          if (page.length < pageSize) return;
          after = Number(page[page.length - 1]!.cursor);
        }
      }
      return { count, upTo, chunks: chunks() };
    },
  };
}

export type EventExport = ReturnType<typeof createEventExport>;
