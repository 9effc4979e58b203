/**
 * A streaming RFC 4180 record reader (§2; tolerant of LF line ends and of text after a closing
 * quote). Text goes in by chunks of any size, records come out as soon as they end, so a file of
 * any length is read with memory bounded by its longest record. Empty lines are skipped, a leading
 * byte-order mark is dropped, and a quote opens a quoted field only at the start of a field.
 * The suppression list's CSV import and the contact-list import both read through it.
 */
export interface CsvRecordReader {
  /** Feeds a chunk; returns the records it completed. */
  push(chunk: string): string[][];
  /** Ends the input; returns the last record, or an error when a quoted field is never closed. */
  end(): { records: string[][]; error?: string };
  /** Records completed so far, empty lines included (for messages that name a line). */
  readonly lines: number;
}

export function createCsvRecordReader(): CsvRecordReader {
  let field = '';
  let record: string[] = [];
  let quoted = false;
  /** In a quoted field, a quote was the chunk's last character: the next one decides. */
  let quoteAtEnd = false;
  /** A CR ended the last chunk: an LF starting the next one belongs to it. */
  let crAtEnd = false;
  let started = false;
  let lines = 0;

  const finish = (out: string[][]) => {
    record.push(field);
    lines++;
    if (!(record.length === 1 && record[0] === '')) out.push(record);
    record = [];
    field = '';
  };

  return {
    push(chunk: string): string[][] {
      const out: string[][] = [];
      let s = chunk;
      if (!started && s.length) {
        started = true;
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      }
      let i = 0;
      if (crAtEnd && s.length) {
        crAtEnd = false;
        if (s[0] === '\n') i = 1;
      }
      if (quoteAtEnd && i < s.length) {
        quoteAtEnd = false;
        if (s[i] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      }
      const n = s.length;
      while (i < n) {
        if (quoted) {
          const q = s.indexOf('"', i);
          if (q < 0) {
            field += s.slice(i);
            break;
          }
          field += s.slice(i, q);
          if (q + 1 >= n) {
            quoteAtEnd = true;
            i = n;
            break;
          }
          if (s[q + 1] === '"') {
            field += '"';
            i = q + 2;
          } else {
            quoted = false;
            i = q + 1;
          }
          continue;
        }
        const ch = s[i]!;
        if (ch === '"' && field === '') quoted = true;
        else if (ch === ',') {
          record.push(field);
          field = '';
        } else if (ch === '\n' || ch === '\r') {
          finish(out);
          if (ch === '\r') {
            if (i + 1 >= n) crAtEnd = true;
            else if (s[i + 1] === '\n') i++;
          }
        } else field += ch;
        i++;
      }
      return out;
    },
    end() {
      if (quoteAtEnd) {
        quoteAtEnd = false;
        quoted = false;
      }
      if (quoted) return { records: [], error: `a quoted field opened on record ${lines + 1} is never closed` };
      const out: string[][] = [];
      if (field !== '' || record.length) finish(out);
      return { records: out };
    },
    get lines() {
      return lines;
    },
  };
}
