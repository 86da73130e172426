/** `nubis usage …`, `nubis invoice`, `nubis tariff …`: metering and billing. */
import type { Command } from 'commander';
import type { Period } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { ctx, dateTime, num, resourceCommand, withConnection, type CommandModule } from './common.ts';
import { energyReport } from './energy.ts';

/** --from, --to (YYYY-MM-DD or an ISO date-time) and --tenant. */
const periodOptions = (cmd: Command) =>
  cmd
    .requiredOption('--from <date>', 'start, YYYY-MM-DD (00:00 UTC) or an ISO date-time', dateTime)
    .requiredOption('--to <date>', 'end (excluded), YYYY-MM-DD or an ISO date-time', dateTime)
    .option('--tenant <tenant>', 'tenant name or id (admins and operators; default: yours)');
const period = (o: { from: string; to: string; tenant?: string }): Period => ({
  from: o.from,
  to: o.to,
  tenant: o.tenant,
});
const f = (x: number, d: number) => x.toFixed(d);

/** usage show, daily, energy; invoice; tariff list, create. */
export const billingCommands: CommandModule = (program) => {
  const usage = resourceCommand(program, 'usage', 'Usage (metering)');
  periodOptions(usage.command('show').description('Usage of a tenant in a period, per VM')).action(
    async function (this: Command, o) {
      const c = ctx(this);
      const r = await c.client.usage.report(period(o));
      c.out(r, () =>
        formatTable(
          ['vm', 'flavor', 'running s', 'stopped s', 'vCPU h', 'memory GiB h', 'disk GiB h', 'energy kWh'],
          [
            ...r.vms.map((v) => [
              v.vm,
              v.flavor,
              v.runningS,
              v.stoppedS,
              f(v.vcpuHours, 3),
              f(v.memoryGiBHours, 3),
              f(v.diskGiBHours, 3),
              f(v.energyKWh, 4),
            ]),
            [
              'total',
              '',
              r.totals.runningS,
              r.totals.stoppedS,
              f(r.totals.vcpuHours, 3),
              f(r.totals.memoryGiBHours, 3),
              f(r.totals.diskGiBHours, 3),
              f(r.totals.energyKWh, 4),
            ],
          ],
          [false, false, true, true, true, true, true, true],
        ),
      );
    },
  );
  periodOptions(
    usage.command('daily').description('Usage of a tenant in a period by flavor and UTC day'),
  ).action(async function (this: Command, o) {
    const c = ctx(this);
    const r = await c.client.usage.daily(period(o));
    c.out(r, () =>
      formatTable(
        ['day', 'flavor', 'running s', 'stopped s', 'vCPU h', 'memory GiB h', 'disk GiB h'],
        r.rows.map((x) => [
          x.day,
          x.flavor,
          x.runningS,
          x.stoppedS,
          f(x.vcpuHours, 3),
          f(x.memoryGiBHours, 3),
          f(x.diskGiBHours, 3),
        ]),
        [false, false, true, true, true, true, true],
      ),
    );
  });
  energyReport(usage.command('energy'));

  periodOptions(
    withConnection(program.command('invoice').description("A tenant's invoice for a period")).option(
      '--csv',
      'CSV output',
    ),
  ).action(async function (this: Command, o) {
    const c = ctx(this);
    if (o.csv) {
      process.stdout.write(await c.client.invoices.csv(period(o)));
      return;
    }
    const r = await c.client.invoices.get(period(o));
    c.out(
      r,
      () =>
        formatTable(
          ['flavor', 'tariff', 'running s', 'stopped s', 'energy kWh', 'amount'],
          [
            ...r.lines.map((l) => [
              l.flavor,
              l.tariff,
              l.runningS,
              l.stoppedS,
              f(l.energyKWh, 4),
              `${f(l.amount, 2)} ${l.currency}`,
            ]),
            // One total per currency: different currencies are never added.
            ...(r.totals.length
              ? r.totals.map((t) => ['total', '', '', '', '', `${f(t.amount, 2)} ${t.currency}`])
              : [['total', '', '', '', '', f(0, 2)]]),
          ],
          [false, false, true, true, true, true],
        ) + (r.notice ? `\n${r.notice}` : ''),
    );
  });

  const tariff = resourceCommand(program, 'tariff', 'Tariffs (prices with a validity window)');
  tariff
    .command('list')
    .description('List tariffs')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.tariffs.list();
      c.out(list, () =>
        formatTable(
          ['name', 'valid from', 'valid to', 'currency', 'vCPU h', 'memory GiB h', 'disk GiB h', 'kWh'],
          list.map((t) => [
            t.name,
            t.validFrom,
            t.validTo ?? '',
            t.currency,
            t.vcpuHour,
            t.memoryGiBHour,
            t.diskGiBHour,
            t.kWh,
          ]),
        ),
      );
    });
  tariff
    .command('create <name>')
    .description('Create a tariff (admin)')
    .requiredOption('--valid-from <date>', 'YYYY-MM-DD or an ISO date-time', dateTime)
    .option('--valid-to <date>', 'end (excluded); default: open', dateTime)
    .option('--currency <code>', 'ISO 4217 code (default EUR)')
    .requiredOption('--vcpu-hour <price>', 'price of a vCPU-hour', num)
    .requiredOption('--memory-gib-hour <price>', 'price of a GiB-hour of memory', num)
    .requiredOption('--disk-gib-hour <price>', 'price of a GiB-hour of disk', num)
    .requiredOption('--kwh <price>', 'price of a kWh', num)
    .action(async function (this: Command, name: string, o) {
      const c = ctx(this);
      const t = await c.client.tariffs.create({
        name,
        validFrom: o.validFrom,
        validTo: o.validTo,
        currency: o.currency,
        vcpuHour: o.vcpuHour,
        memoryGiBHour: o.memoryGibHour,
        diskGiBHour: o.diskGibHour,
        kWh: o.kwh,
      });
      c.out(
        t,
        () => `tariff ${t.name} (id ${t.id}) from ${t.validFrom}${t.validTo ? ` to ${t.validTo}` : ''}`,
      );
    });
};
