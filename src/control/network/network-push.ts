/**
 * Pushing the desired network state to hosts: load the records, compute each host's state (pure,
 * core/network/host-state.ts) at a new revision (a counter kept in the store), and hand it whole to
 * the host's driver (`applyNetwork`). Callers push the hosts a change affects; the resync
 * controller re-pushes every host (an agent that restarted gets its state back).
 *
 * Failure policy: where a VM is about to start on a host (create, start elsewhere, migration
 * destination), a failed push fails the operation (`strict`) before the guest runs; after a change
 * that is already recorded (rules, groups, floating IPs, deletes, migration source) a failed push
 * is reported in the answer's `pushFailures` and left to the resync controller.
 *
 * Uses: `cp.drivers`.
 */
import { ControlError } from '../errors.ts';
import { addressOf } from './ports.ts';
import type { Db } from '../store/open-store.ts';
import { Service } from '../service.ts';
import {
  computeHostNetworkState,
  type NetworkRecords,
  type PortRecord,
} from '../../core/network/host-state.ts';
import type { GuestNic, HostNetworkState } from '../../core/network/host-network.ts';

/** A rule's protocol as stored (a name or Neutron's IP protocol number) to what hosts enforce. */
const PUSHED_PROTOCOLS: Record<string, 'tcp' | 'udp' | 'icmp' | 'any' | undefined> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  any: 'any',
  '6': 'tcp',
  '17': 'udp',
  '1': 'icmp',
};

/** The settings key of the network revision counter. */
export const REVISION_KEY = 'network.revision';

/** A host that could not be given its state, and why. */
export interface PushFailure {
  hostId: string;
  error: string;
}

/** Where a host is reached for VXLAN: its underlay address, else its agent URL's host name, else its name. */
export function underlayOf(h: {
  name: string;
  underlay_ip: string | null;
  agent_url: string | null;
}): string {
  if (h.underlay_ip) return h.underlay_ip;
  if (h.agent_url)
    try {
      return new URL(h.agent_url).hostname.replace(/^\[|\]$/g, '');
    } catch {
      /* fall through */
    }
  return h.name;
}

export class NetworkPush extends Service {
  /**
   * Every record the hosts' states come from. `also`: extra hosts plumbing a VM's ports (a
   * migration's destination before, or source during, the switch-over).
   */
  async records(db: Db = this.db, also: { vmId: string; hostId: string }[] = []): Promise<NetworkRecords> {
    const nets = await db.selectFrom('networks').selectAll().execute();
    const ports = await db
      .selectFrom('ports')
      .innerJoin('vms', 'vms.id', 'ports.vm_id')
      .leftJoin('hosts', 'hosts.id', 'vms.host_id')
      .select([
        'ports.id',
        'ports.network_id',
        'ports.vm_id',
        'ports.mac',
        'ports.ip',
        'ports.security_groups',
        'vms.name as vm_name',
        'vms.host_id',
        'vms.tenant_id',
        'vms.key_name',
        'vms.user_data',
        'vms.zone as vm_zone',
        'hosts.zone as host_zone',
      ])
      .where('vms.deleted_at', 'is', null)
      .where('vms.host_id', 'is not', null)
      .execute();
    const fips = await db
      .selectFrom('floating_ips')
      .select(['port_id', 'ip'])
      .where('port_id', 'is not', null)
      .execute();
    const fipOf = new Map(fips.map((f) => [f.port_id!, f.ip]));
    const keys = await db.selectFrom('keypairs').select(['tenant_id', 'name', 'public_key']).execute();
    const keyOf = new Map(keys.map((k) => [`${k.tenant_id}/${k.name}`, k.public_key]));
    const rules = await db.selectFrom('security_group_rules').selectAll().execute();
    const hosts = await db
      .selectFrom('hosts')
      .select(['id', 'name', 'underlay_ip', 'agent_url'])
      .where('deleted_at', 'is', null)
      .execute();
    const records: PortRecord[] = ports.map((r) => {
      const key = r.key_name ? keyOf.get(`${r.tenant_id}/${r.key_name}`) : undefined;
      return {
        id: r.id,
        networkId: r.network_id,
        vmId: r.vm_id!,
        hostIds: [
          r.host_id!,
          ...also.filter((a) => a.vmId === r.vm_id && a.hostId !== r.host_id).map((a) => a.hostId),
        ],
        mac: r.mac,
        ips: addressOf(r.ip) ? [r.ip] : [],
        securityGroupIds: JSON.parse(r.security_groups) as string[],
        floatingIp: fipOf.get(r.id) ?? null,
        metadata: {
          instanceId: r.vm_id!,
          hostname: r.vm_name,
          publicKeys: key && r.key_name ? { [r.key_name]: key } : {},
          userData: r.user_data,
          availabilityZone: r.vm_zone ?? r.host_zone ?? null,
        },
      };
    });
    return {
      networks: nets.map((n) => ({
        id: n.id,
        vni: n.vni,
        kind: n.kind === 'external' ? 'external' : 'tenant',
        cidr: n.cidr,
        gatewayIp: n.gateway_ip,
        dhcp: n.dhcp === 1,
        dnsServers: JSON.parse(n.dns) as string[],
        mtu: n.mtu,
      })),
      ports: records,
      rules: rules.flatMap((r) => {
        // Hosts enforce IPv4 rules of tcp, udp, icmp (any type) or any protocol; others are recorded only.
        const protocol = PUSHED_PROTOCOLS[r.protocol];
        if (r.ethertype !== 'IPv4' || !protocol || (protocol === 'icmp' && r.port_min !== null)) return [];
        return [
          {
            groupId: r.group_id,
            direction: r.direction === 'egress' ? ('egress' as const) : ('ingress' as const),
            protocol,
            portMin: r.port_min,
            portMax: r.port_max,
            // Neutron's rule without a remote matches every address.
            remoteCidr: r.remote_cidr ?? (r.remote_group_id ? null : '0.0.0.0/0'),
            remoteGroupId: r.remote_group_id,
          },
        ];
      }),
      underlay: Object.fromEntries(hosts.map((h) => [h.id, underlayOf(h)])),
    };
  }

