/** Billing: usage, tariffs, invoices (JSON or CSV). */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { dateOrTime, name, period } from '../schemas.ts';

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
  route({
    method: 'GET',
    url: '/v1/tariffs',
    summary: 'List tariffs',
    tag: 'billing',
    handler: async () => cp.listTariffs(),
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
      })
      .strict(),
    handler: async ({ p, body }) => cp.createTariff(p, body),
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
