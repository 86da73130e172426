/**
 * Key pairs: OpenSSH public keys (or X.509 certificates) a tenant imports by name (no private key is
 * ever kept). They belong to the tenant (unlike Nova, where they are per user): every member can
 * start a VM with the team's key, and the importing user is recorded; Nova's per-user view
 * (`listUserKeypairs`, `getUserKeypair`) shows a user the ones they imported. The key is given to a VM's metadata
 * (`vm create --key NAME`), with its user data (at most 64 KiB).
 *
 * Uses: no other service.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { authorize, authorizeTenantObject, reachesAllTenants, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Selectable } from 'kysely';
import type { KeypairTable } from '../store/schema.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';
import { parseSshPublicKey } from '../../core/network/ssh-key.ts';

/** The largest user data a VM may be given (as Nova: 64 KiB). */
export const USER_DATA_MAX_BYTES = 65536;

/** `SHA256:` + unpadded base64 of the SHA-256 of the key blob (what `ssh-keygen -lf` prints). */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The SHA-256 fingerprint of an OpenSSH public key line. @throws ControlError BAD_REQUEST when it is not one. */
function sshKeyFingerprint(line: string): string {
  const k = parseSshPublicKey(line);
  if (typeof k === 'string') throw new ControlError('BAD_REQUEST', `publicKey: ${k}`);
  return sshFingerprint(k.blob);
}

/** The SHA-1 fingerprint (colon hex, lower case, as Nova) of a PEM X.509 certificate. @throws ControlError BAD_REQUEST otherwise. */
function x509Fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem.trim()).fingerprint.toLowerCase();
  } catch {
    throw new ControlError('BAD_REQUEST', 'publicKey: not a PEM X.509 certificate (type x509)');
  }
}

