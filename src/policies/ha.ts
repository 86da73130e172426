/**
 * HA admission control (vSphere HA's "host failures the cluster tolerates", OpenStack Masakari's
 * reserved hosts): a placement is admitted only if, for any single host failing, its HA VMs could
 * restart on the other hosts that are up. Pure; first-fit decreasing as the restart order would.
 */
export interface HaHost {
  id: string;
  name: string;
  free: { vcpus: number; memoryMiB: number };
}
export interface HaVm {
  name: string;
  hostId: string;
  vcpus: number;
  memoryMiB: number;
  /**
   * Its data is on its host only (a volume in a local pool): when the host fails it waits for it
   * instead of restarting elsewhere (Masakari/Nova do not evacuate instances on local disks), so it
   * needs no failover room on the others.
   */
  pinned?: boolean;
}

/**
 * For each host that may fail, try to fit its HA VMs (largest memory first; pinned ones wait for
 * their host and are skipped) into the others' free room. Returns the first host whose HA VMs would not all fit, with the VM left over, or null.
 */
export function failoverShortfall(
  hosts: readonly HaHost[],
  haVms: readonly HaVm[],
): { host: string; vm: string } | null {
  const byHost = new Map<string, HaVm[]>();
  for (const v of haVms) {
    let l = byHost.get(v.hostId);
    if (!l) byHost.set(v.hostId, (l = []));
    l.push(v);
  }
  for (const failed of hosts) {
    const vms = (byHost.get(failed.id) ?? [])
      .filter((v) => !v.pinned)
      .sort((a, b) => b.memoryMiB - a.memoryMiB || b.vcpus - a.vcpus);
    if (!vms.length) continue;
    const room = hosts.filter((h) => h.id !== failed.id).map((h) => ({ ...h.free }));
    for (const v of vms) {
      const r = room.find((x) => x.vcpus >= v.vcpus && x.memoryMiB >= v.memoryMiB);
      if (!r) return { host: failed.name, vm: v.name };
      r.vcpus -= v.vcpus;
      r.memoryMiB -= v.memoryMiB;
    }
  }
  return null;
}
