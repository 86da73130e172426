/**
 * Key pairs: OpenSSH public keys a tenant imports by name (no private key is ever made or kept).
 * They belong to the tenant (unlike Nova, where they are per user): every member can start a VM
 * with the team's key, and the importing user is recorded. The key is given to a VM's metadata
 * (`vm create --key NAME`), with its user data (at most 64 KiB).
 *
 * Uses: no other service.
 */
import { createHash } from 'node:crypto';
import { authorize, authorizeTenantObject, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
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

export class Keypairs extends Service {
  /** Import a public key under a name of the caller's tenant. */
  async createKeypair(p: Principal, o: { name: string; publicKey: string }) {
    authorize(p, 'keypair:write');
    const k = parseSshPublicKey(o.publicKey);
    if (typeof k === 'string') throw new ControlError('BAD_REQUEST', `publicKey: ${k}`);
    const id = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      await checkNetworkQuota(trx, p.tenantId, 'keypairs');
      await this.unique(
        () =>
          trx
            .insertInto('keypairs')
            .values({
              id,
              tenant_id: p.tenantId,
              user_id: p.userId,
              name: o.name,
              public_key: o.publicKey.trim(),
              fingerprint: sshFingerprint(k.blob),
              created_at: this.now(),
            })
            .execute(),
        `A key pair named "${o.name}" already exists`,
      );
      await this.event(trx, {
        tenantId: p.tenantId,
        actor: p.userName,
        kind: 'keypair.created',
        detail: { name: o.name },
      });
    });
    return this.getKeypair(p, id);
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

  private async find(p: Principal, ref: string, op: 'keypair:read' | 'keypair:write'): Promise<KeypairTable> {
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

  private view(k: KeypairTable) {
    return {
      id: k.id,
      tenantId: k.tenant_id,
      userId: k.user_id,
      name: k.name,
      publicKey: k.public_key,
      fingerprint: k.fingerprint,
      createdAt: k.created_at,
    };
  }
}
