/**
 * Reading the memory model: a host's memory demand as the memory-overcommit policy sees it (policy,
 * risk, guarantee, per-VM lines, the pages its VMs are expected to share), and a VM's measured memory
 * for its owner (a summary: never the fingerprint's hashes). Reads never write.
 *
 * Uses: `cp.memoryProfiles`, `cp.hostEdits` (host lookup), `cp.vmReads` (VM lookup and authorization).
 */
import { estimateSharing } from '../../core/memory/fingerprint.ts';
import {
  admitsMemory,
  DEFAULT_MEMORY_RISK,
  hostDemand,
  vmDemand,
  type HostMemoryDemand,
} from '../../policies/memory-overcommit.ts';
import type { VmMemory } from '../../policies/memory-overcommit.ts';
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

const r1 = (x: number) => Math.round(x * 10) / 10;

/** Memory reads for people (API `GET /v1/hosts/:id/memory`, `GET /v1/vms/:id/memory`). */
export class MemoryReads extends Service {
  /**
   * A host's memory: policy, demand (guaranteed, expected, at the risk, shared) and its VMs' lines.
   * With `what.with` (VM ids or names, wherever they run), also what the host's demand would be with
   * those VMs added: the pages they would share with its VMs and whether the policy admits them.
   * @throws ControlError BAD_REQUEST for more than 100 VMs or one already on the host; NOT_FOUND
   */
  async hostMemory(p: Principal, ref: string, what: { with?: readonly string[] } = {}) {
    authorize(p, 'host:memory');
    if ((what.with?.length ?? 0) > 100)
      throw new ControlError('BAD_REQUEST', `with: at most 100 VMs, got ${what.with!.length}`, {
        field: 'with',
      });
    const h = await this.cp.hostEdits.hostRow(ref);
    const settings = {
      id: h.id,
      policy: 'measured' as const,
      risk: Number(h.memory_risk),
      guarantee: Number(h.memory_guarantee),
    };
    const vms = (await this.cp.memoryProfiles.vmsOn(this.db, [settings])).get(h.id) ?? [];
    const o = { ...DEFAULT_MEMORY_RISK, risk: settings.risk };
    const d = hostDemand(vms, o);
    const names = new Map(
      vms.length
        ? (
            await this.db
              .selectFrom('vms')
              .select(['id', 'name'])
              .where(
                'id',
                'in',
                vms.map((v) => v.id),
              )
              .execute()
          ).map((v) => [v.id, v.name])
        : [],
    );
    const capacityMiB = h.memory_mib - h.reserved_memory_mib;
    return {
      host: h.name,
      id: h.id,
      policy: h.memory_policy === 'measured' ? 'measured' : 'static',
      risk: settings.risk,
      guarantee: settings.guarantee,
      capacityMiB,
      /** What the static rule schedules (memory × ratio − reserved) and what is placed by flavor. */
      staticCapacityMiB: h.memory_mib * h.memory_ratio - h.reserved_memory_mib,
      demand: {
        guaranteedMiB: r1(d.guaranteedMiB),
        configuredMiB: r1(d.configuredMiB),
        expectedMiB: r1(d.expectedMiB),
        sdMiB: r1(d.sdMiB),
        sharedMiB: r1(d.sharedMiB),
        atRiskMiB: r1(d.atRiskMiB),
      },
      vms: vms.map((v) => ({
        id: v.id,
        name: names.get(v.id) ?? v.id,
        memoryMiB: v.memoryMiB,
        guaranteedMiB: r1(v.guaranteedMiB),
        measured: v.workingSet !== undefined,
        workingSetMiB: v.workingSet ? r1(v.workingSet.meanMiB) : null,
        workingSetSdMiB: v.workingSet ? r1(v.workingSet.sdMiB) : null,
        demandMiB: r1(vmDemand(v, o).meanMiB),
        mergeable: v.mergeable,
      })),
      ...(what.with?.length
        ? { with: await this.withVms(p, h.id, capacityMiB, vms, d, what.with, settings) }
        : {}),
    };
  }

