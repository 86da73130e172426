/**
 * Host enrollment and per-host credentials (modelled on Proxmox's cluster join and Nova's compute
 * service credentials): an admin creates a one-time join token; an agent enrolls with it, which
 * creates its host, binds the agent URL it gave and returns a credential for that host only; the
 * agent then authenticates its heartbeats with that credential. The control plane reaches the agent
 * only at the bound URL, with the credential the agent issued at enrollment.
 *
 * Secrets: join tokens and host credentials are kept as SHA-256 only; the agent's credential is kept
 * as is (the control plane must present it) and no API answer contains it after enrollment.
 */
import { authorize } from '../authz.ts';
import { isoIn } from '../context.ts';
import { systemPrincipal } from '../controllers/system-principal.ts';
import { ControlError } from '../errors.ts';
import { hashToken, type Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { appendSecurityEvent, recordSecurityEvent } from '../security/security-log.ts';
import { syncReportedPools } from '../storage/reported-pools.ts';
import type { PoolRef } from '../../core/storage/host-storage.ts';

/** Longest join-token lifetime (7 days): a join token is for an enrollment about to happen. */
export const MAX_JOIN_TOKEN_S = 7 * 86_400;
const JOIN_PREFIX = 'nubis_join_';
const HOST_PREFIX = 'nubis_host_';

/** What an agent states when it enrolls. */
export interface EnrollRequest {
  joinToken: string;
  hostname: string;
  agentUrl: string;
  cpus: number;
  memoryMiB: number;
  accel?: string;
  /** The storage pools the host has: they define the pools it sees (storage/reported-pools.ts). */
  pools?: PoolRef[];
  /** The credential the control plane must present to this agent (generated here when omitted). */
  agentCredential?: string;
}

/** Host rows that a credential may bind to, and the values the insert needs. */
function newHostRow(
  id: string,
  b: EnrollRequest,
  at: string,
  credentialHash: string,
  agentCredential: string,
) {
  return {
    id,
    name: b.hostname,
    state: 'up',
    vcpus: b.cpus,
    memory_mib: b.memoryMiB,
    disk_gib: 100,
    cpu_ratio: 4,
    memory_ratio: 1,
    disk_ratio: 1,
    reserved_vcpus: 0,
    reserved_memory_mib: Math.min(1024, Math.floor(b.memoryMiB / 4)),
    reserved_disk_gib: 0,
    datacenter: 'dc1',
    rack: 'r1',
    driver: 'qemu',
    agent_url: b.agentUrl,
    power_model: JSON.stringify({ type: 'linear', idleW: 100, maxW: 250 }),
    created_at: at,
    last_seen_at: at,
    energy_at: at,
    power_address: null,
    credential_hash: credentialHash,
    agent_credential: agentCredential,
  };
}

/** Join tokens, enrollment, and the authentication of hosts by their credential. */
export class Enrollment extends Service {
  /**
   * Create a one-time join token (admin). The token is in this answer only.
   * @throws ControlError FORBIDDEN (not an admin), BAD_REQUEST (expiry out of range)
   * @example await cp.enrollment.createJoinToken(admin, { expiresInS: 3600 })
   */
  async createJoinToken(p: Principal, b: { name?: string; expiresInS: number }) {
    authorize(p, 'host:enroll');
    if (!Number.isInteger(b.expiresInS) || b.expiresInS < 1 || b.expiresInS > MAX_JOIN_TOKEN_S)
      throw new ControlError(
        'BAD_REQUEST',
        `expiresInS must be a whole number of seconds from 1 to ${MAX_JOIN_TOKEN_S} (7 days), got ${b.expiresInS}`,
      );
    const id = this.ctx.ids.uuid();
    const token = JOIN_PREFIX + this.ctx.ids.secret();
    const at = this.now();
    const expiresAt = isoIn(this.ctx, b.expiresInS);
    const name = b.name ?? `join-${id.slice(0, 8)}`;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('join_tokens')
        .values({
          id,
          name,
          hash: hashToken(token),
          expires_at: expiresAt,
          created_by: p.userId,
          created_at: at,
          used_at: null,
          host_id: null,
        })
        .execute();
      await this.event(trx, {
        actor: p.userName,
        kind: 'host.join-token.created',
        detail: { id, name, expiresAt },
      });
    });
    return { id, name, token, expiresAt };
  }

  /**
   * Enroll a host with a join token (no other authentication): creates the host (driver qemu) bound
   * to `agentUrl` and returns its credential, in this answer only. The token is spent.
   * @throws ControlError UNAUTHENTICATED (token unknown, used or expired), ALREADY_EXISTS (host name taken)
   */
  async enroll(b: EnrollRequest) {
    const at = this.now();
    const refused = () =>
      new ControlError(
        'UNAUTHENTICATED',
        'The join token is not valid (unknown, already used or expired): ask an admin for a new one (nubis host join-token create)',
      );
    const row = await this.db
      .selectFrom('join_tokens')
      .selectAll()
      .where('hash', '=', hashToken(b.joinToken))
      .executeTakeFirst();
    if (!row || row.used_at || row.expires_at <= at) {
      await appendSecurityEvent(this.ctx, {
        kind: 'enrollment.failed',
        object: b.hostname,
        detail: {
          reason: !row
            ? 'unknown join token'
            : row.used_at
              ? 'join token already used'
              : 'join token expired',
          agentUrl: b.agentUrl,
          ...(row ? { joinToken: row.id } : {}),
        },
      });
      throw refused();
    }
    const id = this.ctx.ids.uuid();
    const hostCredential = HOST_PREFIX + this.ctx.ids.secret(32);
    const agentCredential = b.agentCredential ?? this.ctx.ids.secret(32);
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          // Spend the token in the same transaction: of two enrollments racing, one updates the row.
          const spent = await trx
            .updateTable('join_tokens')
            .set({ used_at: at, host_id: id })
            .where('id', '=', row.id)
            .where('used_at', 'is', null)
            .executeTakeFirst();
          if (Number(spent.numUpdatedRows) !== 1) throw refused();
          await trx
            .insertInto('hosts')
            .values(newHostRow(id, b, at, hashToken(hostCredential), agentCredential))
            .execute();
          if (b.pools?.length)
            await syncReportedPools(
              this.ctx,
              trx,
              { id, name: b.hostname, pools: '[]' },
              b.pools,
              `join-token:${row.name}`,
            );
          await this.event(trx, {
            hostId: id,
            actor: `join-token:${row.name}`,
            kind: 'host.enrolled',
            detail: { name: b.hostname, agentUrl: b.agentUrl, accel: b.accel, joinToken: row.id },
          });
          await recordSecurityEvent(this.ctx, trx, {
            kind: 'enrollment.succeeded',
            principal: `join-token:${row.name}`,
            object: id,
            detail: { host: b.hostname, agentUrl: b.agentUrl, joinToken: row.id },
          });
        }),
      `Host "${b.hostname}" already exists: enroll under another name (nubis agent --name)`,
    );
    return {
      hostId: id,
      hostCredential,
      ...(b.agentCredential ? {} : { agentCredential }),
    };
  }

  /**
   * Register a real host directly (admin; the documented path without a join token): creates it
   * bound to `agentUrl` and returns the host credential its agent must use, in this answer only.
   */
  async issueCredential(trx: Db, hostId: string, agentCredential?: string) {
    const hostCredential = HOST_PREFIX + this.ctx.ids.secret(32);
    const agent = agentCredential ?? this.ctx.ids.secret(32);
    await trx
      .updateTable('hosts')
      .set({ credential_hash: hashToken(hostCredential), agent_credential: agent })
      .where('id', '=', hostId)
      .execute();
    return { hostCredential, agentCredential: agent };
  }

  /**
   * The host a credential belongs to, and the principal it acts as (the loops' admin, named after
   * the host in events).
   * @throws ControlError UNAUTHENTICATED when it is not a host credential of a live host
   */
  async authenticateHost(credential: string | undefined) {
    const host =
      credential && credential.startsWith(HOST_PREFIX)
        ? await this.db
            .selectFrom('hosts')
            .selectAll()
            .where('credential_hash', '=', hashToken(credential))
            .where('deleted_at', 'is', null)
            .executeTakeFirst()
        : undefined;
    if (!host)
      throw new ControlError(
        'UNAUTHENTICATED',
        'Heartbeats need the host credential received at enrollment (Authorization: Bearer nubis_host_...); user tokens are not accepted',
      );
    const sys = await systemPrincipal(this.db);
    const p: Principal = { ...sys, userName: `agent:${host.name}`, tokenId: `host:${host.id}` };
    return { host, p };
  }
}
