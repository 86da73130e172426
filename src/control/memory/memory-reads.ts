/**
 * Reading the memory model: a host's memory demand as the memory-overcommit policy sees it (policy,
 * risk, guarantee, per-VM lines, the pages its VMs are expected to share), and a VM's measured memory
 * for its owner (a summary: never the fingerprint's hashes). Reads never write.
 *
 * Uses: `cp.memoryProfiles`, `cp.hostEdits` (host lookup), `cp.vmReads` (VM lookup and authorization).
 */
import { estimateSharing } from '../../core/memory/fingerprint.ts';
import { DEFAULT_MEMORY_RISK, hostDemand, vmDemand } from '../../policies/memory-overcommit.ts';
import { authorize } from '../authz.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

const r1 = (x: number) => Math.round(x * 10) / 10;

/** Memory reads for people (API `GET /v1/hosts/:id/memory`, `GET /v1/vms/:id/memory`). */
export class MemoryReads extends Service {
  /** A host's memory: policy, demand (guaranteed, expected, at the risk, shared) and its VMs' lines. */
  async hostMemory(p: Principal, ref: string) {
    authorize(p, 'host:memory');
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
