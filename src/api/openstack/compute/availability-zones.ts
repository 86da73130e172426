/**
 * Nova's availability zones: nubis's host zones (every host has one; a host created without one is
 * in `zone-1`, nubis's default, so Nova's `nova` zone never appears). `/os-availability-zone` lists
 * each zone and whether a host in it is up (any caller); `/detail` (admin) adds each zone's hosts
 * with their `nova-compute` service. Source: https://docs.openstack.org/api-ref/compute/#availability-zones-os-availability-zone
 */
import type { FastifyInstance } from 'fastify';
import { osPrincipal, type OsDeps } from '../frame.ts';
import { lastSeen, serviceState, serviceStatus } from './hosts-view.ts';

/** Register `/os-availability-zone` and `/os-availability-zone/detail`. */
export function registerAvailabilityZones(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  s.get('/v2.1/os-availability-zone', async (req) => {
    const p = await osPrincipal(cp, req);
    return {
      availabilityZoneInfo: (await cp.hosts.listZones(p)).map((z) => ({
        zoneName: z.zone,
        zoneState: { available: z.available },
        hosts: null,
      })),
    };
  });
  s.get('/v2.1/os-availability-zone/detail', async (req) => {
    const p = await osPrincipal(cp, req);
    const hosts = await cp.listHosts(p);
    const zones = await cp.hosts.listZones(p);
    return {
      availabilityZoneInfo: zones.map((z) => ({
        zoneName: z.zone,
        zoneState: { available: z.available },
        hosts: Object.fromEntries(
          hosts
            .filter((h) => h.zone === z.zone)
            .map((h) => [
              h.name,
              {
                'nova-compute': {
                  available: serviceState(h) === 'up',
                  active: serviceStatus(h) === 'enabled',
                  updated_at: lastSeen(h),
                },
              },
            ]),
        ),
      })),
    };
  });
}
