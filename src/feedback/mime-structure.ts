/**
 * A look at a message's MIME skeleton before anything parses it: how many parts it has and how deep
 * they nest. Feedback (bounces, complaints, reports) has a handful of parts two or three levels deep;
 * a message with ten thousand parts or two thousand nested multiparts is built to exhaust a parser,
 * and it would fail the same way on every retry. Past `maxMimeParts` or `maxMimeDepth` it is
 * refused with CONTENT_LIMIT_EXCEEDED (554 5.6.0 on the MX) instead.
 *
 * One pass over the lines, no tree: RFC 2046 §5.1.1 delimiters (`--boundary`, `--boundary--`) of the
 * multiparts still open, and RFC 2046 §5.2.1 message/rfc822 bodies, whose header section starts a
 * nested entity. Transfer-encoded message bodies are opaque here (the parser does not open them).
 */
import { limitExceeded, type ReportLimits } from './report-limits.js';

const BOUNDARY = /boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))/i;
const EMBEDDED = /^\s*message\/(rfc822|global)\b/i;

interface Multipart {
  boundary: string;
  /** Depth of the multipart entity; its parts are one deeper. */
  depth: number;
}

export function checkMimeStructure(raw: Buffer | Uint8Array, limits: Pick<ReportLimits, 'maxMimeParts' | 'maxMimeDepth'>): void {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const open: Multipart[] = [];
  let parts = 1;
  let depth = 0;
  let inHeaders = true;
  let contentType: string | undefined;
  let encoding = '';
  let last: 'content-type' | 'content-transfer-encoding' | 'other' = 'other';

  const enter = (d: number) => {
    if (d > limits.maxMimeDepth) {
      throw limitExceeded('maxMimeDepth', `MIME parts nest deeper than ${limits.maxMimeDepth} levels`, limits.maxMimeDepth);
    }
    depth = d;
    inHeaders = true;
    contentType = undefined;
    encoding = '';
    last = 'other';
  };
  const endOfHeaders = () => {
    inHeaders = false;
    const ct = contentType ?? '';
    const b = /^\s*multipart\//i.test(ct) ? BOUNDARY.exec(ct) : null;
    const boundary = b ? (b[1] ?? b[2]) : undefined;
    if (boundary) open.push({ boundary, depth });
    else if (EMBEDDED.test(ct) && !/base64|quoted-printable/i.test(encoding)) {
      part();
      enter(depth + 1);
    }
  };
  const part = () => {
    if (++parts > limits.maxMimeParts) {
      throw limitExceeded('maxMimeParts', `the message has more than ${limits.maxMimeParts} MIME parts`, limits.maxMimeParts);
    }
  };

  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end > start && text[end - 1] === '\r' ? end - 1 : end);
    start = end + 1;

    if (open.length > 0 && line.startsWith('--')) {
      const delimiter = line.trimEnd();
      let hit = -1;
      for (let i = open.length - 1; i >= 0; i--) {
        const b = open[i]!.boundary;
        if (delimiter === `--${b}` || delimiter === `--${b}--`) {
          hit = i;
          break;
        }
      }
      if (hit >= 0) {
        const m = open[hit]!;
        open.length = hit + 1;
        if (delimiter.endsWith('--') && delimiter !== `--${m.boundary}`) {
          open.pop();
          inHeaders = false;
        } else {
          part();
          enter(m.depth + 1);
        }
        continue;
      }
    }
    if (!inHeaders) continue;
    if (line === '') {
      endOfHeaders();
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && last !== 'other') {
      if (last === 'content-type') contentType += line;
      else encoding += line;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (name === 'content-type') {
      contentType = line.slice(colon + 1);
      last = 'content-type';
    } else if (name === 'content-transfer-encoding') {
      encoding = line.slice(colon + 1);
      last = 'content-transfer-encoding';
    } else last = 'other';
  }
}
