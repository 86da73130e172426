/** The dashboard's data-center page in one compact answer (host columns and VM counts). */
import { z } from 'zod';
import { DatacenterSummaryService } from '../../control/inventory/summary.ts';
import type { RouteModule } from '../route-def.ts';

/** GET /v1/datacenter/summary. */
export const summaryRoutes: RouteModule = (route, { cp }) => {
  const summary = new DatacenterSummaryService(cp);
  route({
    method: 'GET',
    url: '/v1/datacenter/summary',
    summary:
      'Every host as columns (id, name, state, rack, zone, CPU, power, VM count, used and capacity per dimension) and VMs by state, in one answer for the dashboard; `hosts=false`: the VM counts only (members and readers: their VM counts only)',
    tag: 'meta',
    query: z.object({ hosts: z.enum(['true', 'false']).optional() }).strict(),
    handler: async ({ p, query }) => summary.summary(p, { hosts: query.hosts !== 'false' }),
  });
};
