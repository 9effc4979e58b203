/**
 * Report payloads as reporters actually send them: plain, gzip (RFC 7489 §7.2.1.1, RFC 8460 §5.3),
 * zip (what most DMARC reporters use), or wrapped once more in another archive. Text decoding
 * honours a BOM, then an XML declaration's encoding, then falls back from UTF-8 to Windows-1252.
 */
import { Gunzip, unzipSync } from 'fflate';

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
}

const MAX_DEPTH = 3;
/** Zip bombs: stop unpacking past this many bytes in total. */
const MAX_TOTAL = 64 * 1024 * 1024;
/** Compressed bytes fed to the inflater per step, so one step's output stays small (deflate tops out near 1032:1). */
const GUNZIP_STEP = 16 * 1024;

export function unpackBudget(bytes = MAX_TOTAL): UnpackBudget {
  return { remaining: bytes };
}

export function isGzip(b: Uint8Array): boolean {
  return b.length > 2 && b[0] === 0x1f && b[1] === 0x8b;
}

export function isZip(b: Uint8Array): boolean {
  return b.length > 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

/** Unpacks nested gzip/zip layers; throws on a corrupt or oversized archive (the caller reports it). */
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
    // The filter runs before each entry is inflated, and fflate inflates into a buffer of the declared
    // size, so charging the declared size bounds what is allocated.
    const files = unzipSync(bytes, {
      filter: (f) => {
        if (f.name.endsWith('/')) return false;
        charge(budget, Math.max(f.size, f.originalSize), `zip entry ${f.name}`);
        return true;
      },
    });
    return Object.entries(files).flatMap(([n, b]) => unpackPayload(b, n, join(container, 'zip'), depth + 1, budget));
  }
  return [{ name, bytes, container: container || 'plain' }];
}

function charge(budget: UnpackBudget, bytes: number, what: string): void {
  if (bytes > budget.remaining) {
    throw new Error(`decompressed report too large: ${what} declares ${bytes} bytes, ${budget.remaining} left of ${MAX_TOTAL}`);
  }
  budget.remaining -= bytes;
}

/**
 * RFC 1952 §2.3.1: ISIZE, the last four bytes (little-endian), is the input size modulo 2^32. It is
 * checked against the budget before anything is allocated, the output goes into a buffer of exactly
 * that size, and inflation stops as soon as the stream produces more than it declared (a size that
 * wrapped past 4 GiB), so neither memory nor work exceeds what the budget allows.
 */
function gunzipBounded(bytes: Uint8Array, budget: UnpackBudget): Uint8Array {
  const n = bytes.length;
  if (n < 18) throw new Error('truncated gzip data');
  const isize = (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0;
  charge(budget, isize, 'gzip data');
  const out = new Uint8Array(isize);
  let written = 0;
  const gunzip = new Gunzip((chunk) => {
    if (written + chunk.length > isize) throw new Error(`gzip data longer than its declared ${isize} bytes`);
    out.set(chunk, written);
    written += chunk.length;
  });
  for (let i = 0; i < n; i += GUNZIP_STEP) gunzip.push(bytes.subarray(i, i + GUNZIP_STEP), i + GUNZIP_STEP >= n);
  if (written !== isize) throw new Error(`gzip data shorter (${written} bytes) than its declared ${isize} bytes`);
  return out;
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
