/**
 * Nova's compute services (admin): one `nova-compute` per nubis host, in the host's zone, `state`
 * up/down from the host's state, `status` disabled while the host is in maintenance. Disabling a
 * service puts its host in maintenance (no new VMs, the running ones stay), enabling it takes it
 * out; 2.11 adds `forced_down` (always false: nubis's HA decides a host failed from heartbeats).
 * Source: https://docs.openstack.org/api-ref/compute/#compute-services-os-services
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import {
  disabledReason,
  lastSeen,
  serviceId,
  serviceState,
  serviceStatus,
  type NubisHost,
} from './hosts-view.ts';
import { queryOne } from './nova-common.ts';

const BINARY = 'nova-compute';

function service(h: NubisHost, minor: number) {
  return {
    id: serviceId(h),
    binary: BINARY,
    host: h.name,
    zone: h.zone,
    status: serviceStatus(h),
    state: serviceState(h),
    updated_at: lastSeen(h),
    disabled_reason: disabledReason(h),
    ...(minor >= 11 ? { forced_down: false } : {}),
  };
}

/** Register `/os-services` and its `disable`, `disable-log-reason`, `enable` and `force-down` actions. */
export function registerServices(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;

  s.get('/v2.1/os-services', async (req) => {
    const p = await osPrincipal(cp, req);
    const binary = queryOne(req.query, 'binary');
    const host = queryOne(req.query, 'host');
    const hosts = await cp.listHosts(p);
    return {
      services:
        binary !== undefined && binary !== BINARY
          ? []
          : hosts
              .filter((h) => host === undefined || h.name === host)
              .map((h) => service(h, req.novaMinor ?? 1)),
    };
  });

  const target = async (req: FastifyRequest) => {
    const p = await osPrincipal(cp, req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b.host !== 'string' || typeof b.binary !== 'string')
      throw new OsError(400, 'Invalid input: "host" and "binary" are required');
    const h = (await cp.listHosts(p)).find((x) => x.name === b.host);
    if (!h || b.binary !== BINARY) throw new OsError(404, `Host '${b.host}' is not mapped to any cell`);
    return { p, h, b };
  };

  for (const action of ['disable', 'disable-log-reason', 'enable'] as const)
    s.put(`/v2.1/os-services/${action}`, async (req) => {
      const { p, h, b } = await target(req);
      const enable = action === 'enable';
      if (enable && h.state === 'maintenance') await cp.setHostState(p, h.id, 'up');
      if (!enable && h.state === 'up') await cp.setHostState(p, h.id, 'maintenance');
      const status = enable ? 'enabled' : 'disabled';
      if (action === 'disable-log-reason') {
        if (typeof b.disabled_reason !== 'string' || !b.disabled_reason.trim())
          throw new OsError(400, 'Invalid input: "disabled_reason" is required');
        return { service: { host: h.name, binary: BINARY, status, disabled_reason: b.disabled_reason } };
      }
      return { service: { host: h.name, binary: BINARY, status } };
    });

  s.put('/v2.1/os-services/force-down', async (req) => {
    if ((req.novaMinor ?? 1) < 11) throw new OsError(404, 'force-down needs microversion 2.11');
    const { h, b } = await target(req);
    if (b.forced_down === true)
      throw new OsError(
        400,
        'nubis decides that a host failed from its heartbeats: forced_down is not supported',
      );
    return { service: { host: h.name, binary: BINARY, forced_down: false } };
  });
}
