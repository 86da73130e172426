/**
 * The control plane's memory loops (issue 17):
 * - `memory-profiles`: hosts without an agent heartbeat (simulated hosts) have nobody to report their
 *   guests' memory, so the loop asks their driver (`HostDriver.memoryProfile`, optional) for each
 *   running VM's profile and stores it, as a heartbeat would.
 * - `balloon-targets`: on hosts with the 'measured' memory policy, each running VM's balloon target
 *   from the policy's `balloonTargets` (expected working set + its share of the risk margin, cut
 *   toward the guarantees when the host is short), set through the driver when it moved by more than
 *   a threshold; every change is an event. The agent's own MoM loop (src/agent/memory-manager.ts)
 *   never goes below a guest's `minMemoryMiB`; see docs/control-plane.md for how the two share a guest.
 */
import { DEFAULT_MEMORY_RISK, balloonTargets } from '../../policies/memory-overcommit.ts';
import type { ControlPlane } from '../control-plane.ts';
import { recordEvent } from '../context.ts';
import { controller, type Controller } from './controller.ts';

type Cp = Pick<ControlPlane, 'db' | 'drivers' | 'memoryProfiles' | 'ctx'>;

/** Sampling of the fingerprints the loop asks simulated hosts for (1 page in 2^bits). */
export const SIM_PROFILE_SAMPLE_BITS = 6;

/** The profile loop for hosts without an agent (every `intervalS`). */
export function memoryProfilesController(cp: Cp, o: { intervalS: number }): Controller {
  return controller('memory-profiles', o.intervalS, async () => {
    const rows = await cp.db
      .selectFrom('vms')
      .innerJoin('hosts', 'hosts.id', 'vms.host_id')
      .select(['vms.id as vmId', 'hosts.id', 'hosts.name', 'hosts.driver', 'hosts.agent_url'])
      .where('hosts.agent_url', 'is', null)
      .where('hosts.deleted_at', 'is', null)
      .where('vms.state', '=', 'running')
      .where('vms.deleted_at', 'is', null)
      .orderBy('vms.id')
      .execute();
    const byHost = new Map<string, typeof rows>();
    for (const r of rows) byHost.set(r.id, [...(byHost.get(r.id) ?? []), r]);
    for (const [hostId, vms] of byHost) {
      const driver = cp.drivers.driverFor(vms[0]!);
      if (!driver.memoryProfile) continue;
      const profiles = [];
      for (const v of vms) {
        const p = await driver
          .memoryProfile(v.vmId, { sampleBits: SIM_PROFILE_SAMPLE_BITS })
          .catch(() => undefined);
        if (p) profiles.push({ vmId: v.vmId, profile: p });
      }
      await cp.memoryProfiles.record(cp.db, hostId, profiles);
    }
  });
}

/** What the balloon loop last set per VM (MiB), kept across ticks. */
export type BalloonMemory = Map<string, number>;

/**
 * The balloon loop for measured hosts: targets from the memory policy, set when they move by more
 * than `thresholdMiB` from what the loop last set.
 */
export function balloonTargetsController(
  cp: Cp,
  o: { intervalS: number; thresholdMiB?: number; last?: BalloonMemory },
): Controller {
  const last = o.last ?? new Map<string, number>();
  const threshold = o.thresholdMiB ?? 64;
  return controller('balloon-targets', o.intervalS, async () => {
    const measured = await cp.memoryProfiles.measuredHosts(cp.db);
    if (!measured.length) return;
    const hosts = await cp.db
      .selectFrom('hosts')
      .select(['id', 'name', 'driver', 'agent_url', 'memory_mib', 'reserved_memory_mib', 'state'])
      .where(
        'id',
        'in',
        measured.map((h) => h.id),
      )
      .execute();
    const vmsOn = await cp.memoryProfiles.vmsOn(cp.db, measured);
    const running = new Set(
      (
        await cp.db
          .selectFrom('vms')
          .select('id')
          .where('state', '=', 'running')
          .where('deleted_at', 'is', null)
          .where(
            'host_id',
            'in',
            measured.map((h) => h.id),
          )
          .execute()
      ).map((v) => v.id),
    );
    for (const h of hosts) {
      if (h.state !== 'up') continue;
      const s = measured.find((m) => m.id === h.id)!;
      const vms = vmsOn.get(h.id) ?? [];
      if (!vms.length) continue;
      const { targets, cutMiB } = balloonTargets(h.memory_mib - h.reserved_memory_mib, vms, {
        ...DEFAULT_MEMORY_RISK,
        risk: s.risk,
      });
      const driver = cp.drivers.driverFor(h);
      const changed: { vm: string; fromMiB: number | null; toMiB: number }[] = [];
      for (const t of targets) {
        if (!running.has(t.id)) continue;
        const prev = last.get(t.id);
        if (prev !== undefined && Math.abs(prev - t.targetMiB) <= threshold) continue;
        try {
          await driver.setBalloon(t.id, t.targetMiB);
        } catch {
          continue; // the guest went away or the host is unreachable: next tick tries again
        }
        last.set(t.id, t.targetMiB);
        changed.push({ vm: t.id, fromMiB: prev ?? null, toMiB: t.targetMiB });
      }
      if (changed.length)
        await cp.db.transaction().execute((trx) =>
          recordEvent(cp.ctx, trx, {
            hostId: h.id,
            actor: 'system',
            kind: 'host.balloon-targets',
            detail: { host: h.name, cutMiB: Math.round(cutMiB), targets: changed },
          }),
        );
    }
    // Forget VMs that are gone.
    for (const id of last.keys()) if (!running.has(id)) last.delete(id);
  });
}