  /** The next revision (a counter in the store, so it keeps increasing across restarts). */
  async nextRevision(): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .selectFrom('settings')
        .select('value')
        .where('key', '=', REVISION_KEY)
        .executeTakeFirst();
      const next = Number(r?.value ?? 0) + 1;
      if (r)
        await trx
          .updateTable('settings')
          .set({ value: String(next) })
          .where('key', '=', REVISION_KEY)
          .execute();
      else
        await trx
          .insertInto('settings')
          .values({ key: REVISION_KEY, value: String(next) })
          .execute();
      return next;
    });
  }

  /** The state a host should have now (what would be pushed). */
  async stateOf(hostId: string, also: { vmId: string; hostId: string }[] = []): Promise<HostNetworkState> {
    const r = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', REVISION_KEY)
      .executeTakeFirst();
    return computeHostNetworkState(hostId, await this.records(this.db, also), Number(r?.value ?? 0));
  }

  /**
   * Push their states to `hostIds`. `strict`: a failure throws BACKEND (nothing is started on a
   * host whose network is not ready); otherwise failures are returned (the resync retries them).
   */
  async push(
    hostIds: Iterable<string>,
    o: { strict?: boolean; also?: { vmId: string; hostId: string }[] } = {},
  ): Promise<PushFailure[]> {
    const ids = [...new Set(hostIds)].sort();
    if (!ids.length) return [];
    const records = await this.records(this.db, o.also);
    const revision = await this.nextRevision();
    const hosts = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', 'in', ids)
      .where('deleted_at', 'is', null)
      .execute();
    const failures: PushFailure[] = [];
    for (const h of hosts) {
      try {
        await this.cp.drivers.driverFor(h).applyNetwork(computeHostNetworkState(h.id, records, revision));
      } catch (e) {
        failures.push({ hostId: h.id, error: (e as Error).message });
      }
    }
    if (o.strict && failures.length)
      throw new ControlError(
        'BACKEND',
        `Could not set up the network on ${failures.map((f) => `host ${hosts.find((h) => h.id === f.hostId)?.name}: ${f.error}`).join('; ')}`,
      );
    return failures;
  }

  /** Push every host with a port of `tenantId` (after a change to its groups, rules or ports). */
  async pushTenant(tenantId: string): Promise<PushFailure[]> {
    const rows = await this.db
      .selectFrom('ports')
      .innerJoin('vms', 'vms.id', 'ports.vm_id')
      .select('vms.host_id')
      .where('ports.tenant_id', '=', tenantId)
      .where('vms.deleted_at', 'is', null)
      .where('vms.host_id', 'is not', null)
      .execute();
    return this.push(rows.map((r) => r.host_id!));
  }

  /** Push the host of a VM (if it has one). */
  async pushVmHost(vmId: string, o: { strict?: boolean } = {}): Promise<PushFailure[]> {
    const v = await this.db.selectFrom('vms').select('host_id').where('id', '=', vmId).executeTakeFirst();
    return v?.host_id ? this.push([v.host_id], o) : [];
  }

  /**
   * Before a VM's guest is built on a host: push the host its state (strict: a failure fails the
   * operation before the guest runs), then its network peers, and return the guest spec's `nics`
   * (none: `{}`).
   */
  async prepareGuest(vmId: string, hostId: string): Promise<{ nics?: GuestNic[] }> {
    const nics = await this.cp.ports.nicsOf(this.db, vmId);
    if (!nics.length) return {};
    await this.push([hostId], { strict: true });
    // The other hosts on its networks add this host to their flood lists (the resync retries a failure).
    const peers = (await this.peerHostsOf(vmId)).filter((h) => h !== hostId);
    if (peers.length) await this.push(peers);
    return { nics };
  }

  /** The hosts with a port on any network `vmId` has a port on (they list each other as VXLAN peers). */
  async peerHostsOf(vmId: string): Promise<string[]> {
    const nets = await this.db.selectFrom('ports').select('network_id').where('vm_id', '=', vmId).execute();
    if (!nets.length) return [];
    const rows = await this.db
      .selectFrom('ports')
      .innerJoin('vms', 'vms.id', 'ports.vm_id')
      .select('vms.host_id')
      .where(
        'ports.network_id',
        'in',
        nets.map((n) => n.network_id),
      )
      .where('vms.deleted_at', 'is', null)
      .where('vms.host_id', 'is not', null)
      .execute();
    return [...new Set(rows.map((r) => r.host_id!))].sort();
  }

  /** Push every host that is up or in maintenance (the resync controller): agents that restarted get their state back. */
  async resync(): Promise<PushFailure[]> {
    // A cloud with no port attached to a VM has nothing to plumb (simulations of large clouds tick this cheaply).
    const any = await this.db
      .selectFrom('ports')
      .select('id')
      .where('vm_id', 'is not', null)
      .limit(1)
      .executeTakeFirst();
    if (!any) return [];
    const hosts = await this.db
      .selectFrom('hosts')
      .select('id')
      .where('deleted_at', 'is', null)
      .where('state', 'in', ['up', 'maintenance'])
      .execute();
    return this.push(hosts.map((h) => h.id));
  }
}
