/**
 * Nova's server views from nubis's VM records: the detail (show, detail list), the narrower answer of
 * an update, and the status, vm_state, power_state and task_state a VM's state and its running
 * operation make. Field sets per microversion as Nova's API reference and Tempest's schemas say
 * (https://docs.openstack.org/api-ref/compute/#show-server-details).
 */
import { createHash } from 'node:crypto';
import type { ControlPlane } from '../../../control/control-plane.ts';
import type { VmRow } from '../../../control/compute/vm-reads.ts';

/** Who reads and how: absolute base URL (`…/openstack`), microversion minor, whether an admin asks. */
export interface ServerViewCtx {
  base: string;
  minor: number;
  admin: boolean;
}

/** What a VM's view needs beyond its row, loaded for many VMs at once by {@link loadServers}. */
export interface ServerBundle {
  vm: VmRow;
  host: { name: string; state: string; zone: string } | null;
  nics: { network: string; ip: string; mac: string; groups: string[] }[];
  volumes: string[];
  /** The kind of the VM's running operation (create, stop, migrate...), if one runs. */
  running: string | null;
  /** The running operation is a hard reboot. */
  hard?: boolean;
  /** The error of its last failed operation (the fault of an ERROR server). */
  fault: { message: string; at: string } | null;
}

/** Nova's time format: `2026-11-30T12:00:00Z`. */
export function novaTime(iso: string | null): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The rows and related records of these VMs (ids in any order), in the order of `rows`. */
export async function loadServers(cp: ControlPlane, rows: VmRow[]): Promise<ServerBundle[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const hostIds = [...new Set(rows.map((r) => r.host_id).filter((h): h is string => !!h))];
  const db = cp.db;
  const [hosts, ports, vols, ops] = await Promise.all([
    hostIds.length
      ? db.selectFrom('hosts').select(['id', 'name', 'state', 'zone']).where('id', 'in', hostIds).execute()
      : [],
    db
      .selectFrom('ports')
      .innerJoin('networks', 'networks.id', 'ports.network_id')
      .select(['ports.vm_id', 'networks.name', 'ports.ip', 'ports.mac', 'ports.security_groups'])
      .where('ports.vm_id', 'in', ids)
      .orderBy('ports.slot')
      .orderBy('ports.id')
      .execute(),
    db
      .selectFrom('volumes')
      .select(['id', 'vm_id'])
      .where('vm_id', 'in', ids)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('operations')
      .select(['vm_id', 'kind', 'status', 'error', 'finished_at', 'created_at', 'detail'])
      .where('vm_id', 'in', ids)
      .where((eb) =>
        eb.or([
          eb('status', '=', 'running'),
          eb.and([eb('status', '=', 'failed'), eb('vm_id', 'in', errorIds(rows))]),
        ]),
      )
      .orderBy('created_at')
      .execute(),
  ]);
  const groupIds = [...new Set(ports.flatMap((p) => JSON.parse(p.security_groups || '[]') as string[]))];
  const groups = groupIds.length
    ? await db.selectFrom('security_groups').select(['id', 'name']).where('id', 'in', groupIds).execute()
    : [];
  const groupName = new Map(groups.map((g) => [g.id, g.name]));
  const hostById = new Map(hosts.map((h) => [h.id, h]));
  return rows.map((vm) => {
    const h = vm.host_id ? hostById.get(vm.host_id) : undefined;
    const mine = ops.filter((o) => o.vm_id === vm.id);
    const failed = mine.filter((o) => o.status === 'failed').at(-1);
    const run = mine.find((o) => o.status === 'running');
    return {
      vm,
      host: h ? { name: h.name, state: h.state, zone: String(h.zone ?? '') } : null,
      nics: ports
        .filter((p) => p.vm_id === vm.id)
        .map((p) => ({
          network: p.name,
          ip: p.ip,
          mac: p.mac,
          groups: (JSON.parse(p.security_groups || '[]') as string[]).map((g) => groupName.get(g) ?? g),
        })),
      volumes: vols.filter((v) => v.vm_id === vm.id).map((v) => v.id),
      running: run?.kind ?? null,
      hard: run?.kind === 'reboot' && /"hard":true/.test(run.detail ?? ''),
      fault: failed
        ? { message: failed.error ?? 'failed', at: failed.finished_at ?? failed.created_at }
        : null,
    };
  });
}

