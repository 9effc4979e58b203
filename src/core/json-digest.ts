import { createHash, type Hash } from 'node:crypto';

/**
 * SHA-256 over the JSON text of a value, without building that text and without recursion. The bytes
 * hashed are exactly `JSON.stringify(value)` for anything JSON.parse can produce (key order kept, so
 * digests stored before this function existed still match), but the walk keeps its own stack: a body
 * nested 100,000 deep, which JSON.parse reads happily, would overflow the call stack of
 * JSON.stringify (issue 13: a deep body with an Idempotency-Key answered 500 instead of 422).
 */
type Frame =
  | { kind: 'array'; items: unknown[]; i: number }
  | { kind: 'object'; obj: Record<string, unknown>; keys: string[]; i: number; wrote: boolean };

const FLUSH = 64 * 1024;

/** JSON.stringify's rules for a value it would drop from an object or turn into null in an array. */
const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

function scalar(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'bigint') throw new TypeError('a BigInt has no JSON form');
  if (skipped(v)) return 'null';
  return JSON.stringify(v);
}

function writeJson(hash: Hash, value: unknown): void {
  let buffered = '';
  const write = (s: string) => {
    buffered += s;
    if (buffered.length >= FLUSH) {
      hash.update(buffered);
      buffered = '';
    }
  };
  const stack: Frame[] = [];
  let next: unknown = value;
  let hasNext = true;
  for (;;) {
    if (hasNext) {
      hasNext = false;
      const v = next;
      if (v === null || typeof v !== 'object') write(scalar(v));
      else if (typeof (v as { toJSON?: unknown }).toJSON === 'function') write(JSON.stringify(v));
      else if (Array.isArray(v)) {
        write('[');
        stack.push({ kind: 'array', items: v, i: 0 });
      } else {
        write('{');
        const obj = v as Record<string, unknown>;
        stack.push({ kind: 'object', obj, keys: Object.keys(obj), i: 0, wrote: false });
      }
    }
    const top = stack[stack.length - 1];
    if (!top) break;
    if (top.kind === 'array') {
      if (top.i < top.items.length) {
        if (top.i > 0) write(',');
        next = top.items[top.i++];
        hasNext = true;
      } else {
        write(']');
        stack.pop();
      }
      continue;
    }
    while (top.i < top.keys.length && skipped(top.obj[top.keys[top.i]!])) top.i++;
    if (top.i < top.keys.length) {
      const key = top.keys[top.i++]!;
      write(`${top.wrote ? ',' : ''}${JSON.stringify(key)}:`);
      top.wrote = true;
      next = top.obj[key];
      hasNext = true;
    } else {
      write('}');
      stack.pop();
    }
  }
  if (buffered) hash.update(buffered);
}

/** Hex SHA-256 of `prefix` followed by the JSON text of `value` (see above). */
export function jsonSha256(prefix: string, value: unknown): string {
  const hash = createHash('sha256');
  hash.update(prefix);
  writeJson(hash, value);
  return hash.digest('hex');
}
