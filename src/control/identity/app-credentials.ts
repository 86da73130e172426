/**
 * Application credentials (Keystone's): a user's secret for one project, made with a project-scoped
 * token and carrying a copy of that token's roles. The secret is returned once and kept as a scrypt
 * hash; `expires_at` is kept as the client sent it (Keystone echoes it back).
 *
 * Uses: no other service.
 */
import { ControlError } from '../errors.ts';
import { Service } from '../service.ts';
import type { KeystoneToken } from './keystone-tokens.ts';
import { appCredentialExpiry } from './keystone-tokens.ts';
import { hashPassword } from './passwords.ts';

/** An application credential without its secret. */
export interface AppCredential {
  id: string;
  name: string;
  description: string | null;
  userId: string;
  projectId: string;
  roles: string[];
  expiresAt: string | null;
}

const notFound = (id: string) =>
  new ControlError('NOT_FOUND', `Could not find application credential: ${id}.`);

/** A user's application credentials. */
export class AppCredentials extends Service {
  /** Only the user themselves reaches their credentials (another user's are not found). */
  private own(caller: KeystoneToken, userId: string) {
    if (caller.userId !== userId) throw new ControlError('NOT_FOUND', `Could not find user: ${userId}.`);
  }

  /** Create a credential for the caller's project with the caller's roles; the secret is in the answer only. */
  async create(
    caller: KeystoneToken,
    userId: string,
    c: { name: string; description?: string | null; expiresAt?: string | null; secret?: string | null },
  ): Promise<AppCredential & { secret: string }> {
    this.own(caller, userId);
    if (!caller.project || caller.appCredential)
      throw new ControlError('FORBIDDEN', 'An application credential needs a project-scoped token of a user');
    if (c.expiresAt && !appCredentialExpiry(c.expiresAt))
      throw new ControlError('BAD_REQUEST', `Invalid expires_at "${c.expiresAt}"`);
    const secret = c.secret || this.ctx.ids.secret(48);
    const id = this.ctx.ids.uuid().replace(/-/g, '');
    const row = {
      id,
      user_id: userId,
      tenant_id: caller.project.id,
      name: c.name,
      description: c.description ?? null,
      secret_hash: await hashPassword(secret, this.ctx.ids.secret(16)),
      roles: JSON.stringify(caller.roles),
      expires_at: c.expiresAt ?? null,
      created_at: this.now(),
    };
    await this.unique(
      () => this.db.insertInto('app_credentials').values(row).execute(),
      `Application credential "${c.name}" already exists`,
    );
    return { ...this.out(row), secret };
  }

  private out(r: {
    id: string;
    name: string;
    description: string | null;
    user_id: string;
    tenant_id: string;
    roles: string;
    expires_at: string | null;
  }): AppCredential {
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      userId: r.user_id,
      projectId: r.tenant_id,
      roles: JSON.parse(r.roles) as string[],
      expiresAt: r.expires_at,
    };
  }

  /** The user's credentials (those named `name`). */
  async list(caller: KeystoneToken, userId: string, o: { name?: string } = {}) {
    this.own(caller, userId);
    let q = this.db.selectFrom('app_credentials').selectAll().where('user_id', '=', userId);
    if (o.name !== undefined) q = q.where('name', '=', o.name);
    return (await q.orderBy('name').execute()).map((r) => this.out(r));
  }

  /** One of the user's credentials. @throws NOT_FOUND. */
  async get(caller: KeystoneToken, userId: string, id: string) {
    this.own(caller, userId);
    const r = await this.db
      .selectFrom('app_credentials')
      .selectAll()
      .where('user_id', '=', userId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) throw notFound(id);
    return this.out(r);
  }

  /** Delete one of the user's credentials; the tokens made with it are revoked. */
  async delete(caller: KeystoneToken, userId: string, id: string) {
    await this.get(caller, userId, id);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('tokens')
        .set({ revoked_at: this.now() })
        .where('app_credential_id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      await trx.deleteFrom('app_credentials').where('id', '=', id).execute();
    });
    this.cp.tenancy.tokens.clear();
  }
}
