import { InvalidArgumentError } from 'commander';

/**
 * Parsers for option values. A bad value is a usage error (exit 64) raised by commander before
 * any command runs, with the option named in the message.
 */

/** Repeatable option: `--to a --to b` and `--to a,b` both give [a, b]. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number from 0 to 65535 (0 picks a free port).');
  return n;
}

export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000.');
  return n;
}

/** A count of items to print: a positive integer. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

/** Repeatable `--header 'Name: value'` (RFC 5322 §2.2: name, colon, body) into one record. */
export function collectHeader(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError("must look like 'Name: value'.");
  return { ...previous, [value.slice(0, colon).trim()]: value.slice(colon + 1).trim() };
}
