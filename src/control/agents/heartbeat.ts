/**
 * Agents' heartbeats: refresh, health reports, per-guest load. A heartbeat is authenticated by the
 * host credential received at enrollment (agents/enrollment.ts) and reports that host only.
 *
 * Uses: `cp.enrollment`, storage/reported-pools.ts, `cp.draining`, `cp.metrics`, `cp.plans`.
 */
import type { GuestMemoryProfile } from '../../core/memory/profile.ts';
import { ControlError } from '../errors.ts';
import { Service } from '../service.ts';
import { appendSecurityEvent } from '../security/security-log.ts';
import { syncReportedPools, type ReportedPool } from '../storage/reported-pools.ts';

/** The setting that holds the cloud's page-fingerprint key (never shown by any API but the heartbeat). */
export const FINGERPRINT_KEY = 'memory-fingerprint-key';

/** Agents' heartbeats: refresh, health reports. */
export class Heartbeats extends Service {
  /**
   * A heartbeat from the agent holding `credential`: refreshes its host (a host in maintenance stays
   * in maintenance; a host marked failed comes back up). The host is the one the credential was issued
   * for; an `agentUrl` other than the one bound at enrollment is refused (and recorded as
   * `security.heartbeat-refused`), never followed.
   * @throws ControlError UNAUTHENTICATED (no host credential), FORBIDDEN (another agent URL)
   */
  async heartbeat(
    credential: string | undefined,
    b: {
      agentUrl?: string;
      hostname?: string;
      cpus?: number;
      memoryMiB?: number;
      accel?: string;
      health?: { status: 'ok' | 'degraded'; reason?: string };
      /** Each guest's CPU utilization and memory profile (checked by the route: checkMemoryProfile). */
      guests?: { id: string; cpu?: number; memory?: GuestMemoryProfile }[];
      /** The storage pools the host has: they define the pools it sees (storage/reported-pools.ts). */
      pools?: ReportedPool[];
    },
  ) {
    const { host: h, p } = await this.cp.enrollment.authenticateHost(credential);
    const at = this.now();
    const fingerprintKey = await this.fingerprintKey();
    if (b.agentUrl !== undefined && b.agentUrl !== h.agent_url) {
      await this.db.transaction().execute(async (trx) =>
        this.event(trx, {
          hostId: h.id,
          actor: p.userName,
          kind: 'security.heartbeat-refused',
          detail: { reason: 'agent URL differs from the one bound at enrollment', agentUrl: b.agentUrl },
        }),
      );
      await appendSecurityEvent(this.ctx, {
        kind: 'heartbeat.refused',
        principal: p.userName,
        object: h.id,
        detail: {
          host: h.name,
          reason: 'agent URL differs from the one bound at enrollment',
          agentUrl: b.agentUrl,
        },
      });
      throw new ControlError(
        'FORBIDDEN',
        `Host "${h.name}" is bound to the agent URL it enrolled with; a heartbeat cannot change it (re-enroll the host to move its agent)`,
      );
    }
    // A failed host that reports again, or a host switched on that finished booting, is up.
    await this.db
      .updateTable('hosts')
      .set({ last_seen_at: at, ...(h.state === 'failed' || h.state === 'booting' ? { state: 'up' } : {}) })
      .where('id', '=', h.id)
      .execute();
    const reported = b.pools;
    if (reported)
      await this.db.transaction().execute((trx) => syncReportedPools(this.ctx, trx, h, reported, p.userName));
    // Agent-sourced load: the CPU utilization the agent measured for each guest since its last report.
    const samples = (b.guests ?? [])
      .filter((g) => typeof g.cpu === 'number')
      .map((g) => ({ vm: g.id, cpu: g.cpu! }));
    if (samples.length) {
      const mine = new Set(
        (
          await this.db
            .selectFrom('vms')
            .select('id')
            .where('host_id', '=', h.id)
            .where('deleted_at', 'is', null)
            .execute()
        ).map((v) => v.id),
      );
      const known = samples.filter((x) => mine.has(x.vm));
      if (known.length) await this.cp.metrics.recordMetrics(p, known);
    }
    // Measured memory (issue 17): profiles of this host's VMs only (others are ignored).
    const profiles = (b.guests ?? [])
      .filter((g) => g.memory !== undefined)
      .map((g) => ({ vmId: g.id, profile: g.memory! }));
    if (profiles.length) await this.cp.memoryProfiles.record(this.db, h.id, profiles);
    // Proactive evacuation: a host that reports itself degraded is drained before it fails.
    if (b.health?.status === 'degraded' && (h.state === 'up' || h.state === 'failed')) {
      await this.db.transaction().execute(async (trx) =>
        this.event(trx, {
          hostId: h.id,
          actor: p.userName,
          kind: 'host.degraded',
          detail: { reason: b.health!.reason ?? 'reported by its agent' },
        }),
      );
      const drained = this.cp.plans.drainHost(p, h.id);
      this.cp.draining.set(h.id, drained);
      drained.catch(() => undefined).finally(() => this.cp.draining.delete(h.id));
      return { hostId: h.id, draining: true, fingerprintKey };
    }
    return { hostId: h.id, fingerprintKey };
  }

  /**
   * The cloud's page-fingerprint key: a secret every agent mixes into its page hashes (so fingerprints
   * from all hosts compare, and whoever reads them from the store cannot test for a known page). Made
   * once, on the first heartbeat, and kept in the settings; given only to authenticated agents.
   */
  private async fingerprintKey(): Promise<string> {
    const read = () =>
      this.db.selectFrom('settings').select('value').where('key', '=', FINGERPRINT_KEY).executeTakeFirst();
    const have = await read();
    if (have) return have.value;
    await this.db
      .insertInto('settings')
      .values({ key: FINGERPRINT_KEY, value: this.ctx.ids.secret(32) })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await read())!.value;
  }
}
