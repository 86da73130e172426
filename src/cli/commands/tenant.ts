/** `nubis tenant …`: tenants and their quotas (admin), named by name or id. */
import type { Command } from 'commander';
import type { Quotas } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { ctx, defined, int, resourceCommand, type CommandModule } from './common.ts';

/** Quota options shared by create and set-quotas. */
const quotaOptions = (cmd: Command) =>
  cmd
    .option('--vcpus <n>', 'vCPUs', int)
    .option('--memory-mib <n>', 'memory', int)
    .option('--vms <n>', 'VMs', int)
    .option('--disk-gib <n>', 'disk', int);
const quotas = (o: { vcpus?: number; memoryMib?: number; vms?: number; diskGib?: number }): Partial<Quotas> =>
  defined({ vcpus: o.vcpus, memoryMiB: o.memoryMib, vms: o.vms, diskGiB: o.diskGib });
const show = (q: Quotas) => `${q.vcpus} vCPUs, ${q.memoryMiB} MiB, ${q.vms} VMs, ${q.diskGiB} GiB`;

/** tenant list, create, set-quotas. */
export const tenantCommands: CommandModule = (program) => {
  const tenant = resourceCommand(program, 'tenant', 'Tenants (admin)');
  tenant
    .command('list')
    .description('List tenants and their quotas')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.tenants.list();
      c.out(list, () =>
        formatTable(
          ['name', 'id', 'quota vCPUs', 'quota memory MiB', 'quota VMs', 'quota disk GiB'],
          list.map((t) => [t.name, t.id, t.quotas.vcpus, t.quotas.memoryMiB, t.quotas.vms, t.quotas.diskGiB]),
          [false, false, true, true, true, true],
        ),
      );
    });
  quotaOptions(
    tenant.command('create <name>').description('Create a tenant (unset quotas take the defaults)'),
  ).action(async function (this: Command, name: string, o) {
    const c = ctx(this);
    const t = await c.client.tenants.create({ name, quotas: quotas(o) });
    c.out(t, () => `tenant ${t.name} (id ${t.id}): ${show(t.quotas)}`);
  });
  quotaOptions(tenant.command('set-quotas <tenant>').description("Change some of a tenant's quotas")).action(
    async function (this: Command, ref: string, o) {
      const c = ctx(this);
      const t = await c.client.tenants.setQuotas(ref, quotas(o));
      c.out(t, () => `tenant ${t.name}: ${show(t.quotas)}`);
    },
  );
};
