import type { Command } from 'commander';
import {
  type Caller,
  type CommandAccess,
  checkPermission,
  commandAccessFor,
  createUsers,
  normaliseEmail,
  type Permission,
  type PermissionHolder,
} from '../access/index.js';
import { type Actor, operatorActor, operatorName } from '../audit/index.js';
import { PostwardenError, systemClock } from '../core/index.js';
import { type CliSetting, configFor, openAdminStore } from './context.js';
import { CliError } from './output.js';

/**
 * Who runs a command, and may they: run before every command body (program.ts `act`), from the one
 * table (access/command-permissions.ts). The host operator is `operator:osuser@host` in the audit
 * log. With `--as <email>` (or POSTWARDEN_ACTOR) a store command acts as that Postwarden user: the
 * user's role is resolved as a session's is and checked with the API's own `checkPermission`, so
 * the CLI refuses what the same user would be refused over /v1 (exit 77, the missing permission
 * named), before it opens anything for writing.
 */
export interface CommandActor {
  /** Who the audit log names. */
  actor: Actor;
  /** Who the users service sees (owner and grant rules). */
  caller: Caller;
  /** The user's permissions when acting `--as` one; undefined for the host operator (holds all). */
  holder?: PermissionHolder;
  /** The short name change histories keep (suppressions): `operator:osuser@host` or the user id. */
  label: string;
}

/** `keys create`: the command's path in the tree, below the program. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The tenant a command acts on: its --tenant, or a `<tenant-id>` argument; null for none (`platform` is none). */
function tenantOf(cmd: Command): string | null {
  const opt = cmd.opts<{ tenant?: unknown; global?: unknown }>().tenant;
  if (typeof opt === 'string') return opt === 'platform' ? null : opt;
  const i = cmd.registeredArguments.findIndex((a) => a.name() === 'tenant-id');
  const arg = i >= 0 ? cmd.processedArgs[i] : undefined;
  return typeof arg === 'string' ? arg : null;
}

/** A show-or-set command run without a change only reads. */
const readsOnly: Record<string, (o: Record<string, unknown>) => boolean> = {
  'tenants tls-policy': (o) => o.default === undefined && !(o.stream as unknown[] | undefined)?.length && o.reset !== true,
  'dns approved-mx': (o) => o.set === undefined,
};

function neededBy(path: string, access: Extract<CommandAccess, { via: 'store' }>, cmd: Command): Permission {
  return access.reading && readsOnly[path]?.(cmd.opts()) ? access.reading : access.needs;
}

export async function authorizeCommand(ctx: CliSetting, cmd: Command): Promise<CommandActor> {
  const path = commandPath(cmd);
  const access = commandAccessFor(path);
  if (!access) {
    throw new PostwardenError(
      'FORBIDDEN',
      `\`postwarden ${path}\` has no entry in the command permission table; it is refused until it has one.`,
    );
  }
  const explicit = ctx.globals.as;
  const as = explicit ?? ctx.deps.env.POSTWARDEN_ACTOR;
  const tenant = tenantOf(cmd);
  const operator: CommandActor = {
    actor: operatorActor(tenant, ctx.deps.env),
    caller: { kind: 'host' },
    label: `operator:${operatorName(ctx.deps.env)}`,
  };
  switch (access.via) {
    case 'none':
      return operator;
    case 'api':
      if (explicit !== undefined) {
        throw new CliError(
          'USAGE',
          `--as does not apply to \`postwarden ${path}\`: it talks to the server with an API key, and the server checks and audits that key`,
        );
      }
      return operator;
    case 'host':
      if (as === undefined) return operator;
      throw new PostwardenError(
        'FORBIDDEN',
        `\`postwarden ${path}\` is for the host operator only (${access.why}); run it without --as${explicit === undefined ? ' and without POSTWARDEN_ACTOR' : ''}.`,
        { permission: 'host' },
      );
    case 'store':
      return as === undefined ? operator : actAs(ctx, as, tenant, neededBy(path, access, cmd));
    default: {
      const never: never = access;
      return never;
    }
  }
}

/** Resolves the user as a session would, then checks what the command needs with the API's check. */
async function actAs(ctx: CliSetting, email: string, tenant: string | null, needed: Permission): Promise<CommandActor> {
  const config = await configFor(ctx);
  const store = await openAdminStore(ctx, config);
  try {
    const user = await store.users.findByEmail(normaliseEmail(email));
    if (!user || user.disabledAt !== null) {
      throw new PostwardenError('UNAUTHENTICATED', `--as ${email}: no active Postwarden user has this email.`);
    }
    if (user.tenantId !== null && user.tenantId !== tenant) {
      throw new PostwardenError(
        'FORBIDDEN',
        tenant === null
          ? `${user.email} belongs to tenant ${user.tenantId}; this command acts on no tenant (the whole installation), which only the host operator may.`
          : `${user.email} belongs to tenant ${user.tenantId}, not ${tenant}.`,
        { permission: needed },
      );
    }
    // Sealing is not needed to read a role; the users service takes it for TOTP only.
    const unused = () => {
      throw new Error('not available to the CLI');
    };
    const users = createUsers({ store, clock: systemClock, seal: unused, open: unused });
    const permissions = await users.permissionsOfRole(user.tenantId ?? tenant, user.role);
    const holder: PermissionHolder = { permissions, label: `${user.email} (role ${user.role})` };
    checkPermission(holder, needed);
    return {
      actor: {
        kind: 'user',
        id: user.id,
        tenantId: tenant ?? user.tenantId,
        ip: null,
        userAgent: `postwarden CLI run by operator:${operatorName(ctx.deps.env)}`,
        keyId: null,
      },
      caller: { kind: 'user', userId: user.id, role: user.role, permissions },
      holder,
      label: user.id,
    };
  } finally {
    await store.close();
  }
}
