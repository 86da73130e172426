/** `nubis tenant …`: tenants and their quotas (admin), named by name or id. */
import type { Command } from 'commander';
import type { Quotas, TenantDetail } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, defined, int, resourceCommand, type CommandModule } from './common.ts';

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

/** tenant list, create, set-quotas, show, update, delete. */
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
    tenant
      .command('create <name>')
      .description('Create a tenant (unset quotas take the defaults)')
      .option(
        '--memory-sharing <mode>',
        "shared (default) or private: its VMs' pages are never merged",
        sharingMode,
      ),
  ).action(async function (this: Command, name: string, o) {
    const c = ctx(this);
    const t = await c.client.tenants.create({
      name,
      quotas: quotas(o),
      ...defined({ memorySharing: o.memorySharing }),
    });
    c.out(t, () => `tenant ${t.name} (id ${t.id}): ${show(t.quotas)}`);
  });
  quotaOptions(tenant.command('set-quotas <tenant>').description("Change some of a tenant's quotas")).action(
    async function (this: Command, ref: string, o) {
      const c = ctx(this);
      const t = await c.client.tenants.setQuotas(ref, quotas(o));
      c.out(t, () => `tenant ${t.name}: ${show(t.quotas)}`);
    },
  );
  const detail = (t: TenantDetail) =>
    `tenant ${t.name} (id ${t.id})\nquotas: ${show(t.quotas)}\nused:   ${show(t.usage)}` +
    (t.memorySharing ? `\nmemory sharing: ${t.memorySharing}` : '');
  tenant
    .command('show [tenant]')
    .description('A tenant with its quotas and what it uses (default: your own)')
    .action(async function (this: Command, ref?: string) {
      const c = ctx(this);
      const t = ref ? await c.client.tenants.get(ref) : await c.client.tenants.quotas();
      c.out(t, () => detail(t));
    });
  quotaOptions(
    tenant
      .command('update <tenant>')
      .description("Rename a tenant, change its quotas and/or its VMs' page sharing")
      .option('--name <name>', 'new name')
      .option(
        '--memory-sharing <mode>',
        'shared or private (new VMs get it; running ones keep theirs until restarted or migrated)',
        sharingMode,
      ),
  ).action(async function (this: Command, ref: string, o) {
    const c = ctx(this);
    const q = quotas(o);
    const t = await c.client.tenants.update(
      ref,
      defined({
        name: o.name,
        quotas: Object.keys(q).length ? q : undefined,
        memorySharing: o.memorySharing,
      }),
    );
    c.out(t, () => detail(t));
  });
  tenant
    .command('delete <tenant>')
    .description("Delete a tenant with no VMs; its users' tokens are revoked")
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.tenants.delete(ref);
      c.out({ deleted: ref }, () => `tenant ${ref} deleted`);
    });
};

/** `--memory-sharing`: shared or private. */
function sharingMode(v: string): 'shared' | 'private' {
  if (v !== 'shared' && v !== 'private')
    throw new CliError('BAD_ARGUMENT', `--memory-sharing must be shared or private, got ${v}`);
  return v;
}
