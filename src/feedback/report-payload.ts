/**
 * Report payloads as reporters actually send them: plain, gzip (RFC 7489 §7.2.1.1, RFC 8460 §5.3),
 * zip (what most DMARC reporters use), or wrapped once more in another archive. Text decoding
 * honours a BOM, then an XML declaration's encoding, then falls back from UTF-8 to Windows-1252.
 */
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { isLimitExceeded, limitExceeded, reportLimits } from './report-limits.js';

export interface PayloadFile {
  /** Name inside the archive, or the given filename. */
  name: string;
  bytes: Uint8Array;
  /** How it was unpacked (`zip`, `gzip`, `gzip>zip`, `plain`). */
  container: string;
}

/**
 * Bytes that unpacking may still produce. One budget is shared by every layer of a nested archive and
 * by every attachment of one message, so a bomb cannot multiply the limit by nesting or by repetition.
 */
export interface UnpackBudget {
  remaining: number;
  /** The whole budget, for the message that names it. */
  limit: number;
}

const MAX_DEPTH = 3;
/** The default is the thread's configured limit (`feedback.maxUnpackedBytes`, see report-limits.ts). */
export function unpackBudget(bytes = reportLimits().maxUnpackedBytes): UnpackBudget {
  return { remaining: bytes, limit: bytes };
}

export function isGzip(b: Uint8Array): boolean {
  return b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;
}

