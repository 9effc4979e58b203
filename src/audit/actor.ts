import { userInfo } from 'node:os';

/**
 * Who did something, as the audit log records it. `api_key`: a request authenticated by a key (id =
 * the key id); `user`: a person's session (id = the user id, src/access); `cli`: the host
 * operator running `postwarden` (id = the OS user name); `system`: a job of the platform itself (id =
 * the job's name). `ip` and `userAgent` say from where, when there was a request.
 */
export type ActorKind = 'api_key' | 'user' | 'cli' | 'system';

export const actorKinds: readonly ActorKind[] = ['api_key', 'user', 'cli', 'system'];

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
 * The host operator running the CLI: the OS user name, so `sudo -u alice postwarden …` says alice.
 * `env` (the CLI's injected environment) is the fallback when the uid has no passwd entry.
 */
export function cliActor(tenantId: string | null = null, env: Record<string, string | undefined> = {}): Actor {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): fall back to what the shell says.
    name = env.USER ?? env.LOGNAME;
  }
  return { kind: 'cli', id: name || `uid:${process.getuid?.() ?? 'unknown'}`, tenantId };
}

export function systemActor(job: string, tenantId: string | null = null): Actor {
  return { kind: 'system', id: job, tenantId };
}
