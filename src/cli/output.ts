import { type ErrorCode, errorCatalogue, type FieldError, isPostwardenError } from '../core/index.js';

/**
 * The one place the CLI turns outcomes into bytes and exit codes. Exit codes follow BSD sysexits(3)
 * so shell scripts can tell "fix your input" (65) from "try again later" (75) from "fix the config"
 * (78); docs/cli.md carries the same table. A new catalogue code fails to compile here until it is
 * given an exit code.
 */
export const exitCodes = {
  ok: 0,
  usage: 64, // EX_USAGE
  dataErr: 65, // EX_DATAERR
  noInput: 66, // EX_NOINPUT
  unavailable: 69, // EX_UNAVAILABLE
  software: 70, // EX_SOFTWARE
  osErr: 71, // EX_OSERR
  cantCreate: 73, // EX_CANTCREAT
  tempFail: 75, // EX_TEMPFAIL
  protocol: 76, // EX_PROTOCOL
  noPerm: 77, // EX_NOPERM
  config: 78, // EX_CONFIG
} as const;

export const errorExitCodes: Record<ErrorCode, number> = {
  VALIDATION_FAILED: exitCodes.dataErr,
  MALFORMED_REQUEST: exitCodes.dataErr,
  UNSUPPORTED_MEDIA_TYPE: exitCodes.dataErr,
  SENDER_DOMAIN_NOT_ALLOWED: exitCodes.dataErr,
  SENDER_MISALIGNED: exitCodes.dataErr,
  RECIPIENT_DISPOSABLE: exitCodes.dataErr,
  MESSAGE_TOO_LARGE: exitCodes.dataErr,
  TOO_MANY_RECIPIENTS: exitCodes.dataErr,
  IDEMPOTENCY_CONFLICT: exitCodes.dataErr,
  CONTENT_LIMIT_EXCEEDED: exitCodes.dataErr,
  PREFLIGHT_REFUSED: exitCodes.dataErr,
  CLASSIFICATION_REFUSED: exitCodes.dataErr,
  NOT_FOUND: exitCodes.noInput,
  CONTENT_UNREADABLE: exitCodes.noInput,
  CONFLICT: exitCodes.cantCreate,
  NOT_CANCELLABLE: exitCodes.dataErr,
  UNAUTHENTICATED: exitCodes.noPerm,
  AUTH_REQUIRED: exitCodes.noPerm,
  ENCRYPTION_REQUIRED: exitCodes.noPerm,
  FORBIDDEN: exitCodes.noPerm,
  CSRF_REJECTED: exitCodes.noPerm,
  TOTP_REQUIRED: exitCodes.noPerm,
  SSO_FAILED: exitCodes.noPerm,
  SSO_REFUSED: exitCodes.noPerm,
  TOO_MANY_ATTEMPTS: exitCodes.tempFail,
  IDEMPOTENCY_IN_PROGRESS: exitCodes.tempFail,
  RATE_LIMITED: exitCodes.tempFail,
  QUOTA_EXCEEDED: exitCodes.tempFail,
  OVERLOADED: exitCodes.tempFail,
  SPOOL_FULL: exitCodes.tempFail,
  STORE_UNAVAILABLE: exitCodes.tempFail,
  BODY_BUDGET_EXHAUSTED: exitCodes.tempFail,
  HEADERS_TOO_LARGE: exitCodes.dataErr,
  REQUEST_TIMEOUT: exitCodes.tempFail,
  HOSTNAME_UNQUALIFIED: exitCodes.config,
  CONFIG_INVALID: exitCodes.config,
  INTERNAL: exitCodes.software,
  RESIDENCY_MISMATCH: exitCodes.noPerm,
};

/** Failures that exist only on the command line (no server involved, or the server never answered sensibly). */
export const cliConditions = {
  USAGE: { exit: exitCodes.usage, meaning: 'The command line is wrong (unknown option, missing argument, bad value).' },
  INPUT_UNREADABLE: { exit: exitCodes.noInput, meaning: 'A file named on the command line cannot be read.' },
  NO_DATA_DIR: {
    exit: exitCodes.noInput,
    meaning: 'No data directory where an admin command looked (it says where); the store is never created there silently.',
  },
  UNREACHABLE: { exit: exitCodes.unavailable, meaning: 'The Postwarden server did not answer (not running, wrong --url).' },
  TIMEOUT: { exit: exitCodes.tempFail, meaning: 'The server did not answer in time.' },
  BAD_RESPONSE: { exit: exitCodes.protocol, meaning: 'The server answered with something that is not the Postwarden API.' },
  CANNOT_LISTEN: { exit: exitCodes.osErr, meaning: 'A listener could not bind its address (port in use, or not permitted).' },
  STOP_TIMEOUT: { exit: exitCodes.software, meaning: 'A graceful stop did not finish in time; the process exited anyway.' },
  OUTPUT_UNWRITABLE: { exit: exitCodes.cantCreate, meaning: 'The file named by --output cannot be written.' },
  EXPORT_INCOMPLETE: { exit: exitCodes.tempFail, meaning: 'An export ended before all its announced rows arrived; run it again.' },
  AUDIT_CHAIN_BROKEN: {
    exit: exitCodes.dataErr,
    meaning: 'postwarden audit verify found an audit entry edited, deleted or a checkpoint that does not verify; it names the first.',
  },
  TRACE_BUNDLE_INVALID: {
    exit: exitCodes.dataErr,
    meaning:
      'postwarden trace verify found a trace bundle altered (a file hash, the signature or the pinned key does not match); it names each problem.',
  },
} as const;
export type CliCondition = keyof typeof cliConditions;