  /** The what-if part of `hostMemory`: the host's demand with `refs` added. */
  private async withVms(
    p: Principal,
    hostId: string,
    capacityMiB: number,
    vms: VmMemory[],
    before: HostMemoryDemand,
    refs: readonly string[],
    settings: { risk: number; guarantee: number },
  ) {
    const rows = [];
    for (const ref of refs) rows.push(await this.cp.vmReads.vmRow(p, ref, 'host:memory'));
    const here = rows.find((v) => v.host_id === hostId);
    if (here)
      throw new ControlError('BAD_REQUEST', `with: VM "${here.name}" already runs on this host`, {
        field: 'with',
      });
    const ids = [...new Set(rows.map((v) => v.id))];
    const added = await this.cp.memoryProfiles.vmsById(this.db, ids, settings.guarantee);
    const o = { ...DEFAULT_MEMORY_RISK, risk: settings.risk };
    const after = hostDemand([...vms, ...added], o);
    const alone = hostDemand(added, o);
    // Admitted one after the other, as the scheduler would place them.
    let admits = { ok: true, reason: 'nothing to add' };
    const placed = [...vms];
    for (const v of added) {
      const a = admitsMemory(capacityMiB, placed, v, o);
      admits = { ok: a.ok, reason: a.reason };
      if (!a.ok) break;
      placed.push(v);
    }
    return {
      vms: rows.map((v) => ({
        id: v.id,
        name: v.name,
        measured: added.find((a) => a.id === v.id)?.workingSet !== undefined,
      })),
      demand: {
        guaranteedMiB: r1(after.guaranteedMiB),
        configuredMiB: r1(after.configuredMiB),
        expectedMiB: r1(after.expectedMiB),
        sdMiB: r1(after.sdMiB),
        sharedMiB: r1(after.sharedMiB),
        atRiskMiB: r1(after.atRiskMiB),
      },
      /** Pages the added VMs would share with the host's VMs (beyond what they share among themselves). */
      sharedWithHostMiB: r1(Math.max(0, after.sharedMiB - before.sharedMiB - alone.sharedMiB)),
      admitted: admits.ok,
      reason: admits.reason,
    };
  }

  /** A VM's measured memory (its owner; operators and admins any): the summary, never the hashes. */
  async vmMemory(p: Principal, ref: string) {
    const v = await this.cp.vmReads.vmRow(p, ref, 'vm:memory');
    const prof = await this.cp.memoryProfiles.get(this.db, v.id);
    const sharing = await this.cp.memoryProfiles.guestMemory(this.db, v.tenant_id);
    if (!prof)
      return {
        vm: v.name,
        id: v.id,
        measured: false,
        memorySharing: sharing.mergeable ? 'shared' : 'private',
      };
    const fp = prof.fingerprint;
    return {
      vm: v.name,
      id: v.id,
      measured: true,
      memorySharing: sharing.mergeable ? 'shared' : 'private',
      measuredAt: prof.measuredAt,
      memoryMiB: prof.memoryMiB,
      residentMiB: r1(prof.residentMiB),
      workingSetMiB: r1(prof.workingSetMiB),
      workingSetMeanMiB: r1(prof.wsMeanMiB),
      workingSetSdMiB: r1(prof.wsSdMiB),
      samples: prof.samples,
      mergeable: prof.mergeable,
      fingerprint: fp
        ? {
            sampleBits: fp.sampleBits,
            pages: fp.pages,
            zeroPages: fp.zeroPages,
            sampledContents: fp.hashes.length,
            /** Pages that duplicate others inside this guest (what merging saves within it), MiB. */
            selfSharedMiB: r1(estimateSharing([fp]).savedPages / 256),
          }
        : null,
    };
  }
}
