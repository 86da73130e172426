/**
 * Placement knows networks: a network may live on a physical network (`physnet`) only some hosts are
 * wired to (a provider network in some racks, an external network at the edge). A VM with a port on
 * such a network, or a floating IP from one, is fenced to the hosts that list the physnet: a hard
 * `fence` constraint of the constraint model (src/core/constraints), so the scheduler's constraint
 * filter, migrations, HA and plans all honour it.
 */
import type { Constraint } from '../../core/constraints/index.ts';
import type { Db } from '../store/open-store.ts';

/** The fence of one VM on one network with a physnet: the hosts that have it (none: nowhere fits). */
function fence(
  vmId: string,
  net: { id: string; name: string; physnet: string },
  hosts: { id: string; physnets: string }[],
): Constraint {
  return {
    id: `physnet:${vmId}:${net.id}`,
    name: `network ${net.name} needs physnet ${net.physnet}`,
    hard: true,
    type: 'fence',
    vms: [vmId],
    hosts: hosts.filter((h) => (JSON.parse(h.physnets) as string[]).includes(net.physnet)).map((h) => h.id),
  };
}

/**
 * The physnet fences of VMs: of `vmIds` from their ports' networks and their floating IPs' external
 * networks, plus (a VM being created) the networks given in `planned`.
 */
export async function physnetFences(
  db: Db,
  vmIds: string[],
  planned: { vmId: string; networkIds: string[] }[] = [],
): Promise<Constraint[]> {
  const pairs: { vmId: string; networkId: string }[] = planned.flatMap((p) =>
    p.networkIds.map((networkId) => ({ vmId: p.vmId, networkId })),
  );
  if (vmIds.length) {
    const ports = await db
      .selectFrom('ports')
      .select(['vm_id', 'network_id', 'id'])
      .where('vm_id', 'in', vmIds)
      .execute();
    for (const p of ports) pairs.push({ vmId: p.vm_id!, networkId: p.network_id });
    if (ports.length) {
      const fips = await db
        .selectFrom('floating_ips')
        .select(['port_id', 'network_id'])
        .where(
          'port_id',
          'in',
          ports.map((p) => p.id),
        )
        .execute();
      for (const f of fips)
        pairs.push({ vmId: ports.find((p) => p.id === f.port_id)!.vm_id!, networkId: f.network_id });
    }
  }
  if (!pairs.length) return [];
  const nets = await db
    .selectFrom('networks')
    .select(['id', 'name', 'physnet'])
    .where('id', 'in', [...new Set(pairs.map((p) => p.networkId))])
    .where('physnet', 'is not', null)
    .execute();
  if (!nets.length) return [];
  const hosts = await db
    .selectFrom('hosts')
    .select(['id', 'physnets'])
    .where('deleted_at', 'is', null)
    .execute();
  const out = new Map<string, Constraint>();
  for (const p of pairs) {
    const n = nets.find((x) => x.id === p.networkId);
    if (n) {
      const c = fence(p.vmId, { id: n.id, name: n.name, physnet: n.physnet! }, hosts);
      out.set(c.id, c);
    }
  }
  return [...out.values()];
}

/** The physnet fences of every live VM with a port (plans check them across the cloud). */
export async function allPhysnetFences(db: Db): Promise<Constraint[]> {
  const nets = await db
    .selectFrom('networks')
    .select('id')
    .where('physnet', 'is not', null)
    .limit(1)
    .execute();
  if (!nets.length) return [];
  const vms = await db
    .selectFrom('ports')
    .innerJoin('vms', 'vms.id', 'ports.vm_id')
    .select('vms.id')
    .where('vms.deleted_at', 'is', null)
    .distinct()
    .execute();
  return physnetFences(
    db,
    vms.map((v) => v.id),
  );
}
