import { hostname, userInfo } from 'node:os';

/**
 * Who did something, as the audit log records it. `api_key`: a request authenticated by a key (id =
 * the key id); `user`: a person (id = the user id, src/access), signed in or acting through the host
 * CLI with `--as`; `operator`: the host operator running `postwarden` (id = `osuser@host`);
 * `system`: a job of the platform itself (id = the job's name). `cli` is what entries of the host
 * operator said before `operator` (id = the OS user name alone); it is kept for those entries and no
 * longer written. `ip` and `userAgent` say from where, when there was a request.
 */
export type ActorKind = 'api_key' | 'user' | 'operator' | 'cli' | 'system';

export const actorKinds: readonly ActorKind[] = ['api_key', 'user', 'operator', 'cli', 'system'];

export interface Actor {
  kind: ActorKind;
  id: string;
  /** The tenant the actor acts for; null for a platform operator or a job above tenants. */
  tenantId: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** The API key the request presented, if any (also set for a user acting through a key). */
  keyId?: string | null;
}

/**
 * The host operator running the CLI: `osuser@host`, so `sudo -u alice postwarden …` on mx1 says
 * alice@mx1. `env` (the CLI's injected environment) is the fallback when the uid has no passwd entry.
 */
export function operatorActor(tenantId: string | null = null, env: Record<string, string | undefined> = {}): Actor {
  return { kind: 'operator', id: operatorName(env), tenantId };
}

/** `osuser@host` of the process running the CLI. */
export function operatorName(env: Record<string, string | undefined> = {}): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): fall back to what the shell says.
    name = env.USER ?? env.LOGNAME;
  }
  return `${name || `uid:${process.getuid?.() ?? 'unknown'}`}@${hostname()}`;
}

export function systemActor(job: string, tenantId: string | null = null): Actor {
  return { kind: 'system', id: job, tenantId };
}
