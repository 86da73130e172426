/**
 * Nova's hypervisors (admin), one per nubis host (`cp.listHosts`): `/os-hypervisors`, `/detail`,
 * `/{id}` (the host id), `/statistics`, `/{id}/uptime` and, below 2.53, `/{name}/search` and
 * `/{name}/servers`; `/os-aggregates` is empty. `hypervisor_hostname` is the host's name; 2.28 makes `cpu_info` an object.
 * Source: https://docs.openstack.org/api-ref/compute/#hypervisors-os-hypervisors
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import { disabledReason, serviceId, serviceState, serviceStatus, type NubisHost } from './hosts-view.ts';

const CPU_INFO = { arch: 'x86_64', model: 'nubis', vendor: 'nubis', topology: {}, features: [] };

function summary(h: NubisHost) {
  return { id: h.id, hypervisor_hostname: h.name, state: serviceState(h), status: serviceStatus(h) };
}

function detail(h: NubisHost, minor: number) {
  const memory = h.capacity.memoryMiB;
  const disk = h.capacity.diskGiB;
  return {
    ...summary(h),
    cpu_info: minor >= 28 ? CPU_INFO : JSON.stringify(CPU_INFO),
    current_workload: 0,
    disk_available_least: Math.max(0, disk - h.used.diskGiB),
    host_ip: h.underlayIp && /^[\d.]+$|:/.test(h.underlayIp) ? h.underlayIp : '127.0.0.1',
    free_disk_gb: disk - h.used.diskGiB,
    free_ram_mb: memory - h.used.memoryMiB,
    hypervisor_type: h.driver === 'qemu' ? 'QEMU' : 'fake',
    hypervisor_version: 1000000,
    local_gb: disk,
    local_gb_used: h.used.diskGiB,
    memory_mb: memory,
    memory_mb_used: h.used.memoryMiB,
    running_vms: h.vms,
    service: { host: h.name, id: serviceId(h), disabled_reason: disabledReason(h) },
    vcpus: h.capacity.vcpus,
    vcpus_used: h.used.vcpus,
  };
}

/** Register the hypervisors' routes. */
export function registerHypervisors(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const hosts = async (req: FastifyRequest) => cp.listHosts(await osPrincipal(cp, req));
  const byId = async (req: FastifyRequest, id: string) => {
    const h = (await hosts(req)).find((x) => x.id === id || x.name === id);
    if (!h) throw new OsError(404, `Hypervisor with ID ${id} could not be found.`);
    return h;
  };
  const byName = async (req: FastifyRequest, name: string) => {
    const found = (await hosts(req)).filter((x) => x.name.includes(name));
    if (!found.length) throw new OsError(404, `No hypervisor matching ${name} could be found.`);
    return found;
  };

  // nubis has no host aggregates (its zones, racks and tiers are attributes of hosts): an empty list,
  // which `openstack hypervisor show` reads to name a hypervisor's aggregates.
  s.get('/v2.1/os-aggregates', async (req) => {
    await hosts(req);
    return { aggregates: [] };
  });
  s.get('/v2.1/os-hypervisors', async (req) => ({ hypervisors: (await hosts(req)).map(summary) }));
  s.get('/v2.1/os-hypervisors/detail', async (req) => ({
    hypervisors: (await hosts(req)).map((h) => detail(h, req.novaMinor ?? 1)),
  }));
  s.get('/v2.1/os-hypervisors/statistics', async (req) => {
    const all = (await hosts(req)).map((h) => detail(h, 1));
    const sum = (k: keyof (typeof all)[number]) => all.reduce((a, h) => a + Number(h[k]), 0);
    return {
      hypervisor_statistics: {
        count: all.length,
        current_workload: 0,
        disk_available_least: sum('disk_available_least'),
        free_disk_gb: sum('free_disk_gb'),
        free_ram_mb: sum('free_ram_mb'),
        local_gb: sum('local_gb'),
        local_gb_used: sum('local_gb_used'),
        memory_mb: sum('memory_mb'),
        memory_mb_used: sum('memory_mb_used'),
        running_vms: sum('running_vms'),
        vcpus: sum('vcpus'),
        vcpus_used: sum('vcpus_used'),
      },
    };
  });
  s.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id', async (req) => ({
    hypervisor: detail(await byId(req, req.params.id), req.novaMinor ?? 1),
  }));
  s.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id/uptime', async (req) => {
    const h = await byId(req, req.params.id);
    if (serviceState(h) === 'down') throw new OsError(409, `Hypervisor ${h.name} is down: no uptime`);
    const now = new Date().toISOString().slice(11, 19);
    return { hypervisor: { ...summary(h), uptime: ` ${now} up, load average: 0.00, 0.00, 0.00` } };
  });
  s.get<{ Params: { name: string } }>('/v2.1/os-hypervisors/:name/search', async (req) => {
    if ((req.novaMinor ?? 1) >= 53) throw new OsError(404, 'Removed in 2.53');
    return { hypervisors: (await byName(req, req.params.name)).map(summary) };
  });
  s.get<{ Params: { name: string } }>('/v2.1/os-hypervisors/:name/servers', async (req) => {
    const p = await osPrincipal(cp, req);
    const found = await byName(req, req.params.name);
    const vms = await cp.listVms(p, {});
    return {
      hypervisors: found.map((h) => ({
        ...summary(h),
        servers: vms.filter((v) => v.hostId === h.id).map((v) => ({ uuid: v.id, name: v.name })),
      })),
    };
  });
}