export function isZip(b: Uint8Array): boolean {
  return b.length > 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

/**
 * Unpacks nested gzip/zip layers. A corrupt archive throws an Error (the caller reports it as
 * unreadable); one past the unpacking budget throws CONTENT_LIMIT_EXCEEDED (the document is refused).
 */
export function unpackPayload(
  bytes: Uint8Array,
  name = 'report',
  container = '',
  depth = 0,
  budget: UnpackBudget = unpackBudget(),
): PayloadFile[] {
  if (depth > MAX_DEPTH) throw new Error('archive nested too deeply');
  if (isGzip(bytes)) {
    const inner = gunzipBounded(bytes, budget);
    return unpackPayload(inner, name.replace(/\.gz$/i, ''), join(container, 'gzip'), depth + 1, budget);
  }
  if (isZip(bytes)) {
    return zipEntries(bytes).flatMap((entry) => {
      const inner = unzipEntry(bytes, entry, budget);
      return unpackPayload(inner, entry.name, join(container, 'zip'), depth + 1, budget);
    });
  }
  return [{ name, bytes, container: container || 'plain' }];
}

/**
 * The sizes a bare archive declares, checked against the budget before anything is inflated: an
 * upload past the limit is refused as such (CONTENT_LIMIT_EXCEEDED) rather than read as unreadable.
 * Layers inside are charged as they are opened (`unpackPayload`).
 */
export function checkDeclaredSize(bytes: Uint8Array, budget: UnpackBudget = unpackBudget()): void {
  if (isGzip(bytes) && bytes.length >= 18) {
    const n = bytes.length;
    charge(budget, (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0, 'gzip data');
  } else if (isZip(bytes)) {
    let entries: ZipEntry[];
    try {
      entries = zipEntries(bytes);
    } catch {
      return; // corrupt: unpacking reports it
    }
    for (const e of entries) charge(budget, e.size, `zip entry ${e.name}`);
  }
}

function charge(budget: UnpackBudget, bytes: number, what: string): void {
  if (bytes > budget.remaining) {
    throw limitExceeded(
      'maxUnpackedBytes',
      `decompressed report too large: ${what} declares ${bytes} bytes, ${budget.remaining} left of ${budget.limit}`,
      budget.limit,
    );
  }
  budget.remaining -= bytes;
}

/**
 * Inflates deflate data (RFC 1951 raw, or RFC 1952 gzip) into exactly `size` bytes, and stops as
 * soon as the stream produces more than that: zlib checks `maxOutputLength` after every 16 KiB of
 * output, so an archive that lies about its sizes costs the work of its declared size, never of what
 * it would inflate to. (zlib rather than fflate here: native code, and no JIT warm-up for the first
 * document a fresh parsing thread gets.)
 */
function inflateExactly(data: Uint8Array, size: number, what: string, gzip: boolean): Uint8Array {
  let out: Buffer;
  try {
    out = gzip ? gunzipSync(data, { maxOutputLength: Math.max(1, size) }) : inflateRawSync(data, { maxOutputLength: Math.max(1, size) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`${what} longer than its declared ${size} bytes`);
    // RFC 1952 §2.3.1: zlib checks ISIZE itself once the stream ends.
    if (/incorrect length check/.test((e as Error).message)) throw new Error(`${what} does not match its declared ${size} bytes`);
    throw new Error(`${what}: ${(e as Error).message}`);
  }
  if (out.length !== size) throw new Error(`${what} shorter (${out.length} bytes) than its declared ${size} bytes`);
  return out;
}

/**
 * RFC 1952 §2.3.1: ISIZE, the last four bytes (little-endian), is the input size modulo 2^32. It is
 * charged to the budget before anything is allocated, and inflation stops as soon as the stream
 * produces more than it declared (a size that wrapped past 4 GiB).
 */
function gunzipBounded(bytes: Uint8Array, budget: UnpackBudget): Uint8Array {
  const n = bytes.length;
  if (n < 18) throw new Error('truncated gzip data');
  const isize = (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0;
  charge(budget, isize, 'gzip data');
  return inflateExactly(bytes, isize, 'gzip data', true);
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's data (after its local header). */
  offset: number;
}

/**
 * The entries of a zip archive from its central directory (APPNOTE.TXT §4.3.12, §4.3.16): names,
 * methods and both sizes, which are the sizes a writer declares and which unzipping holds it to.
 * Directories are skipped; encrypted entries and ZIP64 archives (reports are never that big) are
 * refused as unreadable.
 */
function zipEntries(b: Uint8Array): ZipEntry[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('zip without an end of central directory record');
  const count = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  if (count === 0xffff || p === 0xffffffff) throw new Error('ZIP64 archives are not supported');
  const text = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let k = 0; k < count; k++) {
    if (p + 46 > b.length || view.getUint32(p, true) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const compressedSize = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true);
    const extra = view.getUint16(p + 30, true);
    const comment = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    const name = text.decode(b.subarray(p + 46, p + 46 + nameLength));
    p += 46 + nameLength + extra + comment;
    if (name.endsWith('/')) continue;
    if (flags & 1) throw new Error(`zip entry ${name} is encrypted`);
    if (local + 30 > b.length || view.getUint32(local, true) !== 0x04034b50) throw new Error(`corrupt zip entry ${name}`);
    const offset = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (offset + compressedSize > b.length) throw new Error(`zip entry ${name} is truncated`);
    entries.push({ name, method, compressedSize, size, offset });
  }
  return entries;
}

/** The declared size is charged before anything is allocated; inflating may not exceed it. */
function unzipEntry(b: Uint8Array, e: ZipEntry, budget: UnpackBudget): Uint8Array {
  charge(budget, e.size, `zip entry ${e.name}`);
  const data = b.subarray(e.offset, e.offset + e.compressedSize);
  if (e.method === 0) {
    if (e.compressedSize !== e.size) throw new Error(`zip entry ${e.name} is stored with two different sizes`);
    return data;
  }
  if (e.method !== 8) throw new Error(`zip entry ${e.name} uses compression method ${e.method}, not deflate`);
  return inflateExactly(data, e.size, `zip entry ${e.name}`, false);
}

function join(a: string, b: string): string {
  return a ? `${a}>${b}` : b;
}

/** Decodes report text; `notes` receives what was tolerated (BOM, declared charset, fallback). */
/**
 * The files of a report upload: text as given, or bytes unpacked from gzip/zip. A payload that
 * cannot be unpacked is one error for the whole input, reported the same way by every report parser.
 */
export function reportFiles(
  input: Uint8Array | string,
  filename: string,
  budget: UnpackBudget = unpackBudget(),
): { files: PayloadFile[] } | { error: { name: string; error: string } } {
  try {
    return {
      files:
        typeof input === 'string'
          ? [{ name: filename, bytes: new TextEncoder().encode(input), container: 'plain' }]
          : unpackPayload(input, filename, '', 0, budget),
    };
  } catch (e) {
    if (isLimitExceeded(e)) throw e;
    return { error: { name: filename, error: `cannot unpack: ${(e as Error).message}` } };
  }
}

export function decodeReportText(bytes: Uint8Array, notes: string[] = []): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    notes.push('UTF-8 byte order mark');
    return new TextDecoder('utf-8').decode(bytes.subarray(3));
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    notes.push('UTF-16LE byte order mark');
    return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    notes.push('UTF-16BE byte order mark');
    return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  }
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 200));
  const declared = /<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']/i.exec(head)?.[1]?.toLowerCase();
  if (declared && !/^utf-?8$/.test(declared)) {
    try {
      const text = new TextDecoder(declared).decode(bytes);
      notes.push(`declared encoding ${declared}`);
      return text;
    } catch {
      notes.push(`unknown declared encoding ${declared}`);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    notes.push('not valid UTF-8; decoded as Windows-1252');
    return new TextDecoder('windows-1252').decode(bytes);
  }
}