export class Keypairs extends Service {
  /**
   * Import a public key under a name of the caller's tenant: an OpenSSH key line (`type: 'ssh'`, the
   * default) or a PEM X.509 certificate (`x509`, as Nova 2.2). An admin may import it for another
   * user (`userId`, as Nova 2.10): it then belongs to that user's tenant.
   */
  async createKeypair(
    p: Principal,
    o: { name: string; publicKey: string; type?: 'ssh' | 'x509'; userId?: string },
  ) {
    authorize(p, 'keypair:write');
    const type = o.type ?? 'ssh';
    const fingerprint = type === 'x509' ? x509Fingerprint(o.publicKey) : sshKeyFingerprint(o.publicKey);
    const owner = await this.owner(p, o.userId, 'keypair:write');
    const id = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      await checkNetworkQuota(trx, owner.tenantId, 'keypairs');
      await this.unique(
        () =>
          trx
            .insertInto('keypairs')
            .values({
              id,
              tenant_id: owner.tenantId,
              user_id: owner.userId,
              name: o.name,
              public_key: o.publicKey.trim(),
              fingerprint,
              type,
              created_at: this.now(),
            })
            .execute(),
        `A key pair named "${o.name}" already exists`,
      );
      await this.event(trx, {
        tenantId: owner.tenantId,
        actor: p.userName,
        kind: 'keypair.created',
        detail: { name: o.name },
      });
    });
    return this.getKeypair(p, id);
  }

  /** The user a key pair is for: the caller, or (reaching all tenants) another user by id. */
  private async owner(p: Principal, userId: string | undefined, op: 'keypair:read' | 'keypair:write') {
    if (userId === undefined || userId === p.userId) return { userId: p.userId, tenantId: p.tenantId };
    if (!reachesAllTenants(p, op))
      throw new ControlError('FORBIDDEN', `Only an admin may name another user's key pairs (user ${userId})`);
    const u = await this.db
      .selectFrom('users')
      .select(['id', 'tenant_id', 'default_project_id'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!u) throw new ControlError('NOT_FOUND', `No user "${userId}"`);
    // A Keystone user without a home tenant: its default project, else the first project it has a role on.
    const role = await this.db
      .selectFrom('role_assignments')
      .select('tenant_id')
      .where('user_id', '=', u.id)
      .orderBy('created_at')
      .executeTakeFirst();
    const tenantId = u.tenant_id ?? u.default_project_id ?? role?.tenant_id;
    if (!tenantId)
      throw new ControlError('NOT_FOUND', `User "${userId}" has no project to keep a key pair in`);
    return { userId: u.id, tenantId };
  }

  /** A user's key pairs (the caller's, or an admin's pick), by name: Nova's per-user view. */
  async listUserKeypairs(p: Principal, userId?: string) {
    authorize(p, 'keypair:read');
    const owner = await this.owner(p, userId, 'keypair:read');
    const rows = await this.db
      .selectFrom('keypairs')
      .selectAll()
      .where('tenant_id', '=', owner.tenantId)
      .where('user_id', '=', owner.userId)
      .orderBy('name')
      .execute();
    return rows.map((k) => this.view(k));
  }

  /** A user's key pair by name (the caller's, or an admin's pick); another user's is NOT_FOUND. */
  async getUserKeypair(p: Principal, name: string, userId?: string) {
    authorize(p, 'keypair:read');
    const owner = await this.owner(p, userId, 'keypair:read');
    const k = await this.db
      .selectFrom('keypairs')
      .selectAll()
      .where('tenant_id', '=', owner.tenantId)
      .where('user_id', '=', owner.userId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!k) throw new ControlError('NOT_FOUND', `No key pair "${name}"`);
    return this.view(k);
  }

  async listKeypairs(p: Principal) {
    authorize(p, 'keypair:read');
    const t = tenantFilter(p, 'keypair:read');
    let q = this.db.selectFrom('keypairs').selectAll().orderBy('name').orderBy('id');
    if (t) q = q.where('tenant_id', '=', t);
    return (await q.execute()).map((k) => this.view(k));
  }

  /** A key pair by id, or by name in the caller's tenant. */
  async getKeypair(p: Principal, ref: string, op: 'keypair:read' | 'keypair:write' = 'keypair:read') {
    return this.view(await this.find(p, ref, op));
  }

  async deleteKeypair(p: Principal, ref: string) {
    const k = await this.find(p, ref, 'keypair:write');
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('keypairs').where('id', '=', k.id).execute();
      await this.event(trx, {
        tenantId: k.tenant_id,
        actor: p.userName,
        kind: 'keypair.deleted',
        detail: { name: k.name },
      });
    });
  }

  /** Check a new VM's key pair (the caller's tenant's) and user data (size) before anything is written. */
  async checkVmAccess(p: Principal, o: { key?: string; userData?: string }) {
    if (o.userData !== undefined && new TextEncoder().encode(o.userData).length > USER_DATA_MAX_BYTES)
      throw new ControlError('BAD_REQUEST', `userData is larger than ${USER_DATA_MAX_BYTES} bytes (64 KiB)`);
    if (o.key === undefined) return;
    const k = await this.db
      .selectFrom('keypairs')
      .select('id')
      .where('tenant_id', '=', p.tenantId)
      .where('name', '=', o.key)
      .executeTakeFirst();
    if (!k) throw new ControlError('NOT_FOUND', `No key pair "${o.key}"; see GET /v1/keypairs`);
  }

  private async find(
    p: Principal,
    ref: string,
    op: 'keypair:read' | 'keypair:write',
  ): Promise<Selectable<KeypairTable>> {
    authorize(p, op);
    const rows = await this.db
      .selectFrom('keypairs')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('name', '=', ref), eb('tenant_id', '=', p.tenantId)])]),
      )
      .execute();
    const k = rows.find((r) => r.id === ref) ?? rows[0];
    const msg = `No key pair "${ref}"; see GET /v1/keypairs`;
    if (!k) throw new ControlError('NOT_FOUND', msg);
    authorizeTenantObject(p, op, k.tenant_id, msg, { kind: 'key pair', id: k.id });
    return k;
  }

  private view(k: Selectable<KeypairTable>) {
    return {
      id: k.id,
      tenantId: k.tenant_id,
      userId: k.user_id,
      name: k.name,
      publicKey: k.public_key,
      fingerprint: k.fingerprint,
      type: k.type,
      createdAt: k.created_at,
    };
  }
}