function errorIds(rows: VmRow[]): string[] {
  const e = rows.filter((r) => r.state === 'error').map((r) => r.id);
  return e.length ? e : [''];
}

/** Nova's status triple and task of a VM (contract section 4, state model). */
export function serverState(b: Pick<ServerBundle, 'vm' | 'running' | 'hard'>): {
  status: string;
  vmState: string;
  power: number;
  task: string | null;
} {
  const paused = Number(b.vm.paused) === 1;
  const base: Record<string, [string, string, number]> = {
    building: ['BUILD', 'building', 0],
    running: ['ACTIVE', 'active', 1],
    stopped: ['SHUTOFF', 'stopped', 4],
    suspended: paused ? ['PAUSED', 'paused', 3] : ['SUSPENDED', 'suspended', 7],
    migrating: ['MIGRATING', 'active', 1],
    resizing: ['RESIZE', 'active', 1],
    error: ['ERROR', 'error', 0],
    deleted: ['DELETED', 'deleted', 0],
  };
  let [status, vmState, power] = base[b.vm.state] ?? ['ERROR', 'error', 0];
  const tasks: Record<string, string> = {
    create: 'spawning',
    start: 'powering-on',
    stop: 'powering-off',
    reboot: 'rebooting',
    suspend: paused ? 'pausing' : 'suspending',
    resume: paused ? 'unpausing' : 'resuming',
    delete: 'deleting',
    migrate: 'migrating',
    resize: 'resize_migrating',
    snapshot: 'image_snapshot',
  };
  if (b.running === 'reboot') status = b.hard ? 'HARD_REBOOT' : 'REBOOT';
  const task =
    !b.running || b.running.startsWith('volume-')
      ? null
      : b.hard
        ? 'rebooting_hard'
        : (tasks[b.running] ?? b.running);
  if (b.running === 'migrate') status = 'MIGRATING';
  if (b.vm.state === 'building' && !b.running) [status, vmState, power] = ['ERROR', 'error', 0];
  return { status, vmState, power, task };
}

/** The links of a server, a flavor or an image: `self` (versioned) and `bookmark`. */
export function novaLinks(base: string, coll: string, id: string, self = true) {
  return [
    ...(self ? [{ rel: 'self', href: `${base}/compute/v2.1/${coll}/${id}` }] : []),
    { rel: 'bookmark', href: `${base}/compute/${coll}/${id}` },
  ];
}

/** Nova's `hostId`: sha224 of the project id and the host name, empty when the server has no host. */
export function novaHostId(projectId: string, host: string | null | undefined): string {
  return host
    ? createHash('sha224')
        .update(projectId + host)
        .digest('hex')
    : '';
}

/** `addresses`: network name → its fixed IPs (with the MAC and type in the detail view). */
export function serverAddresses(b: ServerBundle, detail: boolean) {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const n of b.nics)
    (out[n.network] ??= []).push({
      version: n.ip.includes(':') ? 6 : 4,
      addr: n.ip,
      ...(detail ? { 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': n.mac.toLowerCase() } : {}),
    });
  return out;
}

const PROGRESS = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);

