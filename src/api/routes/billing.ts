/** Billing: usage, tariffs, invoices (JSON or CSV). */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { dateOrTime, idParam, name, period } from '../schemas.ts';

/** GET /v1/usage, /v1/usage/daily, /v1/invoices; GET/POST /v1/tariffs. */
export const billingRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/usage',
    summary: 'Usage of a tenant in [from, to): VM time, vCPU/memory/disk hours, energy',
    tag: 'billing',
    query: period,
    handler: async ({ p, query }) => cp.usageReport(p, query),
  });
  route({
    method: 'GET',
    url: '/v1/usage/daily',
    summary: 'Usage of a tenant in [from, to) by flavor and UTC day',
    tag: 'billing',
    query: period,
    handler: async ({ p, query }) => cp.usageByDay(p, query),
  });
  listRoute(route, {
    url: '/v1/tariffs',
    summary: 'List tariffs',
    tag: 'billing',
    list: async ({ p }) => cp.listTariffs(p),
  });
  route({
    method: 'POST',
    url: '/v1/tariffs',
    summary:
      "Create a tariff for [validFrom, validTo) (admin); 409 when its window overlaps another tariff's",
    tag: 'billing',
    status: 201,
    body: z
      .object({
        name,
        validFrom: dateOrTime,
        validTo: dateOrTime.optional(),
        currency: z.string().length(3).optional(),
        vcpuHour: z.number().nonnegative(),
        memoryGiBHour: z.number().nonnegative(),
        diskGiBHour: z.number().nonnegative(),
        kWh: z.number().nonnegative(),
        floatingIpHour: z.number().nonnegative().optional(),
        volumeGiBHour: z.number().nonnegative().optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createTariff(p, body),
  });
  route({
    method: 'PATCH',
    url: '/v1/tariffs/:id',
    summary: 'Change a tariff (its window may not overlap another tariff: 409 naming it; admin)',
    tag: 'billing',
    params: idParam,
    body: z
      .object({
        name: name.optional(),
        validFrom: dateOrTime.optional(),
        validTo: dateOrTime.nullable().optional(),
        currency: z.string().length(3).optional(),
        vcpuHour: z.number().nonnegative().optional(),
        memoryGiBHour: z.number().nonnegative().optional(),
        diskGiBHour: z.number().nonnegative().optional(),
        kWh: z.number().nonnegative().optional(),
        volumeGiBHour: z.number().nonnegative().optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => cp.tariffs.updateTariff(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/tariffs/:id',
    summary: 'Delete a tariff (admin)',
    tag: 'billing',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.tariffs.deleteTariff(p, params.id);
      return undefined;
    },
  });
  route({
    method: 'GET',
    url: '/v1/invoices',
    summary: "A tenant's invoice for [from, to) with a total per currency (format=csv for CSV)",
    tag: 'billing',
    query: period,
    handler: async ({ p, query, reply }) => {
      const inv = await cp.invoice(p, query);
      if (query.format !== 'csv') return inv;
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header(
          'content-disposition',
          `attachment; filename="invoice-${inv.from.slice(0, 10)}-${inv.to.slice(0, 10)}.csv"`,
        );
      const head =
        'flavor,tariff,currency,running_s,stopped_s,vcpu_hours,memory_gib_hours,disk_gib_hours,energy_kwh,amount';
      return (
        [
          head,
          ...inv.lines.map((l) =>
            [
              l.flavor,
              l.tariff,
              l.currency,
              l.runningS,
              l.stoppedS,
              l.vcpuHours.toFixed(6),
              l.memoryGiBHours.toFixed(6),
              l.diskGiBHours.toFixed(6),
              l.energyKWh.toFixed(6),
              l.amount.toFixed(2),
            ].join(','),
          ),
          // One total line per currency: amounts in different currencies are never added.
          ...inv.totals.map((t) => `total,,${t.currency},,,,,,,${t.amount.toFixed(2)}`),
        ].join('\n') + '\n'
      );
    },
  });
};