/** A failure raised by the CLI itself. */
export class CliError extends Error {
  constructor(
    readonly condition: CliCondition,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A problem+json document the server answered with; printed as received. */
export class ProblemError extends Error {
  constructor(
    readonly problem: Record<string, unknown>,
    readonly status: number,
  ) {
    super(typeof problem.detail === 'string' ? problem.detail : `HTTP ${status}`);
    this.name = 'ProblemError';
  }
}

/** Every failure normalised: what to print and which exit code. */
export interface Failure {
  exit: number;
  problem: { type: string; title: string; detail: string; code: string; status?: number; errors?: FieldError[]; [k: string]: unknown };
}

const isErrorCode = (c: unknown): c is ErrorCode => typeof c === 'string' && Object.hasOwn(errorCatalogue, c);

export function failureOf(e: unknown): Failure {
  if (isPostwardenError(e)) {
    const { errors, ...rest } = e.details;
    // The config loader's message repeats the list; the field lines carry it, once each.
    const detail =
      e.code === 'CONFIG_INVALID' && errors?.length && e.message.startsWith('invalid configuration:') ? 'invalid configuration' : e.message;
    return {
      exit: errorExitCodes[e.code],
      problem: { ...problemBase(e.code, errorCatalogue[e.code].meaning, detail), ...rest, ...(errors?.length ? { errors } : {}) },
    };
  }
  if (e instanceof ProblemError) {
    const code = e.problem.code;
    const exit = isErrorCode(code) ? errorExitCodes[code] : exitForStatus(e.status);
    const fields = fieldErrors(e.problem.errors);
    // Printed as the server sent it; only detail and errors are normalised so printing cannot fail.
    const problem = { ...problemBase(String(code), '', e.message), ...e.problem, detail: e.message, errors: fields };
    return { exit, problem };
  }
  if (e instanceof CliError) {
    const spec = cliConditions[e.condition];
    return {
      exit: spec.exit,
      problem: { ...problemBase(e.condition, spec.meaning, e.message), ...(e.errors.length ? { errors: e.errors } : {}) },
    };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { exit: errorExitCodes.INTERNAL, problem: problemBase('INTERNAL', errorCatalogue.INTERNAL.meaning, message) };
}

function problemBase(code: string, title: string, detail: string) {
  return { type: `urn:postwarden:error:${code}`, title, detail, code };
}

/** A newer server may send a code this CLI does not know; its HTTP status still says what kind it is. */
function exitForStatus(status: number): number {
  const same = Object.entries(errorCatalogue).find(([, spec]) => spec.status === status);
  return same ? errorExitCodes[same[0] as ErrorCode] : exitCodes.protocol;
}

function fieldErrors(v: unknown): FieldError[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v
    .filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null)
    .map((x) => ({ path: String(x.path ?? '/'), message: String(x.message ?? 'is invalid') }));
}

export interface Printer {
  readonly json: boolean;
  /** One result: a JSON document, or the human lines. */
  result(value: unknown, human: () => string[]): void;
  /** One item of a stream (events tail): one JSON object per line, or human lines. */
  item(value: unknown, human: () => string[]): void;
  /** Progress and notes for people; always stderr, never in --json mode's stdout. */
  note(line: string): void;
  failure(f: Failure): void;
}

export function createPrinter(json: boolean, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Printer {
  const lines = (out: (s: string) => void, ls: string[]) => {
    if (ls.length) out(`${ls.join('\n')}\n`);
  };
  return {
    json,
    result(value, human) {
      if (json) io.stdout(`${JSON.stringify(value, null, 2)}\n`);
      else lines(io.stdout, human());
    },
    item(value, human) {
      if (json) io.stdout(`${JSON.stringify(value)}\n`);
      else lines(io.stdout, human());
    },
    note(line) {
      io.stderr(`${line}\n`);
    },
    failure(f) {
      if (json) {
        io.stderr(`${JSON.stringify(f.problem)}\n`);
        return;
      }
      const ls = [`error: ${f.problem.detail}`];
      for (const fe of f.problem.errors ?? []) ls.push(`  ${fe.path}: ${fe.message}`);
      lines(io.stderr, ls);
    },
  };
}

/** Column-aligned rows for human tables. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