/** The fields the update answer and the detail share (schema `update_server`, 2.9 locked, 2.19 description, 2.26 tags). */
function common(b: ServerBundle, c: ServerViewCtx, detail: boolean) {
  const v = b.vm;
  const st = serverState(b);
  return {
    id: v.id,
    name: v.name,
    status: st.status,
    tenant_id: v.tenant_id,
    user_id: v.user_id ?? '',
    metadata: JSON.parse(v.metadata || '{}') as Record<string, string>,
    hostId: novaHostId(v.tenant_id, b.host?.name),
    image: { id: v.image_id, links: novaLinks(c.base, 'images', v.image_id, false) },
    flavor: { id: v.flavor_id, links: novaLinks(c.base, 'flavors', v.flavor_id, false) },
    created: novaTime(v.created_at)!,
    updated: novaTime(v.updated_at)!,
    addresses: serverAddresses(b, detail),
    accessIPv4: v.access_ipv4 ?? '',
    accessIPv6: v.access_ipv6 ?? '',
    links: novaLinks(c.base, 'servers', v.id),
    'OS-DCF:diskConfig': v.disk_config || 'MANUAL',
    ...(PROGRESS.has(st.status) ? { progress: st.status === 'ACTIVE' ? 100 : 0 } : {}),
    ...(st.status === 'ERROR'
      ? {
          fault: {
            code: 500,
            created: novaTime(b.fault?.at ?? v.updated_at)!,
            message: b.fault?.message ?? 'The server failed',
          },
        }
      : {}),
    ...(c.minor >= 9 ? { locked: Number(v.locked) === 1 } : {}),
    ...(c.minor >= 19 ? { description: v.description ?? null } : {}),
    ...(c.minor >= 26 ? { tags: JSON.parse(v.tags || '[]') as string[] } : {}),
  };
}

/** The answer of `PUT /servers/{id}` (schema `update_server`: no detail-only key). */
export function serverUpdateView(b: ServerBundle, c: ServerViewCtx) {
  return common(b, c, false);
}

/** A server's detail (show and `/servers/detail`), admin-only keys for admins only. */
export function serverDetail(b: ServerBundle, c: ServerViewCtx) {
  const v = b.vm;
  const st = serverState(b);
  const groups = [...new Set(b.nics.flatMap((n) => n.groups))];
  const out: Record<string, unknown> = {
    ...common(b, c, true),
    key_name: v.key_name ?? null,
    security_groups: groups.map((name) => ({ name })),
    'OS-EXT-AZ:availability_zone': b.host?.zone || v.zone || '',
    config_drive: '',
    'OS-SRV-USG:launched_at': novaTime(v.launched_at ?? null),
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': st.task,
    'OS-EXT-STS:vm_state': st.vmState,
    'OS-EXT-STS:power_state': st.power,
    'os-extended-volumes:volumes_attached': b.volumes.map((id) =>
      c.minor >= 3 ? { id, delete_on_termination: false } : { id },
    ),
  };
  if (c.admin) {
    out['OS-EXT-SRV-ATTR:host'] = b.host?.name ?? null;
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = b.host?.name ?? null;
    out['OS-EXT-SRV-ATTR:instance_name'] = `instance-${v.id.replace(/-/g, '').slice(0, 8)}`;
    if (c.minor >= 3) {
      out['OS-EXT-SRV-ATTR:reservation_id'] = `r-${v.id.replace(/-/g, '').slice(0, 8)}`;
      out['OS-EXT-SRV-ATTR:launch_index'] = 0;
      out['OS-EXT-SRV-ATTR:hostname'] = hostnameOf(v.name);
      out['OS-EXT-SRV-ATTR:kernel_id'] = '';
      out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      out['OS-EXT-SRV-ATTR:user_data'] = v.user_data ? Buffer.from(v.user_data).toString('base64') : null;
    }
    if (c.minor >= 16) out.host_status = hostStatus(b.host);
  }
  return out;
}

/** Nova's hostname of a server: its name, lower case, characters outside `[a-z0-9-]` dropped. */
function hostnameOf(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[ _.]/g, '-')
      .replace(/[^a-z0-9-]/g, '')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'server'
  );
}

/** 2.16 `host_status`: UP, DOWN, MAINTENANCE, UNKNOWN, or "" without a host. */
function hostStatus(h: ServerBundle['host']): string {
  if (!h) return '';
  if (h.state === 'up') return 'UP';
  if (h.state === 'maintenance' || h.state === 'draining') return 'MAINTENANCE';
  if (h.state === 'failed' || h.state === 'off') return 'DOWN';
  return 'UNKNOWN';
}
