import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database, RolesTable, UsersTable } from '../schema.js';

/** A person (src/access/users.ts); `tenantId` null is a platform operator. */
export interface UserRow {
  id: string;
  tenantId: string | null;
  email: string;
  name: string;
  role: string;
  passwordHash: string | null;
  totpSecret: string | null;
  totpEnabled: boolean;
  externalIssuer: string | null;
  externalSubject: string | null;
  createdAt: number;
  disabledAt: number | null;
  lastLoginAt: number | null;
}

export interface RoleRow {
  tenantId: string;
  name: string;
  permissions: string[];
  description: string;
  updatedAt: number;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

const toUser = (r: Selectable<UsersTable>): UserRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  email: r.email,
  name: r.name,
  role: r.role,
  passwordHash: r.password_hash,
  totpSecret: r.totp_secret,
  totpEnabled: Number(r.totp_enabled) === 1,
  externalIssuer: r.external_issuer,
  externalSubject: r.external_subject,
  createdAt: Number(r.created_at),
  disabledAt: num(r.disabled_at),
  lastLoginAt: num(r.last_login_at),
});

const toRole = (r: Selectable<RolesTable>): RoleRow => ({
  tenantId: r.tenant_id,
  name: r.name,
  permissions: r.permissions ? r.permissions.split(',') : [],
  description: r.description,
  updatedAt: Number(r.updated_at),
});

export type UserPatch = Partial<
  Pick<UserRow, 'name' | 'role' | 'passwordHash' | 'totpSecret' | 'totpEnabled' | 'disabledAt' | 'lastLoginAt'>
>;

export function usersRepository(db: Kysely<Database>) {
  return {
    async insert(u: UserRow): Promise<void> {
      await db
        .insertInto('users')
        .values({
          id: u.id,
          tenant_id: u.tenantId,
          email: u.email,
          name: u.name,
          role: u.role,
          password_hash: u.passwordHash,
          totp_secret: u.totpSecret,
          totp_enabled: u.totpEnabled ? 1 : 0,
          external_issuer: u.externalIssuer,
          external_subject: u.externalSubject,
          created_at: u.createdAt,
          disabled_at: u.disabledAt,
          last_login_at: u.lastLoginAt,
        })
        .execute();
    },
    async get(id: string): Promise<UserRow | undefined> {
      const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toUser(r);
    },
    async findByEmail(email: string): Promise<UserRow | undefined> {
      const r = await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      return r && toUser(r);
    },
    /** The user an external identity (SSO issuer + subject) is linked to. */
    async findByExternal(issuer: string, subject: string): Promise<UserRow | undefined> {
      const r = await db
        .selectFrom('users')
        .selectAll()
        .where('external_issuer', '=', issuer)
        .where('external_subject', '=', subject)
        .executeTakeFirst();
      return r && toUser(r);
    },
    /** A tenant's users; `null` lists the platform operators. */
    async list(tenantId: string | null): Promise<UserRow[]> {
      const q = db.selectFrom('users').selectAll();
      const rows = await (tenantId === null ? q.where('tenant_id', 'is', null) : q.where('tenant_id', '=', tenantId))
        .orderBy('id')
        .execute();
      return rows.map(toUser);
    },
    async countActive(tenantId: string | null, role: string): Promise<number> {
      const q = db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('role', '=', role)
        .where('disabled_at', 'is', null);
      const r = await (tenantId === null
        ? q.where('tenant_id', 'is', null)
        : q.where('tenant_id', '=', tenantId)
      ).executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async update(id: string, patch: UserPatch): Promise<void> {
      const v: Updateable<UsersTable> = {};
      if (patch.name !== undefined) v.name = patch.name;
      if (patch.role !== undefined) v.role = patch.role;
      if (patch.passwordHash !== undefined) v.password_hash = patch.passwordHash;
      if (patch.totpSecret !== undefined) v.totp_secret = patch.totpSecret;
      if (patch.totpEnabled !== undefined) v.totp_enabled = patch.totpEnabled ? 1 : 0;
      if (patch.disabledAt !== undefined) v.disabled_at = patch.disabledAt;
      if (patch.lastLoginAt !== undefined) v.last_login_at = patch.lastLoginAt;
      if (Object.keys(v).length) await db.updateTable('users').set(v).where('id', '=', id).execute();
    },

    async putRole(r: RoleRow): Promise<void> {
      const values = {
        tenant_id: r.tenantId,
        name: r.name,
        permissions: r.permissions.join(','),
        description: r.description,
        updated_at: r.updatedAt,
      };
      await db
        .insertInto('roles')
        .values(values)
        .onConflict((oc) =>
          oc
            .columns(['tenant_id', 'name'])
            .doUpdateSet({ permissions: values.permissions, description: values.description, updated_at: values.updated_at }),
        )
        .execute();
    },
    async getRole(tenantId: string, name: string): Promise<RoleRow | undefined> {
      const r = await db.selectFrom('roles').selectAll().where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
      return r && toRole(r);
    },
    async listRoles(tenantId: string): Promise<RoleRow[]> {
      return (await db.selectFrom('roles').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute()).map(toRole);
    },
    async deleteRole(tenantId: string, name: string): Promise<boolean> {
      const r = await db.deleteFrom('roles').where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async countWithRole(tenantId: string, role: string): Promise<number> {
      const r = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('tenant_id', '=', tenantId)
        .where('role', '=', role)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
  };
}
