/**
 * Agents' heartbeats: host registration, refresh, health reports.
 *
 * Uses: `cp.draining`, `cp.metrics`, `cp.plans`.
 */
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** Agents' heartbeats: host registration, refresh, health reports. */
export class Heartbeats extends Service {
  /**
   * An agent's heartbeat: register its host on first contact (driver qemu), refresh it afterwards.
   * A host in maintenance stays in maintenance; a host marked failed comes back up.
   */
  async heartbeat(
    p: Principal,
    b: {
      agentUrl: string;
      hostname: string;
      cpus: number;
      memoryMiB: number;
      accel?: string;
      health?: { status: 'ok' | 'degraded'; reason?: string };
      guests?: { id: string; cpu?: number }[];
    },
  ) {
    this.require(p, 'admin', 'operator');
    const at = this.now();
    const h = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('agent_url', '=', b.agentUrl)
      .executeTakeFirst();
    if (!h) {
      const id = this.ctx.ids.uuid();
      await this.unique(
        () =>
          this.db.transaction().execute(async (trx) => {
            await trx
              .insertInto('hosts')
              .values({
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
              })
              .execute();
            await this.event(trx, {
              hostId: id,
              actor: p.userName,
              kind: 'host.registered',
              detail: { name: b.hostname, agentUrl: b.agentUrl, accel: b.accel },
            });
          }),
        `Host "${b.hostname}" already exists with another agent`,
      );
      return { hostId: id, registered: true };
    }
    // A failed host that reports again, or a host switched on that finished booting, is up.
    await this.db
      .updateTable('hosts')
      .set({ last_seen_at: at, ...(h.state === 'failed' || h.state === 'booting' ? { state: 'up' } : {}) })
      .where('id', '=', h.id)
      .execute();
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
      return { hostId: h.id, registered: false, draining: true };
    }
    return { hostId: h.id, registered: false };
  }
}
